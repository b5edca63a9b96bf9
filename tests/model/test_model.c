/* The training core end to end through the public API: models learn,
 * memory plans share memory, checkpoints round-trip and resume exactly. */
#include "../support.h"
#include "clnet/clnet.h"
#include "graph/model_impl.h"
#include "ocl/ocl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#ifndef CLNET_SOURCE_ROOT
#define CLNET_SOURCE_ROOT "."
#endif
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static clnet_ctx *ctx;

static clnet_model *load(const char *name, int batch, uint64_t seed)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", CLNET_SOURCE_ROOT, name);
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    ms.seed = seed;
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load(ctx, path, &ms, &m);
    ck_assert_msg(st == CLNET_OK, "%s: %s", path, clnet_errmsg(ctx));
    return m;
}

/* Mean loss of the steps since the last read. */
static double mean_loss(clnet_model *m)
{
    clnet_stats s;
    ck_assert_int_eq(clnet_model_read_stats(m, &s, 1), CLNET_OK);
    ck_assert(s.samples > 0);
    ck_assert_msg(!s.nonfinite, "non-finite loss");
    return s.loss_sum / s.samples;
}

static void step(clnet_model *m, const float *x, const int32_t *y, int n)
{
    clnet_status st = clnet_model_set_batch(m, x, y, n);
    if (st == CLNET_OK)
        st = clnet_model_train_step(m);
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(ctx));
}

START_TEST(xor_mlp_learns)
{
    static const char cfg[] = "[net]\nchannels=2\nheight=1\nwidth=1\nclasses=2\nbatch=4\n"
                              "[dense]\noutputs=16\nactivation=tanh\n"
                              "[dense]\noutputs=2\n"
                              "[train]\nlr=0.5\nmomentum=0.9\n";
    clnet_model *m = NULL;
    ck_assert_int_eq(clnet_model_load_string(ctx, "xor", cfg, NULL, &m), CLNET_OK);
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const int32_t y[4] = {0, 1, 1, 0};
    for (int i = 0; i < 300; i++)
        step(m, x, y, 4);
    clnet_stats s;
    clnet_model_read_stats(m, &s, 1);
    float p[8];
    ck_assert_int_eq(clnet_model_set_batch(m, x, NULL, 4), CLNET_OK);
    ck_assert_int_eq(clnet_model_predict(m, p), CLNET_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(p[2 * i + y[i]] > 0.9f, "xor sample %d: p(correct) = %g", i,
                      (double)p[2 * i + y[i]]);
    clnet_model_free(m);
}
END_TEST

/* The first n images/labels of a gzip'd IDX pair, pixels scaled to [0,1]. */
static int read_idx(const char *images, const char *labels, int n, float *x, int32_t *y)
{
    gzFile fi = gzopen(images, "rb"), fl = gzopen(labels, "rb");
    unsigned char hi[16], hl[8];
    int ok = fi && fl && gzread(fi, hi, 16) == 16 && gzread(fl, hl, 8) == 8 &&
             hi[2] == 8 && hi[3] == 3 && hl[3] == 1;
    unsigned char *px = malloc((size_t)n * 784), *lb = malloc((size_t)n);
    ok = ok && px && lb && gzread(fi, px, (unsigned)n * 784) == n * 784 &&
         gzread(fl, lb, (unsigned)n) == n;
    for (int i = 0; ok && i < n * 784; i++)
        x[i] = px[i] / 255.0f;
    for (int i = 0; ok && i < n; i++)
        y[i] = lb[i];
    free(px);
    free(lb);
    if (fi)
        gzclose(fi);
    if (fl)
        gzclose(fl);
    return ok;
}

START_TEST(fashion_cnn_loss_falls)
{
    enum { N = 1000, B = 50 };
    float *x = malloc((size_t)N * 784 * sizeof *x);
    int32_t *y = malloc(N * sizeof *y);
    ck_assert(x && y);
    ck_assert_msg(read_idx(FASHION_DIR "/train-images-idx3-ubyte.gz",
                           FASHION_DIR "/train-labels-idx1-ubyte.gz", N, x, y),
                  "cannot read Fashion-MNIST from " FASHION_DIR
                  " (Debian package dataset-fashion-mnist)");
    clnet_model *m = load("fashion-cnn.cfg", B, 7);
    double first = 0, last = 0;
    for (int s = 0; s < 100; s++) {
        int b = s % (N / B);
        step(m, x + (size_t)b * B * 784, y + b * B, B);
        if (s == 9)
            first = mean_loss(m);
        if (s == 89)
            mean_loss(m); /* reset */
    }
    last = mean_loss(m);
    ck_assert_msg(last < 0.6 * first && last < 1.2,
                  "fashion-cnn loss did not fall: first 10 steps %.3f, last 10 %.3f", first, last);
    clnet_model_free(m);
    free(x);
    free(y);
}
END_TEST

/* A fixed random batch: the loss must fall as the network fits it. */
static void fits_fixed_batch(const char *model, int batch, int steps)
{
    clnet_model *m = load(model, batch, 3);
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    size_t n = (size_t)batch * info.channels * info.height * info.width;
    float *x = malloc(n * sizeof *x);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++)
        x[i] = clnet_test_uniform(&r, -1, 1);
    for (int i = 0; i < batch; i++)
        y[i] = i % info.classes;
    clnet_train_settings ts;
    clnet_model_get_train_settings(m, &ts);
    ts.lr = 0.01f;
    ts.weight_decay = 0;
    ck_assert_int_eq(clnet_model_set_train_settings(m, &ts), CLNET_OK);
    step(m, x, y, batch);
    double first = mean_loss(m), last = first;
    for (int s = 1; s < steps; s++)
        step(m, x, y, batch);
    last = mean_loss(m);
    ck_assert_msg(last < first, "%s: loss %.4f after %d steps, %.4f at the start", model,
                  last, steps, first);
    clnet_model_free(m);
    free(x);
    free(y);
}

