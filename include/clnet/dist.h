/*
 * clnet data parallel: one model replica per device (or per process), the
 * gradients summed across replicas before every update, so every replica
 * applies the same update and the parameters stay identical.
 *
 * The library does no communication of its own. A replica's model calls the
 * reducer it was given once per update, after its backward, with its summed
 * parameter gradients in host memory; the reducer adds up every replica's
 * and hands the same sum back to each. clnet-train fills it with Open MPI
 * across processes, and with clnet_local_group (below) across devices of
 * one process; an application may fill it with anything else.
 *
 * The batch a replica's model is bound to is its share of the global
 * batch; each replica's loss gradient is divided by `replicas`, so the sum
 * is the gradient of the mean loss over the global batch. Batchnorm uses
 * each replica's own batch statistics (as PyTorch DDP) unless the reducer
 * asks for sync_batchnorm.
 *
 * Example: two replicas on the two halves of one device, a thread each
 *   #include <clnet/clnet.h>
 *   #include <pthread.h>
 *
 *   static clnet_local_group *group;
 *   static float images[64 * 784]; // a global batch of 64 (yours to fill)
 *   static int32_t labels[64];
 *
 *   static void *replica(void *arg)
 *   {
 *       int r = *(const int *)arg;
 *       clnet_ctx_settings cs;
 *       clnet_ctx_default_settings(&cs);
 *       cs.partition = 2; // this replica's half of the device
 *       cs.partition_index = r;
 *       clnet_model_settings ms;
 *       clnet_model_default_settings(&ms);
 *       ms.batch = 32; // its share of the global batch
 *       clnet_reducer red = clnet_local_group_reducer(group, r);
 *       red.bucket_bytes = 256 << 10; // sums overlap backward
 *       clnet_ctx *ctx = NULL;
 *       clnet_model *m = NULL;
 *       int ok = clnet_ctx_create(&ctx, &cs) == CLNET_OK &&
 *                clnet_model_load(ctx, "models/lenet.cfg", &ms, &m) == CLNET_OK &&
 *                clnet_model_set_reducer(m, &red) == CLNET_OK;
 *       for (int step = 0; ok && step < 100; step++)
 *           ok = clnet_model_set_batch(m, images + r * 32 * 784, labels + r * 32,
 *                                      32) == CLNET_OK &&
 *                clnet_model_train_step(m) == CLNET_OK;
 *       if (!ok) // the other replica would wait for this one: stop it too
 *           clnet_local_group_abort(group);
 *       clnet_model_free(m);
 *       clnet_ctx_free(ctx);
 *       return NULL;
 *   }
 *
 *   int main(void)
 *   {
 *       static const int ids[2] = {0, 1};
 *       pthread_t t[2];
 *       clnet_local_group_create(2, 60, &group);
 *       for (int r = 0; r < 2; r++)
 *           pthread_create(&t[r], NULL, replica, (void *)&ids[r]);
 *       for (int r = 0; r < 2; r++)
 *           pthread_join(t[r], NULL);
 *       clnet_local_group_free(group);
 *       return 0;
 *   }
 */
#ifndef CLNET_DIST_H
#define CLNET_DIST_H

#include "clnet/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clnet_reducer {
    /* Sums data[0..n) element-wise across all replicas, in place. Every
     * replica must get the same bits back (add in one fixed order). Called
     * from the thread running the replica's step; an error fails the step
     * (the model's parameters are then not updated). */
    clnet_status (*allreduce)(void *user, float *data, size_t n);
    void *user;
    int replicas;           /* how many replicas the sums span (>= 1) */
    /* 1: batchnorm layers in training use the batch statistics of every
     * replica's batch (as PyTorch's SyncBatchNorm), summed through
     * allreduce as well: two calls of C floats in each batchnorm's forward
     * and one of 2C in its backward, in layer order, the same on every
     * replica. 0: each replica's own batch (as PyTorch DDP). */
    int sync_batchnorm;
    /* 0: one allreduce of all the gradients once backward is done. > 0:
     * the gradients go in buckets of about this many bytes, each summed as
     * soon as backward has produced it while backward computes the rest
     * (allreduce is then called once per bucket, in the same order on
     * every replica, from a thread of the model's own, one call at a
     * time). Not with sync_batchnorm, whose sums come in between: 0 then. */
    size_t bucket_bytes;
} clnet_reducer;

/* Where the gradient sums' time went, since the model was loaded. */
typedef struct clnet_reduce_stats {
    uint64_t updates;        /* updates whose gradients were summed */
    uint64_t sums;           /* allreduce calls for them (buckets) */
    double seconds;          /* inside those calls, waits for peers included */
    double exposed_seconds;  /* of the steps' time after the device had
                                finished backward, until the sums were in
                                (device-host copies included): what
                                overlapping did not hide */
} clnet_reduce_stats;

clnet_status clnet_model_reduce_stats(const clnet_model *m, clnet_reduce_stats *out);

/* Gives the model a reducer (copied), or takes it away (NULL). Refused in
 * the middle of a gradient accumulation. The reducer's bucket_bytes > 0
 * starts the model's reduction thread. */
clnet_status clnet_model_set_reducer(clnet_model *m, const clnet_reducer *r);

/* A 64-bit hash of the model's parameters, and of its running statistics
 * when batchnorm is synchronised: replicas that stayed in step have equal
 * checksums. (Without sync_batchnorm each replica's running statistics
 * follow its own batches, as in PyTorch DDP without broadcast_buffers; a
 * tool saves replica 0's.) Waits for the device. */
clnet_status clnet_model_checksum(clnet_model *m, uint64_t *out);

/* Copies src's parameters, running statistics, optimizer state and step
 * into dst, a replica of the same model file (another device's context
 * allowed): replicas start from one state (a resumed or fine-tuned one). */
clnet_status clnet_model_copy_state(clnet_model *dst, clnet_model *src);

/* ---- replicas in one process ------------------------------------------ */

/* `replicas` threads meet in each allreduce; a replica that has not arrived
 * within timeout_s seconds (or a clnet_local_group_abort) fails the others'
 * allreduce, naming it, instead of leaving them waiting. */
typedef struct clnet_local_group clnet_local_group;

clnet_status clnet_local_group_create(int replicas, int timeout_s,
                                      clnet_local_group **out);
void clnet_local_group_free(clnet_local_group *g);
/* The reducer of replica `rank` (0 .. replicas-1). */
clnet_reducer clnet_local_group_reducer(clnet_local_group *g, int rank);
/* Makes every waiting and future allreduce of the group fail. */
void clnet_local_group_abort(clnet_local_group *g);
/* The group's last failure, "" if none (e.g. "replica 1 did not arrive
 * within 60 s"). Borrowed until the next call on the group. */
const char *clnet_local_group_error(clnet_local_group *g);

#ifdef __cplusplus
}
#endif

#endif
