/* Gradient buckets: the reduction of a replica's gradients overlapped with
 * its backward (clnet_reducer.bucket_bytes).
 *
 * Parameters lie in the flat gradient buffer in layer order and backward
 * runs the layers from the last, so after layer j's backward the gradients
 * of layers j.. are final: a contiguous tail of the buffer. After each
 * layer the step thread cuts the tail not yet sent into a bucket once it
 * holds bucket_bytes (or the whole buffer is final) and enqueues its
 * device-to-host read without waiting. The model's own thread takes the
 * buckets in order, waits for each read, and calls the reducer's allreduce
 * on it, while the device still computes the layers below. The step waits
 * for the last bucket, writes the sums back and updates. Bucket edges
 * depend only on the model and bucket_bytes, so every replica cuts the same
 * buckets and calls allreduce in the same order. */
#include "graph/model_impl.h"

#include "core/core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bucket {
    size_t lo, hi;            /* floats [lo, hi) of the gradient buffer */
    clnet__upload read;       /* its device-to-host read */
} bucket;

struct clnet__buckets {
    clnet_model *m;
    size_t bucket_floats;
    size_t *layer_lo;         /* per layer j: where layers j.. start */
    bucket *q;                /* this update's buckets, at most layers + 1 */
    int cap;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int posted, taken, done;  /* buckets of this update */
    int quit;
    size_t sent_lo;           /* [sent_lo, params_count) is posted */
    clnet_status st;          /* the first failure of this update */
    int read_failed;
    double busy;              /* seconds inside allreduce, this update */
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *comm_main(void *arg)
{
    clnet__buckets *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->quit && b->taken == b->posted)
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->quit)
            break;
        bucket *k = &b->q[b->taken++];
        int failed = b->st != CLNET_OK;
        pthread_mutex_unlock(&b->mu);
        /* The read is waited for (and released) even after a failure. */
        int read_ok = clnet__transfer_wait(&k->read) == CLNET_OK;
        double t0 = now();
        clnet_status st = CLNET_OK;
        if (!read_ok)
            st = CLNET_EOPENCL;
        else if (!failed)
            st = b->m->reducer.allreduce(b->m->reducer.user, b->m->reduce_host + k->lo,
                                         k->hi - k->lo);
        double t1 = now();
        pthread_mutex_lock(&b->mu);
        if (st != CLNET_OK && b->st == CLNET_OK) {
            b->st = st;
            b->read_failed = !read_ok;
        }
        b->busy += t1 - t0;
        b->done++;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

clnet_status clnet__buckets_create(clnet_model *m, size_t bucket_bytes, clnet__buckets **out)
{
    *out = NULL;
    const clnet__graph *g = m->graph;
    int L = m->desc->n_layers;
    clnet__buckets *b = calloc(1, sizeof *b);
    if (!b)
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    b->m = m;
    b->bucket_floats = bucket_bytes / sizeof(float) ? bucket_bytes / sizeof(float) : 1;
    b->cap = L + 1;
    b->layer_lo = calloc((size_t)L + 1, sizeof *b->layer_lo);
    b->q = calloc((size_t)b->cap, sizeof *b->q);
    if (!b->layer_lo || !b->q ||
        (!m->reduce_host && !(m->reduce_host = malloc(g->params_count * sizeof(float))))) {
        free(b->layer_lo);
        free(b->q);
        free(b);
        return clnet__fail(m->ctx, CLNET_ENOMEM, "out of host memory");
    }
    /* Where the gradients of layers j.. start: the first parameter of a
     * layer >= j (graph.c lays parameters out in layer order). */
    size_t lo = g->params_count;
    for (int j = L - 1, p = g->n_params - 1; j >= 0; j--) {
        for (; p >= 0 && g->params[p].layer >= j; p--)
            lo = g->params[p].offset;
        b->layer_lo[j] = lo;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, comm_main, b) != 0) {
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->cv);
        free(b->layer_lo);
        free(b->q);
        free(b);
        return clnet__fail(m->ctx, CLNET_ENOMEM, "cannot start the gradient reduction thread");
    }
    *out = b;
    return CLNET_OK;
}

void clnet__buckets_free(clnet__buckets *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->quit = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->layer_lo);
    free(b->q);
    free(b);
}

/* Posts gradients [lo, sent_lo) as the next bucket. */
static clnet_status post(clnet__buckets *b, size_t lo)
{
    clnet_model *m = b->m;
    size_t hi = b->sent_lo;
    bucket *k = &b->q[b->posted];
    k->lo = lo;
    k->hi = hi;
    clnet_status st = clnet__download_start(m->ctx, m->graph->grads_buf, lo * sizeof(float),
                                            (hi - lo) * sizeof(float), m->reduce_host + lo,
                                            &k->read);
    if (st != CLNET_OK)
        return st;
    b->sent_lo = lo;
    pthread_mutex_lock(&b->mu);
    b->posted++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return CLNET_OK;
}

/* The graph's after-backward hook (graph.h): layer j's gradients, and all
 * above it, are enqueued. */
static clnet_status after_layer(void *user, int j)
{
    clnet__buckets *b = user;
    size_t lo = b->layer_lo[j];
    if (lo < b->sent_lo && (b->sent_lo - lo >= b->bucket_floats || lo == 0))
        return post(b, lo);
    return CLNET_OK;
}

void clnet__buckets_begin(clnet__buckets *b)
{
    pthread_mutex_lock(&b->mu);
    b->posted = b->taken = b->done = 0;
    b->st = CLNET_OK;
    b->read_failed = 0;
    b->busy = 0;
    pthread_mutex_unlock(&b->mu);
    b->sent_lo = b->m->graph->params_count;
    b->m->graph->after_backward = after_layer;
    b->m->graph->after_backward_user = b;
}

clnet_status clnet__buckets_finish(clnet__buckets *b, clnet_status backward_st)
{
    clnet_model *m = b->m;
    clnet__graph *g = m->graph;
    g->after_backward = NULL;
    g->after_backward_user = NULL;
    /* What backward did not post (none when it reached layer 0). */
    clnet_status st = backward_st;
    if (st == CLNET_OK && b->sent_lo > 0)
        st = post(b, 0);
    /* The overlap measured: what of the sums is left once the device has
     * finished backward. */
    clnet__marker backward_done = {0};
    if (st == CLNET_OK)
        st = clnet__marker_record(m->ctx, &backward_done);
    if (st == CLNET_OK)
        st = clnet__marker_wait(m->ctx, &backward_done);
    clnet__marker_clear(&backward_done);
    double t_backward = now();
    /* A failed step still waits for the buckets in flight: their reads
     * write into reduce_host. */
    pthread_mutex_lock(&b->mu);
    if (st != CLNET_OK && b->st == CLNET_OK)
        b->st = st;
    while (b->done < b->posted)
        pthread_cond_wait(&b->cv, &b->mu);
    clnet_status comm = b->st;
    int read_failed = b->read_failed;
    double exposed = now() - t_backward, busy = b->busy;
    pthread_mutex_unlock(&b->mu);
    if (st != CLNET_OK)
        return st;
    if (comm != CLNET_OK)
        return clnet__fail(m->ctx, comm, read_failed
                               ? "reading the gradients back from the device failed"
                               : "the gradient reduction across %d replicas failed (%s)",
                           m->reducer.replicas, clnet_strerror(comm));
    clnet__reduce_stats_add(m, b->posted, busy, exposed);
    return clnet__buf_write(m->ctx, g->grads_buf, 0, g->params_count * sizeof(float),
                            m->reduce_host);
}
