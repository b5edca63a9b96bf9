/* The batch loader: worker threads fill a ring of batch buffers ahead of the
 * consumer.
 *
 * Batch b of an epoch always lives in ring slot b % slots, and holds the
 * images at positions b*batch .. of the epoch's order; workers claim batch
 * numbers in increasing order, and a batch's pixels depend only on (seed,
 * epoch, position) (augment.c). So the consumer sees the same batches with
 * any number of threads, and clnet_loader_start_epoch(e, k) resumes exactly.
 *
 * A file that fails to decode (the header check at open passed, the data is
 * bad) is reported once, counted (in the dataset's skips too, so a later
 * loader of the dataset skips it silently: pixels.c), and its place in the
 * batch taken by the next readable file of the epoch's order, so batches
 * stay full and still do not depend on timing. Warnings are queued by the workers and logged from
 * the consumer's thread, as the log callback's contract says. */
#include "data/data_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    clnet_batch b;
    float *images;
    int32_t *labels;
    uint32_t *indices;
    int64_t ready;             /* the batch number it holds, or -1 */
    clnet_status status;       /* a batch that could not be filled */
    char msg[CLNET__WHY_MAX + 512];
} slot;

typedef struct worker {
    clnet_loader *ld;
    pthread_t tid;
    clnet__filebuf buf;
    uint8_t *decoded, *cropped; /* item bytes each */
} worker;

struct clnet_loader {
    clnet_ctx *ctx;
    const clnet_dataset *ds;
    clnet_loader_settings s;
    int c, h, w;
    size_t chw;
    float scale[4], bias[4];   /* byte -> (byte / 255 - mean) / std */
    clnet__pixels px;
    uint32_t *order;

    int shards;                /* s.shards, 1 for 0 */
    slot *slots;
    int nslots;
    worker *workers;
    int nworkers, started;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;    /* workers wait for claimable batches */
    pthread_cond_t done_cv;    /* the consumer waits for batches, idle workers */
    _Atomic unsigned gen;      /* bumped to abandon the batches in progress */
    int quit, active, busy, holding;
    uint32_t epoch;
    uint64_t nb, next_claim, released, want;

    char **warn;               /* queued warnings (mu) */
    size_t nwarn, capwarn;
};

void clnet_loader_default_settings(clnet_loader_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->batch = 64;
    s->shuffle = 1;
    s->seed = 1;
    s->crop_pad = 4;
    s->cache = CLNET_CACHE_AUTO;
    s->cache_budget_bytes = clnet__default_cache_budget();
    s->prefetch = 3;
}

uint64_t clnet_loader_batches(const clnet_loader *ld)
{
    if (!ld)
        return 0;
    size_t n = ld->ds->n, b = (size_t)ld->s.batch;
    return ld->s.drop_last ? n / b : (n + b - 1) / b;
}

size_t clnet_loader_skipped(const clnet_loader *ld)
{
    return ld ? atomic_load(&ld->px.bad) : 0;
}

size_t clnet_loader_cache_bytes(const clnet_loader *ld)
{
    return ld && ld->px.ram ? ld->px.item * ld->ds->n : 0;
}

/* ---- workers ------------------------------------------------------------ */

static void queue_warning(clnet_loader *ld, const char *path, const char *why)
{
    size_t len = strlen(path) + strlen(why) + 32;
    char *m = malloc(len);
    if (!m)
        return;
    snprintf(m, len, "skipping '%s': %s", path, why);
    pthread_mutex_lock(&ld->mu);
    if (ld->nwarn == ld->capwarn) {
        size_t ncap = ld->capwarn ? 2 * ld->capwarn : 16;
        char **nw = realloc(ld->warn, ncap * sizeof *nw);
        if (!nw) {
            pthread_mutex_unlock(&ld->mu);
            free(m);
            return;
        }
        ld->warn = nw;
        ld->capwarn = ncap;
    }
    ld->warn[ld->nwarn++] = m;
    pthread_mutex_unlock(&ld->mu);
}

/* Fills item i of slot sl from epoch position pos, or from the first
 * readable file after it in the epoch's order. */
