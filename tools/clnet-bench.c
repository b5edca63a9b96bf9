/* clnet-bench: where the time of a training step goes, per layer.
 *
 * Trains MODEL.cfg on synthetic data (fixed seed) with the compute queue's
 * profiling on: a few warm-up steps (kernel builds), N steps timed by wall
 * clock with the profiler idle, then N steps recorded (src/ocl/profile.h),
 * and prints per layer the forward and backward device time, GFLOP/s, an
 * estimate of the bytes moved, the share of the step and the launches; the
 * kernels that cost most; launches per step; the memory plan; images/s.
 * CLBlast's own launches are seen through intercept.c. Timings on shared
 * machines are noisy: compare layers within one run, and against peers only
 * as ratios from the same run (tools/run-bench). */
#include "bench/intercept.h"
#include "bench/profile_report.h"
#include "cli.h"

#include "clnet/clnet.h"
#include "core/core.h"
#include "graph/model_impl.h"
#include "ocl/profile.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct bench_opts {
    const char *model, *device;
    int batch, steps, warmup, top, sync, wall_only;
    const char *freeze;   /* comma-separated layer-name prefixes */
    int recompute;        /* --recompute: 1 */
    clnet_precision precision;
    int freeze_backbone;
} bench_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clnet-bench MODEL.cfg [--batch N] [--steps N] [--warmup N]\n"
            "                   [--device X] [--sync] [--top N] [--wall-only]\n"
            "                   [--freeze P1,P2,...] [--freeze-backbone]\n"
            "                   [--recompute] [--precision P] [-v|-q]\n"
            "\n"
            "Profiles training steps of MODEL.cfg on synthetic data: per layer\n"
            "forward/backward time, GFLOP/s, bytes moved, share of the step and\n"
            "launches; the costliest kernels; the memory plan; images/s.\n"
            "\n"
            "  --batch N    batch size (the model file's [net] batch)\n"
            "  --steps N    steps timed, and again recorded (20)\n"
            "  --warmup N   untimed steps first: kernel builds, caches (5)\n"
            "  --device X   as clnet-info numbers or names devices\n"
            "  --sync       wait for the queue at every region boundary and use\n"
            "               host time (counts host enqueue cost; slower)\n"
            "  --top N      kernels listed (15)\n"
            "  --wall-only  no profiling at all (queue without it): warm-up and\n"
            "               timed steps only, for images/s (tools/run-bench)\n"
            "  --freeze P1,P2,...  freeze the layers whose names start with these\n"
            "               prefixes (fine-tuning: clnet_model_set_frozen)\n"
            "  --freeze-backbone  freeze every layer before the last one with\n"
            "               parameters (clnet_model_set_backbone_frozen)\n"
            "  --recompute  activation recomputation (clnet-train --recompute)\n"
            "  --precision P  fp32 | fp16-storage | fp16 (clnet-train --precision)\n"
            "  -v, -q       more or less logging\n");
}

static int parse(int argc, char **argv, bench_opts *o, cli_verbosity *verb)
{
    static const struct option longs[] = {
        {"batch", required_argument, 0, 'b'}, {"steps", required_argument, 0, 's'},
        {"warmup", required_argument, 0, 'w'}, {"device", required_argument, 0, 'd'},
        {"sync", no_argument, 0, 'S'},         {"top", required_argument, 0, 't'},
        {"wall-only", no_argument, 0, 'W'},    {"help", no_argument, 0, 'h'},
        {"freeze", required_argument, 0, 'F'}, {"freeze-backbone", no_argument, 0, 'B'},
        {"recompute", no_argument, 0, 'R'},    {"precision", required_argument, 0, 'P'},
        {0, 0, 0, 0}};
    *o = (bench_opts){.steps = 20, .warmup = 5, .top = 15};
    int c;
    while ((c = getopt_long(argc, argv, "d:vqh", longs, NULL)) != -1) {
        switch (c) {
        case 'b': o->batch = atoi(optarg); break;
        case 's': o->steps = atoi(optarg); break;
        case 'w': o->warmup = atoi(optarg); break;
        case 'd': o->device = optarg; break;
        case 'S': o->sync = 1; break;
        case 'W': o->wall_only = 1; break;
        case 't': o->top = atoi(optarg); break;
        case 'F': o->freeze = optarg; break;
        case 'B': o->freeze_backbone = 1; break;
        case 'R': o->recompute = 1; break;
        case 'P':
            if (strcmp(optarg, "fp32") == 0)
                o->precision = CLNET_PRECISION_FP32;
            else if (strcmp(optarg, "fp16-storage") == 0)
                o->precision = CLNET_PRECISION_FP16_STORAGE;
            else if (strcmp(optarg, "fp16") == 0)
                o->precision = CLNET_PRECISION_FP16;
            else {
                fprintf(stderr, "clnet-bench: --precision %s: fp32, fp16-storage or fp16\n",
                        optarg);
                return 2;
            }
            break;
        case 'v': verb->level++; break;
        case 'q': verb->level = 0; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1 || o->steps < 1 || o->warmup < 0 || o->batch < 0 ||
        o->top < 0) {
        usage(stderr);
        return 2;
    }
    o->model = argv[optind];
    return 0;
}

static int fail(clnet_ctx *ctx, const char *what, clnet_status st)
{
    fprintf(stderr, "clnet-bench: %s: %s\n", what,
            ctx && *clnet_errmsg(ctx) ? clnet_errmsg(ctx) : clnet_strerror(st));
    return 1;
}

/* Deterministic inputs: roughly unit-variance pixels, uniform labels. */
static void synth(float *x, size_t n, int32_t *y, int batch, int classes)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 3.4641 - 1.7320);
    }
    for (int i = 0; i < batch; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        y[i] = (int32_t)((s >> 33) % (uint64_t)classes);
    }
}

