/* Memory options through the public API: gradient accumulation equals one
 * large batch; activation recomputation gives the same bits as keeping
 * every activation, and plans less memory. */
#include "../support.h"
#include "clnet/clnet.h"
#include "graph/model_impl.h"
#include "ocl/ocl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLNET_SOURCE_ROOT
#define CLNET_SOURCE_ROOT "."
#endif

static clnet_ctx *ctx;

/* No batchnorm, no dropout: a batch of 64 and four accumulated batches of
 * 16 compute the same mean gradient (only the summation order differs).
 * Momentum, weight decay and clipping act on the accumulated gradient. */
static const char small_cnn[] = CLNET_TEST_SMALL_CNN
    "[train]\nlr=0.05\nmomentum=0.9\nweight_decay=0.0005\nclip_norm=5\n";

static clnet_model *load_text(const char *text, int batch, int recompute)
{
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    ms.seed = 5;
    ms.recompute = recompute;
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load_string(ctx, "test", text, &ms, &m);
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(ctx));
    return m;
}

static clnet_model *load_file(const char *name, int batch, int recompute)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", CLNET_SOURCE_ROOT, name);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    ms.seed = 21;
    ms.recompute = recompute;
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load(ctx, path, &ms, &m);
    ck_assert_msg(st == CLNET_OK, "%s: %s", path, clnet_errmsg(ctx));
    return m;
}

static void step(clnet_model *m, const float *x, const int32_t *y, int n)
{
    clnet_status st = clnet_model_set_batch(m, x, y, n);
    if (st == CLNET_OK)
        st = clnet_model_train_step(m);
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(ctx));
}

static float *read_params(clnet_model *m)
{
    const clnet__graph *g = m->graph;
    float *p = malloc(g->params_count * sizeof *p);
    ck_assert(p);
    ck_assert_int_eq(clnet__buf_read(ctx, g->params_buf, 0,
                                     g->params_count * sizeof(float), p), CLNET_OK);
    return p;
}

START_TEST(accumulate_matches_one_large_batch)
{
    enum { BIG = 64, MICRO = 16, N = BIG / MICRO, UPDATES = 10, ITEM = 3 * 8 * 8 };
    clnet_model *big = load_text(small_cnn, BIG, 0);
    clnet_model *acc = load_text(small_cnn, MICRO, 0);
    clnet_train_settings ts;
    clnet_model_get_train_settings(acc, &ts);
    ts.accumulate = N;
    ck_assert_int_eq(clnet_model_set_train_settings(acc, &ts), CLNET_OK);
    float *x = malloc((size_t)BIG * ITEM * sizeof *x);
    int32_t y[BIG];
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 77);
    char path[] = "/tmp/clnet-acc-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    for (int u = 0; u < UPDATES; u++) {
        for (size_t i = 0; i < (size_t)BIG * ITEM; i++)
            x[i] = clnet_test_uniform(&r, -1, 1);
        for (int i = 0; i < BIG; i++)
            y[i] = (int32_t)(clnet_test_uniform(&r, 0, 5)) % 5;
        step(big, x, y, BIG);
        for (int k = 0; k < N; k++) {
            step(acc, x + (size_t)k * MICRO * ITEM, y + k * MICRO, MICRO);
            ck_assert_int_eq(clnet_model_accumulated(acc), (k + 1) % N);
            if (k == 1 && u == 3) {
                /* Mid-accumulation: no checkpoint, and the recipe's count
                 * stays, with messages saying why. */
                ck_assert_int_eq(clnet_model_save(acc, path, NULL, 0), CLNET_EINVAL);
                ck_assert_msg(strstr(clnet_errmsg(ctx), "accumulation"), "%s",
                              clnet_errmsg(ctx));
                clnet_train_settings t2 = ts;
                t2.accumulate = 2;
                ck_assert_int_eq(clnet_model_set_train_settings(acc, &t2), CLNET_EINVAL);
            }
        }
        ck_assert_int_eq(clnet_model_step(acc), (uint64_t)u + 1);
    }
    ck_assert_int_eq(clnet_model_step(big), UPDATES);
    ck_assert_int_eq(clnet_model_save(acc, path, NULL, 0), CLNET_OK);
    float *pb = read_params(big), *pa = read_params(acc);
    size_t n = big->graph->params_count;
    double diff = 0, norm = 0, moved = 0;
    float *p0 = NULL;
    {
        clnet_model *fresh = load_text(small_cnn, BIG, 0);
        p0 = read_params(fresh);
        clnet_model_free(fresh);
    }
    for (size_t i = 0; i < n; i++) {
        diff += ((double)pa[i] - pb[i]) * ((double)pa[i] - pb[i]);
        norm += (double)pb[i] * pb[i];
        moved += ((double)pb[i] - p0[i]) * ((double)pb[i] - p0[i]);
    }
    double rel = sqrt(diff / norm);
    ck_assert_msg(rel <= 1e-5, "accumulated vs large batch: relative difference %g", rel);
    /* The comparison means something only if training moved the weights
     * well past that tolerance. */
    ck_assert_msg(sqrt(moved / norm) > 1e-2, "parameters barely moved: %g",
                  sqrt(moved / norm));
    /* The checkpoint keeps the count; a model opened from it accumulates. */
    clnet_model *back = NULL;
    ck_assert_int_eq(clnet_model_open_checkpoint(ctx, path, NULL, &back), CLNET_OK);
    clnet_train_settings tb;
    clnet_model_get_train_settings(back, &tb);
    ck_assert_int_eq(tb.accumulate, N);
    clnet_model_free(back);
    unlink(path);
    free(p0);
    free(pa);
    free(pb);
    free(x);
    clnet_model_free(big);
    clnet_model_free(acc);
}
END_TEST

