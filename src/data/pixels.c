/* Decoded images by dataset index, for the loader's workers: from the RAM
 * cache when it holds them, else decoded from disk. The cache stores images
 * as decoded and resized but before augmentation and normalisation (H x W x
 * C bytes each), so every epoch can still augment differently, and a
 * Fashion-MNIST epoch (60,000 x 784 bytes) takes 47 MB. */
#include "data/data_impl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EMPTY, LOADING, READY, BAD };

size_t clnet__default_cache_budget(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0)
        return (size_t)1 << 30;
    return (size_t)((uint64_t)pages * (uint64_t)size / 4);
}

clnet_status clnet__pixels_init(clnet_ctx *ctx, clnet__pixels *px,
                                const clnet_dataset *ds, clnet_cache_mode mode,
                                size_t budget)
{
    memset(px, 0, sizeof *px);
    px->ds = ds;
    px->item = (size_t)ds->s.channels * ds->s.height * ds->s.width;
    px->state = calloc(ds->n ? ds->n : 1, sizeof *px->state);
    if (!px->state)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory for %zu image states",
                           ds->n);
    for (size_t i = 0; i < ds->n; i++)
        atomic_init(&px->state[i], EMPTY);
    atomic_init(&px->bad, 0);
    if (!budget)
        budget = clnet__default_cache_budget();
    size_t bytes = px->item * ds->n;
    int want = mode == CLNET_CACHE_ON ||
               (mode == CLNET_CACHE_AUTO && ds->n && bytes / ds->n == px->item &&
                bytes <= budget);
    if (!want)
        return CLNET_OK;
    /* Pages are committed as images arrive, not now. */
    px->ram = malloc(bytes ? bytes : 1);
    if (!px->ram && mode == CLNET_CACHE_ON) {
        clnet__pixels_free(px);
        return clnet__fail(ctx, CLNET_ENOMEM,
                           "cannot allocate the image cache (%zu MB); use cache "
                           "auto or off", bytes >> 20);
    }
    if (!px->ram)
        clnet__log(ctx, CLNET_LOG_INFO, "image cache off: cannot allocate %zu MB",
                   bytes >> 20);
    return CLNET_OK;
}

void clnet__pixels_free(clnet__pixels *px)
{
    free(px->ram);
    free((void *)px->state);
    memset(px, 0, sizeof *px);
}

static clnet_status mark_bad(clnet__pixels *px, size_t idx, unsigned char from,
                             int *first)
{
    unsigned char expect = from;
    *first = atomic_compare_exchange_strong(&px->state[idx], &expect, BAD);
    if (*first)
        atomic_fetch_add(&px->bad, 1);
    return CLNET_EFORMAT;
}

clnet_status clnet__pixels_get(clnet__pixels *px, size_t idx, clnet__filebuf *buf,
                               uint8_t *scratch, const uint8_t **out, int *first,
                               char *why, size_t whylen)
{
    *first = 0;
    *out = NULL;
    unsigned char s = atomic_load_explicit(&px->state[idx], memory_order_acquire);
    if (s == READY) {
        *out = px->ram + idx * px->item;
        return CLNET_OK;
    }
    if (s == BAD) {
        why[0] = '\0';
        return CLNET_EFORMAT;
    }
    if (clnet__skips_known(px->ds, idx)) {
        /* An earlier loader of the dataset reported it: skip it unread and
         * unreported (*first stays 0). */
        int unused;
        why[0] = '\0';
        return mark_bad(px, idx, EMPTY, &unused);
    }
    /* One worker decodes straight into the cache; another that wants the
     * same file meanwhile (a substitute, see loader.c) uses its scratch. */
    uint8_t *dst = scratch;
    unsigned char from = EMPTY;
    if (px->ram && s == EMPTY) {
        unsigned char expect = EMPTY;
        if (atomic_compare_exchange_strong(&px->state[idx], &expect, LOADING)) {
            dst = px->ram + idx * px->item;
            from = LOADING;
        }
    }
    clnet_status st = clnet__image_decode(px->ds->paths[idx], &px->ds->s, buf, dst,
                                          why, whylen);
    if (st == CLNET_EFORMAT || st == CLNET_EIO) {
        mark_bad(px, idx, from, first);
        /* Reported by the first loader of the dataset that meets it. */
        if (*first)
            *first = clnet__skips_note(px->ds, idx, clnet__skip_cause_of(st, why, 0));
        return CLNET_EFORMAT;
    }
    if (st != CLNET_OK) {
        if (from == LOADING) /* out of memory: let a later try decode it */
            atomic_store(&px->state[idx], EMPTY);
        return st;
    }
    if (from == LOADING)
        atomic_store_explicit(&px->state[idx], READY, memory_order_release);
    *out = dst;
    return CLNET_OK;
}
