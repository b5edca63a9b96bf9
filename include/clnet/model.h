/*
 * clnet models: load a network from a model file, train it batch by batch,
 * run inference, save and resume checkpoints.
 *
 * Overview
 *   A clnet_model is a network (from a models/NAME.cfg file) bound to a
 *   context's device for one batch size: its parameters, gradients,
 *   optimizer state and activations stay on the device. The host uploads a
 *   batch (non-blocking), enqueues a step, and reads back only the running
 *   loss/accuracy counters, when it asks for them.
 *
 * Example: train on synthetic data, save, reload
 *   clnet_model_settings ms;
 *   clnet_model_default_settings(&ms);
 *   ms.batch = 32;
 *   clnet_model *m = NULL;
 *   if (clnet_model_load(ctx, "models/lenet.cfg", &ms, &m) != CLNET_OK)
 *       fail(clnet_errmsg(ctx));
 *   clnet_model_info info;
 *   clnet_model_get_info(m, &info);        // input shape, classes, sizes
 *   clnet_train_settings ts;
 *   clnet_model_get_train_settings(m, &ts); // the file's [train] recipe
 *   ts.lr = 0.05f;
 *   clnet_model_set_train_settings(m, &ts);
 *   for (int step = 0; step < 100; step++) {
 *       make_batch(images, labels);         // 32 x C x H x W floats, 32 labels
 *       clnet_model_set_batch(m, images, labels, 32);
 *       clnet_model_train_step(m);          // errors: check the status
 *   }
 *   clnet_stats st;
 *   clnet_model_read_stats(m, &st, 1);      // the one host/device sync
 *   printf("loss %.3f acc %.3f\n", st.loss_sum / st.samples,
 *          st.correct / st.samples);
 *   clnet_model_save(m, "run/last.safetensors", NULL, 0); // no metadata
 *   clnet_model_free(m);
 *   clnet_model *back = NULL;      // network and state from the file alone
 *   if (clnet_model_open_checkpoint(ctx, "run/last.safetensors", NULL,
 *                                   &back) != CLNET_OK)
 *       fail(clnet_errmsg(ctx));
 *   clnet_model_free(back);
 *
 * Ownership and threads
 *   clnet_model_free releases everything the model allocated; the context
 *   must outlive its models. A model is used by one thread at a time.
 */
#ifndef CLNET_MODEL_H
#define CLNET_MODEL_H

#include "clnet/clnet.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clnet_model clnet_model;

typedef enum clnet_precision {
    CLNET_PRECISION_FP32 = 0,     /* everything fp32 */
    CLNET_PRECISION_FP16_STORAGE, /* layer outputs (all but the logits)
                                     stored as 16-bit floats (vload_half/
                                     vstore_half, core OpenCL: every
                                     device); fp32 math, gradients between
                                     layers, parameters, logits and loss */
    CLNET_PRECISION_FP16,         /* fp16-storage plus the gradients between
                                     layers half and GEMM operands rounded
                                     to half (fp32 sums); fp32 master
                                     weights; dynamic loss scaling on
                                     (clnet_train_settings.loss_scale).
                                     Needs cl_khr_fp16: CLNET_EUNSUPPORTED
                                     on a device without it */
} clnet_precision;

typedef struct clnet_model_settings {
    int batch;          /* 0: the model file's [net] batch */
    int training;       /* 1 (default): gradients and optimizer state too */
    uint64_t seed;      /* initialisation and dropout masks (default 1) */
    const char *init;   /* NULL/"kaiming_uniform", "kaiming_normal",
                           "xavier", "torch" (PyTorch's default init) */
    /* Another input size or class count than the model file's [net] (0: the
     * file's). The file's text is rewritten (the class count also sets the
     * `outputs`/`filters` of the dense or conv layer that makes the logits)
     * and checked like any model file; a network whose shapes do not allow
     * the size (no global pooling before a dense layer) is refused with the
     * usual shape message. */
    int channels, height, width, classes;
    /* Memory options (README, "Fitting a model in memory").
     * recompute: keep only the activations at segment boundaries in forward
     * and recompute the rest during backward, one segment at a time (0: the
     * model file's [net] recompute=, off when absent; 1 on; -1 off).
     * precision: how activations and their gradients are stored and
     * computed (parameters, their gradients and optimizer state stay fp32). */
    int recompute;
    clnet_precision precision;
} clnet_model_settings;

