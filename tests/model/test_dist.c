/* Data parallel in one process: replicas on sub-devices of this machine's
 * device (clCreateSubDevices), their gradients summed by a local group,
 * train as one model on the whole batch; a replica that stops makes the
 * others fail within the group's timeout instead of hanging. */
#include "../support.h"
#include "clnet/clnet.h"
#include "graph/model_impl.h"
#include "ocl/ocl.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { GLOBAL = 64, R = 2, SHARD = GLOBAL / R, STEPS = 20, ITEM = 3 * 8 * 8 };

static clnet_ctx *ctx;

/* No batchnorm, no dropout: replicas and one device compute the same
 * gradient, only summed in another order. */
static const char small_cnn[] = CLNET_TEST_SMALL_CNN
    "[train]\nlr=0.05\nmomentum=0.9\nweight_decay=0.0005\n";

/* The same with batchnorm (affine, fused relu, and one without affine). */
static const char bn_cnn[] =
    "[net]\nchannels=3\nheight=8\nwidth=8\nclasses=5\n"
    "[conv]\nfilters=6\nkernel=3\npad=1\nbias=0\n"
    "[batchnorm]\n"
    "[relu]\n"
    "[maxpool]\nkernel=2\nstride=2\n"
    "[conv]\nfilters=8\nkernel=3\npad=1\n"
    "[batchnorm]\naffine=0\n"
    "[flatten]\n"
    "[dense]\noutputs=5\n"
    "[train]\nlr=0.05\nmomentum=0.9\nweight_decay=0.0005\n";

static clnet_ctx *sub_ctx(int index)
{
    clnet_ctx_settings cs;
    clnet_ctx_default_settings(&cs);
    cs.partition = R;
    cs.partition_index = index;
    clnet_ctx *c = NULL;
    clnet_status st = clnet_ctx_create(&c, &cs);
    if (st == CLNET_EUNSUPPORTED) {
        /* A GPU that cannot be split (tools/run-gpu-check): the replicas
         * share the whole device, a context each. */
        printf("replica %d on the whole device: %s\n", index, clnet_errmsg(c));
        clnet_ctx_free(c);
        c = NULL;
        cs.partition = cs.partition_index = 0;
        st = clnet_ctx_create(&c, &cs);
    }
    ck_assert_msg(st == CLNET_OK, "sub-device %d: %s", index, clnet_errmsg(c));
    return c;
}

static clnet_model *load(clnet_ctx *c, const char *text, int batch)
{
    clnet_model_settings ms;
    clnet_model_default_settings(&ms);
    ms.batch = batch;
    ms.seed = 3;
    clnet_model *m = NULL;
    clnet_status st = clnet_model_load_string(c, "test", text, &ms, &m);
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(c));
    return m;
}
typedef struct replica {
    clnet_model *m;
    const float *x;       /* the global batches, STEPS of them */
    const int32_t *y;
    int rank, steps;      /* steps < 0: stop before the first (a dead one) */
    clnet_status st;
    clnet_local_group *g;
} replica;

static void *run_replica(void *arg)
{
    replica *r = arg;
    r->st = CLNET_OK;
    for (int s = 0; s < r->steps && r->st == CLNET_OK; s++) {
        const float *x = r->x + ((size_t)s * GLOBAL + (size_t)r->rank * SHARD) * ITEM;
        const int32_t *y = r->y + (size_t)s * GLOBAL + (size_t)r->rank * SHARD;
        r->st = clnet_model_set_batch(r->m, x, y, SHARD);
        if (r->st == CLNET_OK)
            r->st = clnet_model_train_step(r->m);
    }
    if (r->st != CLNET_OK)
        clnet_local_group_abort(r->g);
    return NULL;
}

static float *params(clnet_model *m)
{
    const clnet__graph *g = m->graph;
    float *p = malloc(g->params_count * sizeof *p);
    ck_assert(p);
    ck_assert_int_eq(clnet__buf_read(m->ctx, g->params_buf, 0,
                                     g->params_count * sizeof(float), p), CLNET_OK);
    return p;
}

