/* gemm-bench: GFLOP/s of clnet's SGEMM (the dispatcher's choice and, with
 * -v, every variant) against CLBlast on the same device and OpenBLAS on the
 * host when libopenblas.so.0 is installed: peers measured in the same run,
 * as ../../shared/bench.md asks (machines here are shared and noisy).
 *
 * Candidates are timed in interleaved rounds (each round runs each one once)
 * and the best round counts, so a burst of load elsewhere hits them all. */
#include "../cli.h"
#include "clblast_tune.h"

#include "clnet/clnet.h"
#include "ocl/ocl.h"

#include <dlfcn.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shape {
    const char *label;
    int ta, tb;
    size_t m, n, k, batch;
} shape;

/* fashion-cnn at batch 64, as its layers call the GEMM (issue 6). */
static const shape fashion[] = {
    {"conv1 fwd", 0, 0, 32, 50176, 9, 1},
    {"conv1 dW", 0, 1, 32, 9, 50176, 1},
    {"conv2 fwd", 0, 0, 64, 12544, 288, 1},
    {"conv2 dW", 0, 1, 64, 288, 12544, 1},
    {"conv2 dW slices", 0, 1, 64, 288, 784, 16},
    {"conv2 dCols", 1, 0, 288, 12544, 64, 1},
    {"fc1 fwd", 0, 1, 64, 128, 3136, 1},
    {"fc1 dX", 0, 0, 64, 3136, 128, 1},
    {"fc1 dW", 1, 0, 128, 3136, 64, 1},
};
static const size_t squares[] = {256, 512, 1024, 2048};

typedef void (*cblas_sgemm_fn)(int order, int ta, int tb, int m, int n, int k,
                               float alpha, const float *a, int lda,
                               const float *b, int ldb, float beta, float *c,
                               int ldc);

typedef struct bench {
    clnet_ctx *ctx;
    clnet__buf *a, *b, *c;
    float *ha, *hb, *hc;
    cblas_sgemm_fn blas;
    int rounds, all, verbose;
} bench;

/* A candidate: a variant name, NULL for the dispatcher, or OpenBLAS. */
typedef struct cand {
    const char *name;
    int host;
    double best; /* seconds; < 0: cannot run */
} cand;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double gflops(const shape *s, double seconds)
{
    return 2e-9 * (double)s->m * (double)s->n * (double)s->k * (double)s->batch /
           seconds;
}

/* One run, seconds; < 0 when the candidate cannot run this shape. */
static double run_once(bench *B, const shape *s, const cand *c)
{
    size_t sa = s->m * s->k, sb = s->k * s->n, sc = s->m * s->n;
    size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    double t0 = now();
    if (c->host) {
        for (size_t z = 0; z < s->batch; z++) /* 101 row-major, 111/112 N/T */
            B->blas(101, s->ta ? 112 : 111, s->tb ? 112 : 111, (int)s->m,
                    (int)s->n, (int)s->k, 1.0f, B->ha + z * sa, (int)lda,
                    B->hb + z * sb, (int)ldb, 0.0f, B->hc + z * sc, (int)s->n);
        return now() - t0;
    }
    clnet__tensor a = {B->a, 0, 0}, b = {B->b, 0, 0}, cc = {B->c, 0, 0};
    clnet_status st =
        c->name ? clnet__sgemm_variant(B->ctx, c->name, s->ta, s->tb, s->m, s->n,
                                       s->k, 1.0f, a, lda, sa, b, ldb, sb, 0.0f,
                                       cc, s->n, sc, s->batch)
                : clnet__sgemm_batched(B->ctx, s->ta, s->tb, s->m, s->n, s->k,
                                       1.0f, a, lda, sa, b, ldb, sb, 0.0f, cc,
                                       s->n, sc, s->batch);
    if (st == CLNET_OK)
        st = clnet__finish(B->ctx);
    return st == CLNET_OK ? now() - t0 : -1.0;
}

/* The dispatcher, CLBlast, the clnet variants meant for this kind of device
 * (every one with --all), OpenBLAS. */
static size_t candidates(bench *B, cand *out, size_t cap)
{
    size_t n = 0;
    out[n++] = (cand){NULL, 0, 0};
    int cpu = clnet__ocl_of(B->ctx)->caps.is_cpu;
    for (size_t i = 0; clnet__sgemm_variant_name(i) && n + 1 < cap; i++) {
        const char *v = clnet__sgemm_variant_name(i);
        int gpu_kind = strncmp(v, "tiled", 5) == 0;
        if (B->all || i == 0 || gpu_kind != cpu)
            out[n++] = (cand){v, 0, 0};
    }
    if (B->blas)
        out[n++] = (cand){"openblas", 1, 0};
    return n;
}

