/* Optimizer updates over flat parameter/gradient/moment buffers (see
 * src/train/optim.h for the update rules). One program per configuration:
 *   OPT       0 SGD, 1 Adam, 2 AdamW
 *   MOMENTUM  SGD: 1 keeps a momentum buffer (m1)
 *   NESTEROV  SGD with momentum: Nesterov's variant
 *   DECAY     0 none, 1 where the decay bit mask says, 2 every element
 *   CLIP      1 scales gradients by the global norm from sqnorm partials
 *   LSCALE    1 dynamic loss scaling (src/train/loss_scale.h): the
 *             gradients arrive multiplied by the scale in ls[0]; the step
 *             divides it out, and does nothing at all (a skipped update)
 *             when optim_found_inf set ls[2] for this update
 * With CLIP a step is three launches: partial sums of squares, the scale
 * (one work-item), the update; the summation order depends only on n and
 * the group size, so the scale is the same each run (no atomics). */
#include "common.h"

#ifndef OPT
#define OPT 0
#endif
#ifndef MOMENTUM
#define MOMENTUM 0
#endif
#ifndef NESTEROV
#define NESTEROV 0
#endif
#ifndef DECAY
#define DECAY 0
#endif
#ifndef CLIP
#define CLIP 0
#endif
#ifndef LSCALE
#define LSCALE 0
#endif

/* Round like the host reference (no fused multiply-add): the update is
 * memory-bound anyway, and tests compare device and reference at 1e-5. */
#pragma OPENCL FP_CONTRACT OFF

/* Sum of squares of the gradients, one partial per work-group: group k
 * covers elements [k * block, (k + 1) * block) and its work-items stride
 * through that block by the group size (coalesced on a GPU; on a CPU each
 * work-item's sweep stays inside one cache-sized block). The local tree
 * needs a power-of-two group size (the host ensures it). */
