/* Per-step scalars of an optimizer update, computed on the host in double
 * and rounded to float once, as PyTorch computes them in Python before the
 * tensor kernels run. Shared by the device step and the plain-C reference so
 * both start from identical numbers. Internal to src/train/optim*.c. */
#ifndef CLNET_TRAIN_OPTIM_COEF_H
#define CLNET_TRAIN_OPTIM_COEF_H

#include "train/optim.h"
#include <math.h>

typedef struct clnet__optim_coef {
    float lr, wd, momentum;
    float beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
    float step_size; /* Adam: lr / (1 - beta1^t) */
    float bc2_sqrt;  /* Adam: sqrt(1 - beta2^t) */
    float decoupled; /* AdamW: 1 - lr * wd */
} clnet__optim_coef;

static inline clnet__optim_coef clnet__optim_coef_of(const clnet__optim_settings *s,
                                                     float lr, uint64_t step)
{
    double t = (double)(step ? step : 1);
    clnet__optim_coef c = {
        .lr = lr,
        .wd = s->weight_decay,
        .momentum = s->momentum,
        .beta1 = s->beta1,
        .one_minus_beta1 = (float)(1.0 - (double)s->beta1),
        .beta2 = s->beta2,
        .one_minus_beta2 = (float)(1.0 - (double)s->beta2),
        .eps = s->eps,
        .step_size = (float)((double)lr / (1.0 - pow((double)s->beta1, t))),
        .bc2_sqrt = (float)sqrt(1.0 - pow((double)s->beta2, t)),
        .decoupled = (float)(1.0 - (double)lr * (double)s->weight_decay),
    };
    return c;
}

#endif