/* Trains `text` STEPS steps on one device at batch GLOBAL and on R
 * sub-device replicas at SHARD each (sync: sync batchnorm; bucket: their
 * bucket_bytes), from the same initial parameters and data; checks the
 * replicas stayed identical and a copy of one is in step with it; the
 * parameters' relative difference, and replica 0's checksum and reduction
 * statistics in *sum and *rs. */
static double replicas_vs_one(const char *text, int sync, size_t bucket, uint64_t *sum,
                              clnet_reduce_stats *rs)
{
    float *x = malloc((size_t)STEPS * GLOBAL * ITEM * sizeof *x);
    int32_t *y = malloc((size_t)STEPS * GLOBAL * sizeof *y);
    ck_assert(x && y);
    clnet_test_rng rng;
    clnet_test_rng_seed(&rng, 9);
    for (size_t i = 0; i < (size_t)STEPS * GLOBAL * ITEM; i++)
        x[i] = clnet_test_uniform(&rng, -1, 1);
    for (size_t i = 0; i < (size_t)STEPS * GLOBAL; i++)
        y[i] = (int32_t)clnet_test_uniform(&rng, 0, 5) % 5;

    clnet_model *one = load(ctx, text, GLOBAL);
    for (int s = 0; s < STEPS; s++) {
        ck_assert_int_eq(clnet_model_set_batch(one, x + (size_t)s * GLOBAL * ITEM,
                                               y + (size_t)s * GLOBAL, GLOBAL), CLNET_OK);
        ck_assert_msg(clnet_model_train_step(one) == CLNET_OK, "%s", clnet_errmsg(ctx));
    }

    clnet_local_group *g = NULL;
    ck_assert_int_eq(clnet_local_group_create(R, 60, &g), CLNET_OK);
    clnet_ctx *c[R];
    replica rep[R];
    pthread_t th[R];
    for (int r = 0; r < R; r++) {
        c[r] = sub_ctx(r);
        rep[r] = (replica){load(c[r], text, SHARD), x, y, r, STEPS, CLNET_OK, g};
        clnet_reducer red = clnet_local_group_reducer(g, r);
        red.sync_batchnorm = sync;
        red.bucket_bytes = bucket;
        ck_assert_int_eq(clnet_model_set_reducer(rep[r].m, &red), CLNET_OK);
    }
    for (int r = 0; r < R; r++)
        ck_assert_int_eq(pthread_create(&th[r], NULL, run_replica, &rep[r]), 0);
    for (int r = 0; r < R; r++)
        pthread_join(th[r], NULL);
    for (int r = 0; r < R; r++)
        ck_assert_msg(rep[r].st == CLNET_OK, "replica %d: %s (%s)", r, clnet_errmsg(c[r]),
                      clnet_local_group_error(g));

    uint64_t h0, h1;
    ck_assert_int_eq(clnet_model_checksum(rep[0].m, &h0), CLNET_OK);
    ck_assert_int_eq(clnet_model_checksum(rep[1].m, &h1), CLNET_OK);
    ck_assert_msg(h0 == h1, "replicas diverged: %016llx vs %016llx",
                  (unsigned long long)h0, (unsigned long long)h1);
    *sum = h0;
    ck_assert_int_eq(clnet_model_reduce_stats(rep[0].m, rs), CLNET_OK);
    float *pa = params(one), *pb = params(rep[0].m);
    size_t n = one->graph->params_count;
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        diff += ((double)pa[i] - pb[i]) * ((double)pa[i] - pb[i]);
        norm += (double)pa[i] * pa[i];
    }
    double rel = sqrt(diff / norm);
    printf("%s, %s: 2 replicas x batch %d vs 1 x %d after %d steps: relative "
           "difference %.3g; %llu sums, %.2f ms each, %.0f%% of their time overlapped "
           "backward\n", sync ? "sync batchnorm" : "per-replica statistics",
           bucket && !sync ? "buckets" : "one sum", SHARD, GLOBAL, STEPS, rel,
           (unsigned long long)rs->sums, 1e3 * rs->seconds / (double)rs->sums,
           rs->exposed_seconds < rs->seconds ? 100 * (1 - rs->exposed_seconds / rs->seconds)
                                             : 0.0);

    /* A copy of a replica's state is in step with it. */
    clnet_model *late = load(c[1], text, SHARD);
    ck_assert_int_eq(clnet_model_copy_state(late, rep[0].m), CLNET_OK);
    clnet_reducer red = clnet_local_group_reducer(g, 1); /* the same checksum */
    red.sync_batchnorm = sync;
    ck_assert_int_eq(clnet_model_set_reducer(late, &red), CLNET_OK);
    uint64_t hl;
    ck_assert_int_eq(clnet_model_checksum(late, &hl), CLNET_OK);
    ck_assert(hl == h0);
    ck_assert_int_eq(clnet_model_step(late), STEPS);
    clnet_model_free(late);

    free(pa);
    free(pb);
    for (int r = 0; r < R; r++) {
        clnet_model_free(rep[r].m);
        clnet_ctx_free(c[r]);
    }
    clnet_local_group_free(g);
    clnet_model_free(one);
    free(x);
    free(y);
    return rel;
}

