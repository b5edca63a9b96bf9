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
 * each replica's own batch statistics (as PyTorch DDP).
 *
 * Example: two sub-devices of one CPU, one thread each
 *   clnet_local_group *g;
 *   clnet_local_group_create(2, 60, &g);
 *   // thread r: ctx on part r (clnet_ctx_settings.partition = 2,
 *   // .partition_index = r), model at half the batch, then
 *   clnet_reducer red = clnet_local_group_reducer(g, r);
 *   clnet_model_set_reducer(model, &red);
 *   ... clnet_model_train_step(model) as usual, each replica its shard ...
 *   // on an error in thread r: clnet_local_group_abort(g) (the others'
 *   // steps then fail instead of waiting)
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
} clnet_reducer;

/* Gives the model a reducer (copied), or takes it away (NULL). Refused in
 * the middle of a gradient accumulation. */
clnet_status clnet_model_set_reducer(clnet_model *m, const clnet_reducer *r);

/* A 64-bit hash of the model's parameters and running statistics: replicas
 * that stayed in step have equal checksums. Waits for the device. */
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
