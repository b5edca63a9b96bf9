/* SGEMM: every variant (clnet's kernels and CLBlast) against a plain-C
 * double reference on odd sizes, offsets, padded leading dimensions and
 * batch strides, every transpose pair and alpha/beta (beta 0 with NaN in C);
 * the fashion-cnn shapes through the dispatcher; the dispatcher's choice,
 * CLNET_GEMM, the tuning file (written, reused, ignored when corrupt);
 * CLBlast's tuned parameters; bad calls. */
#include "ocl/ocl.h"
#include "ocl_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static clnet_ctx *ctx;

static void setup(void) { ctx = clnet_test_ctx(); }
static void teardown(void) { clnet_ctx_free(ctx); }

typedef struct gcase {
    int ta, tb;
    size_t m, n, k, batch;
    float alpha, beta;
    size_t pad;    /* extra floats in every leading dimension */
    size_t off;    /* view offsets (A gets off, B off + 1, C off + 2) */
    int shared_a;  /* stride_a = 0: one A for the whole batch */
} gcase;

#define SENTINEL 12345.0f

/* One operand as laid out in its buffer. */
typedef struct operand {
    size_t rows, cols, ld, stride, off, count;
    float *host;
    clnet__buf *dev;
} operand;

static operand layout(size_t rows, size_t cols, size_t pad, size_t off,
                      size_t batch, int shared)
{
    operand o = {rows, cols, cols + pad, 0, off, 0, NULL, NULL};
    if (o.ld == 0)
        o.ld = 1;
    o.stride = shared ? 0 : rows * o.ld + 3; /* batch gaps too */
    o.count = off + (batch - 1) * o.stride + rows * o.ld + 1;
    o.host = malloc(o.count * sizeof(float));
    ck_assert_ptr_nonnull(o.host);
    return o;
}

static float *at(const operand *o, size_t z, size_t r, size_t c)
{
    return &o->host[o->off + z * o->stride + r * o->ld + c];
}

static void upload(operand *o)
{
    ck_assert_int_eq(clnet__buf_create(ctx, o->count * sizeof(float), &o->dev),
                     CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, o->dev, 0, o->count * sizeof(float),
                                      o->host), CLNET_OK);
}

static void drop(operand *o)
{
    clnet__buf_release(ctx, o->dev);
    free(o->host);
}

/* Runs c through `variant` (NULL: the dispatcher) and checks every element
 * of C against the double reference and every float around the C views
 * against the sentinel. Returns 0 when the variant does not apply. */
