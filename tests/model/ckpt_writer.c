/* The process that tests/model/test_ckpt_kill.c kills: trains a model one
 * step at a time and saves a checkpoint after each step, forever, telling
 * its parent on stdout where it is:
 *   ready                  the first checkpoint (generation 0) is written
 *   begin G                clnet_model_save of generation G starts now
 *   saved G                it returned
 * Each checkpoint's metadata holds its generation and a checksum of the
 * parameters it holds, so the parent can tell a whole file from a mix.
 * Usage: ckpt_writer MODEL.cfg TARGET [BATCH] */
#include "ckpt_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(clnet_ctx *ctx, const char *what)
{
    fprintf(stderr, "ckpt_writer: %s: %s\n", what, clnet_errmsg(ctx));
    return 1;
}

static int save(clnet_model *m, const char *path, unsigned gen)
{
    char g[32], sum[32];
    snprintf(g, sizeof g, "%u", gen);
    snprintf(sum, sizeof sum, "%016" PRIx64, ckpt_params_sum(m));
    clnet_meta meta[] = {{"test.gen", g}, {"test.sum", sum}};
    return clnet_model_save(m, path, meta, 2) == CLNET_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ckpt_writer MODEL.cfg TARGET [BATCH]\n");
        return 2;
    }
    clnet_ctx *ctx = NULL;
    if (clnet_ctx_create(&ctx, NULL) != CLNET_OK)
        return fail(ctx, "context");
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = argc > 3 ? atoi(argv[3]) : 4;
    clnet_model *m = NULL;
    if (clnet_model_load(ctx, argv[1], &ms, &m) != CLNET_OK)
        return fail(ctx, "load");
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    size_t per = (size_t)info.channels * info.height * info.width;
    float *x = malloc((size_t)info.batch * per * sizeof *x);
    int32_t *y = malloc((size_t)info.batch * sizeof *y);
    if (!x || !y)
        return 1;
    for (size_t i = 0; i < (size_t)info.batch * per; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    for (int i = 0; i < info.batch; i++)
        y[i] = i % info.classes;
    if (save(m, argv[2], 0) != 0)
        return fail(ctx, "save");
    printf("ready\n");
    fflush(stdout);
    for (unsigned gen = 1;; gen++) {
        if (clnet_model_set_batch(m, x, y, info.batch) != CLNET_OK ||
            clnet_model_train_step(m) != CLNET_OK)
            return fail(ctx, "train");
        clnet_stats st;
        clnet_model_read_stats(m, &st, 1);
        printf("begin %u\n", gen);
        fflush(stdout);
        if (save(m, argv[2], gen) != 0)
            return fail(ctx, "save");
        printf("saved %u\n", gen);
        fflush(stdout);
    }
}