static clnet_status fill_one(worker *wk, slot *sl, int i, uint64_t pos)
{
    clnet_loader *ld = wk->ld;
    size_t n = ld->ds->n;
    char why[CLNET__WHY_MAX];
    for (size_t k = 0; k < n; k++) {
        uint32_t idx = ld->order[(pos + k) % n];
        const uint8_t *pix;
        int first;
        clnet_status st = clnet__pixels_get(&ld->px, idx, &wk->buf, wk->decoded,
                                            &pix, &first, why, sizeof why);
        if (st == CLNET_OK) {
            clnet__aug a;
            clnet__aug_draw(&a, ld->s.augment, ld->s.crop_pad, ld->h, ld->w,
                            ld->s.seed, ld->epoch, pos);
            if (a.rrc) {
                clnet__resized_crop(pix, wk->cropped, ld->h, ld->w, ld->c, a.rx,
                                    a.ry, a.rw, a.rh);
                pix = wk->cropped;
            }
            clnet__to_planar(pix, sl->images + (size_t)i * ld->chw, ld->h, ld->w,
                             ld->c, &a, ld->scale, ld->bias);
            sl->labels[i] = ld->ds->labels[idx];
            sl->indices[i] = idx;
            return CLNET_OK;
        }
        if (first)
            queue_warning(ld, ld->ds->paths[idx], why);
        if (st != CLNET_EFORMAT) {
            snprintf(sl->msg, sizeof sl->msg, "'%s': %s", ld->ds->paths[idx], why);
            return st;
        }
    }
    snprintf(sl->msg, sizeof sl->msg,
             "no readable image left in '%s': all %zu files failed to decode",
             ld->ds->root, n);
    return CLNET_EFORMAT;
}

static void fill_batch(worker *wk, uint64_t b, unsigned gen)
{
    clnet_loader *ld = wk->ld;
    slot *sl = &ld->slots[b % (uint64_t)ld->nslots];
    int part = ld->s.batch / ld->shards; /* this shard's share of a batch */
    uint64_t first = b * (uint64_t)ld->s.batch + (uint64_t)ld->s.shard * (uint64_t)part;
    uint64_t left = ld->ds->n - first;
    int n = left < (uint64_t)part ? (int)left : part;
    sl->status = CLNET_OK;
    for (int i = 0; i < n; i++) {
        if (atomic_load_explicit(&ld->gen, memory_order_relaxed) != gen)
            return; /* a new epoch or free: the batch is not wanted */
        if ((sl->status = fill_one(wk, sl, i, first + (uint64_t)i)) != CLNET_OK)
            break;
    }
    sl->b.images = sl->images;
    sl->b.labels = sl->labels;
    sl->b.indices = sl->indices;
    sl->b.n = n;
    sl->b.index = b;
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    clnet_loader *ld = wk->ld;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->quit && !(ld->active && ld->next_claim < ld->nb &&
                              ld->next_claim < ld->released + (uint64_t)ld->nslots))
            pthread_cond_wait(&ld->work_cv, &ld->mu);
        if (ld->quit)
            break;
        uint64_t b = ld->next_claim++;
        unsigned gen = atomic_load(&ld->gen);
        ld->busy++;
        pthread_mutex_unlock(&ld->mu);
        fill_batch(wk, b, gen);
        pthread_mutex_lock(&ld->mu);
        ld->busy--;
        if (atomic_load(&ld->gen) == gen)
            ld->slots[b % (uint64_t)ld->nslots].ready = (int64_t)b;
        pthread_cond_broadcast(&ld->done_cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* ---- create / free ------------------------------------------------------- */

static clnet_status check_settings(clnet_ctx *ctx, const clnet_dataset *ds,
                                   const clnet_loader_settings *s)
{
    if (s->batch < 1)
        return clnet__fail(ctx, CLNET_EINVAL, "loader batch %d: must be at least 1",
                           s->batch);
    if (s->augment & ~(unsigned)(CLNET_AUG_FLIP | CLNET_AUG_CROP |
                                 CLNET_AUG_RESIZED_CROP))
        return clnet__fail(ctx, CLNET_EINVAL, "unknown augmentation flags 0x%x",
                           s->augment);
    if (s->crop_pad < 0 || s->threads < 0 || s->prefetch < 0)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "loader crop_pad, threads and prefetch must be >= 0");
    if (s->cache != CLNET_CACHE_AUTO && s->cache != CLNET_CACHE_ON &&
        s->cache != CLNET_CACHE_OFF)
        return clnet__fail(ctx, CLNET_EINVAL, "unknown cache mode %d", (int)s->cache);
    if (s->shards > 1 && (!s->drop_last || s->batch % s->shards != 0 || s->shard < 0 ||
                          s->shard >= s->shards))
        return clnet__fail(ctx, CLNET_EINVAL,
                           "loader shard %d of %d at batch %d: needs drop_last, a batch "
                           "that is a multiple of the shard count and 0 <= shard < "
                           "shards", s->shard, s->shards, s->batch);
    if (s->shards < 0 || (s->shards <= 1 && s->shard != 0))
        return clnet__fail(ctx, CLNET_EINVAL, "loader shard %d of %d: no such shard",
                           s->shard, s->shards);
    if (ds->n > UINT32_MAX)
        return clnet__fail(ctx, CLNET_EINVAL, "dataset of %zu images: at most 2^32",
                           ds->n);
    for (int k = 0; s->std && k < ds->s.channels; k++)
        if (!(s->std[k] > 0.0f))
            return clnet__fail(ctx, CLNET_EINVAL, "std[%d] = %g: must be > 0", k,
                               (double)s->std[k]);
    return CLNET_OK;
}