static int check_case(const char *variant, gcase c, unsigned seed)
{
    clnet_test_rng r;
    clnet_test_rng_seed(&r, seed);
    operand A = layout(c.ta ? c.k : c.m, c.ta ? c.m : c.k, c.pad, c.off, c.batch,
                       c.shared_a);
    operand B = layout(c.tb ? c.n : c.k, c.tb ? c.k : c.n, c.pad, c.off + 1,
                       c.batch, 0);
    operand C = layout(c.m, c.n, c.pad, c.off + 2, c.batch, 0);
    for (size_t i = 0; i < A.count; i++)
        A.host[i] = clnet_test_uniform(&r, -1.0f, 1.0f);
    for (size_t i = 0; i < B.count; i++)
        B.host[i] = clnet_test_uniform(&r, -1.0f, 1.0f);
    for (size_t i = 0; i < C.count; i++)
        C.host[i] = SENTINEL;
    float *c0 = malloc(C.count * sizeof(float));
    ck_assert_ptr_nonnull(c0);
    for (size_t z = 0; z < c.batch; z++)
        for (size_t i = 0; i < c.m; i++)
            for (size_t j = 0; j < c.n; j++)
                *at(&C, z, i, j) =
                    c.beta == 0.0f ? NAN : clnet_test_uniform(&r, -1.0f, 1.0f);
    memcpy(c0, C.host, C.count * sizeof(float));
    upload(&A);
    upload(&B);
    upload(&C);
    clnet__tensor ta = {A.dev, A.off, 0}, tb = {B.dev, B.off, 0}, tc = {C.dev, C.off, 0};
    clnet_status st =
        variant ? clnet__sgemm_variant(ctx, variant, c.ta, c.tb, c.m, c.n, c.k,
                                       c.alpha, ta, A.ld, A.stride, tb, B.ld,
                                       B.stride, c.beta, tc, C.ld, C.stride, c.batch)
                : clnet__sgemm_batched(ctx, c.ta, c.tb, c.m, c.n, c.k, c.alpha, ta,
                                       A.ld, A.stride, tb, B.ld, B.stride, c.beta,
                                       tc, C.ld, C.stride, c.batch);
    int ran = st != CLNET_EUNSUPPORTED;
    if (ran) {
        ck_assert_msg(st == CLNET_OK, "%s: %s", clnet_status_name(st),
                      clnet_errmsg(ctx));
        ck_assert_int_eq(clnet__buf_read(ctx, C.dev, 0, C.count * sizeof(float),
                                         C.host), CLNET_OK);
    }
    const char *name = variant ? variant : "dispatch";
    for (size_t z = 0; ran && z < c.batch; z++)
        for (size_t i = 0; i < c.m; i++)
            for (size_t j = 0; j < c.n; j++) {
                double s = 0.0, mag = 0.0;
                for (size_t p = 0; p < c.k; p++) {
                    double x = c.ta ? *at(&A, z, p, i) : *at(&A, z, i, p);
                    double y = c.tb ? *at(&B, z, j, p) : *at(&B, z, p, j);
                    s += x * y;
                    mag += fabs(x * y);
                }
                size_t ci = C.off + z * C.stride + i * C.ld + j;
                double old = c.beta == 0.0f ? 0.0 : (double)c0[ci] * c.beta;
                double want = c.alpha * s + old;
                double tol = 2e-6 * (1.0 + sqrt((double)c.k)) *
                                 (fabs(c.alpha) * mag + fabs(old)) + 1e-6;
                float got = C.host[ci];
                ck_assert_msg(fabs(got - want) <= tol,
                              "%s ta=%d tb=%d m=%zu n=%zu k=%zu batch=%zu "
                              "alpha=%g beta=%g: C[%zu][%zu][%zu] = %.9g, want %.9g",
                              name, c.ta, c.tb, c.m, c.n, c.k, c.batch, c.alpha,
                              c.beta, z, i, j, got, want);
                c0[ci] = SENTINEL; /* checked: the rest must be untouched */
                C.host[ci] = SENTINEL;
            }
    for (size_t i = 0; ran && i < C.count; i++)
        ck_assert_msg(memcmp(&C.host[i], &c0[i], sizeof(float)) == 0,
                      "%s ta=%d tb=%d m=%zu n=%zu k=%zu: wrote outside C at %zu",
                      name, c.ta, c.tb, c.m, c.n, c.k, i);
    free(c0);
    drop(&A);
    drop(&B);
    drop(&C);
    return ran;
}

static const size_t odd[][3] = {
    {1, 1, 1}, {7, 33, 65}, {65, 129, 7}, {33, 1, 129}, {1, 65, 33},
    {129, 7, 1}, {70, 200, 300}, {5, 64, 0},
};
static const float alphas[] = {1.0f, 0.5f, -1.5f, 1.0f};
static const float betas[] = {0.0f, 1.0f, 0.25f, 0.0f};

/* The variants the dispatcher picks by default (and CLBlast, the fallback)
 * get every transpose pair; the other geometries share their code and get
 * one pair (A*B^T for dot, A*B otherwise) on every size: each pair is a
 * kernel build, seconds apiece on PoCL with a cold cache. */
static int full_coverage(const char *v)
{
    return !strcmp(v, "clblast") || !strcmp(v, "panel-6x64") ||
           !strcmp(v, "dot-4x6") || !strcmp(v, "tiled-64x64");
}

/* Transpose pair t (bit 0: A, bit 1: B) is tested for variant v. */
static int pair_tested(const char *v, int t)
{
    return full_coverage(v) || t == (strncmp(v, "dot", 3) == 0 ? 2 : 0);
}