static clnet_status steps(clnet_model *m, const float *x, const int32_t *y, int n,
                          int count)
{
    clnet_status st = CLNET_OK;
    for (int i = 0; i < count && st == CLNET_OK; i++) {
        st = clnet_model_set_batch(m, x, y, n);
        if (st == CLNET_OK)
            st = clnet_model_train_step(m);
    }
    return st;
}

/* Per-layer FLOPs and compulsory bytes for the bound batch. Frozen layers
 * have no parameter gradients, and a layer that no trained parameter
 * depends on no backward at all (graph.h). */
static void describe(const clnet__model_desc *d, const clnet__graph *g,
                     report_layer *out)
{
    for (int i = 0; i < d->n_layers; i++) {
        const clnet__layer_desc *l = &d->layers[i];
        const clnet__op_plan *p = &l->plan;
        report_layer *r = &out[i];
        r->name = l->name;
        r->op = l->op->name;
        r->n = p->out.n;
        r->c = p->out.c;
        r->h = p->out.h;
        r->w = p->out.w;
        double in = 0, params = 0, out_n = (double)clnet__shape_count(p->out);
        int wants_dx = 0;
        for (int k = 0; k < l->n_in; k++) {
            in += (double)clnet__shape_count(clnet__model_input_shape(d, i, k));
            wants_dx |= l->from[k] >= 0 && g->layers[l->from[k]].grad_wanted;
        }
        for (int k = 0; k < p->n_params; k++)
            params += (double)clnet__dims_count(p->param[k]);
        int gemm = l->kind == CLNET_OP_CONV || l->kind == CLNET_OP_DENSE;
        r->flops_fwd = p->flops_forward;
        r->bytes_fwd = 4 * (in + params + out_n);
        if (!g->layers[i].grad_wanted)
            continue; /* no backward */
        if (g->layers[i].frozen)
            params = 0; /* no parameter gradients */
        r->flops_bwd = gemm ? (wants_dx + (params > 0)) * p->flops_forward
                            : p->flops_forward;
        /* dout and x read; din and dparam accumulated (read + write); the
         * weights read again when din is wanted. */
        r->bytes_bwd = 4 * (out_n + in + (wants_dx ? 2 * in + params : 0) + 2 * params);
    }
}

static const char *optim_text(const clnet_train_settings *t, double *floats_per_param)
{
    switch (t->optimizer) {
    case CLNET_OPTIM_ADAM:
    case CLNET_OPTIM_ADAMW:
        *floats_per_param = 7; /* p, g, m, v read; p, m, v written */
        return t->optimizer == CLNET_OPTIM_ADAM ? "adam" : "adamw";
    default:
        *floats_per_param = t->momentum > 0 ? 5 : 3;
        return t->momentum > 0 ? "sgd momentum" : "sgd";
    }
}

static void print_loadavg(void)
{
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    printf("load average: %s\n", buf[0] ? buf : "unknown");
}

