/* A model as one data-parallel replica: the reduction before its update
 * (model_step.c calls clnet__model_reduce), and what keeps replicas in step
 * (a checksum to compare, a state copy to start from). */
#include "graph/model_impl.h"

#include "core/core.h"
#include "train/optim.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* Sync batchnorm's sums (graph.h): a handful of floats per call, through
 * the host as the gradients go. */
static clnet_status sync_sum(void *user, clnet__tensor t, size_t n)
{
    clnet_model *m = user;
    float buf[512], *host = n <= 512 ? buf : malloc(n * sizeof(float));
    if (!host)
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    clnet_status st = clnet__buf_read(m->ctx, t.buf, t.off * sizeof(float),
                                      n * sizeof(float), host);
    if (st == CLNET_OK && (st = m->reducer.allreduce(m->reducer.user, host, n)) != CLNET_OK)
        st = clnet__fail(m->ctx, st, "the batchnorm statistics' sum across %d replicas "
                         "failed (%s)", m->reducer.replicas, clnet_strerror(st));
    if (st == CLNET_OK)
        st = clnet__buf_write(m->ctx, t.buf, t.off * sizeof(float), n * sizeof(float), host);
    if (host != buf)
        free(host);
    return st;
}

clnet_status clnet_model_set_reducer(clnet_model *m, const clnet_reducer *r)
{
    if (!m)
        return CLNET_EINVAL;
    if (m->micro)
        return clnet__fail(m->ctx, CLNET_EINVAL, "a reducer set in the middle of a "
                           "gradient accumulation (%d micro-batches done)", m->micro);
    if (r && (!r->allreduce || r->replicas < 1))
        return clnet__fail(m->ctx, CLNET_EINVAL, "reducer without allreduce or with %d "
                           "replicas", r->replicas);
    clnet__buckets_free(m->buckets);
    m->buckets = NULL;
    free(m->reduce_host);
    m->reduce_host = NULL;
    memset(&m->reducer, 0, sizeof m->reducer);
    memset(&m->graph->sync, 0, sizeof m->graph->sync);
    if (r)
        m->reducer = *r;
    if (r && r->sync_batchnorm) {
        m->graph->sync = (clnet__sync){sync_sum, m, r->replicas};
        m->reducer.bucket_bytes = 0; /* its sums interleave with backward */
    }
    if (m->reducer.bucket_bytes && m->graph->params_count && m->settings.training)
        return clnet__buckets_create(m, m->reducer.bucket_bytes, &m->buckets);
    return CLNET_OK;
}