static void *aligned(size_t bytes)
{
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) == 0 ? p : NULL;
}

static clnet_status alloc_buffers(clnet_loader *ld, const clnet_loader_settings *s)
{
    size_t item = ld->px.item, b = (size_t)(ld->s.batch / ld->shards);
    ld->order = malloc((ld->ds->n ? ld->ds->n : 1) * sizeof *ld->order);
    ld->slots = calloc((size_t)ld->nslots, sizeof *ld->slots);
    ld->workers = calloc((size_t)ld->nworkers, sizeof *ld->workers);
    if (!ld->order || !ld->slots || !ld->workers)
        return CLNET_ENOMEM;
    for (int i = 0; i < ld->nslots; i++) {
        slot *sl = &ld->slots[i];
        sl->ready = -1;
        sl->images = aligned(b * ld->chw * sizeof(float));
        sl->labels = aligned(b * sizeof(int32_t));
        sl->indices = aligned(b * sizeof(uint32_t));
        if (!sl->images || !sl->labels || !sl->indices)
            return CLNET_ENOMEM;
    }
    for (int i = 0; i < ld->nworkers; i++) {
        worker *wk = &ld->workers[i];
        wk->ld = ld;
        wk->decoded = malloc(item);
        wk->cropped = malloc(item);
        if (!wk->decoded || !wk->cropped)
            return CLNET_ENOMEM;
    }
    for (int k = 0; k < ld->c; k++) {
        float mean = s->mean ? s->mean[k] : 0.0f;
        float std = s->std ? s->std[k] : 1.0f;
        ld->scale[k] = 1.0f / (255.0f * std);
        ld->bias[k] = -mean / std;
    }
    return CLNET_OK;
}

static void free_buffers(clnet_loader *ld)
{
    for (int i = 0; ld->slots && i < ld->nslots; i++) {
        free(ld->slots[i].images);
        free(ld->slots[i].labels);
        free(ld->slots[i].indices);
    }
    for (int i = 0; ld->workers && i < ld->nworkers; i++) {
        clnet__filebuf_free(&ld->workers[i].buf);
        free(ld->workers[i].decoded);
        free(ld->workers[i].cropped);
    }
    free(ld->slots);
    free(ld->workers);
    free(ld->order);
    clnet__pixels_free(&ld->px);
}

clnet_status clnet_loader_create(clnet_ctx *ctx, const clnet_dataset *ds,
                                 const clnet_loader_settings *s, clnet_loader **out)
{
    CLNET__CHECK_ARG(ctx, out != NULL);
    *out = NULL;
    CLNET__CHECK_ARG(ctx, ds != NULL && s != NULL);
    clnet_status st = check_settings(ctx, ds, s);
    if (st != CLNET_OK)
        return st;
    clnet_loader *ld = calloc(1, sizeof *ld);
    if (!ld)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory creating a loader");
    ld->ctx = ctx;
    ld->ds = ds;
    ld->s = *s;
    ld->s.mean = ld->s.std = NULL; /* borrowed during create: see scale */
    ld->shards = s->shards > 1 ? s->shards : 1;
    ld->c = ds->s.channels;
    ld->h = ds->s.height;
    ld->w = ds->s.width;
    ld->chw = (size_t)ld->c * ld->h * ld->w;
    ld->nslots = (s->prefetch > 0 ? s->prefetch : 1) + 1;
    ld->nworkers = s->threads > 0 ? s->threads : clnet__cpu_count();
    if (ld->nworkers > 64)
        ld->nworkers = 64;
    atomic_init(&ld->gen, 0);
    st = clnet__pixels_init(ctx, &ld->px, ds, s->cache, s->cache_budget_bytes);
    if (st != CLNET_OK) {
        free(ld);
        return st;
    }
    if (alloc_buffers(ld, s) != CLNET_OK) {
        free_buffers(ld);
        free(ld);
        return clnet__fail(ctx, CLNET_ENOMEM,
                           "out of memory for %d batch buffers of %d images",
                           s->prefetch + 1, s->batch);
    }
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->work_cv, NULL);
    pthread_cond_init(&ld->done_cv, NULL);
    for (int i = 0; i < ld->nworkers; i++) {
        if (pthread_create(&ld->workers[i].tid, NULL, worker_main, &ld->workers[i]) != 0)
            break;
        ld->started++;
    }
    if (ld->started == 0) {
        clnet_loader_free(ld);
        return clnet__fail(ctx, CLNET_ENOMEM, "cannot start loader threads");
    }
    *out = ld;
    return CLNET_OK;
}

