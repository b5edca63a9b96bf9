/* Softmax cross-entropy from logits with integer labels, and softmax for
 * inference. Not a layer of the model file: the graph appends it after the
 * last layer ([net] classes=K). */
#ifndef CLNET_LOSS_H
#define CLNET_LOSS_H

#include "ops/op.h"

/* Indices into the stats tensor that xent accumulates into on the device, so
 * the host reads them back only every N steps. */
enum {
    CLNET__STAT_LOSS_SUM = 0,  /* sum over samples of the per-sample loss */
    CLNET__STAT_CORRECT = 1,   /* count of top-1 correct predictions */
    CLNET__STAT_CORRECT5 = 2,  /* count of top-5 correct predictions */
    CLNET__STAT_SAMPLES = 3,   /* count of samples seen */
    CLNET__STAT_COUNT = 4
};

/* Scratch floats clnet__xent needs for a batch of n. */
size_t clnet__xent_work_count(int n);

/* logits: [n, k] row-major; labels: n int32 values in [0, k) (stored in a
 * float buffer, bit pattern int32; off in elements). Loss per sample is
 * -sum_j q_j log softmax(x)_j with q = (1-s) onehot + s/k, computed with the
 * log-sum-exp shift. If dlogits.buf is non-NULL it is OVERWRITTEN (not
 * accumulated: it is the root of backward) with scale * (softmax - q) / n,
 * i.e. the gradient of the batch-mean loss times scale. stats (CLNET__STAT_
 * COUNT floats) is accumulated into. A label outside [0, k) counts as wrong,
 * adds no loss and no gradient (its dlogits row is 0) but counts as a sample.
 * Top-1/top-5: a sample is a hit when fewer than 1/5 classes have a logit
 * strictly greater than the label's, so ties go in favour of the label (all
 * logits equal is a top-1 hit); a NaN label logit is never a hit.
 * dlogits may be the same tensor as logits. */
clnet_status clnet__xent(clnet_ctx *ctx, int n, int k, float smoothing,
                         float scale, clnet__tensor logits,
                         clnet__tensor labels, clnet__tensor dlogits,
                         clnet__tensor stats, clnet__tensor work);
void clnet__xent_ref(int n, int k, float smoothing, float scale,
                     const float *logits, const int32_t *labels,
                     float *dlogits /* may be NULL */, double stats[4]);

/* probs[n, k] = softmax(logits) row-wise (probs may alias logits). */
clnet_status clnet__softmax(clnet_ctx *ctx, int n, int k, clnet__tensor logits,
                            clnet__tensor probs);
void clnet__softmax_ref(int n, int k, const float *logits, float *probs);

#endif