int clnet__model_replicas(const clnet_model *m)
{
    return m->reducer.allreduce ? m->reducer.replicas : 1;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void clnet__reduce_stats_add(clnet_model *m, int sums, double busy, double exposed)
{
    m->reduce_stats.updates++;
    m->reduce_stats.sums += (uint64_t)sums;
    m->reduce_stats.seconds += busy;
    m->reduce_stats.exposed_seconds += exposed;
}

clnet_status clnet_model_reduce_stats(const clnet_model *m, clnet_reduce_stats *out)
{
    if (!m || !out)
        return CLNET_EINVAL;
    *out = m->reduce_stats;
    return CLNET_OK;
}

/* One sum of all the gradients after backward (no buckets). */
clnet_status clnet__model_reduce(clnet_model *m)
{
    const clnet__graph *g = m->graph;
    if (!m->reducer.allreduce || !g->params_count)
        return CLNET_OK;
    size_t bytes = g->params_count * sizeof(float);
    if (!m->reduce_host && !(m->reduce_host = malloc(bytes)))
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    /* Through host memory: what MPI and threads can both read. */
    clnet_status st = clnet__finish(m->ctx);
    double t0 = now(), t1 = t0;
    if (st == CLNET_OK)
        st = clnet__buf_read(m->ctx, g->grads_buf, 0, bytes, m->reduce_host);
    if (st == CLNET_OK) {
        t1 = now();
        st = m->reducer.allreduce(m->reducer.user, m->reduce_host, g->params_count);
    }
    if (st != CLNET_OK)
        return clnet__fail(m->ctx, st, "the gradient reduction across %d replicas "
                           "failed (%s)", m->reducer.replicas, clnet_strerror(st));
    double t2 = now();
    clnet__reduce_stats_add(m, 1, t2 - t1, t2 - t0);
    return clnet__buf_write(m->ctx, g->grads_buf, 0, bytes, m->reduce_host);
}

/* Reads a whole flat buffer of `count` floats (NULL/0: nothing). */
static clnet_status read_all(clnet_ctx *ctx, clnet__buf *b, size_t count, float **out)
{
    *out = NULL;
    if (!b || !count)
        return CLNET_OK;
    if (!(*out = malloc(count * sizeof(float))))
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    return clnet__buf_read(ctx, b, 0, count * sizeof(float), *out);
}

clnet_status clnet_model_checksum(clnet_model *m, uint64_t *out)
{
    if (!m || !out)
        return CLNET_EINVAL;
    const clnet__graph *g = m->graph;
    float *p = NULL, *s = NULL;
    clnet_status st = read_all(m->ctx, g->params_buf, g->params_count, &p);
    /* Running statistics agree only when batchnorm is synchronised. */
    if (st == CLNET_OK && g->sync.sum)
        st = read_all(m->ctx, g->state_buf, g->state_count, &s);
    if (st == CLNET_OK) {
        XXH64_hash_t h = XXH64(p, p ? g->params_count * sizeof(float) : 0, 0);
        *out = XXH64(s, s ? g->state_count * sizeof(float) : 0, h);
    }
    free(p);
    free(s);
    return st;
}

static clnet_status copy_buf(clnet_model *dst, clnet__buf *to, clnet_model *src,
                             clnet__buf *from, size_t count)
{
    float *host = NULL;
    clnet_status st = read_all(src->ctx, from, count, &host);
    if (st == CLNET_OK && host)
        st = clnet__buf_write(dst->ctx, to, 0, count * sizeof(float), host);
    free(host);
    return st;
}

clnet_status clnet_model_copy_state(clnet_model *dst, clnet_model *src)
{
    if (!dst || !src)
        return CLNET_EINVAL;
    const clnet__graph *a = dst->graph, *b = src->graph;
    if (a->params_count != b->params_count || a->state_count != b->state_count ||
        strcmp(clnet_model_text(dst), clnet_model_text(src)) != 0)
        return clnet__fail(dst->ctx, CLNET_ESHAPE, "replica state copied from another "
                           "model (%zu parameters, %zu here)", b->params_count,
                           a->params_count);
    clnet_status st = copy_buf(dst, a->params_buf, src, b->params_buf, a->params_count);
    if (st == CLNET_OK)
        st = copy_buf(dst, a->state_buf, src, b->state_buf, a->state_count);
    if (st == CLNET_OK && dst->settings.training && src->settings.training) {
        st = clnet_model_set_train_settings(dst, &src->recipe);
        clnet__optim_state so[CLNET__OPTIM_MAX_STATES], dt[CLNET__OPTIM_MAX_STATES];
        size_t ns = st == CLNET_OK ? clnet__optim_states(src->optim, so) : 0;
        size_t nd = st == CLNET_OK ? clnet__optim_states(dst->optim, dt) : 0;
        for (size_t i = 0; i < ns && i < nd && st == CLNET_OK; i++)
            if (so[i].n == dt[i].n && strcmp(so[i].name, dt[i].name) == 0)
                st = copy_buf(dst, dt[i].buf, src, so[i].buf, so[i].n);
    }
    /* Frozen layers (fine-tuning) too. */
    size_t len = st == CLNET_OK ? clnet__model_frozen_list(src, NULL, 0) : 0;
    char *list = st == CLNET_OK ? malloc(len + 1) : NULL;
    unsigned char *flags = list ? malloc((size_t)dst->desc->n_layers + 1) : NULL;
    if (st == CLNET_OK && !flags)
        st = clnet__fail(dst->ctx, CLNET_ENOMEM, "out of host memory");
    if (st == CLNET_OK) {
        clnet__model_frozen_list(src, list, len + 1);
        st = clnet__model_frozen_parse(dst, list, "the replica copied", flags);
    }
    if (st == CLNET_OK)
        st = clnet__model_frozen_apply(dst, flags);
    free(list);
    free(flags);
    if (st == CLNET_OK) {
        dst->step = src->step;
        dst->micro = src->micro;
    }
    return st;
}
