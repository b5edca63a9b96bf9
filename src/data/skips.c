/* Skipped files: why each was left out and at which stage, counted once per
 * base dataset however many loaders (a new one per validation) or views
 * meet it, so a tool can print one total that matches the warnings. */
#include "data/data_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const cause_names[CLNET_SKIP_CAUSES] = {
    [CLNET_SKIP_UNREADABLE] = "unreadable",
    [CLNET_SKIP_NOT_REGULAR] = "not a regular file",
    [CLNET_SKIP_EMPTY] = "empty",
    [CLNET_SKIP_NOT_IMAGE] = "not an image",
    [CLNET_SKIP_TOO_LARGE] = "too large",
    [CLNET_SKIP_CORRUPT] = "corrupt",
};

const char *clnet_skip_cause_name(clnet_skip_cause c)
{
    return (unsigned)c < CLNET_SKIP_CAUSES ? cause_names[c] : "unknown";
}

/* The reasons of decode.c begin with these words. A reason not listed
 * (a new one) falls back on the status: an I/O error is "unreadable", any
 * other failure "not an image" at open (the header check refused it) and
 * "corrupt" in a loader (the header had passed). */
static const struct {
    const char *prefix;
    clnet_skip_cause cause;
} reasons[] = {
    {"empty file", CLNET_SKIP_EMPTY},
    {"not a regular file", CLNET_SKIP_NOT_REGULAR},
    {"cannot open", CLNET_SKIP_UNREADABLE},
    {"cannot stat", CLNET_SKIP_UNREADABLE},
    {"read error", CLNET_SKIP_UNREADABLE},
    {"out of memory", CLNET_SKIP_UNREADABLE},
    {"image is ", CLNET_SKIP_TOO_LARGE},      /* "image is WxH, more than ..." */
    {"file too large", CLNET_SKIP_TOO_LARGE},
    {"not a readable image", CLNET_SKIP_NOT_IMAGE},
    {"corrupt", CLNET_SKIP_CORRUPT},
    {"truncated", CLNET_SKIP_CORRUPT},
    {"cannot decode", CLNET_SKIP_CORRUPT},
};

clnet_skip_cause clnet__skip_cause_of(clnet_status st, const char *why, int at_open)
{
    for (size_t i = 0; why && i < sizeof reasons / sizeof *reasons; i++)
        if (strncmp(why, reasons[i].prefix, strlen(reasons[i].prefix)) == 0)
            return reasons[i].cause;
    if (st == CLNET_EIO)
        return CLNET_SKIP_UNREADABLE;
    return at_open ? CLNET_SKIP_NOT_IMAGE : CLNET_SKIP_CORRUPT;
}

clnet__skips *clnet__skips_new(size_t n, const size_t *at_open, size_t folders)
{
    clnet__skips *sk = calloc(1, sizeof *sk);
    if (!sk)
        return NULL;
    sk->failed = calloc(n ? n : 1, sizeof *sk->failed);
    if (!sk->failed) {
        free(sk);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        atomic_init(&sk->failed[i], 0);
    for (int c = 0; c < CLNET_SKIP_CAUSES_MAX; c++) {
        sk->at_open[c] = at_open ? at_open[c] : 0;
        atomic_init(&sk->at_load[c], 0);
    }
    sk->folders = folders;
    return sk;
}

void clnet__skips_free(clnet__skips *sk)
{
    if (!sk)
        return;
    free((void *)sk->failed);
    free(sk);
}

static size_t base_of(const clnet_dataset *ds, size_t idx)
{
    return ds->base_index ? ds->base_index[idx] : idx;
}

int clnet__skips_known(const clnet_dataset *ds, size_t idx)
{
    return ds->skips && atomic_load(&ds->skips->failed[base_of(ds, idx)]) != 0;
}

int clnet__skips_note(const clnet_dataset *ds, size_t idx, clnet_skip_cause c)
{
    if (!ds->skips)
        return 1;
    if (atomic_exchange(&ds->skips->failed[base_of(ds, idx)], 1) != 0)
        return 0;
    atomic_fetch_add(&ds->skips->at_load[(unsigned)c < CLNET_SKIP_CAUSES ? c
                                                                       : CLNET_SKIP_CORRUPT],
                     1);
    return 1;
}

void clnet_dataset_get_skips(const clnet_dataset *ds, clnet_skip_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!ds || !ds->skips)
        return;
    for (int c = 0; c < CLNET_SKIP_CAUSES_MAX; c++) {
        out->at_open[c] = ds->skips->at_open[c];
        out->at_load[c] = atomic_load(&ds->skips->at_load[c]);
        out->opened += out->at_open[c];
        out->loaded += out->at_load[c];
    }
    out->total = out->opened + out->loaded;
    out->folders = ds->skips->folders;
}
