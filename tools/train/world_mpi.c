/* clnet-train over Open MPI: `mpirun -np N clnet-train ...` trains one
 * replica per process. libclnet knows nothing of MPI: this file fills the
 * model's reducer (include/clnet/dist.h) with MPI_Iallreduce.
 *
 * No collective may wait forever. Each one goes with arrival tokens (every
 * rank tells rank 0 that it has arrived, and rank 0 tells every rank), and
 * every rank answers rank 0's pings while it waits. When a collective has
 * not completed after the peer timeout, rank 0 knows who never arrived and
 * pings the rest: one that does not answer is hung. It names them and
 * stops the whole run with MPI_Abort (the checkpoints on disk stay whole:
 * they are renamed into place). The other ranks give rank 0 a few seconds
 * more before they name rank 0 itself. A rank that dies outright is caught
 * sooner by mpirun, which names it and stops the others. */
#include "run.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TOKEN_TAG = 7100, PING_TAG, PONG_TAG };
/* Seconds rank 0 waits for pongs; the others wait this much longer than
 * rank 0 before they give up on it. */
#define PING_WAIT 3.0
#define RANK0_GRACE (PING_WAIT + 3.0)

static MPI_Comm comm = MPI_COMM_NULL;
static int *token_in;           /* rank 0: one slot per rank; others: [0] */
static int token_out;
static MPI_Request *token_req;  /* the tokens in flight for this collective */
static int n_tokens;
static int thread_level;        /* what MPI_Init_thread provided */
static int ping_in, pong_out;   /* ranks > 0: rank 0's ping, the answer */
static MPI_Request ping_req = MPI_REQUEST_NULL;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Started by mpirun (or another PMI launcher): a plain run never touches
 * MPI, so it needs no MPI runtime and starts no daemon. */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int world_init(int *argc, char ***argv, train_world *w)
{
    w->size = 1;
    w->rank = w->local_rank = 0;
    if (!launched())
        return 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &thread_level) != MPI_SUCCESS) {
        fprintf(stderr, "clnet-train: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_size(comm, &w->size);
    MPI_Comm_rank(comm, &w->rank);
    MPI_Comm node;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_rank(node, &w->local_rank);
        MPI_Comm_free(&node);
    }
    token_in = calloc((size_t)w->size, sizeof *token_in);
    token_req = calloc(2 * (size_t)w->size, sizeof *token_req);
    if (!token_in || !token_req) {
        fprintf(stderr, "clnet-train: rank %d: out of memory\n", w->rank);
        return world_finish(w, 1);
    }
    return 0;
}

static void post_tokens(const train_world *w)
{
    n_tokens = 0;
    if (w->rank == 0) {
        for (int k = 1; k < w->size; k++)
            MPI_Irecv(&token_in[k], 1, MPI_INT, k, TOKEN_TAG, comm, &token_req[n_tokens++]);
        for (int k = 1; k < w->size; k++)
            MPI_Isend(&token_out, 1, MPI_INT, k, TOKEN_TAG, comm, &token_req[n_tokens++]);
    } else {
        MPI_Irecv(&token_in[0], 1, MPI_INT, 0, TOKEN_TAG, comm, &token_req[n_tokens++]);
        MPI_Isend(&token_out, 1, MPI_INT, 0, TOKEN_TAG, comm, &token_req[n_tokens++]);
    }
}

/* Ranks > 0, while waiting: answers a ping from rank 0, and listens for
 * the next one. */
static void answer_ping(const train_world *w)
{
    if (w->rank == 0)
        return;
    int got = 0;
    if (ping_req != MPI_REQUEST_NULL)
        MPI_Test(&ping_req, &got, MPI_STATUS_IGNORE);
    if (got) {
        MPI_Request r;
        MPI_Isend(&pong_out, 1, MPI_INT, 0, PONG_TAG, comm, &r);
        MPI_Request_free(&r);
    }
    if (ping_req == MPI_REQUEST_NULL)
        MPI_Irecv(&ping_in, 1, MPI_INT, 0, PING_TAG, comm, &ping_req);
}

/* Appends rank k to the list in buf. */
static void add_rank(char *buf, size_t cap, int k)
{
    size_t len = strlen(buf);
    if (len + 16 < cap)
        snprintf(buf + len, cap - len, "%s%d", len ? ", " : "", k);
}

