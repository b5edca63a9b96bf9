/* clnet_dataset_measure: per-channel mean and standard deviation over a
 * sample of the dataset, as decoded for the model (converted and resized).
 * Sums are kept as integers of byte values, so the result is exact and the
 * same with any number of threads. */
#include "data/data_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct measure_part {
    uint64_t sum[4], sq[4];
    size_t images, failed;
    int oom;
} measure_part;

typedef struct measure_job {
    const clnet_dataset *ds;
    size_t samples;
    measure_part *parts;
} measure_job;

static void measure_slice(void *arg, size_t begin, size_t end, int part)
{
    measure_job *j = arg;
    measure_part *mp = &j->parts[part];
    const clnet_dataset_settings *s = &j->ds->s;
    size_t hw = (size_t)s->height * s->width;
    int c = s->channels;
    uint8_t *px = malloc(hw * c);
    clnet__filebuf buf = {0};
    char why[CLNET__WHY_MAX];
    if (!px) {
        mp->oom = 1;
        return;
    }
    for (size_t k = begin; k < end; k++) {
        /* Spread evenly: classes are contiguous in dataset order. */
        size_t i = (size_t)((unsigned long long)k * j->ds->n / j->samples);
        if (clnet__image_decode(j->ds->paths[i], s, &buf, px, why, sizeof why) !=
            CLNET_OK) {
            mp->failed++;
            continue;
        }
        for (size_t p = 0; p < hw; p++)
            for (int ch = 0; ch < c; ch++) {
                unsigned v = px[p * c + ch];
                mp->sum[ch] += v;
                mp->sq[ch] += v * v;
            }
        mp->images++;
    }
    clnet__filebuf_free(&buf);
    free(px);
}

clnet_status clnet_dataset_measure(clnet_ctx *ctx, const clnet_dataset *ds,
                                   size_t samples, float *mean, float *std)
{
    CLNET__CHECK_ARG(ctx, ds != NULL && mean != NULL && std != NULL);
    if (samples == 0 || samples > ds->n)
        samples = ds->n;
    int parts = clnet__cpu_count();
    measure_part *mp = calloc((size_t)parts, sizeof *mp);
    if (!mp)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory measuring '%s'", ds->root);
    measure_job job = {ds, samples, mp};
    clnet__parallel_for(parts, samples, measure_slice, &job);
    measure_part total;
    memset(&total, 0, sizeof total);
    for (int p = 0; p < parts; p++) {
        for (int ch = 0; ch < 4; ch++) {
            total.sum[ch] += mp[p].sum[ch];
            total.sq[ch] += mp[p].sq[ch];
        }
        total.images += mp[p].images;
        total.failed += mp[p].failed;
        total.oom |= mp[p].oom;
    }
    free(mp);
    if (total.oom)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory measuring '%s'", ds->root);
    if (total.images == 0)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "measuring '%s': none of the %zu sampled images decodes",
                           ds->root, samples);
    if (total.failed)
        clnet__log(ctx, CLNET_LOG_DEBUG, "measure: %zu of %zu sampled images skipped",
                   total.failed, samples);
    double count = (double)total.images * ds->s.height * ds->s.width;
    for (int ch = 0; ch < ds->s.channels; ch++) {
        double m = (double)total.sum[ch] / count / 255.0;
        double var = (double)total.sq[ch] / count / (255.0 * 255.0) - m * m;
        mean[ch] = (float)m;
        /* A constant channel gets 1, so normalising by it stays finite. */
        std[ch] = var > 1e-12 ? (float)sqrt(var) : 1.0f;
    }
    return CLNET_OK;
}