START_TEST(two_replicas_equal_one_device)
{
    uint64_t h;
    clnet_reduce_stats rs;
    double rel = replicas_vs_one(small_cnn, 0, 0, &h, &rs);
    ck_assert_msg(rel <= 1e-5, "relative difference %g", rel);
    ck_assert_msg(rel > 0, "bit-identical: the sums were not split?");
    ck_assert_uint_eq(rs.updates, STEPS);
    ck_assert_uint_eq(rs.sums, STEPS);
}
END_TEST

/* Gradient buckets summed while backward runs: the same sums, so the same
 * bits as one sum after backward; a bucket per layer with parameters or
 * so (64 bytes: every layer cuts one). */
START_TEST(buckets_change_nothing)
{
    uint64_t whole, bucketed;
    clnet_reduce_stats rs1, rs;
    replicas_vs_one(small_cnn, 0, 0, &whole, &rs1);
    double rel = replicas_vs_one(small_cnn, 0, 64, &bucketed, &rs);
    ck_assert_msg(bucketed == whole, "buckets changed the result (relative %g)", rel);
    ck_assert_uint_eq(rs.updates, STEPS);
    ck_assert_uint_eq(rs.sums, (uint64_t)STEPS * 3); /* conv, conv, dense */
}
END_TEST

/* With batchnorm, replicas normalise with their own half batch unless the
 * statistics are synchronised; then they match one device. */
START_TEST(sync_batchnorm_equals_one_device)
{
    uint64_t h;
    clnet_reduce_stats rs;
    double rel = replicas_vs_one(bn_cnn, 1, 4096, &h, &rs); /* no buckets then */
    ck_assert_msg(rel <= 1e-5, "sync batchnorm: relative difference %g", rel);
    ck_assert_uint_eq(rs.sums, STEPS);
    double own = replicas_vs_one(bn_cnn, 0, 0, &h, &rs);
    ck_assert_msg(own > 100 * rel && own > 1e-4,
                  "per-replica statistics differ from one device by only %g", own);
}
END_TEST

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Replica 1 never steps (a dead or hung replica): replica 0's step fails
 * after the group's timeout with a message, it does not wait forever. */
START_TEST(a_missing_replica_stops_the_others)
{
    float x[SHARD * ITEM] = {0};
    int32_t y[SHARD] = {0};
    clnet_local_group *g = NULL;
    ck_assert_int_eq(clnet_local_group_create(R, 2, &g), CLNET_OK);
    clnet_model *m = load(ctx, small_cnn, SHARD);
    clnet_reducer red = clnet_local_group_reducer(g, 0);
    ck_assert_int_eq(clnet_model_set_reducer(m, &red), CLNET_OK);
    replica alive = {m, x, y, 0, 1, CLNET_OK, g};
    double t0 = now();
    run_replica(&alive);
    double waited = now() - t0;
    ck_assert_int_eq(alive.st, CLNET_EINTERRUPTED);
    ck_assert_msg(strstr(clnet_local_group_error(g), "did not reach"), "%s",
                  clnet_local_group_error(g));
    ck_assert_msg(strstr(clnet_errmsg(ctx), "reduction"), "%s", clnet_errmsg(ctx));
    ck_assert_msg(waited >= 1.5 && waited < 30, "waited %.1f s", waited);
    clnet_model_free(m);
    clnet_local_group_free(g);
}
END_TEST