void clnet_model_default_settings(clnet_model_settings *s);

/* Loads a model file and initialises its parameters. Errors name the file
 * and line (clnet_errmsg(ctx)). A model whose memory plan at this batch
 * does not fit the device (its global memory, less what the context's
 * other models use, or its largest buffer) is refused before anything is
 * allocated: CLNET_ENOMEM, and the message gives the bytes needed, the
 * bytes the device has and the largest batch that fits. */
clnet_status clnet_model_load(clnet_ctx *ctx, const char *cfg_path,
                              const clnet_model_settings *s, clnet_model **out);
/* The same from text; label names it in messages. */
clnet_status clnet_model_load_string(clnet_ctx *ctx, const char *label,
                                     const char *cfg_text,
                                     const clnet_model_settings *s,
                                     clnet_model **out);
void clnet_model_free(clnet_model *m);
/* The model file text the model was built from, after any input size or
 * class count of its settings was written into it (what checkpoints store);
 * owned by the model. */
const char *clnet_model_text(const clnet_model *m);

typedef struct clnet_model_info {
    int channels, height, width;   /* input of one image */
    int classes;
    int batch;                     /* the batch size the model is bound to */
    int layers;
    size_t params;                 /* learnable parameters */
    size_t memory_planned;         /* device bytes with the memory plan */
    size_t memory_naive;           /* device bytes without sharing */
    int recompute_segments;        /* recompute: segments backward replays
                                      (1: recompute off) */
} clnet_model_info;

clnet_status clnet_model_get_info(const clnet_model *m, clnet_model_info *out);

/* What a model would take on the context's device with the settings'
 * batch, training flag and memory options (recompute, precision), known
 * before anything is allocated; nothing is allocated. For gradient
 * accumulation plan the micro-batch. clnet-train --plan prints a table of
 * these. A model file whose shapes do not allow the batch gives the parse
 * error. */
typedef struct clnet_memory_plan {
    int batch;              /* the batch planned */
    size_t activations;     /* activations, their gradients, saved tensors,
                               scratch: what the memory options change */
    size_t weights;         /* parameters, their gradients, optimizer state,
                               running statistics */
    size_t inputs;          /* the two input batches */
    size_t total;           /* all of it, as the device allocates it */
    int fits;               /* 1: fits the device's free memory and its
                               largest buffer */
    int largest_batch;      /* the largest batch that fits (0: none) */
} clnet_memory_plan;

clnet_status clnet_model_plan_memory(clnet_ctx *ctx, const char *cfg_path,
                                     const clnet_model_settings *s,
                                     clnet_memory_plan *out);

typedef enum clnet_optimizer {
    CLNET_OPTIM_SGD = 0,
    CLNET_OPTIM_ADAM = 1,
    CLNET_OPTIM_ADAMW = 2
} clnet_optimizer;

typedef struct clnet_train_settings {
    clnet_optimizer optimizer;
    float lr;               /* the learning rate of the next steps */
    float momentum;         /* SGD */
    int nesterov;           /* SGD */
    float weight_decay;     /* L2 (SGD, Adam) or decoupled (AdamW); never
                               applied to biases and batchnorm parameters */
    float beta1, beta2, eps;/* Adam, AdamW */
    float clip_norm;        /* > 0: clip gradients to this global norm */
    float label_smoothing;  /* softmax cross-entropy */
    /* Gradient accumulation: clnet_model_train_step sums the gradients of
     * this many batches (micro-batches) and updates the parameters after
     * the last of them, as one step over all their images would (0 or 1:
     * every batch). Batchnorm uses each micro-batch's own statistics, as
     * PyTorch does; clnet_model_step counts updates. */
    int accumulate;
    /* Dynamic loss scaling, as PyTorch's GradScaler: the loss gradient is
     * multiplied by a scale S before backward and the gradients divided by
     * S before the update; an update whose gradients overflowed (NaN/Inf)
     * is skipped and S halves; after loss_scale_interval good updates in a
     * row S doubles. S stays a power of two times the start, so with fp32
     * gradients the updates are bit-identical to unscaled ones.
     * loss_scale: the starting S (> 0, within [2^-24, 2^24]; PyTorch's is
     * 65536), or 0 for off; precision fp16 needs it and turns it on with
     * 65536 when 0. loss_scale_interval: 0 means 2000 (PyTorch's). The
     * current S and the skipped updates come with clnet_model_read_stats,
     * and checkpoints keep them. */
    float loss_scale;
    int loss_scale_interval;
} clnet_train_settings;

