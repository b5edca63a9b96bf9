/* fp16-storage through the public API: the plan counts layer outputs at two
 * bytes, the arena really holds them as half (gradients fp32), and training follows fp32
 * training within half's rounding, on networks that use every op kind the
 * model files use (conv, batchnorm, relu, pools, residual add, concat,
 * dropout, dense). */
#include "../support.h"
#include "clnet/clnet.h"
#include "graph/model_impl.h"
#include "ocl/ocl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLNET_SOURCE_ROOT
#define CLNET_SOURCE_ROOT "."
#endif

static clnet_ctx *ctx;

static void model_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/models/%s", CLNET_SOURCE_ROOT, name);
}

static clnet_model *load_rc(const char *name, const char *text, int batch,
                            clnet_precision precision, int recompute)
{
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    ms.seed = 9;
    ms.precision = precision;
    ms.recompute = recompute;
    clnet_model *m = NULL;
    clnet_status st;
    if (text) {
        st = clnet_model_load_string(ctx, name, text, &ms, &m);
    } else {
        char path[1024];
        model_path(name, path, sizeof path);
        st = clnet_model_load(ctx, path, &ms, &m);
    }
    ck_assert_msg(st == CLNET_OK, "%s: %s", name, clnet_errmsg(ctx));
    return m;
}

static clnet_model *load(const char *name, const char *text, int batch,
                         clnet_precision precision)
{
    return load_rc(name, text, batch, precision, -1);
}

/* The target: activations planned at about half of fp32's. */
static double planned_ratio(const char *name, int batch)
{
    char path[1024];
    model_path(name, path, sizeof path);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    clnet_memory_plan fp32, fp16;
    ck_assert_int_eq(clnet_model_plan_memory(ctx, path, &ms, &fp32), CLNET_OK);
    ms.precision = CLNET_PRECISION_FP16_STORAGE;
    ck_assert_msg(clnet_model_plan_memory(ctx, path, &ms, &fp16) == CLNET_OK, "%s",
                  clnet_errmsg(ctx));
    double r = (double)fp16.activations / (double)fp32.activations;
    printf("%s batch %d activations: fp32 %.1f MiB, fp16-storage %.1f MiB (%.2fx)\n",
           name, batch, fp32.activations / 1048576.0, fp16.activations / 1048576.0, r);
    return r;
}

START_TEST(plan_halves_activations)
{
    /* Gradients stay fp32: lenet's dense layers, whose outputs are few
     * next to their gradients' peak, save less. */
    const struct { const char *name; int batch; double most; } models[] = {
        {"fashion-cnn.cfg", 64, 0.55}, {"resnet20.cfg", 256, 0.55}, {"lenet.cfg", 1024, 0.65},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        double r = planned_ratio(models[i].name, models[i].batch);
        ck_assert_msg(r <= models[i].most, "%s: fp16-storage plans %.2fx",
                      models[i].name, r);
    }
}
END_TEST

/* The layers' outputs are half views of the arena; the logits (read by
 * the loss and by clnet_model_forward's caller) and every gradient stay
 * fp32. */
START_TEST(activations_are_half_but_logits)
{
    clnet_model *m = load("resnet20.cfg", NULL, 2, CLNET_PRECISION_FP16_STORAGE);
    const clnet__graph *g = m->graph;
    int L = g->desc->n_layers, halves = 0;
    for (int i = 0; i < L - 1; i++)
        if (g->layers[i].io.out.buf) {
            ck_assert_msg(g->layers[i].io.out.half, "layer %d output is fp32", i);
            ck_assert_msg(!g->layers[i].io.dout.half, "layer %d output gradient is half", i);
            halves++;
        }
    ck_assert_int_gt(halves, 10);
    ck_assert(!g->logits.half && !g->dlogits.half);
    clnet_model_free(m);
}
END_TEST

static float *read_params(clnet_model *m, size_t *n)
{
    const clnet__graph *g = m->graph;
    *n = g->params_count;
    float *p = malloc(*n * sizeof *p);
    ck_assert(p);
    ck_assert_int_eq(clnet__buf_read(ctx, g->params_buf, 0, *n * sizeof(float), p),
                     CLNET_OK);
    return p;
}