/* Rank 0, a collective overdue: who never arrived (their token missing),
 * and who arrived but does not answer a ping within PING_WAIT seconds
 * (hung). 1 when the collective completed meanwhile after all. */
static int diagnose(const train_world *w, MPI_Request *req, char *absent, char *silent,
                    size_t cap)
{
    int n = w->size - 1, done = 0;
    int *pong = calloc((size_t)n, sizeof *pong), *answered = calloc((size_t)n, sizeof(int));
    MPI_Request *rr = calloc((size_t)n, sizeof *rr);
    absent[0] = silent[0] = '\0';
    if (!pong || !answered || !rr) {
        free(pong);
        free(answered);
        free(rr);
        return 0;
    }
    for (int k = 1; k <= n; k++) {
        MPI_Request s;
        MPI_Isend(&token_out, 1, MPI_INT, k, PING_TAG, comm, &s);
        MPI_Request_free(&s);
        MPI_Irecv(&pong[k - 1], 1, MPI_INT, k, PONG_TAG, comm, &rr[k - 1]);
    }
    const struct timespec nap = {0, 1000000};
    for (double until = now() + PING_WAIT; now() < until && !done;) {
        int all = 1;
        for (int i = 0; i < n; i++) {
            if (!answered[i])
                MPI_Test(&rr[i], &answered[i], MPI_STATUS_IGNORE);
            all &= answered[i];
        }
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (all)
            break;
        nanosleep(&nap, NULL);
    }
    for (int i = 0; i < n; i++) {
        int arrived = 0;
        MPI_Test(&token_req[i], &arrived, MPI_STATUS_IGNORE);
        if (!arrived)
            add_rank(absent, cap, i + 1);
        else if (!answered[i])
            add_rank(silent, cap, i + 1);
        if (!answered[i]) { /* no late pong may match a later receive */
            MPI_Cancel(&rr[i]);
            MPI_Wait(&rr[i], MPI_STATUS_IGNORE);
        }
    }
    free(pong);
    free(answered);
    free(rr);
    return done;
}

/* Waits for the collective req (posted after post_tokens) at most limit
 * seconds; on time out it names who did not arrive or hangs, and stops the
 * run. */
static int wait_timed(train_run *r, MPI_Request *req, const char *what, double limit)
{
    const train_world *w = &r->world;
    double deadline = now() + limit + (w->rank ? RANK0_GRACE : 0);
    const struct timespec nap = {0, 100000}; /* 0.1 ms between polls */
    for (;;) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
            fprintf(stderr, "\nclnet-train: rank %d: %s failed in MPI\n", w->rank, what);
            return -1;
        }
        if (done)
            break;
        answer_ping(w);
        if (now() > deadline) {
            char absent[512], silent[512];
            if (w->rank == 0 && diagnose(w, req, absent, silent, sizeof absent))
                break; /* completed during the pings after all */
            if (w->rank > 0) {
                int arrived = 0;
                MPI_Test(&token_req[0], &arrived, MPI_STATUS_IGNORE);
                fprintf(stderr, "\nclnet-train: rank %d: rank 0 %s within %.0f s, and has "
                        "not stopped the run: rank 0 died or hangs; stopping the run\n",
                        w->rank, arrived ? "did not complete" : "did not reach", limit);
            } else if (absent[0] || silent[0]) {
                if (absent[0])
                    fprintf(stderr, "\nclnet-train: rank 0: rank %s did not reach %s within "
                            "%.0f s (died or hangs)", absent, what, limit);
                if (silent[0])
                    fprintf(stderr, "\nclnet-train: rank 0: rank %s reached %s but has not "
                            "completed it in %.0f s and does not respond (hung)", silent,
                            what, limit);
                fprintf(stderr, "; stopping the run\n");
            } else {
                fprintf(stderr, "\nclnet-train: rank 0: %s did not complete within %.0f s "
                        "though every rank answers; stopping the run\n", what, limit);
            }
            fflush(stderr);
            MPI_Abort(comm, 1);
            return -1;
        }
        nanosleep(&nap, NULL);
    }
    /* Everyone arrived, so every token is delivered or on its way. */
    MPI_Waitall(n_tokens, token_req, MPI_STATUSES_IGNORE);
    return 0;
}