START_TEST(resnet20_trains_and_plans_memory)
{
    clnet_model *m = load("resnet20.cfg", 8, 1);
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    ck_assert_msg(info.memory_planned < info.memory_naive,
                  "memory plan %zu bytes is not below the naive %zu", info.memory_planned,
                  info.memory_naive);
    clnet_model_free(m);
    fits_fixed_batch("resnet20.cfg", 8, 8);
}
END_TEST

START_TEST(mobilenet_tiny_trains)
{
    fits_fixed_batch("mobilenet-tiny.cfg", 8, 8);
}
END_TEST

/* N steps, save, load into a fresh model, M steps == N + M steps, bit for
 * bit: both final checkpoints are byte-identical files, and the loss
 * counters (never read, so they span the save) are the same sums. */
static void exact_resume(const char *optimizer)
{
    enum { B = 16 };
    char dir[] = "/tmp/clnet-resume-XXXXXX";
    ck_assert(mkdtemp(dir));
    char mid[256], a[256], b[256];
    snprintf(mid, sizeof mid, "%s/mid.safetensors", dir);
    snprintf(a, sizeof a, "%s/a.safetensors", dir);
    snprintf(b, sizeof b, "%s/b.safetensors", dir);
    static float x[4][B * 784];
    static int32_t y[4][B];
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 5);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < B * 784; i++)
            x[k][i] = clnet_test_uniform(&r, 0, 1);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < B; i++)
            y[k][i] = (i * 7 + k) % 10;
    clnet_model *m1 = load("lenet.cfg", B, 9);
    clnet_train_settings ts;
    clnet_model_get_train_settings(m1, &ts);
    ts.optimizer = strcmp(optimizer, "adamw") == 0 ? CLNET_OPTIM_ADAMW : CLNET_OPTIM_SGD;
    ts.weight_decay = 1e-3f;
    ts.lr = ts.optimizer == CLNET_OPTIM_SGD ? 0.05f : 1e-3f;
    ck_assert_int_eq(clnet_model_set_train_settings(m1, &ts), CLNET_OK);
    for (int k = 0; k < 2; k++)
        step(m1, x[k], y[k], B);
    ck_assert_msg(clnet_model_save(m1, mid, NULL, 0) == CLNET_OK, "%s", clnet_errmsg(ctx));
    for (int k = 2; k < 4; k++)
        step(m1, x[k], y[k], B);
    ck_assert_int_eq(clnet_model_save(m1, a, NULL, 0), CLNET_OK);

    clnet_model *m2 = load("lenet.cfg", B, 1234); /* other init, other seed */
    ck_assert_msg(clnet_model_load_checkpoint(m2, mid) == CLNET_OK, "%s", clnet_errmsg(ctx));
    ck_assert_uint_eq(clnet_model_step(m2), 2);
    for (int k = 2; k < 4; k++)
        step(m2, x[k], y[k], B);
    ck_assert_int_eq(clnet_model_save(m2, b, NULL, 0), CLNET_OK);
    ck_assert_msg(clnet_test_files_equal(a, b), "%s: resumed run differs from the uninterrupted one",
                  optimizer);
    clnet_stats s1, s2;
    ck_assert_int_eq(clnet_model_read_stats(m1, &s1, 1), CLNET_OK);
    ck_assert_int_eq(clnet_model_read_stats(m2, &s2, 1), CLNET_OK);
    ck_assert(s1.samples == 4 * B && s2.samples == s1.samples);
    ck_assert_msg(s1.loss_sum == s2.loss_sum && s1.correct == s2.correct,
                  "%s: counters %.9g/%g after a resume, %.9g/%g without", optimizer,
                  s2.loss_sum, s2.correct, s1.loss_sum, s1.correct);
    clnet_model_free(m1);
    clnet_model_free(m2);
    unlink(mid);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