kernel void optim_sqnorm(uint n, uint block, CTENSOR(g), global float *partials,
                         local float *scratch, CTENSOR(ls))
{
    uint lid = get_local_id(0);
#if LSCALE
    /* The norm of the true gradients (clip_grad_norm_ after the scaler's
     * unscale_ in PyTorch), and squares that cannot overflow because of
     * the scale. */
    float inv_scale = 1.0f / AT(ls)[0];
#endif
    uint start = get_group_id(0) * block;
    uint end = n - start < block ? n : start + block;
    float s = 0.0f;
    for (uint i = start + lid; i < end; i += get_local_size(0)) {
        float v = AT(g)[i];
#if LSCALE
        v *= inv_scale;
#endif
        s += v * v;
    }
    scratch[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint h = get_local_size(0) / 2; h > 0; h /= 2) {
        if (lid < h)
            scratch[lid] += scratch[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        partials[get_group_id(0)] = scratch[0];
}

/* One work-item: the clip factor from the partials, summed in index order,
 * stored after them (partials[n_partials]) for the update kernel. */
kernel void optim_clip_scale(uint n_partials, float clip, global float *partials)
{
    if (get_global_id(0) != 0)
        return;
    float ss = 0.0f;
    for (uint j = 0; j < n_partials; j++)
        ss += partials[j];
    float c = clip / (sqrt(ss) + 1e-6f);
    partials[n_partials] = c >= 1.0f ? 1.0f : c; /* NaN stays NaN, as in PyTorch */
}

/* One element per work-item (a loop per work-item runs slower on PoCL),
 * over the elements [base, n): one launch per range of parameters that are
 * not frozen (base 0 and n the whole buffer when none is), so frozen
 * elements cost nothing. Scalars: lr, wd, momentum (SGD) | beta1, 1-beta1,
 * beta2, 1-beta2, eps, step size, sqrt bias correction 2, decoupled factor
 * (Adam/AdamW). */
kernel void optim_step(uint base, uint n, float lr, float wd, float momentum,
                       float beta1, float omb1, float beta2, float omb2,
                       float eps, float step_size, float bc2_sqrt,
                       float decoupled, CTENSOR(scale), TENSOR(p),
                       CTENSOR(g), global float *m1, global float *m2,
                       global const uint *mask, TENSOR(flag), CTENSOR(loss),
                       uint step_tag, CTENSOR(ls))
{
    uint i = base + (uint)get_global_id(0);
    if (i >= n)
        return;
#if LSCALE
    /* An overflow in this update's gradients: skip it (parameters and
     * moments as they were), and no non-finite record: the scale was too
     * large, which optim_scale_update answers by halving it. */
    if (AT(ls)[2] != 0.0f)
        return;
    float gi = AT(g)[i] * (1.0f / AT(ls)[0]);
#else
    float gi = AT(g)[i];
#endif
    if (!isfinite(gi)) {
        /* flag, then the record (src/train/optim.h): the highest element
         * of the first bad step, and whether the loss was bad then. All
         * through atomics: many work-items may find bad elements at once
         * (plain stores of one value are still a data race in OpenCL C, and
         * oclgrind reports them). The step word is set once from 0, or was
         * set by this launch (same tag) or an earlier step. */
        atomic_xchg((volatile global float *)AT(flag), 1.0f);
        volatile global uint *rec = (volatile global uint *)(AT(flag) + 1);
        uint want = step_tag | (isfinite(AT(loss)[0]) ? 0u : 0x80000000u);
        uint seen = atomic_cmpxchg(rec + 1, 0u, want) & 0x7fffffffu;
        if (seen == 0u || seen == step_tag)
            atomic_max(rec, 2u * i + 2u + (isnan(gi) ? 1u : 0u));
    }
#if CLIP
    gi *= AT(scale)[0];
#endif
    float pi = AT(p)[i];
#if DECAY == 1
    int decays = (mask[i >> 5] >> (i & 31)) & 1u;
#elif DECAY == 2
    int decays = 1;
#endif
#if OPT == 0
#if DECAY
    if (decays)
        gi = gi + wd * pi;
#endif
#if MOMENTUM
    float b = momentum * m1[i] + gi;
    m1[i] = b;
#if NESTEROV
    gi = gi + momentum * b;
#else
    gi = b;
#endif
#endif
    pi = pi - lr * gi;
#else /* Adam, AdamW */
#if DECAY && OPT == 2
    if (decays)
        pi = pi * decoupled;
#elif DECAY
    if (decays)
        gi = gi + wd * pi;
#endif
#if LSCALE
    /* Adam's t counts the updates applied, not the skipped ones (PyTorch
     * does not call optimizer.step on a skip): the bias corrections from
     * t = step - skipped, computed here in float (the host's, in double,
     * assume no skips). 1 - beta^t as -expm1(t log beta): the plain
     * difference loses most digits of 1 - 0.999^t in float. */
    int t = (int)step_tag - (int)AT(ls)[3];
    float tf = (float)(t < 1 ? 1 : t);
    step_size = lr / -expm1(tf * log(beta1));
    bc2_sqrt = sqrt(-expm1(tf * log(beta2)));
#endif
    float m = beta1 * m1[i] + omb1 * gi;
    float v = beta2 * m2[i] + omb2 * gi * gi;
    m1[i] = m;
    m2[i] = v;
    float denom = sqrt(v) / bc2_sqrt + eps;
    pi = pi - step_size * (m / denom);
#endif
    AT(p)[i] = pi;
}

/* ---- dynamic loss scaling (LSCALE; state layout in src/train/loss_scale.h:
 * ls[0] scale, [1] good updates since it last changed, [2] this update
 * overflowed, [3] updates skipped so far) ---------------------------------- */

/* The loss gradient times the scale (before backward), in place. */
kernel void optim_scale_grad(uint n, TENSOR(d), CTENSOR(ls))
{
    uint i = (uint)get_global_id(0);
    if (i < n)
        AT(d)[i] *= AT(ls)[0];
}

/* Sets ls[2] when any of the n (scaled) gradients is NaN or Inf. Only bad
 * elements write, all the same value, through an atomic (a plain store
 * of one value is still a data race in OpenCL C). */
kernel void optim_found_inf(uint n, CTENSOR(g), TENSOR(ls))
{
    uint i = (uint)get_global_id(0);
    if (i < n && !isfinite(AT(g)[i]))
        atomic_xchg((volatile global float *)(AT(ls) + 2), 1.0f);
}

/* One work-item, after the step: the scale's next value, as the host
 * reference clnet__loss_scale_ref_update (src/train/loss_scale.c). */
kernel void optim_scale_update(uint interval, float max_scale, float min_scale,
                               TENSOR(ls))
{
    if (get_global_id(0) != 0)
        return;
    global float *s = AT(ls);
    if (s[2] != 0.0f) {
        s[0] = fmax(s[0] * 0.5f, min_scale);
        s[1] = 0.0f;
        s[3] += 1.0f;
    } else if (s[1] + 1.0f >= (float)interval) {
        s[0] = fmin(s[0] * 2.0f, max_scale);
        s[1] = 0.0f;
    } else {
        s[1] += 1.0f;
    }
    s[2] = 0.0f;
}