static double rel_diff(const float *a, const float *b, const float *base, size_t n)
{
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        double u = (double)a[i] - (base ? base[i] : 0), v = (double)b[i] - (base ? base[i] : 0);
        diff += (u - v) * (u - v);
        norm += v * v;
    }
    return sqrt(diff / fmax(norm, 1e-300));
}

/* One step of m on batch s (two fixed batches in turn); returns the loss. */
static double step(clnet_model *m, const char *name, int s, int round_input)
{
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    int batch = info.batch;
    size_t n = (size_t)batch * info.channels * info.height * info.width;
    float *x = malloc(n * sizeof *x);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    ck_assert(x && y);
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 77 + (uint64_t)(s % 2));
    for (size_t i = 0; i < n; i++)
        x[i] = clnet_test_uniform(&r, -1, 1);
    for (size_t i = 0; round_input && i < n; i++)
        x[i] = clnet__half_to_float(clnet__half_from_float(x[i]));
    for (int i = 0; i < batch; i++)
        y[i] = (i * 7 + s % 2) % info.classes;
    clnet_status st = clnet_model_set_batch(m, x, y, batch);
    if (st == CLNET_OK)
        st = clnet_model_train_step(m);
    clnet_stats stats;
    if (st == CLNET_OK)
        st = clnet_model_read_stats(m, &stats, 1);
    ck_assert_msg(st == CLNET_OK, "%s: %s", name, clnet_errmsg(ctx));
    free(x);
    free(y);
    return stats.loss_sum / stats.samples;
}

/* fp32 and fp16-storage from the same initialisation on the same batches.
 * The first step's loss agrees within 2e-3. Its update (new parameters
 * minus initial ones) is compared with a yardstick: the same fp32 step on
 * the input rounded to half, one rounding where fp16-storage rounds every
 * layer's output (2^-12 relative each), and a max-pooling or relu tie that
 * a rounding creates routes a gradient elsewhere; networks at their
 * initialisation amplify that (resnet20's last batchnorms cancel most of
 * a gradient that global pooling made uniform: 4e-2 for the input rounding
 * alone). Within 10 times the yardstick; a wrong kernel or a clobbered
 * tensor gives updates off by their own size (a relative 1). Then STEPS
 * more steps: the loss stays finite and falls as fp32's does, ending
 * within a quarter of the first loss of it (two batches memorised: fast,
 * and chaotic enough that closer would be luck). */
#define STEPS 8
static void trains_as_fp32(const char *name, const char *text, int batch)
{
    clnet_model *a = load(name, text, batch, CLNET_PRECISION_FP32);
    clnet_model *b = load(name, text, batch, CLNET_PRECISION_FP16_STORAGE);
    size_t n, nb;
    float *init = read_params(a, &n), *init_b = read_params(b, &nb);
    ck_assert_uint_eq(n, nb);
    ck_assert_msg(rel_diff(init, init_b, NULL, n) == 0, "%s: different initialisations",
                  name);
    double la = step(a, name, 0, 0), lb = step(b, name, 0, 0);
    double dl = fabs(lb - la) / fabs(la);
    float *pa = read_params(a, &n), *pb = read_params(b, &n);
    double du = rel_diff(pb, pa, init, n);
    printf("%s: first step, fp16-storage vs fp32: loss %.6f vs %.6f (%.2g), update %.2g "
           "relative\n", name, lb, la, dl, du);
    /* The yardstick: fp32 itself, on the input rounded to half. */
    clnet_model *c = load(name, text, batch, CLNET_PRECISION_FP32);
    step(c, name, 0, 1);
    float *pc = read_params(c, &n);
    double dx = rel_diff(pc, pa, init, n);
    printf("%s: first step, fp32 on the input rounded to half: update %.2g relative\n",
           name, dx);
    free(pc);
    clnet_model_free(c);
    ck_assert_msg(dl <= 2e-3, "%s: first loss fp32 %.6f, fp16-storage %.6f", name, la, lb);
    ck_assert_msg(du <= 10 * dx + 5e-3, "%s: first update differs by %.2g relative, "
                  "%.2g with only the input rounded", name, du, dx);
    double first[2] = {la, lb}, last[2] = {la, lb};
    for (int s = 1; s <= STEPS; s++) {
        last[0] = step(a, name, s, 0);
        last[1] = step(b, name, s, 0);
        ck_assert_msg(isfinite(last[1]), "%s step %d: fp16-storage loss %g", name, s + 1,
                      last[1]);
    }
    printf("%s: after %d steps: loss fp32 %.4f -> %.4f, fp16-storage %.4f -> %.4f\n", name,
           STEPS + 1, first[0], last[0], first[1], last[1]);
    ck_assert_msg(last[0] < first[0] && last[1] < first[1], "%s: the loss did not fall",
                  name);
    ck_assert_msg(fabs(last[1] - last[0]) <= 0.25 * first[0], "%s: last loss fp32 %.4f, "
                  "fp16-storage %.4f", name, last[0], last[1]);
    free(init);
    free(init_b);
    free(pa);
    free(pb);
    clnet_model_free(a);
    clnet_model_free(b);
}

