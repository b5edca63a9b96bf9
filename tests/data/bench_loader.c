/* Loader throughput on its own (no model): opens an image folder, then runs
 * epochs and prints images/s for each, so the first (decoding PNGs) and the
 * later ones (from the cache, when on) can be compared.
 *
 *   ninja -C build tests/data/bench_loader
 *   build/tests/data/bench_loader DIR [--threads N] [--cache auto|on|off]
 *       [--epochs E] [--batch B] [--augment] [--size C,H,W] [--limit N]
 */
#include "core/ctx.h"
#include "clnet/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_cb(void *user, clnet_log_level level, const char *msg)
{
    (void)user;
    if (level <= CLNET_LOG_WARN)
        fprintf(stderr, "clnet: %s\n", msg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [--threads N] [--cache auto|on|off] [--epochs E] "
                "[--batch B] [--augment] [--size C,H,W] [--limit N]\n", argv[0]);
        return 2;
    }
    clnet_dataset_settings ds_s;
    clnet_dataset_default_settings(&ds_s);
    ds_s.channels = 1;
    ds_s.height = ds_s.width = 28;
    clnet_loader_settings ls;
    clnet_loader_default_settings(&ls);
    int epochs = 3;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--threads") && ++i)
            ls.threads = atoi(v);
        else if (!strcmp(a, "--epochs") && ++i)
            epochs = atoi(v);
        else if (!strcmp(a, "--batch") && ++i)
            ls.batch = atoi(v);
        else if (!strcmp(a, "--limit") && ++i)
            ds_s.limit_per_class = atoi(v);
        else if (!strcmp(a, "--augment"))
            ls.augment = CLNET_AUG_FLIP | CLNET_AUG_CROP;
        else if (!strcmp(a, "--size") && ++i)
            sscanf(v, "%d,%d,%d", &ds_s.channels, &ds_s.height, &ds_s.width);
        else if (!strcmp(a, "--cache") && ++i)
            ls.cache = !strcmp(v, "on") ? CLNET_CACHE_ON
                     : !strcmp(v, "off") ? CLNET_CACHE_OFF : CLNET_CACHE_AUTO;
        else {
            fprintf(stderr, "unknown argument %s\n", a);
            return 2;
        }
    }
    /* The data code needs a context only for messages: no device here. */
    clnet_ctx *ctx = calloc(1, sizeof *ctx);
    ctx->log = log_cb;
    ctx->log_level = CLNET_LOG_WARN;
    double t0 = clnet__now();
    clnet_dataset *ds = NULL;
    if (clnet_dataset_open(ctx, argv[1], &ds_s, &ds) != CLNET_OK) {
        fprintf(stderr, "%s\n", clnet_errmsg(ctx));
        return 1;
    }
    double t1 = clnet__now();
    printf("open: %zu images, %d classes, %zu skipped, %.3f s (%.1f us/image)\n",
           clnet_dataset_size(ds), clnet_dataset_classes(ds), clnet_dataset_skipped(ds),
           t1 - t0, 1e6 * (t1 - t0) / (double)clnet_dataset_size(ds));
    clnet_loader *ld = NULL;
    if (clnet_loader_create(ctx, ds, &ls, &ld) != CLNET_OK) {
        fprintf(stderr, "%s\n", clnet_errmsg(ctx));
        return 1;
    }
    printf("loader: batch %d, threads %d, cache %zu MB, augment %u\n", ls.batch,
           ls.threads, clnet_loader_cache_bytes(ld) >> 20, ls.augment);
    double sink = 0;
    for (int e = 0; e < epochs; e++) {
        double a = clnet__now();
        size_t images = 0;
        const clnet_batch *b;
        clnet_loader_start_epoch(ld, (uint32_t)e, 0);
        while (clnet_loader_next(ld, &b) == CLNET_OK && b) {
            images += (size_t)b->n;
            sink += b->images[0];
        }
        double s = clnet__now() - a;
        printf("epoch %d: %zu images in %.3f s: %.0f images/s (%.2f us/image)\n", e,
               images, s, images / s, 1e6 * s / (double)images);
    }
    printf("skipped while loading: %zu (checksum %g)\n", clnet_loader_skipped(ld), sink);
    clnet_loader_free(ld);
    clnet_dataset_free(ds);
    free(ctx);
    return 0;
}