START_TEST(every_variant_every_transpose)
{
    const char *v = clnet__sgemm_variant_name((size_t)_i);
    ck_assert_ptr_nonnull(v);
    int ran = 0;
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; pair_tested(v, t) && s < sizeof odd / sizeof odd[0];
             s++) {
            gcase c = {t & 1, t >> 1, odd[s][0], odd[s][1], odd[s][2], 1,
                       alphas[(s + (size_t)t) % 4], betas[(s + (size_t)t) % 4],
                       s % 3, 5 * s % 7, 0};
            ran += check_case(v, c, (unsigned)(100 * s + (size_t)t));
        }
    ck_assert_msg(ran > 0, "%s ran no case", v);
}
END_TEST

/* Batches with gaps between matrices, and A shared by the batch (stride 0,
 * as the 1x1 convolution passes its weights). */
START_TEST(batched_strides)
{
    const char *v = clnet__sgemm_variant_name((size_t)_i);
    for (int t = 0; t < 4; t++) {
        gcase c = {t & 1, t >> 1, 19, 70, 37, 3, 1.0f, t == 2 ? 0.5f : 0.0f,
                   2, 3, t == 1};
        if (pair_tested(v, t))
            check_case(v, c, 7u + (unsigned)t);
    }
}
END_TEST

/* fashion-cnn at batch 64: conv1/conv2 forward, conv2 backward (dW and
 * dCols), conv2 dW as the 16 slices the conv op batches, fc1 forward and
 * backward, fc2. Through the dispatcher, as the ops call it. */
START_TEST(fashion_cnn_shapes)
{
    static const struct { int ta, tb; size_t m, n, k, batch; float beta; } sh[] = {
        {0, 0, 32, 50176, 9, 1, 0.0f},     {0, 0, 64, 12544, 288, 1, 0.0f},
        {0, 1, 64, 288, 12544, 1, 1.0f},   {1, 0, 288, 12544, 64, 1, 0.0f},
        {0, 1, 64, 288, 784, 16, 0.0f},    {0, 1, 32, 9, 50176, 1, 1.0f},
        {0, 1, 64, 128, 3136, 1, 1.0f},    {0, 0, 64, 3136, 128, 1, 0.0f},
        {1, 0, 128, 3136, 64, 1, 1.0f},    {0, 1, 64, 10, 128, 1, 1.0f},
        {0, 0, 64, 128, 10, 1, 0.0f},      {1, 0, 10, 128, 64, 1, 1.0f},
    };
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        gcase c = {sh[i].ta, sh[i].tb, sh[i].m, sh[i].n, sh[i].k, sh[i].batch,
                   1.0f, sh[i].beta, 0, 0, 0};
        check_case(NULL, c, 1000u + (unsigned)i);
    }
}
END_TEST

static float round_half(float x) { return clnet__half_to_float(clnet__half_from_float(x)); }

/* precision fp16 (GEMM_FP16): the tiled kernel rounds both operands to half
 * and sums in fp32. Against a double reference of the rounded operands:
 * fp32-close; against one of the unrounded operands: visibly not (so the
 * rounding happened). Every transpose pair, beta 0 and 1. */