/* Three training steps of `model`, saved to path; fusion on or off
 * (CLNET_FUSE, read when the model binds its graph). The memory plan is
 * returned: fusion must also save memory. */
static size_t three_steps(const char *model, int fuse, const char *path)
{
    enum { B = 4 };
    if (fuse)
        unsetenv("CLNET_FUSE");
    else
        setenv("CLNET_FUSE", "0", 1);
    clnet_model *m = load(model, B, 21);
    unsetenv("CLNET_FUSE");
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    size_t n = (size_t)B * info.channels * info.height * info.width;
    float *x = malloc(n * sizeof *x);
    int32_t y[B];
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 12);
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < n; i++)
            x[i] = clnet_test_uniform(&r, -1, 1);
        for (int i = 0; i < B; i++)
            y[i] = (i * 3 + s) % info.classes;
        step(m, x, y, B);
    }
    ck_assert_msg(clnet_model_save(m, path, NULL, 0) == CLNET_OK, "%s", clnet_errmsg(ctx));
    clnet_model_free(m);
    free(x);
    return info.memory_planned;
}

/* The executor fuses batchnorm + relu and add + relu (src/graph/fuse.c);
 * training must give the same bits as the layers run one by one, in
 * networks with both patterns (and residual adds feeding two layers). */
static void fusion_is_exact(const char *model)
{
    char dir[] = "/tmp/clnet-fuse-XXXXXX";
    ck_assert(mkdtemp(dir));
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/fused.safetensors", dir);
    snprintf(b, sizeof b, "%s/unfused.safetensors", dir);
    size_t fused = three_steps(model, 1, a), unfused = three_steps(model, 0, b);
    ck_assert_msg(clnet_test_files_equal(a, b), "%s: fused and unfused training differ", model);
    ck_assert_msg(fused < unfused, "%s: fused plan %zu bytes, unfused %zu", model,
                  fused, unfused);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

START_TEST(fused_layers_are_exact)
{
    fusion_is_exact("resnet20.cfg");
    fusion_is_exact("mobilenet-tiny.cfg");
}
END_TEST

START_TEST(checkpoint_resume_is_exact)
{
    exact_resume("sgd");
    exact_resume("adamw");
}
END_TEST

START_TEST(checkpoint_of_another_model_is_refused)
{
    char path[] = "/tmp/clnet-ckpt-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    close(fd);
    clnet_model *lenet = load("lenet.cfg", 4, 1);
    ck_assert_int_eq(clnet_model_save(lenet, path, NULL, 0), CLNET_OK);
    clnet_model *fashion = load("fashion-cnn.cfg", 4, 1);
    clnet_status st = clnet_model_load_checkpoint(fashion, path);
    ck_assert_msg(st == CLNET_ESHAPE || st == CLNET_ENOTFOUND, "status %s", clnet_status_name(st));
    ck_assert_msg(strstr(clnet_errmsg(ctx), "conv1") || strstr(clnet_errmsg(ctx), "fc"),
                  "message names no tensor: %s", clnet_errmsg(ctx));
    /* open_checkpoint rebuilds the model from the file's own model text. */
    clnet_model *back = NULL;
    ck_assert_msg(clnet_model_open_checkpoint(ctx, path, NULL, &back) == CLNET_OK, "%s",
                  clnet_errmsg(ctx));
    clnet_model_info info;
    clnet_model_get_info(back, &info);
    ck_assert_int_eq(info.batch, 32); /* lenet.cfg's [net] batch */
    clnet_model_free(back);
    clnet_model_free(lenet);
    clnet_model_free(fashion);
    unlink(path);
}
END_TEST

START_TEST(bad_calls_return_errors)
{
    clnet_model *m = load("lenet.cfg", 4, 1);
    float x[4 * 784] = {0};
    ck_assert_int_eq(clnet_model_train_step(m), CLNET_EINVAL); /* no batch yet */
    ck_assert_int_eq(clnet_model_set_batch(m, x, NULL, 5), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_set_batch(m, NULL, NULL, 4), CLNET_EINVAL);
    ck_assert_int_eq(clnet_model_set_batch(m, x, NULL, 4), CLNET_OK);
    ck_assert_int_eq(clnet_model_train_step(m), CLNET_EINVAL); /* no labels */
    ck_assert_int_eq(clnet_model_set_lr(m, NAN), CLNET_EINVAL);
    clnet_model_free(m);
    clnet_model_free(NULL);
}
END_TEST

/* A partial batch's rows past n are zeroed on the device before the
 * forward pass: they held the NaN images of the batch before it (both
 * upload slots), and the forward pass must not read stale or never-written
 * memory there (valgrind found maxpool comparing uninitialised floats in
 * clnet-predict's last batch). The good rows still predict as a full batch
 * of them does. */
START_TEST(partial_batch_tail_is_zeroed)
{
    enum { B = 4, N = 3, PIX = 784 };
    clnet_model *m = load("lenet.cfg", B, 1);
    float *bad = malloc(sizeof(float) * B * PIX), *good = malloc(sizeof(float) * B * PIX);
    ck_assert(bad && good);
    for (int i = 0; i < B * PIX; i++) {
        bad[i] = NAN;
        good[i] = (float)((i * 37) % 101) / 101.0f;
    }
    float full[B * 10], part[B * 10], tail[(B - N) * PIX];
    for (int r = 0; r < 2; r++) { /* NaN in both slots */
        ck_assert_int_eq(clnet_model_set_batch(m, bad, NULL, B), CLNET_OK);
        ck_assert_int_eq(clnet_model_predict(m, full), CLNET_OK);
    }
    ck_assert_int_eq(clnet_model_set_batch(m, good, NULL, N), CLNET_OK);
    ck_assert_int_eq(clnet_model_predict(m, part), CLNET_OK);
    clnet__tensor t = m->graph->input_slot[m->slot];
    ck_assert_int_eq(clnet__buf_read(ctx, t.buf, (t.off + (size_t)N * PIX) * sizeof(float),
                                     sizeof tail, tail), CLNET_OK);
    for (int i = 0; i < (B - N) * PIX; i++)
        ck_assert_msg(tail[i] == 0.0f, "input row %d, float %d: %g", N + i / PIX,
                      i % PIX, tail[i]);
    ck_assert_int_eq(clnet_model_set_batch(m, good, NULL, B), CLNET_OK);
    ck_assert_int_eq(clnet_model_predict(m, full), CLNET_OK);
    for (int i = 0; i < N * 10; i++)
        ck_assert_msg(isfinite(part[i]) && fabsf(part[i] - full[i]) <= 1e-6f,
                      "probability %d: %g partial, %g full", i, part[i], full[i]);
    free(bad);
    free(good);
    clnet_model_free(m);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    if (!ctx)
        return 1;
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, xor_mlp_learns);
    tcase_add_test(tc, bad_calls_return_errors);
    tcase_add_test(tc, partial_batch_tail_is_zeroed);
    tcase_add_test(tc, checkpoint_resume_is_exact);
    tcase_add_test(tc, fused_layers_are_exact);
    tcase_add_test(tc, checkpoint_of_another_model_is_refused);
    tcase_add_test(tc, resnet20_trains_and_plans_memory);
    tcase_add_test(tc, mobilenet_tiny_trains);
    tcase_add_test(tc, fashion_cnn_loss_falls);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