static void bench_shape(bench *B, const shape *s, int markdown)
{
    cand c[32];
    size_t n = candidates(B, c, sizeof c / sizeof c[0]);
    for (size_t i = 0; i < n; i++) /* warm-up: builds kernels */
        c[i].best = run_once(B, s, &c[i]) < 0 ? -1.0 : 1e30;
    for (int r = 0; r < B->rounds; r++)
        for (size_t i = 0; i < n; i++)
            if (c[i].best > 0) {
                double t = run_once(B, s, &c[i]);
                if (t > 0 && t < c[i].best)
                    c[i].best = t;
            }
    const char *choice = clnet__sgemm_choice(B->ctx, s->ta, s->tb, s->m, s->n,
                                             s->k, s->batch);
    double ours = c[0].best > 0 ? gflops(s, c[0].best) : 0.0;
    double clb = c[1].best > 0 ? gflops(s, c[1].best) : 0.0;
    double ob = c[n - 1].host && c[n - 1].best > 0 ? gflops(s, c[n - 1].best) : 0.0;
    char shp[96];
    int len = snprintf(shp, sizeof shp, "%c%c %zux%zux%zu", s->ta ? 'T' : 'N',
                       s->tb ? 'T' : 'N', s->m, s->n, s->k);
    if (s->batch > 1)
        snprintf(shp + len, sizeof shp - (size_t)len, " x%zu", s->batch);
    if (markdown) {
        printf("| %s | %s | %.1f | %.1f | %s | %.1fx |", s->label, shp, clb, ours,
               choice, clb > 0 ? ours / clb : 0.0);
        if (ob > 0)
            printf(" %.1f | %.0f%% |\n", ob, 100.0 * ours / ob);
        else
            printf(" n/a | |\n");
    } else {
        printf("%-16s %-22s clblast %7.1f  clnet %7.1f (%s, %.1fx)", s->label, shp,
               clb, ours, choice, clb > 0 ? ours / clb : 0.0);
        if (ob > 0)
            printf("  openblas %7.1f (clnet %.0f%%)", ob, 100.0 * ours / ob);
        printf("\n");
    }
    /* Every variant: to stderr under --markdown so the table stays whole. */
    FILE *vf = markdown ? stderr : stdout;
    if (B->verbose && markdown)
        fprintf(vf, "%s %s:\n", s->label, shp);
    for (size_t i = 2; B->verbose && i < n; i++) {
        if (!c[i].host && c[i].best > 0) /* else: not for these transposes */
            fprintf(vf, "    %-14s %8.1f GFLOP/s\n", c[i].name,
                    gflops(s, c[i].best));
    }
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gemm-bench [--quick] [--rounds N] [--all] [--tune]\n"
            "                  [--tune-clblast[=F] | --clblast-json FILES]\n"
            "                  [--markdown] [--device X] [-v|-q]\n"
            "\n"
            "SGEMM GFLOP/s on square 256..2048 and fashion-cnn's shapes: clnet's\n"
            "dispatched kernel, CLBlast, and OpenBLAS on the host (when\n"
            "libopenblas.so.0 loads), all timed in the same interleaved rounds.\n"
            "\n"
            "  --quick      3 rounds, squares up to 1024\n"
            "  --rounds N   timed rounds per shape (default 10)\n"
            "  --all        also time variants meant for the other device kind\n"
            "  --tune       CLNET_GEMM_TUNE=1: the dispatcher times candidates for\n"
            "               new shape classes and stores its choice\n"
            "  --tune-clblast[=F]  first run CLBlast's tuner (clblast-utils) on 1/F\n"
            "               (default 8) of its fixed Xgemm set and store the best\n"
            "               parameters; the CLBlast column is then tuned. Stored\n"
            "               parameters are used unless CLNET_CLBLAST_TUNED=0\n"
            "  --clblast-json FILES  the same from a whole tuner run's JSON files\n"
            "               (comma-separated): the fastest result of them all\n"
            "  --markdown   print the table as Markdown (for RESULTS.md)\n"
            "  -d, --device X  as clnet-info numbers or names devices\n"
            "  -v           also every variant's GFLOP/s; -q: errors only\n");
}