START_TEST(tiled_fp16_rounds_operands)
{
    const size_t m = 37, n = 45, k = 70;
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c = malloc(m * n * 4);
    float *c0 = malloc(m * n * 4);
    uint64_t r = 99;
    for (size_t i = 0; i < m * k; i++)
        a[i] = (float)((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 40) /
                   16777216.0f * 2 - 1;
    for (size_t i = 0; i < k * n; i++)
        b[i] = (float)((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 40) /
                   16777216.0f * 2 - 1;
    for (size_t i = 0; i < m * n; i++)
        c0[i] = 0.001f * (float)(i % 17);
    clnet__buf *da = NULL, *db = NULL, *dc = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, m * k * 4, &da), CLNET_OK);
    ck_assert_int_eq(clnet__buf_create(ctx, k * n * 4, &db), CLNET_OK);
    ck_assert_int_eq(clnet__buf_create(ctx, m * n * 4, &dc), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, da, 0, m * k * 4, a), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, db, 0, k * n * 4, b), CLNET_OK);
    int was = clnet__gemm_fp16_set(ctx, 1);
    for (int t = 0; t < 8; t++) {
        int ta = t & 1, tb = (t >> 1) & 1;
        float beta = t >= 4 ? 1.0f : 0.0f;
        ck_assert_int_eq(clnet__buf_write(ctx, dc, 0, m * n * 4, c0), CLNET_OK);
        /* The same host arrays serve as A or A^T (m x k vs k x m). */
        ck_assert_msg(clnet__sgemm_variant(ctx, "tiled-32x32", ta, tb, m, n, k, 1.0f,
                                           (clnet__tensor){da, 0, 0}, ta ? m : k, 0,
                                           (clnet__tensor){db, 0, 0}, tb ? k : n, 0, beta,
                                           (clnet__tensor){dc, 0, 0}, n, 0, 1) == CLNET_OK,
                      "%s", clnet_errmsg(ctx));
        ck_assert_int_eq(clnet__buf_read(ctx, dc, 0, m * n * 4, c), CLNET_OK);
        double worst_rounded = 0, worst_plain = 0;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double sr = 0, sp = 0;
                for (size_t p = 0; p < k; p++) {
                    float av = ta ? a[p * m + i] : a[i * k + p];
                    float bv = tb ? b[j * k + p] : b[p * n + j];
                    sr += (double)round_half(av) * round_half(bv);
                    sp += (double)av * bv;
                }
                double got = c[i * n + j] - beta * c0[i * n + j];
                worst_rounded = fmax(worst_rounded, fabs(got - sr));
                worst_plain = fmax(worst_plain, fabs(got - sp));
            }
        ck_assert_msg(worst_rounded < 2e-5, "ta=%d tb=%d beta %g: off by %g from the "
                      "half-rounded reference", ta, tb, (double)beta, worst_rounded);
        ck_assert_msg(worst_plain > 1e-4, "ta=%d tb=%d: within %g of the unrounded "
                      "product: were the operands rounded?", ta, tb, worst_plain);
    }
    clnet__gemm_fp16_set(ctx, was);
    clnet__buf_release(ctx, da);
    clnet__buf_release(ctx, db);
    clnet__buf_release(ctx, dc);
    free(a), free(b), free(c), free(c0);
}
END_TEST

/* The same shape picks the same variant every time; CLNET_GEMM forces one
 * where it applies. */
START_TEST(choice_is_stable_and_forcible)
{
    const char *first = clnet__sgemm_choice(ctx, 0, 0, 64, 12544, 288, 1);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(clnet__sgemm_choice(ctx, 0, 0, 64, 12544, 288, 1), first);
    if (ctx->ocl.caps.is_cpu) {
        ck_assert_str_eq(first, "panel-6x64");
        ck_assert_str_eq(clnet__sgemm_choice(ctx, 0, 1, 64, 128, 3136, 1),
                         "dot-4x6");
    }
    setenv("CLNET_GEMM", "clblast", 1);
    clnet_ctx *c2 = clnet_test_ctx();
    ck_assert_str_eq(clnet__sgemm_choice(c2, 0, 0, 64, 12544, 288, 1), "clblast");
    clnet_ctx_free(c2);
    setenv("CLNET_GEMM", "dot-3x8", 1); /* not for A*B: the normal choice */
    c2 = clnet_test_ctx();
    ck_assert_str_eq(clnet__sgemm_choice(c2, 0, 0, 64, 12544, 288, 1), first);
    clnet_ctx_free(c2);
    unsetenv("CLNET_GEMM");
}
END_TEST

static char *tune_file(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s/gemm-*.txt 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[1200] = "";
    char *got = fgets(line, sizeof line, p);
    pclose(p);
    if (!got)
        return NULL;
    line[strcspn(line, "\n")] = '\0';
    return strdup(line);
}

