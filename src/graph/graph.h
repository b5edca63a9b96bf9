/* The graph executor: a model description bound to device memory for one
 * batch size and mode, with forward and backward launch sequences.
 *
 * Memory: parameters, their gradients and the persistent state (batchnorm
 * running statistics) are each one flat buffer, so the optimizer updates all
 * parameters in one launch and a checkpoint is a few reads. Activations,
 * activation gradients, saved tensors and scratch are placed by a liveness
 * plan (memplan.h) in one arena: in training, activation gradients are short
 * lived and share memory; in inference, activations do too. Nothing is
 * allocated per step. */
#ifndef CLNET_GRAPH_H
#define CLNET_GRAPH_H

#include "io/model_desc.h"
#include "ocl/ocl.h"
#include "ops/op.h"

/* One learnable parameter or state tensor inside its flat buffer. */
typedef struct clnet__param_ref {
    char name[CLNET__NAME_MAX + 32]; /* PyTorch-style, e.g. "conv1.weight" */
    int layer;
    clnet__dims dims;
    size_t offset, count;    /* floats within the flat buffer */
    clnet__init init;
    int decay;
} clnet__param_ref;

typedef struct clnet__graph_layer {
    clnet__op_io io;          /* tensors bound for this batch size */
    int out_grad_first_use;   /* zero its dout before this backward step */
    /* Frozen (fine-tuning): its parameters get no gradient and no update,
     * and an op with persistent state (batchnorm's running statistics)
     * runs in its inference form in training steps too, so that nothing of
     * the layer changes (PyTorch's requires_grad_(False) plus bn.eval()). */
    int frozen;
    /* Some trained parameter depends on this layer's output, so backward
     * needs its output gradient (clnet__graph_update_frozen). */
    int grad_wanted;
    /* A relu run by the layer before it (fuse.c): launches nothing. */
    int fused;
} clnet__graph_layer;

typedef struct clnet__graph {
    clnet_ctx *ctx;
    const clnet__model_desc *desc;   /* borrowed; outlives the graph */
    int batch;
    int training;                    /* 1: saved tensors and gradients */

    clnet__graph_layer *layers;      /* desc->n_layers */
    /* Recompute segments (recompute.c): backward replays every segment's
     * forward but the last's before running its backward. */
    int n_segments;
    int *segment_last;               /* last layer of each segment */

    int n_params, n_state;
    clnet__param_ref *params;        /* weights/biases in params_buf order */
    clnet__param_ref *state;         /* running stats in state_buf order */
    size_t params_count, state_count;/* floats */
    clnet__buf *params_buf, *grads_buf, *state_buf;

    clnet__buf **arena;              /* activations, grads, saved, scratch: */
    size_t n_arena;                  /* one buffer, or chunks (memplan.h) */
    size_t arena_bytes;              /* all chunks */
    size_t naive_bytes;              /* the same without sharing */

    /* Two input/label slots, so the next batch uploads while the current
     * one computes; input/labels are the slot the next step reads. */
    clnet__tensor input_slot[2], labels_slot[2];
    clnet__tensor input;             /* [batch, C, H, W] */
    clnet__tensor labels;            /* batch int32 */
    clnet__tensor logits, dlogits;   /* last layer's output and its grad */
    clnet__tensor stats;             /* CLNET__STAT_COUNT accumulators */
    clnet__tensor xent_work;
    clnet__buf *io_buf;              /* input, labels, stats, xent work */
    /* Sync batchnorm across replicas (the model's reducer asks for it):
     * sync.sum NULL when off. */
    clnet__sync sync;
    /* Called after each layer's backward is enqueued, layers in decreasing
     * order (gradient buckets, src/dist/buckets.c); NULL: none. */
    clnet_status (*after_backward)(void *user, int layer);
    void *after_backward_user;
} clnet__graph;

/* Recompute segments (recompute.c): the last layer of each segment into
 * last[] (room for n_layers), in order; returns how many. One segment
 * (nothing replayed) unless the description has recompute on and the
 * graph trains. */
int clnet__recompute_segments(const clnet__model_desc *m, int training, int *last);

/* Fusion (fuse.c): the layer a relu j is fused into, or -1. */
int clnet__fused_into(const clnet__model_desc *m, int j);

/* Binds desc (planned for `batch`) to device memory. Parameters are left
 * uninitialised (clnet__graph_init_params). */
clnet_status clnet__graph_create(clnet_ctx *ctx, const clnet__model_desc *desc,
                                 int batch, int training, clnet__graph **out);
void clnet__graph_free(clnet__graph *g);

/* Deterministic initialisation of every parameter and state tensor. */
clnet_status clnet__graph_init_params(clnet__graph *g, uint64_t seed,
                                      const char *scheme);

/* Enqueues forward for the current input (training: batch statistics,
 * dropout, saved tensors). step_seed feeds dropout masks. */
clnet_status clnet__graph_forward(clnet__graph *g, int training,
                                  uint64_t step_seed);
/* Loss on the first n rows of the logits against the labels; accumulates
 * into stats and (when grad_scale is not 0) writes dlogits, the gradient of
 * the mean loss times grad_scale. */
clnet_status clnet__graph_loss(clnet__graph *g, int n, float label_smoothing,
                               float grad_scale);
/* Makes slot 0 or 1 the input of the next forward/backward. */
void clnet__graph_use_slot(clnet__graph *g, int slot);
/* Zeroes parameter gradients (unless accumulate: they are added to), then
 * enqueues backward in reverse order, replaying each recompute segment's
 * forward before its backward. step_seed must be the forward's. Frozen
 * layers get no parameter gradients, and a layer no trained parameter
 * depends on is skipped (no input gradient work either). */
clnet_status clnet__graph_backward(clnet__graph *g, uint64_t step_seed,
                                   int accumulate);
/* After changing layers[].frozen: which output gradients backward needs. */
void clnet__graph_update_frozen(clnet__graph *g);

/* Total bytes of the plan (arena + flat buffers) and the naive sum. */
void clnet__graph_memory(const clnet__graph *g, size_t *planned, size_t *naive);

/* What binding desc (at its planned batch) would take on the device, known
 * before anything is allocated: the model's memory check and its batch
 * suggestion use it. cap is the largest buffer the device allows. */
typedef struct clnet__graph_need {
    size_t params, grads, state, io;  /* bytes of the flat buffers */
    size_t arena;                     /* activations etc., all chunks */
    size_t n_chunks;                  /* buffers the arena takes */
    size_t largest;                   /* the largest single arena tensor */
    char largest_what[CLNET__NAME_MAX + 32]; /* e.g. "layer conv1's output" */
    size_t device;                    /* all of it as the pool allocates it */
    size_t device_arena, device_io;   /* the same for the arena, the inputs */
} clnet__graph_need;
clnet_status clnet__graph_need_of(clnet_ctx *ctx, const clnet__model_desc *desc,
                                  int training, size_t cap, clnet__graph_need *out);

#endif
