#include "eval.h"

#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int eval_result_init(eval_result *r, int classes, size_t max_misses)
{
    memset(r, 0, sizeof *r);
    r->classes = classes;
    r->confusion = calloc((size_t)classes * (size_t)classes, sizeof *r->confusion);
    r->misses = calloc(max_misses + 1, sizeof *r->misses);
    r->max_misses = max_misses;
    r->kept = calloc((size_t)classes + 1, sizeof *r->kept);
    return r->confusion && r->misses && r->kept ? 0 : -1;
}

void eval_result_free(eval_result *r)
{
    free(r->confusion);
    free(r->misses);
    free(r->kept);
    memset(r, 0, sizeof *r);
}

/* Once full, a miss of a class that has at least two fewer kept than the
 * class with the most (the lowest-numbered, if several) replaces its latest
 * kept miss, so the counts end within one of each other where the classes
 * have enough misses. The list stays in the order the misses came. */
static void keep_miss(eval_result *r, eval_miss m)
{
    if (r->n_misses < r->max_misses) {
        r->misses[r->n_misses++] = m;
        r->kept[m.truth]++;
        return;
    }
    if (!r->max_misses)
        return;
    int most = 0;
    for (int c = 1; c < r->classes; c++)
        if (r->kept[c] > r->kept[most])
            most = c;
    if (r->kept[most] < r->kept[m.truth] + 2)
        return;
    size_t i = r->n_misses;
    while (r->misses[--i].truth != most)
        ;
    memmove(r->misses + i, r->misses + i + 1, (r->n_misses - 1 - i) * sizeof *r->misses);
    r->misses[r->n_misses - 1] = m;
    r->kept[most]--;
    r->kept[m.truth]++;
}

void eval_add(eval_result *r, const float *probs, const int32_t *labels,
              const uint32_t *indices, int n)
{
    int k = r->classes;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        int y = labels[i], best = 0, above = 0;
        for (int j = 1; j < k; j++)
            if (p[j] > p[best])
                best = j;
        if (y < 0 || y >= k)
            continue;
        for (int j = 0; j < k; j++)
            above += p[j] > p[y];
        r->n++;
        r->top1 += best == y;
        r->top5 += above < 5;
        r->loss_sum += -log(p[y] > 1e-30f ? (double)p[y] : 1e-30);
        r->confusion[(size_t)y * k + best]++;
        if (best != y)
            keep_miss(r, (eval_miss){indices ? indices[i] : 0, y, best, p[best]});
    }
}

clnet_status eval_dataset(clnet_ctx *ctx, clnet_model *m, const clnet_dataset *ds,
                          const clnet_loader_settings *base, eval_result *r)
{
    double t0 = progress_now();
    clnet_model_info info;
    clnet_model_get_info(m, &info);
    clnet_loader_settings ls = *base;
    ls.batch = info.batch;
    ls.shuffle = 0;
    ls.augment = 0;
    ls.drop_last = 0;
    ls.shards = ls.shard = 0; /* the whole set: under mpirun rank 0 evaluates alone */
    clnet_loader *ld = NULL;
    clnet_status st = clnet_loader_create(ctx, ds, &ls, &ld);
    float *probs = malloc((size_t)info.batch * info.classes * sizeof *probs);
    if (st == CLNET_OK && !probs)
        st = CLNET_ENOMEM;
    if (st == CLNET_OK)
        st = clnet_loader_start_epoch(ld, 0, 0);
    const clnet_batch *b = NULL;
    while (st == CLNET_OK && (st = clnet_loader_next(ld, &b)) == CLNET_OK && b) {
        st = clnet_model_set_batch(m, b->images, b->labels, b->n);
        if (st == CLNET_OK)
            st = clnet_model_predict(m, probs);
        if (st == CLNET_OK)
            eval_add(r, probs, b->labels, b->indices, b->n);
    }
    free(probs);
    clnet_loader_free(ld);
    r->seconds = progress_now() - t0;
    return st;
}