static void rewrite(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* CLNET_GEMM_TUNE=1 times the candidates once per shape class and stores
 * the winner; a later context reads it back; a corrupt file is ignored as a
 * whole (with a warning), and a later tune replaces it. */
START_TEST(tuning_file)
{
    char *dir = tu_tempdir();
    setenv("CLNET_GEMM_TUNE", "1", 1);
    clnet_ctx *c1 = tu_ctx(dir);
    const char *tuned = clnet__sgemm_choice(c1, 1, 0, 96, 200, 64, 1);
    ck_assert_str_eq(clnet__sgemm_choice(c1, 1, 0, 96, 200, 64, 1), tuned);
    /* On PoCL CLBlast is 5-20x slower at any size (tools/bench/RESULTS.md):
     * winning here would mean its timing measured nothing. */
    if (c1->ocl.caps.is_cpu)
        ck_assert_str_ne(tuned, "clblast");
    clnet_ctx_free(c1);
    unsetenv("CLNET_GEMM_TUNE");
    char *path = tune_file(dir);
    ck_assert_ptr_nonnull(path);

    clnet_ctx *c2 = tu_ctx(dir); /* same class, read from the file */
    ck_assert_str_eq(clnet__sgemm_choice(c2, 1, 0, 100, 150, 40, 1), tuned);
    clnet_ctx_free(c2);

    /* A hand-written file with the right checksum is followed. */
    const char *mine = "clnet-gemm 1\n1 0 6 6 6 0 panel-4x64\n";
    char text[512];
    snprintf(text, sizeof text, "%send %016llx\n", mine,
             (unsigned long long)XXH3_64bits(mine, strlen(mine)));
    rewrite(path, text);
    c2 = tu_ctx(dir);
    ck_assert_str_eq(clnet__sgemm_choice(c2, 1, 0, 40, 50, 60, 1), "panel-4x64");
    clnet_ctx_free(c2);

    /* A right checksum cannot rescue an unknown variant or a bad field; a
     * wrong one, a missing one or another format is refused outright. */
    static const char *bad[] = {
        "clnet-gemm 1\n1 0 6 6 6 0 no-such-variant\n",
        "clnet-gemm 1\n1 0 6 6 99 0 panel-6x64\n",
        "clnet-gemm 1\n1 0 6 6 6 0 panel-6x64 extra\n",
        "clnet-gemm 1\nclblast Xgemm KWG=16 kwi=2\n",
        "clnet-gemm 1\n1 0 6 6 6 0 panel-6x64\nend 0000000000000000\n",
        "clnet-gemm 1\n1 0 6 6 6 0 panel-6x64\n",
        "clnet-gemm 9\n",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s", bad[i]);
        if (i < 4) /* append the checksum the format asks for */
            snprintf(text + strlen(text), sizeof text - strlen(text),
                     "end %016llx\n",
                     (unsigned long long)XXH3_64bits(bad[i], strlen(bad[i])));
        rewrite(path, text);
        tu_log_text[0] = '\0';
        clnet_ctx *c3 = tu_ctx(dir);
        clnet__sgemm_choice(c3, 1, 0, 40, 50, 60, 1);
        ck_assert_msg(strstr(tu_log_text, "ignoring GEMM tuning file"),
                      "case %zu: log: %s", i, tu_log_text);
        clnet_ctx_free(c3);
    }
    free(path);
    tu_rmdir(dir);
    free(dir);
}
END_TEST

START_TEST(bad_calls)
{
    clnet__buf *b = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, 100 * sizeof(float), &b), CLNET_OK);
    clnet__tensor t = {b, 0, 0};
    /* 10 x 10 fits in 100 floats; at offset 1 it does not. */
    ck_assert_int_eq(clnet__sgemm(ctx, 0, 0, 10, 10, 10, 1.0f, t, 10, t, 10, 0.0f,
                                  (clnet__tensor){b, 1, 0}, 10),
                     CLNET_EINVAL);
    ck_assert_int_eq(clnet__sgemm(ctx, 0, 0, 10, 10, 10, 1.0f, t, 9, t, 10, 0.0f,
                                  t, 10),
                     CLNET_EINVAL); /* lda < k */
    ck_assert_int_eq(clnet__sgemm_variant(ctx, "no-such", 0, 0, 2, 2, 2, 1.0f, t,
                                          2, 0, t, 2, 0, 0.0f, t, 2, 0, 1),
                     CLNET_ENOTFOUND);
    ck_assert_int_eq(clnet__sgemm_variant(ctx, "panel-6x64", 0, 1, 2, 2, 2, 1.0f,
                                          t, 2, 0, t, 2, 0, 0.0f, t, 2, 0, 1),
                     CLNET_EUNSUPPORTED);
    ck_assert_int_eq(clnet__sgemm(ctx, 0, 0, 0, 10, 10, 1.0f, t, 10, t, 10, 0.0f,
                                  t, 10),
                     CLNET_OK); /* empty: nothing to do */
    clnet__buf_release(ctx, b);
}
END_TEST