/* Three steps saved to path, recompute on (1) or off (-1); returns the
 * planned memory. */
static size_t three_steps(clnet_model *m, const char *path)
{
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    size_t n = (size_t)info.batch * info.channels * info.height * info.width;
    float *x = malloc(n * sizeof *x);
    int32_t *y = malloc((size_t)info.batch * sizeof *y);
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 12);
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < n; i++)
            x[i] = clnet_test_uniform(&r, -1, 1);
        for (int i = 0; i < info.batch; i++)
            y[i] = (i * 3 + s) % info.classes;
        step(m, x, y, info.batch);
    }
    ck_assert_msg(clnet_model_save(m, path, NULL, 0) == CLNET_OK, "%s", clnet_errmsg(ctx));
    free(x);
    free(y);
    return info.memory_planned;
}

/* Parameters, running statistics and optimizer moments after three steps
 * are the same bits with and without recompute: the replayed forward
 * computes the same values, batchnorm's running statistics move once, and
 * dropout draws the same masks. Recompute must also plan less. */
static void recompute_is_exact(clnet_model *on, clnet_model *off, const char *what)
{
    ck_assert_msg(on->graph->n_segments > 1, "%s: one recompute segment", what);
    ck_assert_int_eq(off->graph->n_segments, 1);
    char dir[] = "/tmp/clnet-recompute-XXXXXX";
    ck_assert(mkdtemp(dir));
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/on.safetensors", dir);
    snprintf(b, sizeof b, "%s/off.safetensors", dir);
    size_t mem_on = three_steps(on, a), mem_off = three_steps(off, b);
    ck_assert_msg(clnet_test_files_equal(a, b), "%s: training with recompute differs", what);
    ck_assert_msg(mem_on < mem_off, "%s: recompute plans %zu bytes, without %zu", what,
                  mem_on, mem_off);
    unlink(a);
    unlink(b);
    rmdir(dir);
    clnet_model_free(on);
    clnet_model_free(off);
}

START_TEST(recompute_is_exact_resnet20)
{
    recompute_is_exact(load_file("resnet20.cfg", 4, 1), load_file("resnet20.cfg", 4, -1),
                       "resnet20");
}
END_TEST

/* Dropout's masks are replayed; a model file's recompute= key turns it on. */
static const char dropout_net[] =
    "[net]\nchannels=3\nheight=8\nwidth=8\nclasses=4\nrecompute=1\n"
    "[conv]\nfilters=8\nkernel=3\npad=1\n"
    "[batchnorm]\n[relu]\n"
    "[dropout]\np=0.3\n"
    "[conv]\nfilters=8\nkernel=3\npad=1\n"
    "[relu]\n[dropout]\np=0.5\n"
    "[conv]\nfilters=8\nkernel=3\npad=1\n"
    "[batchnorm]\n[relu]\n"
    "[maxpool]\nkernel=2\nstride=2\n"
    "[conv]\nfilters=8\nkernel=3\npad=1\nactivation=relu\n"
    "[dropout]\np=0.2\n"
    "[flatten]\n[dense]\noutputs=4\n";

