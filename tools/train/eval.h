/* Evaluating a model over a dataset: loss, top-1/top-5, confusion matrix
 * and the misclassified samples (shared by clnet-train and clnet-predict). */
#ifndef CLNET_TOOLS_EVAL_H
#define CLNET_TOOLS_EVAL_H

#include "clnet/clnet.h"
#include "clnet/data.h"

typedef struct eval_miss {
    uint32_t index;     /* dataset index */
    int truth, pred;
    float prob;
} eval_miss;

typedef struct eval_result {
    int classes;
    uint64_t *confusion;  /* classes x classes, [truth][pred] */
    double loss_sum;
    uint64_t top1, top5, n;
    eval_miss *misses;    /* at most max_misses, spread over the true classes */
    size_t n_misses, max_misses;
    size_t *kept;         /* classes: misses kept per true class */
    double seconds;
} eval_result;

/* Allocates the confusion matrix and room for max_misses misses. The
 * misses kept are spread over the true classes as evenly as max_misses
 * allows, each class's earliest preferred (a dataset comes in class order,
 * so the first max_misses would all be of its first classes). */
int eval_result_init(eval_result *r, int classes, size_t max_misses);
void eval_result_free(eval_result *r);

/* Runs the model (inference mode) over every image of ds with the loader
 * settings given (shuffle/augment/drop_last are turned off here). */
clnet_status eval_dataset(clnet_ctx *ctx, clnet_model *m, const clnet_dataset *ds,
                          const clnet_loader_settings *base, eval_result *r);

/* Adds one batch of probabilities (n x classes) with its labels. */
void eval_add(eval_result *r, const float *probs, const int32_t *labels,
              const uint32_t *indices, int n);

#endif
