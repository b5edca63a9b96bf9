/* Writes a freshly initialised (and briefly trained) fashion-cnn checkpoint,
 * a random input batch and clnet's softmax output for it, for
 * interop_torch.py to compare against PyTorch.
 * usage: interop_dump MODEL.cfg CHECKPOINT INPUT.f32 PROBS.f32 */
#include "clnet/clnet.h"

#include <stdio.h>
#include <stdlib.h>

#define B 8

static int write_floats(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(v, sizeof *v, n, f) == n;
    if (f)
        ok = (fclose(f) == 0) && ok;
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: interop_dump MODEL.cfg CHECKPOINT INPUT.f32 PROBS.f32\n");
        return 2;
    }
    clnet_ctx *ctx = NULL;
    clnet_model *m = NULL;
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = B;
    if (clnet_ctx_create(&ctx, NULL) != CLNET_OK ||
        clnet_model_load(ctx, argv[1], &ms, &m) != CLNET_OK) {
        fprintf(stderr, "interop_dump: %s\n", ctx ? clnet_errmsg(ctx) : "no device");
        return 1;
    }
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    size_t n = (size_t)B * info.channels * info.height * info.width;
    float *x = malloc(n * sizeof *x), *p = malloc((size_t)B * info.classes * sizeof *p);
    int32_t y[B];
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((s >> 8) & 0xffff) / 65535.0f * 2 - 1;
    }
    for (int i = 0; i < B; i++)
        y[i] = i % info.classes;
    int rc = 1;
    /* A few steps so the weights are not just the initialisation. */
    for (int k = 0; k < 3; k++)
        if (clnet_model_set_batch(m, x, y, B) || clnet_model_train_step(m))
            goto out;
    if (clnet_model_set_batch(m, x, NULL, B) || clnet_model_predict(m, p) ||
        clnet_model_save(m, argv[2], NULL, 0))
        goto out;
    rc = write_floats(argv[3], x, n) || write_floats(argv[4], p, (size_t)B * info.classes);
out:
    if (rc)
        fprintf(stderr, "interop_dump: %s\n", clnet_errmsg(ctx));
    free(x);
    free(p);
    clnet_model_free(m);
    clnet_ctx_free(ctx);
    return rc;
}