START_TEST(recompute_is_exact_with_dropout)
{
    recompute_is_exact(load_text(dropout_net, 6, 0), load_text(dropout_net, 6, -1),
                       "dropout net");
}
END_TEST

/* The target: resnet20 at batch 256 plans at most half the
 * activation memory with recompute (the plan alone; nothing allocated). */
START_TEST(recompute_halves_resnet20_activations)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/resnet20.cfg", CLNET_SOURCE_ROOT);
    clnet__model_desc *d = NULL;
    ck_assert_int_eq(clnet__model_load_file(ctx, path, 256, &d), CLNET_OK);
    clnet__graph_need off, on;
    d->recompute = 0;
    ck_assert_int_eq(clnet__graph_need_of(ctx, d, 1, SIZE_MAX, &off), CLNET_OK);
    d->recompute = 1;
    ck_assert_int_eq(clnet__graph_need_of(ctx, d, 1, SIZE_MAX, &on), CLNET_OK);
    double ratio = (double)on.arena / (double)off.arena;
    printf("resnet20 batch 256 activations: %.1f MiB, with recompute %.1f MiB (%.2fx)\n",
           off.arena / 1048576.0, on.arena / 1048576.0, ratio);
    ck_assert_msg(ratio <= 0.5, "recompute plans %.2fx of the activations", ratio);
    clnet__model_desc_free(d);
}
END_TEST

/* A run that does not fit is refused with the options that make it fit
 * at the same batch (a 96 MiB device: CLNET_FAULT devmem), and the
 * suggestions hold: with recompute, and with fp16-storage, the same batch
 * loads and trains. */
START_TEST(refusal_suggests_what_fits)
{
    setenv("CLNET_FAULT", "devmem:96M", 1);
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    clnet_ctx *small = NULL;
    clnet_status st = clnet_ctx_create(&small, &cs);
    unsetenv("CLNET_FAULT");
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(small));
    char path[1024];
    snprintf(path, sizeof path, "%s/models/resnet20.cfg", CLNET_SOURCE_ROOT);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = 24;
    clnet_model *m = NULL;
    ck_assert_int_eq(clnet_model_load(small, path, &ms, &m), CLNET_ENOMEM);
    const char *msg = clnet_errmsg(small);
    ck_assert_msg(strstr(msg, "to keep batch 24") && strstr(msg, "--precision fp16-storage") &&
                      strstr(msg, "--recompute") && strstr(msg, "--accumulate"), "%s", msg);
    /* Each suggestion holds: the plan fits, and the model loads and trains. */
    for (int k = 0; k < 2; k++) {
        ms.recompute = k == 0 ? 1 : 0;
        ms.precision = k == 0 ? CLNET_PRECISION_FP32 : CLNET_PRECISION_FP16_STORAGE;
        clnet_memory_plan plan;
        ck_assert_int_eq(clnet_model_plan_memory(small, path, &ms, &plan), CLNET_OK);
        ck_assert_msg(plan.fits && plan.largest_batch >= 24, "plan %d: fits %d, largest %d",
                      k, plan.fits, plan.largest_batch);
        ck_assert_msg(clnet_model_load(small, path, &ms, &m) == CLNET_OK, "%s",
                      clnet_errmsg(small));
        clnet_model_info info;
        clnet_model_get_info(m, &info);
        size_t n = (size_t)24 * info.channels * info.height * info.width;
        float *x = calloc(n, sizeof *x);
        int32_t y[24] = {0};
        ck_assert(x);
        ck_assert_int_eq(clnet_model_set_batch(m, x, y, 24), CLNET_OK);
        ck_assert_msg(clnet_model_train_step(m) == CLNET_OK, "%s", clnet_errmsg(small));
        clnet_stats s;
        ck_assert_int_eq(clnet_model_read_stats(m, &s, 1), CLNET_OK);
        free(x);
        clnet_model_free(m);
    }
    clnet_ctx_free(small);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("memory");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, accumulate_matches_one_large_batch);
    tcase_add_test(tc, recompute_halves_resnet20_activations);
    tcase_add_test(tc, recompute_is_exact_with_dropout);
    tcase_add_test(tc, recompute_is_exact_resnet20);
    tcase_add_test(tc, refusal_suggests_what_fits);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
