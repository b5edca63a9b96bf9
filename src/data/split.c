/* clnet_dataset_split: a seeded, stratified train/validation split. Each
 * class gives round(fraction x its size) files to validation (at least one,
 * and at least one stays for training, when the class has two or more), so
 * small classes are not lost from either side. Both parts keep the parent's
 * file order. */
#include "data/data_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static clnet_dataset *view_of(const clnet_dataset *ds, size_t n)
{
    clnet_dataset *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->s = ds->s;
    v->is_view = 1;
    v->nclasses = ds->nclasses;
    v->class_names = ds->class_names;
    v->skips = ds->skips; /* one record per folder: a file is counted once */
    v->root = strdup(ds->root);
    v->class_counts = calloc((size_t)ds->nclasses, sizeof *v->class_counts);
    v->paths = malloc((n ? n : 1) * sizeof *v->paths);
    v->labels = malloc((n ? n : 1) * sizeof *v->labels);
    v->base_index = malloc((n ? n : 1) * sizeof *v->base_index);
    if (!v->root || !v->class_counts || !v->paths || !v->labels || !v->base_index) {
        clnet_dataset_free(v);
        return NULL;
    }
    return v;
}

static void view_add(clnet_dataset *v, const clnet_dataset *ds, size_t i)
{
    v->paths[v->n] = ds->paths[i];
    v->labels[v->n] = ds->labels[i];
    v->base_index[v->n] = ds->base_index ? ds->base_index[i] : i;
    v->class_counts[ds->labels[i]]++;
    v->n++;
}

clnet_status clnet_dataset_split(clnet_ctx *ctx, const clnet_dataset *ds,
                                 double fraction, uint64_t seed,
                                 clnet_dataset **train, clnet_dataset **val)
{
    CLNET__CHECK_ARG(ctx, train != NULL && val != NULL);
    *train = *val = NULL;
    CLNET__CHECK_ARG(ctx, ds != NULL);
    if (!(fraction > 0.0 && fraction < 1.0))
        return clnet__fail(ctx, CLNET_EINVAL,
                           "validation fraction %g: must be between 0 and 1", fraction);
    uint8_t *to_val = calloc(ds->n ? ds->n : 1, 1);
    size_t *grouped = malloc((ds->n ? ds->n : 1) * sizeof *grouped);
    size_t *start = calloc((size_t)ds->nclasses + 1, sizeof *start);
    if (!to_val || !grouped || !start) {
        free(to_val);
        free(grouped);
        free(start);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory splitting '%s'", ds->root);
    }
    /* Indices grouped by class, in dataset order within each class. */
    for (size_t i = 0; i < ds->n; i++)
        start[ds->labels[i] + 1]++;
    for (int c = 0; c < ds->nclasses; c++)
        start[c + 1] += start[c];
    for (size_t i = 0; i < ds->n; i++)
        grouped[start[ds->labels[i]]++] = i; /* start[c] ends at class c's end */
    for (int c = ds->nclasses; c > 0; c--)
        start[c] = start[c - 1];
    start[0] = 0;
    size_t nval = 0;
    for (int c = 0; c < ds->nclasses; c++) {
        size_t *members = grouped + start[c];
        size_t m = start[c + 1] - start[c];
        size_t k = (size_t)llround(fraction * (double)m);
        if (m >= 2 && k < 1)
            k = 1;
        if (m >= 2 && k > m - 1)
            k = m - 1;
        if (m < 2)
            k = 0;
        /* The first k of a partial Fisher-Yates shuffle, one stream per
         * class, so a class's choice does not depend on the others. */
        uint64_t rng = clnet__mix3(seed, (uint64_t)c, 0x73706c6974ull);
        for (size_t j = 0; j < k; j++) {
            size_t r = j + (size_t)clnet__below(&rng, m - j);
            size_t t = members[j];
            members[j] = members[r];
            members[r] = t;
            to_val[members[j]] = 1;
        }
        nval += k;
    }
    free(grouped);
    free(start);
    if (nval == 0) {
        free(to_val);
        return clnet__fail(ctx, CLNET_EINVAL,
                           "validation split of '%s' is empty (every class has fewer "
                           "than two images)", ds->root);
    }
    clnet_dataset *t = view_of(ds, ds->n - nval), *v = view_of(ds, nval);
    if (!t || !v) {
        free(to_val);
        clnet_dataset_free(t);
        clnet_dataset_free(v);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory splitting '%s'", ds->root);
    }
    for (size_t i = 0; i < ds->n; i++)
        view_add(to_val[i] ? v : t, ds, i);
    free(to_val);
    *train = t;
    *val = v;
    return CLNET_OK;
}
