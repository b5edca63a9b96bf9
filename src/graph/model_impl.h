/* The model handle's fields, shared by the files implementing clnet_model_*
 * (model.c: lifecycle and settings; model_step.c: batches and steps;
 * model_optim.c: the optimizer binding; checkpoint code in train/). */
#ifndef CLNET_MODEL_IMPL_H
#define CLNET_MODEL_IMPL_H

#include "clnet/dist.h"
#include "clnet/model.h"
#include "graph/graph.h"
#include "io/model_desc.h"
#include "train/optim.h"

/* fp16-storage (clnet_precision): activations and their gradients stored
 * as half (graph.c, lifetimes), arithmetic in fp32. 0 would refuse it
 * (model.c, precision_check) and never suggest it. */
#define CLNET__FP16_STORAGE 1

struct clnet__optim;

typedef struct clnet__pending_upload {
    clnet__upload images, labels;
} clnet__pending_upload;

struct clnet_model {
    clnet_ctx *ctx;
    clnet__model_desc *desc;
    clnet__graph *graph;
    clnet_model_settings settings;
    clnet_train_settings recipe;
    struct clnet__optim *optim;
    uint64_t step;              /* training steps (updates) taken */
    int micro;                  /* micro-batches accumulated since the last
                                   update (recipe.accumulate) */
    int slot;                   /* input slot the next step reads */
    int batch_n;                /* rows in that slot */
    int batch_has_labels;
    clnet__pending_upload upload[2];
    clnet__marker slot_done[2]; /* last step that read each slot */
    char **meta;                /* key, value, key, value... of the last */
    size_t n_meta;              /* checkpoint loaded (pairs) */
    /* What clnet_model_read_stats last saw when it reported nonfinite:
     * whether the optimizer recorded a gradient (train/optim.h), and the
     * record. */
    int nonfinite_seen, nonfinite_recorded;
    clnet__nonfinite nonfinite;
    /* Data parallel (src/dist/replica.c): the reducer, and its host copy
     * of the gradients. */
    clnet_reducer reducer;
    float *reduce_host;
    struct clnet__buckets *buckets; /* reducer.bucket_bytes > 0 */
    clnet_reduce_stats reduce_stats;
};

/* Replicas the reducer spans (1 without one), and the reduction of the
 * parameter gradients before an update (src/dist/replica.c). */
int clnet__model_replicas(const clnet_model *m);
clnet_status clnet__model_reduce(clnet_model *m);
void clnet__reduce_stats_add(clnet_model *m, int sums, double busy, double exposed);

/* Gradient buckets (src/dist/buckets.c): the reduction overlapped with
 * backward. begin before the update's backward (it hooks the graph), then
 * finish with backward's status: it waits for every bucket's sum and
 * writes the sums back. */
typedef struct clnet__buckets clnet__buckets;
clnet_status clnet__buckets_create(clnet_model *m, size_t bucket_bytes,
                                   clnet__buckets **out);
void clnet__buckets_free(clnet__buckets *b);
void clnet__buckets_begin(clnet__buckets *b);
clnet_status clnet__buckets_finish(clnet__buckets *b, clnet_status backward_st);

clnet_status clnet__model_optim_create(clnet_model *m);
/* The loss scale the optimizer starts with: the recipe's, or 65536 for
 * precision fp16 when the recipe has none (0: off). */
float clnet__model_loss_scale(const clnet_model *m);
void clnet__model_optim_free(clnet_model *m);
size_t clnet__model_optim_bytes(const clnet_model *m);
/* Enqueues one optimizer update of all parameters (one launch; one per
 * range between frozen layers' parameters when some are frozen). */
clnet_status clnet__model_optim_step(clnet_model *m);
/* Hands the frozen layers' parameter ranges to the optimizer (after the
 * graph's frozen flags changed; model_freeze.c). */
clnet_status clnet__model_optim_frozen(clnet_model *m);
/* The frozen layers as "name,name,...", the form checkpoints store, into
 * buf (cap bytes); returns the length it needs (model_freeze.c). */
size_t clnet__model_frozen_list(const clnet_model *m, char *buf, size_t cap);
/* Parses such a list into flags (one per layer; 1 frozen) without touching
 * m: CLNET_EFORMAT naming `source` and the first unknown name. */
clnet_status clnet__model_frozen_parse(const clnet_model *m, const char *list,
                                       const char *source, unsigned char *flags);
/* Sets every layer's frozen flag from flags, then updates the executor and
 * the optimizer. */
clnet_status clnet__model_frozen_apply(clnet_model *m, const unsigned char *flags);
/* Frees the metadata of the last checkpoint loaded (model.c). */
void clnet__model_meta_clear(clnet_model *m);
/* Turns recompute off (with an info log) where its plan holds no less
 * activation memory than without: it would cost time and save nothing
 * (the peak lies inside one segment, as in a small CNN). */
void clnet__model_drop_idle_recompute(clnet_ctx *ctx, clnet__model_desc *desc, int training,
                                      const clnet_train_settings *recipe);
/* Refuses (CLNET_ENOMEM, with the bytes needed, the bytes the device has
 * and a batch size that fits) a description that cannot fit the device
 * with this recipe, before anything is allocated. */
clnet_status clnet__model_check_memory(clnet_ctx *ctx, clnet__model_desc *desc,
                                       int training,
                                       const clnet_train_settings *recipe);
/* The largest batch below `below` with which desc parses and fits the
 * device (0: none); desc is left planned for its own batch. */
int clnet__model_fitting_batch(clnet_ctx *ctx, clnet__model_desc *desc,
                               int training, const clnet_train_settings *recipe,
                               int below);
/* clnet_model_plan_memory for a parsed description (its memory options
 * set): the plan at its batch and the largest batch that fits. */
clnet_status clnet__model_plan(clnet_ctx *ctx, clnet__model_desc *d, int training,
                               const clnet_train_settings *r, clnet_memory_plan *out);
/* The built-in recipe under the model file's [train] section (model.c). */
void clnet__model_recipe(const clnet__model_desc *d, clnet_train_settings *out);

#endif
