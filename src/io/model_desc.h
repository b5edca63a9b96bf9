/* A parsed, checked model description: what a model file (models/NAME.cfg) says, with
 * every layer's inputs resolved and every shape inferred. Produced by the
 * model-file parser (io/cfg.c), consumed by the graph executor (graph/).
 *
 * Model file format (INI, parsed with inih):
 *   [net]    channels, height, width, classes, batch (default batch size)
 *   [train]  optional default recipe (see clnet__train_desc)
 *   [conv] / [dense] / [relu] / ... one section per layer, in order; keys
 *            are the op's own (src/ops/<op>.c) plus:
 *              name=NAME        (default: "<section><index>", e.g. conv1)
 *              from=A[,B...]    earlier layer names (default: previous layer;
 *                               "input" = the network input)
 *              activation=relu|leakyrelu|sigmoid|tanh|gelu|silu|relu6|
 *                               hardsigmoid|hardswish  on conv and
 *                               dense: shorthand for a following layer named
 *                               NAME_act
 * The last layer's output is the logits [n, classes, 1, 1]; softmax cross-
 * entropy is appended by the trainer. */
#ifndef CLNET_MODEL_DESC_H
#define CLNET_MODEL_DESC_H

#include "ops/op.h"

#define CLNET__NAME_MAX 64

typedef struct clnet__layer_desc {
    const clnet__op *op;
    clnet__op_kind kind;
    char name[CLNET__NAME_MAX];
    int n_in;
    int from[CLNET__MAX_IN];   /* index of an earlier layer; -1 = net input */
    unsigned char params[CLNET__PARAMS_MAX]; /* the op's params struct */
    clnet__op_plan plan;       /* for the [net] batch size */
    int line;                  /* line of the section header in the file */
} clnet__layer_desc;

/* Default training recipe from [train]; command-line flags override it.
 * Unset numeric fields are negative; unset strings are "". */
typedef struct clnet__train_desc {
    char optimizer[16];        /* sgd | adam | adamw */
    float lr, momentum, weight_decay, label_smoothing, clip_norm;
    int nesterov;              /* -1 unset, 0/1 */
    char schedule[16];         /* constant | step | cosine | onecycle */
    int warmup_epochs, epochs, step_epochs;
    float gamma;               /* step schedule factor */
    char augment[128];         /* e.g. "flip,crop" */
    float beta1, beta2, adam_eps;
} clnet__train_desc;

typedef struct clnet__model_desc {
    char source[512];          /* file name (or label) used in messages */
    int channels, height, width, classes, batch;
    int n_layers;
    clnet__layer_desc *layers; /* topologically ordered (file order) */
    clnet__train_desc train;
    /* Memory options: the memory plan and the executor follow them. */
    int recompute;             /* [net] recompute= (bool) or the settings' */
    int precision;             /* clnet_precision, from the model settings */
    char *text;                /* the model file's text, NUL-terminated */
} clnet__model_desc;

/* Parses and checks a model file's text. label names it in messages, which
 * read "LABEL:LINE: what is wrong" (unknown section or key, bad or missing
 * value, a from= naming no earlier layer, a shape mismatch with both shapes,
 * a layer with no path to the output, logits that are not [n,classes,1,1]).
 * batch overrides [net] batch when > 0 (shapes are inferred for it). */
clnet_status clnet__model_parse(clnet_ctx *ctx, const char *label,
                                const char *text, int batch,
                                clnet__model_desc **out);
clnet_status clnet__model_load_file(clnet_ctx *ctx, const char *path, int batch,
                                    clnet__model_desc **out);
/* Re-infers every layer's plan for another batch size. */
clnet_status clnet__model_replan(clnet_ctx *ctx, clnet__model_desc *m, int batch);
void clnet__model_desc_free(clnet__model_desc *m);

/* The shape of a layer's input i (the net input for from = -1). */
clnet__shape clnet__model_input_shape(const clnet__model_desc *m, int layer,
                                      int i);

#endif
