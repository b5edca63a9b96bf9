/* Plain-C reference of the optimizer step: the kernel's arithmetic in float,
 * in the same order, kept obviously close to PyTorch's per-tensor loops. */
#include "train/optim.h"
#include "train/optim_coef.h"

#include <math.h>

/* clip_grad_norm_'s factor; a NaN norm gives NaN (torch.clamp keeps NaN). */
static float clip_scale(const float *g, size_t n, float clip)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    float c = clip / ((float)sqrt(ss) + 1e-6f);
    return c >= 1.0f ? 1.0f : c;
}

void clnet__optim_ref_step(const clnet__optim_settings *s, size_t n,
                           float *params, const float *grads, float *m1,
                           float *m2, const unsigned char *decay_mask,
                           float lr, uint64_t step, int *nonfinite)
{
    clnet__optim_ref_step_frozen(s, n, params, grads, m1, m2, decay_mask, NULL,
                                 lr, step, nonfinite);
}

void clnet__optim_ref_step_frozen(const clnet__optim_settings *s, size_t n,
                                  float *params, const float *grads, float *m1,
                                  float *m2, const unsigned char *decay_mask,
                                  const unsigned char *frozen_mask, float lr,
                                  uint64_t step, int *nonfinite)
{
    clnet__optim_coef c = clnet__optim_coef_of(s, lr, step);
    float scale = s->clip_norm > 0 ? clip_scale(grads, n, s->clip_norm) : 1.0f;
    for (size_t i = 0; i < n; i++) {
        if (frozen_mask && frozen_mask[i])
            continue;
        float g = grads[i];
        if (!isfinite(g))
            *nonfinite = 1;
        if (s->clip_norm > 0)
            g *= scale;
        float p = params[i];
        int decays = decay_mask && decay_mask[i] && s->weight_decay != 0;
        if (s->type == CLNET__OPTIM_SGD) {
            if (decays)
                g = g + c.wd * p;
            if (s->momentum != 0) {
                float b = c.momentum * m1[i] + g;
                m1[i] = b;
                g = s->nesterov ? g + c.momentum * b : b;
            }
            p = p - c.lr * g;
        } else {
            if (decays && s->type == CLNET__OPTIM_ADAMW)
                p = p * c.decoupled;
            else if (decays)
                g = g + c.wd * p;
            float m = c.beta1 * m1[i] + c.one_minus_beta1 * g;
            float v = c.beta2 * m2[i] + c.one_minus_beta2 * g * g;
            m1[i] = m;
            m2[i] = v;
            float denom = sqrtf(v) / c.bc2_sqrt + c.eps;
            p = p - c.step_size * (m / denom);
        }
        params[i] = p;
    }
}