static clnet_status allreduce(void *user, float *data, size_t n)
{
    train_run *r = user;
    char what[96];
    snprintf(what, sizeof what, "the gradient sum of update %llu",
             (unsigned long long)clnet_model_step(r->model) + 1);
    /* MPI counts are ints: the sum goes in pieces past 2^31 floats. */
    for (size_t off = 0; off < n;) {
        int count = n - off > (size_t)INT_MAX ? INT_MAX : (int)(n - off);
        MPI_Request req;
        post_tokens(&r->world);
        if (MPI_Iallreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, comm,
                           &req) != MPI_SUCCESS ||
            wait_timed(r, &req, what, r->world.timeout_s) != 0)
            return CLNET_EINTERRUPTED;
        off += (size_t)count;
    }
    return CLNET_OK;
}

int world_attach(train_run *r)
{
    if (r->world.size < 2)
        return 0;
    /* Buckets call allreduce from the model's thread: MPI must allow calls
     * from more than the main thread, one at a time. */
    size_t bucket = (size_t)r->opts.bucket_kib * 1024;
    if (bucket && thread_level < MPI_THREAD_SERIALIZED) {
        if (r->world.rank == 0)
            fprintf(stderr, "clnet-train: warning: this MPI allows calls from the main "
                            "thread only; the gradients are summed after backward "
                            "(--bucket-kib 0)\n");
        bucket = 0;
    }
    clnet_reducer red = {allreduce, r, r->world.size, r->opts.sync_bn > 0, bucket};
    if (clnet_model_set_reducer(r->model, &red) != CLNET_OK) {
        fprintf(stderr, "clnet-train: %s\n", clnet_errmsg(r->ctx));
        return -1;
    }
    return 0;
}

int world_sum_stats(train_run *r, clnet_stats *s)
{
    r->world.stop = train_stop_requested != 0;
    if (r->world.size < 2)
        return 0;
    double v[6] = {s->loss_sum, s->correct, s->correct5, s->samples, s->nonfinite,
                   r->world.stop};
    MPI_Request req;
    post_tokens(&r->world);
    if (MPI_Iallreduce(MPI_IN_PLACE, v, 6, MPI_DOUBLE, MPI_SUM, comm, &req) != MPI_SUCCESS ||
        wait_timed(r, &req, "the sum of the loss counters", r->world.timeout_s) != 0)
        return -1;
    /* The loss scale is the same on every rank (same summed gradients). */
    *s = (clnet_stats){v[0], v[1], v[2], v[3], v[4] > 0, s->loss_scale, s->skipped_updates};
    r->world.stop = v[5] > 0;
    return 0;
}

int world_epoch_end(train_run *r, const char *what, double allowance)
{
    r->world.stop = train_stop_requested != 0;
    if (r->world.size < 2)
        return 0;
    uint64_t h;
    if (clnet_model_checksum(r->model, &h) != CLNET_OK) {
        fprintf(stderr, "clnet-train: rank %d: %s\n", r->world.rank, clnet_errmsg(r->ctx));
        return -1;
    }
    /* max(h) and max(~h) = ~min(h): equal parameters everywhere iff they
     * agree. */
    uint64_t v[3] = {h, ~h, (uint64_t)r->world.stop};
    MPI_Request req;
    post_tokens(&r->world);
    if (MPI_Iallreduce(MPI_IN_PLACE, v, 3, MPI_UINT64_T, MPI_MAX, comm, &req) !=
            MPI_SUCCESS ||
        wait_timed(r, &req, what,
                   r->world.timeout_s + allowance) != 0)
        return -1;
    if (v[0] != ~v[1]) {
        fprintf(stderr, "clnet-train: rank %d: the ranks' parameters differ at step %llu "
                "(checksums from %016llx to %016llx): the gradient sums did not "
                "give every rank the same bits\n", r->world.rank,
                (unsigned long long)clnet_model_step(r->model),
                (unsigned long long)~v[1], (unsigned long long)v[0]);
        return -1;
    }
    r->world.stop = v[2] != 0;
    return 0;
}

int world_finish(train_world *w, int rc)
{
    if (comm == MPI_COMM_NULL)
        return rc;
    if (rc != 0 && rc != 130 && w->size > 1) {
        /* The others would wait for this rank: stop them now. */
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(comm, rc);
    }
    if (ping_req != MPI_REQUEST_NULL) {
        MPI_Cancel(&ping_req);
        MPI_Wait(&ping_req, MPI_STATUS_IGNORE);
    }
    MPI_Comm_free(&comm);
    MPI_Finalize();
    free(token_in);
    free(token_req);
    return rc;
}
