/* A complete program using only the installed clnet API (clnet/clnet.h,
 * pkg-config clnet): define a small network, train it on synthetic data,
 * save a checkpoint, reload it from the file alone, resume training, and
 * check the result. Built and run by the install test.
 *
 *   cc example-train.c $(pkg-config --cflags --libs clnet) -o example-train */
#include <clnet/clnet.h>

#include <stdio.h>
#include <stdlib.h>

/* Two classes of 4x4 gray "images": a bright left half or a bright right
 * half, with noise. */
static const char model_text[] =
    "[net]\nchannels=1\nheight=4\nwidth=4\nclasses=2\nbatch=16\n"
    "[conv]\nfilters=4\nkernel=3\npad=1\nactivation=relu\n"
    "[dense]\noutputs=2\n"
    "[train]\noptimizer=adam\nlr=0.01\n";

static unsigned next(unsigned *s) /* a small LCG: portable, reproducible */
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void make_batch(unsigned *seed, float *x, int32_t *y, int n)
{
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)(next(seed) & 1);
        for (int p = 0; p < 16; p++) {
            float noise = (float)(next(seed) & 0xffff) / 65535.0f - 0.5f;
            int right = (p % 4) >= 2;
            x[i * 16 + p] = (right == y[i] ? 1.0f : 0.0f) + 0.5f * noise;
        }
    }
}

static int check(clnet_ctx *ctx, clnet_status st, const char *what)
{
    if (st == CLNET_OK)
        return 0;
    fprintf(stderr, "example-train: %s: %s: %s\n", what, clnet_status_name(st),
            ctx ? clnet_errmsg(ctx) : clnet_strerror(st));
    return 1;
}

static int train(clnet_ctx *ctx, clnet_model *m, unsigned *seed, int steps)
{
    float x[16 * 16];
    int32_t y[16];
    for (int s = 0; s < steps; s++) {
        make_batch(seed, x, y, 16);
        if (check(ctx, clnet_model_set_batch(m, x, y, 16), "set batch") ||
            check(ctx, clnet_model_train_step(m), "train step"))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *ckpt = argc > 1 ? argv[1] : "example.safetensors";
    clnet_ctx *ctx = NULL;
    if (check(ctx, clnet_ctx_create(&ctx, NULL), "context"))
        return 1;
    clnet_model *m = NULL, *back = NULL;
    unsigned seed = 42;
    clnet_stats st;
    int rc = 1;
    if (check(ctx, clnet_model_load_string(ctx, "example", model_text, NULL, &m), "model") ||
        train(ctx, m, &seed, 60) ||
        check(ctx, clnet_model_save(m, ckpt, NULL, 0), "save") ||
        check(ctx, clnet_model_open_checkpoint(ctx, ckpt, NULL, &back), "reload") ||
        train(ctx, back, &seed, 20) ||
        check(ctx, clnet_model_read_stats(back, &st, 1), "stats"))
        goto out;
    printf("example-train: %llu steps, last 20: loss %.3f, accuracy %.1f%%\n",
           (unsigned long long)clnet_model_step(back), st.loss_sum / st.samples,
           100 * st.correct / st.samples);
    rc = st.correct / st.samples >= 0.9 && clnet_model_step(back) == 80 ? 0 : 1;
    if (rc)
        fprintf(stderr, "example-train: did not learn the task\n");
out:
    clnet_model_free(back);
    clnet_model_free(m);
    clnet_ctx_free(ctx);
    return rc;
}