/* The recipe of the model file's [train] section over built-in defaults
 * (SGD, lr 0.01, momentum 0.9, no decay). */
clnet_status clnet_model_get_train_settings(const clnet_model *m,
                                            clnet_train_settings *out);
clnet_status clnet_model_set_train_settings(clnet_model *m,
                                            const clnet_train_settings *s);
/* The rest of the model file's [train] section: how a trainer runs the
 * recipe. Numbers the file does not set are negative, strings "". */
typedef struct clnet_train_plan {
    char schedule[16];      /* constant | step | cosine | onecycle */
    int epochs;
    int warmup_epochs;      /* cosine warm-up */
    int step_epochs;        /* step schedule period */
    float gamma;            /* step schedule factor */
    char augment[128];      /* e.g. "flip,crop" */
} clnet_train_plan;

clnet_status clnet_model_get_train_plan(const clnet_model *m,
                                        clnet_train_plan *out);

/* Micro-batches of the current accumulation done so far (0: at an update
 * boundary, where checkpoints can be saved). */
int clnet_model_accumulated(const clnet_model *m);

/* Changes only the learning rate (schedules call this every step). */
clnet_status clnet_model_set_lr(clnet_model *m, float lr);

/* ---- freezing layers (fine-tuning) -------------------------------------- */

/* Freezes (frozen = 1) or unfreezes (frozen = 0) every layer whose name
 * starts with one of prefixes[0..n) ("" matches every layer); other layers
 * keep their flags. Every prefix is checked before anything changes: one
 * that matches no layer gives CLNET_ENOTFOUND, and the message names it.
 *   const char *const fixed[] = {"conv1", "bn1", "layer1_"};
 *   clnet_model_set_frozen(m, fixed, 3, 1);
 * From the next training step, a frozen layer's parameters get no gradient
 * and no optimizer update: no momentum or Adam moment change, no weight
 * decay (the moments are kept, so unfreezing resumes from them). Backward
 * skips the frozen layers' weight and bias gradients but still passes input
 * gradients through them to trained layers before them; a layer that no
 * trained layer depends on (one before the first trained layer, say) gets
 * no backward at all, so freezing a backbone makes steps cheaper (about 3x
 * for resnet20's backbone on a CPU). A frozen batchnorm normalises
 * with its running statistics in training steps too and leaves them
 * unchanged (PyTorch's bn.eval()); its backward is then the affine
 * inference form. Dropout stays active. Flags may change between any two
 * steps; checkpoints store them and clnet_model_load_checkpoint restores
 * them. Adam's bias correction counts the model's steps, not each
 * parameter's updates as PyTorch does: a layer unfrozen after t steps,
 * with zero moments, gets the correction of step t + 1 rather than 1. */
clnet_status clnet_model_set_frozen(clnet_model *m, const char *const *prefixes,
                                    size_t n, int frozen);
/* The same for the backbone: every layer before the head, i.e. before the
 * last layer with learnable parameters (the classifier a fine-tuning run
 * retrains; layers after it keep their flags). CLNET_ENOTFOUND when no
 * layer with parameters comes before it. */
clnet_status clnet_model_set_backbone_frozen(clnet_model *m, int frozen);
/* 1 when the layer called name is frozen, 0 when not, -1 when the model has
 * no layer of that name. */
int clnet_model_layer_frozen(const clnet_model *m, const char *name);
/* Learnable parameters (elements) of the frozen layers: training updates
 * clnet_model_info's params less this many. */
size_t clnet_model_frozen_params(const clnet_model *m);

/* Starts copying a batch to the device without waiting: images are n x C x
 * H x W float32 (NCHW), labels n int32 class indices (NULL for predict).
 * 1 <= n <= batch; a training step needs a full batch. Both arrays must stay
 * valid and unchanged until the next step call on this model returns. */