static int setup(bench *B, const char *device, cli_verbosity *verb)
{
    clnet_ctx_settings st;
    clnet_ctx_default_settings(&st);
    st.device = device;
    st.log = cli_log;
    st.log_user = verb;
    st.log_level = cli_log_level(verb->level);
    clnet_status e = clnet_ctx_create(&B->ctx, &st);
    if (e != CLNET_OK) {
        fprintf(stderr, "gemm-bench: %s: %s\n", clnet_status_name(e),
                B->ctx ? clnet_errmsg(B->ctx) : clnet_strerror(e));
        return 0;
    }
    /* Room for the largest operand of any shape (2048^2 and conv2's). */
    size_t most = (size_t)2048 * 2048;
    size_t floats[3] = {most, most, most};
    float **host[3] = {&B->ha, &B->hb, &B->hc};
    clnet__buf **dev[3] = {&B->a, &B->b, &B->c};
    for (size_t i = 0; i < sizeof fashion / sizeof fashion[0]; i++) {
        const shape *s = &fashion[i];
        size_t need[3] = {s->m * s->k * s->batch, s->k * s->n * s->batch,
                          s->m * s->n * s->batch};
        for (int j = 0; j < 3; j++)
            if (need[j] > floats[j])
                floats[j] = need[j];
    }
    for (int j = 0; j < 3; j++) {
        *host[j] = malloc(floats[j] * sizeof(float));
        if (!*host[j])
            return 0;
        for (size_t i = 0; i < floats[j]; i++) /* fixed, non-zero, no denormals */
            (*host[j])[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        size_t bytes = floats[j] * sizeof(float);
        if (clnet__buf_create(B->ctx, bytes, dev[j]) != CLNET_OK ||
            clnet__buf_write(B->ctx, *dev[j], 0, bytes, *host[j]) != CLNET_OK) {
            fprintf(stderr, "gemm-bench: %s\n", clnet_errmsg(B->ctx));
            return 0;
        }
    }
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    B->blas = h ? (cblas_sgemm_fn)(uintptr_t)dlsym(h, "cblas_sgemm") : NULL;
    if (!B->blas)
        fprintf(stderr, "gemm-bench: libopenblas.so.0 not found: no host peer\n");
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"quick", no_argument, 0, 'Q'},   {"rounds", required_argument, 0, 'r'},
        {"all", no_argument, 0, 'a'},     {"tune", no_argument, 0, 't'},
        {"markdown", no_argument, 0, 'm'}, {"device", required_argument, 0, 'd'},
        {"tune-clblast", optional_argument, 0, 'C'},
        {"clblast-json", required_argument, 0, 'J'},
        {"help", no_argument, 0, 'h'},    {0, 0, 0, 0}};
    bench B = {.rounds = 10};
    cli_verbosity verb = {1};
    int quick = 0, markdown = 0, tune_clblast = 0, o;
    const char *device = NULL, *clblast_json = NULL;
    while ((o = getopt_long(argc, argv, "d:vqh", longs, NULL)) != -1) {
        switch (o) {
        case 'Q': quick = 1; B.rounds = 3; break;
        case 'r': B.rounds = atoi(optarg); break;
        case 'a': B.all = 1; break;
        case 't': setenv("CLNET_GEMM_TUNE", "1", 1); break;
        case 'm': markdown = 1; break;
        case 'C': tune_clblast = optarg ? atoi(optarg) : 8; break;
        case 'J': clblast_json = optarg; break;
        case 'd': device = optarg; break;
        case 'v': B.verbose = 1; verb.level = 2; break;
        case 'q': verb.level = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || B.rounds < 1 || tune_clblast < 0) {
        usage(stderr);
        return 2;
    }
    if (!setup(&B, device, &verb))
        return 1;
    if ((tune_clblast && !clblast_tune(B.ctx, tune_clblast)) ||
        (clblast_json && !clblast_import(B.ctx, clblast_json)))
        return 1;
    const char *tuned = clnet__clblast_tuned(B.ctx);
    printf("%sdevice: %s; %d rounds; GFLOP/s, best round; CLBlast %s%s\n",
           markdown ? "" : "# ", clnet_ctx_device_name(B.ctx), B.rounds,
           tuned ? "tuned: " : "with its default parameters", tuned ? tuned : "");
    if (markdown)
        printf("\n| shape | op m x n x k | CLBlast%s | clnet | clnet kernel | "
               "clnet / CLBlast | OpenBLAS (host) | clnet / OpenBLAS |\n"
               "|---|---|---|---|---|---|---|---|\n", tuned ? " (tuned)" : "");
    for (size_t i = 0; i < sizeof squares / sizeof squares[0]; i++) {
        if (quick && squares[i] > 1024)
            break;
        char label[32];
        snprintf(label, sizeof label, "square %zu", squares[i]);
        shape s = {label, 0, 0, squares[i], squares[i], squares[i], 1};
        bench_shape(&B, &s, markdown);
    }
    for (size_t i = 0; i < sizeof fashion / sizeof fashion[0]; i++)
        bench_shape(&B, &fashion[i], markdown);
    for (int j = 0; j < 3; j++)
        clnet__buf_release(B.ctx, j == 0 ? B.a : j == 1 ? B.b : B.c);
    free(B.ha);
    free(B.hb);
    free(B.hc);
    clnet_ctx_free(B.ctx);
    return 0;
}
