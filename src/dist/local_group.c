/* Replicas in one process: one thread per replica meets the others in each
 * allreduce. Replica 0 adds the gradients up in rank order (so every
 * replica gets the same bits) once all have arrived; each copies the sum
 * back. A meeting waits at most timeout_s seconds and fails, naming the
 * replicas that did not come, rather than hang: a replica whose device
 * failed stops the run (clnet_local_group_abort makes that immediate). */
#include "clnet/dist.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct clnet_local_group {
    int n, timeout_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived;            /* in the current phase */
    unsigned long phase;    /* counts completed meetings (two per allreduce) */
    int aborted;
    float **data;           /* each rank's buffer for this allreduce */
    size_t *count;          /* and its length */
    float *sum;
    size_t sum_cap;
    char error[256];
};

typedef struct member {
    clnet_local_group *g;
    int rank;
} member;

/* One member per rank for the reducers' user pointers, after the group. */
static member *members(clnet_local_group *g) { return (member *)(g + 1); }

clnet_status clnet_local_group_create(int replicas, int timeout_s,
                                      clnet_local_group **out)
{
    if (!out || replicas < 1 || timeout_s < 1)
        return CLNET_EINVAL;
    *out = NULL;
    clnet_local_group *g = calloc(1, sizeof *g + (size_t)replicas * sizeof(member));
    if (!g)
        return CLNET_ENOMEM;
    g->data = calloc((size_t)replicas, sizeof *g->data);
    g->count = calloc((size_t)replicas, sizeof *g->count);
    if (!g->data || !g->count) {
        free(g->data);
        free(g->count);
        free(g);
        return CLNET_ENOMEM;
    }
    g->n = replicas;
    g->timeout_s = timeout_s;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    for (int r = 0; r < replicas; r++)
        members(g)[r] = (member){g, r};
    *out = g;
    return CLNET_OK;
}

void clnet_local_group_free(clnet_local_group *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->data);
    free(g->count);
    free(g->sum);
    free(g);
}

void clnet_local_group_abort(clnet_local_group *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->aborted = 1;
    if (!g->error[0])
        snprintf(g->error, sizeof g->error, "a replica stopped (its error is the cause)");
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

const char *clnet_local_group_error(clnet_local_group *g)
{
    return g ? g->error : "";
}

/* All ranks meet (mu held); 0, or -1 when the group is aborted or the wait
 * timed out (the group is then aborted, with the ranks missing named). */
static int meet(clnet_local_group *g, int rank)
{
    unsigned long phase = g->phase;
    if (++g->arrived == g->n) {
        g->arrived = 0;
        g->phase++;
        pthread_cond_broadcast(&g->cv);
        return 0;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += g->timeout_s;
    while (g->phase == phase && !g->aborted) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT &&
            g->phase == phase && !g->aborted) {
            g->aborted = 1;
            snprintf(g->error, sizeof g->error,
                     "%d of %d replicas did not reach the gradient reduction within "
                     "%d s (replica %d waited)", g->n - g->arrived, g->n, g->timeout_s,
                     rank);
            pthread_cond_broadcast(&g->cv);
        }
    }
    return g->phase == phase ? -1 : 0;
}

static clnet_status local_allreduce(void *user, float *data, size_t n)
{
    member *me = user;
    clnet_local_group *g = me->g;
    pthread_mutex_lock(&g->mu);
    clnet_status st = CLNET_OK;
    g->data[me->rank] = data;
    g->count[me->rank] = n;
    if (meet(g, me->rank) != 0) {
        st = CLNET_EINTERRUPTED;
    } else if (me->rank == 0) {
        /* Everyone's buffer is in; sum in rank order. The sum buffer grows
         * only now: before this meeting another rank may not yet have
         * copied the previous sum out of it. */
        if (n > g->sum_cap) {
            free(g->sum);
            g->sum = malloc(n * sizeof *g->sum);
            g->sum_cap = g->sum ? n : 0;
        }
        int ok = g->sum != NULL, r = 1;
        while (r < g->n && g->count[r] == n)
            r++;
        for (int q = 0; q < g->n && ok; q++)
            ok = g->data[q] != NULL;
        if (r < g->n) {
            /* Replicas of different models, or out of step. */
            g->aborted = 1;
            snprintf(g->error, sizeof g->error, "replica %d summed %zu values where "
                     "replica 0 summed %zu", r, g->count[r], n);
        } else if (ok) {
            memcpy(g->sum, g->data[0], n * sizeof *g->sum);
            for (int q = 1; q < g->n; q++)
                for (size_t i = 0; i < n; i++)
                    g->sum[i] += g->data[q][i];
        } else {
            g->aborted = 1;
            snprintf(g->error, sizeof g->error, "out of host memory summing gradients");
        }
    }
    /* Second meeting: the sum is ready (or the group failed). */
    if (st == CLNET_OK && meet(g, me->rank) != 0)
        st = CLNET_EINTERRUPTED;
    if (st == CLNET_OK && g->aborted)
        st = CLNET_EINTERRUPTED;
    if (st == CLNET_OK)
        memcpy(data, g->sum, n * sizeof *data);
    pthread_mutex_unlock(&g->mu);
    return st;
}

clnet_reducer clnet_local_group_reducer(clnet_local_group *g, int rank)
{
    clnet_reducer r = {0};
    if (g && rank >= 0 && rank < g->n) {
        r.allreduce = local_allreduce;
        r.user = &members(g)[rank];
        r.replicas = g->n;
    }
    return r;
}