/* CLBlast's tuned Xgemm parameters (gemm-bench --tune-clblast): malformed
 * or incomplete ones are refused and nothing is kept; good ones are stored
 * in the tuning file, applied again by a later context (not with
 * CLNET_CLBLAST_TUNED=0), and CLBlast computes right with them on a size
 * large enough for its Xgemm kernel (smaller ones go to its direct kernel). */
START_TEST(clblast_parameters)
{
    static const char good[] = "GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=8 MDIMC=8 "
                               "MWG=32 NDIMB=8 NDIMC=8 NWG=32 SA=1 SB=1 STRM=0 "
                               "STRN=0 VWM=2 VWN=2";
    static const char *malformed[] = {"", "KWG", "KWG=", "kwg=16", "KWG=16x",
                                      "KWG=-1", "KWG=16  =2"};
    char *dir = tu_tempdir();
    clnet_ctx *c1 = tu_ctx(dir);
    ck_assert_ptr_null(clnet__clblast_tuned(c1));
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        ck_assert_msg(clnet__clblast_tuned_set(c1, malformed[i]) == CLNET_EINVAL,
                      "'%s' was not refused", malformed[i]);
    ck_assert_int_eq(clnet__clblast_tuned_set(c1, "KWG=16"), CLNET_EBLAS);
    ck_assert_ptr_null(clnet__clblast_tuned(c1));
    ck_assert_int_eq(clnet__clblast_tuned_set(c1, good), CLNET_OK);
    ck_assert_str_eq(clnet__clblast_tuned(c1), good);
    clnet_ctx_free(c1);

    clnet_ctx *shared = ctx;
    ctx = tu_ctx(dir);
    ck_assert_str_eq(clnet__clblast_tuned(ctx), good);
    gcase c = {0, 1, 520, 530, 515, 1, 1.0f, 0.5f, 3, 1, 0};
    ck_assert(check_case("clblast", c, 77));
    clnet_ctx_free(ctx);
    ctx = shared;

    setenv("CLNET_CLBLAST_TUNED", "0", 1);
    c1 = tu_ctx(dir);
    ck_assert_ptr_null(clnet__clblast_tuned(c1));
    clnet_ctx_free(c1);
    unsetenv("CLNET_CLBLAST_TUNED");
    tu_rmdir(dir);
    free(dir);
}
END_TEST

int main(void)
{
    clnet_test_require_device();
    int nv = 0;
    while (clnet__sgemm_variant_name((size_t)nv))
        nv++;
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("gemm");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, every_variant_every_transpose, 0, nv);
    tcase_add_loop_test(tc, batched_strides, 0, nv);
    tcase_add_test(tc, fashion_cnn_shapes);
    tcase_add_test(tc, tiled_fp16_rounds_operands);
    tcase_add_test(tc, choice_is_stable_and_forcible);
    tcase_add_test(tc, tuning_file);
    tcase_add_test(tc, clblast_parameters);
    tcase_add_test(tc, bad_calls);
    suite_add_tcase(s, tc);
    return clnet_test_run(s);
}