static void log_warnings(clnet_loader *ld)
{
    pthread_mutex_lock(&ld->mu);
    char **w = ld->warn;
    size_t n = ld->nwarn;
    ld->warn = NULL;
    ld->nwarn = ld->capwarn = 0;
    pthread_mutex_unlock(&ld->mu);
    for (size_t i = 0; i < n; i++) {
        clnet__log(ld->ctx, CLNET_LOG_WARN, "%s", w[i]);
        free(w[i]);
    }
    free(w);
}

void clnet_loader_free(clnet_loader *ld)
{
    if (!ld)
        return;
    /* Workers drop a batch in progress at the next image (gen changes). */
    pthread_mutex_lock(&ld->mu);
    ld->quit = 1;
    atomic_fetch_add(&ld->gen, 1);
    pthread_cond_broadcast(&ld->work_cv);
    pthread_mutex_unlock(&ld->mu);
    for (int i = 0; i < ld->started; i++)
        pthread_join(ld->workers[i].tid, NULL);
    log_warnings(ld);
    pthread_cond_destroy(&ld->work_cv);
    pthread_cond_destroy(&ld->done_cv);
    pthread_mutex_destroy(&ld->mu);
    free_buffers(ld);
    free(ld);
}

/* ---- epochs and batches --------------------------------------------------- */

static void make_order(clnet_loader *ld)
{
    size_t n = ld->ds->n;
    for (size_t i = 0; i < n; i++)
        ld->order[i] = (uint32_t)i;
    if (!ld->s.shuffle)
        return;
    uint64_t r = clnet__mix3(ld->s.seed, ld->epoch, 0x73687566666c65ull);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)clnet__below(&r, i);
        uint32_t t = ld->order[i - 1];
        ld->order[i - 1] = ld->order[j];
        ld->order[j] = t;
    }
}

clnet_status clnet_loader_start_epoch(clnet_loader *ld, uint32_t epoch,
                                      uint64_t first_batch)
{
    if (!ld)
        return CLNET_EINVAL;
    uint64_t nb = clnet_loader_batches(ld);
    if (first_batch > nb)
        return clnet__fail(ld->ctx, CLNET_EINVAL,
                           "start at batch %llu: the epoch has %llu batches",
                           (unsigned long long)first_batch, (unsigned long long)nb);
    pthread_mutex_lock(&ld->mu);
    /* Stop the old epoch and wait until no worker reads order or slots. */
    atomic_fetch_add(&ld->gen, 1);
    ld->active = 0;
    while (ld->busy)
        pthread_cond_wait(&ld->done_cv, &ld->mu);
    ld->epoch = epoch;
    make_order(ld);
    for (int i = 0; i < ld->nslots; i++)
        ld->slots[i].ready = -1;
    ld->nb = nb;
    ld->next_claim = ld->released = ld->want = first_batch;
    ld->holding = 0;
    ld->active = 1;
    pthread_cond_broadcast(&ld->work_cv);
    pthread_mutex_unlock(&ld->mu);
    return CLNET_OK;
}

clnet_status clnet_loader_next(clnet_loader *ld, const clnet_batch **out)
{
    if (!out)
        return ld ? clnet__fail(ld->ctx, CLNET_EINVAL, "clnet_loader_next: out is NULL")
                  : CLNET_EINVAL;
    *out = NULL;
    if (!ld)
        return CLNET_EINVAL;
    pthread_mutex_lock(&ld->mu);
    if (!ld->active) {
        pthread_mutex_unlock(&ld->mu);
        return clnet__fail(ld->ctx, CLNET_EINVAL,
                           "clnet_loader_next before clnet_loader_start_epoch");
    }
    if (ld->holding) { /* the caller is done with the batch it holds */
        ld->released = ld->want;
        ld->holding = 0;
        pthread_cond_broadcast(&ld->work_cv);
    }
    slot *sl = NULL;
    if (ld->want < ld->nb) {
        sl = &ld->slots[ld->want % (uint64_t)ld->nslots];
        while (sl->ready != (int64_t)ld->want)
            pthread_cond_wait(&ld->done_cv, &ld->mu);
        ld->want++;
        ld->holding = 1;
    }
    pthread_mutex_unlock(&ld->mu);
    log_warnings(ld);
    if (!sl)
        return CLNET_OK;
    if (sl->status != CLNET_OK)
        return clnet__fail(ld->ctx, sl->status, "%s", sl->msg);
    *out = &sl->b;
    return CLNET_OK;
}