/* Concat, dropout, max and average pooling, a residual add and a fused
 * relu in one small network. */
static const char mixed_net[] =
    "[net]\nchannels=3\nheight=12\nwidth=12\nclasses=5\n"
    "[conv]\nname=stem\nfilters=8\nkernel=3\npad=1\n"
    "[batchnorm]\n[relu]\nname=r0\n"
    "[conv]\nfilters=8\nkernel=3\npad=1\nactivation=relu\n"
    "[conv]\nname=c2\nfilters=8\nkernel=3\npad=1\n"
    "[add]\nfrom=r0,c2\n[relu]\n"
    "[maxpool]\nname=p1\nkernel=2\nstride=2\n"
    "[conv]\nname=a\nfilters=4\nkernel=1\nfrom=p1\n"
    "[conv]\nname=b\nfilters=4\nkernel=3\npad=1\nfrom=p1\n"
    "[concat]\nfrom=a,b\n"
    "[dropout]\np=0.2\n"
    "[avgpool]\nkernel=2\n"
    "[flatten]\n[dense]\noutputs=5\n"
    "[train]\nlr=0.05\nmomentum=0.9\n";

START_TEST(small_net_trains_as_fp32)
{
    trains_as_fp32("mixed", mixed_net, 16);
}
END_TEST

START_TEST(resnet20_trains_as_fp32)
{
    trains_as_fp32("resnet20.cfg", NULL, 32);
}
END_TEST

/* Recompute replays half outputs as it does fp32 ones: the same bits. */
START_TEST(recompute_is_exact_under_fp16_storage)
{
    clnet_model *on = load_rc("resnet20.cfg", NULL, 4, CLNET_PRECISION_FP16_STORAGE, 1);
    clnet_model *off = load_rc("resnet20.cfg", NULL, 4, CLNET_PRECISION_FP16_STORAGE, -1);
    ck_assert_int_gt(on->graph->n_segments, 1);
    for (int s = 0; s < 3; s++) {
        step(on, "recompute on", s, 0);
        step(off, "recompute off", s, 0);
    }
    size_t n, m;
    float *a = read_params(on, &n), *b = read_params(off, &m);
    ck_assert_uint_eq(n, m);
    ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "recompute changed the parameters "
                  "(%.2g relative)", rel_diff(a, b, NULL, n));
    free(a);
    free(b);
    clnet_model_free(on);
    clnet_model_free(off);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("fp16_storage");
    TCase *tc = tcase_create("fp16_storage");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, plan_halves_activations);
    tcase_add_test(tc, activations_are_half_but_logits);
    tcase_add_test(tc, small_net_trains_as_fp32);
    tcase_add_test(tc, resnet20_trains_as_fp32);
    tcase_add_test(tc, recompute_is_exact_under_fp16_storage);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