static void print_memory(const clnet_model *m, const clnet_model_info *info)
{
    const clnet__graph *g = m->graph;
    size_t optim_bytes = clnet__model_optim_bytes(m);
    printf("memory plan: %.2f MiB planned vs %.2f MiB naive (%.0f%%): "
           "activations/grads/scratch arena %.2f MiB (naive %.2f), parameters "
           "%.2f MiB x2 (values, grads), optimizer %.2f MiB, state %.2f MiB\n",
           info->memory_planned / 1048576.0, info->memory_naive / 1048576.0,
           info->memory_naive ? 100.0 * info->memory_planned / info->memory_naive : 0,
           g->arena_bytes / 1048576.0, g->naive_bytes / 1048576.0,
           g->params_count * 4 / 1048576.0, optim_bytes / 1048576.0,
           g->state_count * 4 / 1048576.0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak host memory (max RSS): %.1f MiB\n", ru.ru_maxrss / 1024.0);
}

static int run(const bench_opts *o, clnet_ctx *ctx)
{
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = o->batch;
    ms.recompute = o->recompute ? 1 : 0;
    ms.precision = o->precision;
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load(ctx, o->model, &ms, &m);
    if (st != CLNET_OK)
        return fail(ctx, o->model, st);
    clnet_model_info info;
    clnet_train_settings recipe;
    clnet_model_get_info(m, &info);
    clnet_model_get_train_settings(m, &recipe);
    int B = info.batch;
    size_t per = (size_t)info.channels * info.height * info.width;
    float *x = malloc((size_t)B * per * sizeof *x);
    int32_t *y = malloc((size_t)B * sizeof *y);
    report_layer *layers = calloc((size_t)m->desc->n_layers, sizeof *layers);
    int rc = 1;
    if (!x || !y || !layers) {
        fprintf(stderr, "clnet-bench: out of memory\n");
        goto out;
    }
    synth(x, (size_t)B * per, y, B, info.classes);
    if (o->freeze) {
        /* Split the list into prefixes (in place, in a copy). */
        size_t len = strlen(o->freeze) + 1;
        char *list = malloc(len), *save = NULL;
        if (list)
            memcpy(list, o->freeze, len);
        const char *pre[64];
        size_t np = 0;
        for (char *t = list ? strtok_r(list, ",", &save) : NULL; t && np < 64;
             t = strtok_r(NULL, ",", &save))
            pre[np++] = t;
        st = list ? clnet_model_set_frozen(m, pre, np, 1) : CLNET_ENOMEM;
        free(list);
        if (st != CLNET_OK) {
            fail(ctx, "--freeze", st);
            goto out;
        }
    }
    if (o->freeze_backbone && (st = clnet_model_set_backbone_frozen(m, 1)) != CLNET_OK) {
        fail(ctx, "--freeze-backbone", st);
        goto out;
    }
    describe(m->desc, m->graph, layers);
    double per_param;
    const char *optim = optim_text(&recipe, &per_param);

    printf("# clnet-bench %s: batch %d, %d warm-up + %d timed + %d recorded steps\n",
           o->model, B, o->warmup, o->steps, o->wall_only ? 0 : o->steps);
    printf("device: %s\n", clnet_ctx_device_name(ctx));
    static const char *const precisions[] = {"fp32", "fp16-storage", "fp16"};
    printf("memory options: recompute %s, precision %s\n",
           info.recompute_segments > 1 ? "on" : "off", precisions[o->precision]);
    if (o->freeze || o->freeze_backbone)
        printf("frozen: %zu of %zu parameters (%s)\n", clnet_model_frozen_params(m),
               info.params, o->freeze ? o->freeze : "backbone");
    print_loadavg();
    clnet_stats stats;
    double t0 = clnet__now();
    st = steps(m, x, y, B, 1);
    if (st == CLNET_OK)
        st = clnet_model_read_stats(m, &stats, 1);
    double first = clnet__now() - t0;
    if (st == CLNET_OK)
        st = steps(m, x, y, B, o->warmup);
    if (st == CLNET_OK)
        st = clnet_model_read_stats(m, &stats, 1);
    /* Timed with the profiler idle (the queue still has profiling on). */
    uint64_t l0 = intercept_launches();
    double t1 = clnet__now();
    if (st == CLNET_OK)
        st = steps(m, x, y, B, o->steps);
    if (st == CLNET_OK)
        st = clnet_model_read_stats(m, &stats, 1);
    double idle = (clnet__now() - t1) / o->steps;
    double launches_idle = (double)(intercept_launches() - l0) / o->steps;
    if (st != CLNET_OK) {
        fail(ctx, "training step", st);
        goto out;
    }
    if (o->wall_only) {
        double fl = 0;
        for (int i = 0; i < m->desc->n_layers; i++)
            fl += layers[i].flops_fwd + layers[i].flops_bwd;
        printf("wall: %.2f ms/step = %.0f img/s (no profiling); first step %.2f s; "
               "%.1f kernels/step counted at the loader\n",
               1e3 * idle, B / idle, first, launches_idle);
        printf("effective: %.1f GFLOP/s on %.1f MFLOP per trained image\n",
               fl / idle / 1e9, fl / B / 1e6);
        print_memory(m, &info);
        rc = 0;
        goto out;
    }
    /* Recorded. */
    st = clnet__prof_start(ctx, o->sync ? CLNET__PROF_SYNC : CLNET__PROF_EVENTS);
    double t2 = clnet__now();
    if (st == CLNET_OK)
        st = steps(m, x, y, B, o->steps);
    const clnet__prof_record *rec = NULL;
    size_t n_rec = 0, lost = 0;
    if (st == CLNET_OK)
        st = clnet__prof_collect(ctx, &rec, &n_rec, &lost);
    double recorded = (clnet__now() - t2) / o->steps;
    if (st != CLNET_OK) {
        fail(ctx, "profiling", st);
        goto out;
    }
    printf("first step %.2f s (kernel builds or cache loads); loss %.3f over the "
           "timed steps (synthetic data: only finite matters)\n",
           first, stats.samples > 0 ? stats.loss_sum / stats.samples : 0.0);
    printf("wall: %.2f ms/step = %.0f img/s with the profiler idle; %.2f ms/step "
           "= %.0f img/s while recording%s\n\n",
           1e3 * idle, B / idle, 1e3 * recorded, B / recorded,
           o->sync ? " (sync mode)" : "");

    report_input in = {.n_layers = m->desc->n_layers, .layers = layers,
                       .optimizer = optim,
                       .update_bytes = 4 * per_param *
                                       (double)(info.params - clnet_model_frozen_params(m)),
                       .batch = B, .rec = rec, .n_rec = n_rec};
    report_totals t = report_print(stdout, &in, o->top);
    if (t.steps != o->steps)
        fprintf(stderr, "clnet-bench: %d steps recorded of %d\n", t.steps, o->steps);
    if (t.steps == 0)
        goto out;
    printf("\nstep (device, marker to marker): %.2f ms = %.0f img/s; recorded "
           "commands busy %.0f%% of it (CLBlast's kernels %.2f ms)\n",
           t.step_ns / 1e6, B / (t.step_ns / 1e9), 100 * t.kernel_ns / t.step_ns,
           t.clblast_ns / 1e6);
    printf("effective: %.1f GFLOP/s on %.1f MFLOP per trained image (%.2f GFLOP "
           "per step, fwd + bwd) at the wall rate with the profiler idle\n",
           t.flops / idle / 1e9, t.flops / B / 1e6, t.flops / 1e9);
    printf("launches per step: %.1f kernels (%.1f CLBlast's) + %.1f fills/copies "
           "while recording; %.1f kernels counted at the loader%s\n",
           t.launches, t.clblast_launches, t.fills, launches_idle,
           intercept_active() ? "" : " (interposition inactive)");
    if (lost)
        printf("profiler: %zu commands or markers not recorded\n", lost);
    print_memory(m, &info);
    rc = 0;
out:
    clnet__prof_stop(ctx);
    free(layers);
    free(x);
    free(y);
    clnet_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts o;
    cli_verbosity verb = {1};
    int rc = parse(argc, argv, &o, &verb);
    if (rc)
        return rc == 1 ? 0 : 2;
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    cs.device = o.device;
    cs.log = cli_log;
    cs.log_user = &verb;
    cs.log_level = cli_log_level(verb.level);
    cs.profile = !o.wall_only;
    clnet_ctx *ctx = NULL;
    clnet_status st = clnet_ctx_create(&ctx, &cs);
    if (st != CLNET_OK) {
        rc = fail(ctx, "device", st);
        clnet_ctx_free(ctx);
        return rc;
    }
    intercept_attach(ctx);
    rc = run(&o, ctx);
    intercept_attach(NULL);
    clnet_ctx_free(ctx);
    return rc;
}