clnet_status clnet_model_set_batch(clnet_model *m, const float *images,
                                   const int32_t *labels, int n);

/* Forward (training mode), loss, backward and one optimizer update on the
 * last batch set; adds to the running counters. Does not wait for the
 * device. */
clnet_status clnet_model_train_step(clnet_model *m);
/* Forward (inference mode) and loss counters only. */
clnet_status clnet_model_eval_step(clnet_model *m);
/* Forward (inference mode) and softmax: copies n x classes probabilities. */
clnet_status clnet_model_predict(clnet_model *m, float *probs);

typedef struct clnet_stats {
    double loss_sum;        /* sum of per-sample losses */
    double correct;         /* top-1 correct samples */
    double correct5;        /* top-5 correct samples */
    double samples;
    int nonfinite;          /* a NaN/Inf was seen in the loss */
    /* Loss scaling (clnet_train_settings.loss_scale; 1 and 0 without):
     * the current scale, and the updates skipped since training began
     * (an overflow in their gradients), not reset by reset. */
    double loss_scale;
    double skipped_updates;
} clnet_stats;

/* Waits for the device and reads the counters accumulated since the last
 * reset; reset = 1 zeroes them. */
clnet_status clnet_model_read_stats(clnet_model *m, clnet_stats *out,
                                    int reset);

/* After clnet_model_read_stats reported nonfinite: where it began, as one
 * line into buf (cap bytes). The optimizer launch that sets the flag also
 * records, at no extra sync, the first step with a non-finite gradient,
 * whether the loss was already NaN/Inf in that step, and the parameter
 * nearest the loss whose gradient was NaN or Inf (backward spreads a bad
 * value to every layer before it, so that is where it began):
 *   "gradient of conv2.weight is Inf (first at step 12, with a finite loss)"
 *   "the loss became NaN or Inf at step 3 (the forward pass overflowed, so
 *    every gradient from fc3.bias back is NaN)"
 * "the loss is NaN or Inf" when no gradient was recorded (eval only); ""
 * when nothing non-finite was seen. */
clnet_status clnet_model_find_nonfinite(const clnet_model *m, char *buf,
                                        size_t cap);

/* Training steps taken (restored from a checkpoint). */
uint64_t clnet_model_step(const clnet_model *m);

/* ---- checkpoints (safetensors) ------------------------------------------ */

/* A caller's key/value string stored in a checkpoint's __metadata__ (the
 * trainer keeps epoch, loader position, class names, normalisation there). */
typedef struct clnet_meta {
    const char *key;
    const char *value;
} clnet_meta;

/* Writes parameters (PyTorch names: "conv1.weight", "bn1.running_mean"),
 * optimizer moments ("optim.*", flat), the step, the recipe, the running
 * counters clnet_model_read_stats would return, the frozen layers
 * ("train.frozen": names, comma-separated), the model file text and the
 * caller's metadata to path: a temp file in the same folder, fsync'd and
 * renamed, so an interrupted save leaves the old file whole. */
clnet_status clnet_model_save(clnet_model *m, const char *path,
                              const clnet_meta *meta, size_t n_meta);

/* Loads a checkpoint written for this model: every tensor is validated
 * (names, shapes, offsets) before any is applied, so on error the model is
 * unchanged. Restores parameters, running statistics, the recipe, optimizer
 * moments, the step, the running counters (the next read_stats returns
 * what it would have returned without the save) and the frozen layers (a
 * file without "train.frozen" leaves the model's flags), so training
 * resumes exactly. The recipe's lr is the one of the last step before the save. */
clnet_status clnet_model_load_checkpoint(clnet_model *m, const char *path);

/* Creates a model from a checkpoint alone, using the model file text stored
 * in it, then loads the checkpoint. s->batch = 0 takes the batch of that
 * stored model file's [net] section. */
clnet_status clnet_model_open_checkpoint(clnet_ctx *ctx, const char *path,
                                         const clnet_model_settings *s,
                                         clnet_model **out);

/* A metadata value of the last checkpoint loaded into m, or NULL. Borrowed
 * until the next load or clnet_model_free. */
const char *clnet_model_meta(const clnet_model *m, const char *key);

#ifdef __cplusplus
}
#endif
#endif /* CLNET_MODEL_H */