/* The group's allreduce alone, many times with a size that grows at each
 * call: every replica gets the exact sum every time. Replica 0 grows the
 * shared sum buffer; once it did so while the other replica had not yet
 * copied the previous sum out, which then read freed memory's replacement
 * (found as a wrong first step of --sync-bn in CI under load). */
#define STRESS_CALLS 300
typedef struct stress {
    clnet_local_group *g;
    int rank, wrong, mismatch;
    clnet_status st;
} stress;

static void *stress_replica(void *arg)
{
    stress *s = arg;
    clnet_reducer red = clnet_local_group_reducer(s->g, s->rank);
    float *v = malloc((size_t)STRESS_CALLS * 4 * sizeof *v);
    for (int call = 0; v && call < STRESS_CALLS && s->st == CLNET_OK; call++) {
        /* -mismatch: the last call's lengths differ between replicas. */
        size_t n = (size_t)call * 4 + 1 + (s->mismatch && call == s->mismatch ? (size_t)s->rank : 0);
        if (s->mismatch && call > s->mismatch)
            break;
        for (size_t i = 0; i < n; i++)
            v[i] = (float)((s->rank + 1) * (call + 1)) + (float)i;
        s->st = red.allreduce(red.user, v, n);
        /* Ranks 1..R: (1 + .. + R)(call + 1) + R i, exact in floats here. */
        for (size_t i = 0; i < n && s->st == CLNET_OK; i++)
            s->wrong += v[i] != (float)(R * (R + 1) / 2 * (call + 1) + R * (int)i);
    }
    if (!v)
        s->st = CLNET_ENOMEM;
    free(v);
    return NULL;
}

static void run_stress(clnet_local_group *g, stress *s, int mismatch)
{
    pthread_t t[R];
    for (int r = 0; r < R; r++) {
        s[r] = (stress){g, r, 0, mismatch, CLNET_OK};
        ck_assert_int_eq(pthread_create(&t[r], NULL, stress_replica, &s[r]), 0);
    }
    for (int r = 0; r < R; r++)
        pthread_join(t[r], NULL);
}

START_TEST(allreduce_sums_exactly_while_its_buffer_grows)
{
    clnet_local_group *g = NULL;
    ck_assert_int_eq(clnet_local_group_create(R, 60, &g), CLNET_OK);
    stress s[R];
    run_stress(g, s, 0);
    for (int r = 0; r < R; r++) {
        ck_assert_msg(s[r].st == CLNET_OK, "replica %d: %s (%s)", r,
                      clnet_strerror(s[r].st), clnet_local_group_error(g));
        ck_assert_msg(s[r].wrong == 0, "replica %d: %d wrong sums", r, s[r].wrong);
    }
    clnet_local_group_free(g);
}
END_TEST

/* Replicas that sum different lengths (different models, or out of step)
 * all fail, and the error says which; none reads past the other's buffer. */
START_TEST(allreduce_refuses_different_lengths)
{
    clnet_local_group *g = NULL;
    ck_assert_int_eq(clnet_local_group_create(R, 60, &g), CLNET_OK);
    stress s[R];
    run_stress(g, s, 5);
    for (int r = 0; r < R; r++) {
        ck_assert_int_eq(s[r].st, CLNET_EINTERRUPTED);
        ck_assert_int_eq(s[r].wrong, 0);
    }
    ck_assert_msg(strstr(clnet_local_group_error(g), "replica 1 summed 22 values where "
                         "replica 0 summed 21"), "%s", clnet_local_group_error(g));
    clnet_local_group_free(g);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, two_replicas_equal_one_device);
    tcase_add_test(tc, sync_batchnorm_equals_one_device);
    tcase_add_test(tc, buckets_change_nothing);
    tcase_add_test(tc, a_missing_replica_stops_the_others);
    tcase_add_test(tc, allreduce_sums_exactly_while_its_buffer_grows);
    tcase_add_test(tc, allreduce_refuses_different_lengths);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
