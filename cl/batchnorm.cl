/* Batch normalisation of NCHW tensors over (N, H, W), per channel.
 *
 * Data is read in chunks of 8 consecutive floats of one H*W row (float8
 * loads; the last chunk of a row may be shorter). Explicit vectors matter on
 * PoCL: its cross-work-item vectoriser gave up on these kernels (per-channel
 * loads beside the stores), running them 4-6x slower than a plain
 * elementwise kernel; float8 chunks run near copy speed, and on a GPU
 * neighbouring work-items still read neighbouring memory.
 *
 * Per-channel sums (batch statistics in forward; sum(dy) and sum(dy * xhat)
 * in backward) use one work-group per channel: each work-item walks a strided
 * share of the channel's chunks, then a local-memory tree adds the partials
 * in a fixed order. Results are deterministic for a given local size and
 * correct for any local size (1 and non-powers of two too).
 *
 * Elementwise kernels run on a 2-D range: dim 0 the chunk inside a row, dim 1
 * the (n, c) row. flags: FLAG_EVAL reads running statistics (stat = running
 * variance) instead of the saved batch statistics (stat = inverse std);
 * FLAG_AFFINE applies gamma and beta (otherwise those arguments are unused
 * and may be any buffer). Runtime flags rather than -D options keep one
 * program build for every batchnorm layer and mode. */
#include "common.h"

#define FLAG_EVAL 1u
#define FLAG_AFFINE 2u
#define FLAG_DGAMMA 4u
#define FLAG_DBETA 8u
#define FLAG_OVERWRITE 16u /* bn_dx writes dx (op.h, din_write) */
#define FLAG_RELU 32u /* a relu fused after the batchnorm (op.h, relu_after) */

/* The gradient reaching the batchnorm through a fused relu whose output is
 * y: dy where y > 0, else 0 (the same product as act_backward's). */
#define RELU_GRAD(dy, y, flags) ((flags) & FLAG_RELU ? (dy) * ((y) > 0.0f ? 1.0f : 0.0f) : (dy))

#define CHUNK 8

/* Storage of the activation tensors (common.h): x, y, dy, dx. */
#define HX HALF_OF(x)
#define HY HALF_OF(y)
#define HDY HALF_OF(dy)
#define HDX HALF_OF(dx)

/* Sum of v over the work-group. Every work-item must call it; scratch holds
 * get_local_size(0) floats. The closing barrier lets the caller reuse
 * scratch right away. */
inline float group_sum(float v, local float *scratch)
{
    uint lid = get_local_id(0), n = get_local_size(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    while (n > 1) {
        /* Reads come from [h, n), writes go to [0, n - h): disjoint. */
        uint h = (n + 1) / 2;
        if (lid + h < n)
            scratch[lid] += scratch[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
        n = h;
    }
    float s = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return s;
}

inline float hsum8(float8 v)
{
    float4 a = v.lo + v.hi;
    float2 b = a.lo + a.hi;
    return b.x + b.y;
}

/* The walk of one work-item over its channel's chunks: flat chunk indices
 * lid, lid + L, ... over (n, chunk j of the row), kept as a buffer offset o
 * (from the channel's first row) and j, so stepping needs no division.
 * Unsigned wrap-around in `o += skip` is intended (skip may be "negative"
 * when C = 1); o itself stays exact. The walk ends at o >= end = N*C*H*W. */
typedef struct walk {
    uint o, j, rows, step, dj, skip;
} walk;

inline walk walk_start(uint hw, uint plane)
{
    uint lid = get_local_id(0), l = get_local_size(0);
    uint rows = (hw + CHUNK - 1) / CHUNK; /* chunks per row */
    walk w;
    w.j = lid % rows;
    w.o = lid / rows * plane + w.j * CHUNK;
    w.rows = rows;
    w.dj = l % rows;
    w.step = l / rows * plane + w.dj * CHUNK;
    w.skip = plane - rows * CHUNK;
    return w;
}

inline void walk_next(walk *w)
{
    w->o += w->step;
    w->j += w->dj;
    if (w->j >= w->rows) {
        w->j -= w->rows;
        w->o += w->skip;
    }
}

/* Valid floats in the chunk starting at position i of a row. */
inline uint chunk_len(uint i, uint hw)
{
    return min((uint)CHUNK, hw - i);
}

inline float inv_std(float stat, uint flags, float eps)
{
    return flags & FLAG_EVAL ? 1.0f / sqrt(stat + eps) : stat;
}

/* Sum over the work-group's channel (p: its first row) of x, or with
 * centred of (x - mu)^2; every work-item gets the total. */
inline float channel_sum(global const STORE_T(x) *p, uint hw, uint plane, uint end,
                         int centred, float mu, local float *scratch)
{
    float8 acc = 0.0f;
    float s = 0.0f;
    for (walk w = walk_start(hw, plane); w.o < end; walk_next(&w)) {
        uint len = chunk_len(w.j * CHUNK, hw);
        /* The same expressions as one pass per kernel had, so the sums
         * round as they did. */
        if (len == CHUNK) {
            if (centred) {
                float8 d = LOAD8P(HX, p + w.o, 0) - mu;
                acc += d * d;
            } else {
                acc += LOAD8P(HX, p + w.o, 0);
            }
        } else {
            for (uint k = 0; k < len; k++) {
                if (centred) {
                    float d = LOADP(HX, p, w.o + k) - mu;
                    s += d * d;
                } else {
                    s += LOADP(HX, p, w.o + k);
                }
            }
        }
    }
    return group_sum(s + hsum8(acc), scratch);
}

/* Saves the mean and 1/sqrt(var + eps) (biased var) for the normalisation
 * and the backward pass; running_var moves towards the unbiased var
 * (* unbias = M / (M - 1)), as PyTorch does. */
inline void finish_stats(uint c, float mu, float var, float unbias, float momentum,
                         float eps, global float *mean, global float *istd,
                         global float *rmean, global float *rvar)
{
    mean[c] = mu;
    istd[c] = 1.0f / sqrt(var + eps);
    rmean[c] = (1.0f - momentum) * rmean[c] + momentum * mu;
    rvar[c] = (1.0f - momentum) * rvar[c] + momentum * var * unbias;
}

/* Training statistics, one work-group per channel, two passes (mean, then
 * the centred sum of squares: no cancellation when |mean| >> std). */
kernel void bn_stats(uint hw, uint plane, uint end, float inv_m, float unbias,
                     float momentum, float eps, CTENSOR(x), TENSOR(mean),
                     TENSOR(istd), TENSOR(rmean), TENSOR(rvar),
                     local float *scratch)
{
    uint c = get_group_id(0);
    global const STORE_T(x) *p = AT(x) + c * hw;
    float mu = channel_sum(p, hw, plane, end, 0, 0.0f, scratch) * inv_m;
    float var = channel_sum(p, hw, plane, end, 1, mu, scratch) * inv_m;
    if (get_local_id(0) == 0)
        finish_stats(c, mu, var, unbias, momentum, eps, AT(mean), AT(istd), AT(rmean),
                     AT(rvar));
}

/* Batch statistics over several replicas (sync batchnorm), the same two
 * passes with the host summing each pass's per-channel partials across the
 * replicas in between: pass 0 writes part[c] = sum(x); pass 1, given the
 * summed sum(x) of every replica in sums[0..C) and inv_m = 1 / (all the
 * replicas' M), writes part[c] = sum((x - mean)^2) about the global mean. */
kernel void bn_part(uint hw, uint plane, uint end, uint pass, float inv_m, CTENSOR(x),
                    CTENSOR(sums), TENSOR(part), local float *scratch)
{
    uint c = get_group_id(0);
    float mu = pass ? AT(sums)[c] * inv_m : 0.0f;
    float v = channel_sum(AT(x) + c * hw, hw, plane, end, pass, mu, scratch);
    if (get_local_id(0) == 0)
        AT(part)[c] = v;
}

/* From the replicas' summed partials sums[0..C) (sum x) and sums[C..2C)
 * (centred squares): what bn_stats saves and the running statistics. */
kernel void bn_finish(uint channels, float inv_m, float unbias, float momentum,
                      float eps, CTENSOR(sums), TENSOR(mean), TENSOR(istd),
                      TENSOR(rmean), TENSOR(rvar))
{
    uint c = get_global_id(0);
    if (c >= channels)
        return;
    float mu = AT(sums)[c] * inv_m;
    finish_stats(c, mu, AT(sums)[channels + c] * inv_m, unbias, momentum, eps, AT(mean),
                 AT(istd), AT(rmean), AT(rvar));
}

/* y = (x - mean) * istd * gamma + beta over one chunk. Centring first keeps
 * precision when |mean| >> std (x * scale + shift would cancel). */
kernel void bn_apply(uint hw, uint channels, uint flags, float eps, CTENSOR(x),
                     CTENSOR(mean), CTENSOR(stat), CTENSOR(gamma),
                     CTENSOR(beta), TENSOR(y))
{
    uint i = get_global_id(0) * CHUNK, row = get_global_id(1);
    if (i >= hw)
        return;
    uint c = row % channels;
    float scale = inv_std(AT(stat)[c], flags, eps), shift = 0.0f;
    if (flags & FLAG_AFFINE) {
        scale *= AT(gamma)[c];
        shift = AT(beta)[c];
    }
    float mu = AT(mean)[c];
    size_t k = (size_t)row * hw + i;
    global const STORE_T(x) *px = AT(x) + k;
    global STORE_T(y) *py = AT(y) + k;
    uint len = chunk_len(i, hw);
    /* fmax as act_forward's relu, so fused and unfused agree bit for bit. */
    if (len == CHUNK) {
        float8 v = (LOAD8P(HX, px, 0) - mu) * scale + shift;
        STORE8P(HY, flags & FLAG_RELU ? fmax(v, 0.0f) : v, 0, py);
    } else {
        for (uint q = 0; q < len; q++) {
            float v = (LOADP(HX, px, q) - mu) * scale + shift;
            STOREP(HY, py, q, flags & FLAG_RELU ? fmax(v, 0.0f) : v);
        }
    }
}

/* Per channel: sums[c] = sum(dy), sums[C + c] = sum(dy * xhat) (one
 * work-group per channel, as bn_stats); dgamma[c] += sum(dy * xhat) and
 * dbeta[c] += sum(dy) where the flags ask for them. */
kernel void bn_grad_sums(uint hw, uint plane, uint end, uint flags, float eps,
                         CTENSOR(x), CTENSOR(dy), CTENSOR(y), CTENSOR(mean),
                         CTENSOR(stat), TENSOR(sums), TENSOR(dgamma),
                         TENSOR(dbeta), local float *scratch)
{
    uint c = get_group_id(0), channels = get_num_groups(0);
    global const STORE_T(x) *px = AT(x) + c * hw;
    global const STORE_T(dy) *pdy = AT(dy) + c * hw;
    global const STORE_T(y) *py = AT(y) + c * hw;
    float mu = AT(mean)[c];
    float8 acc = 0.0f, accx = 0.0f;
    float sd = 0.0f, sdx = 0.0f;
    for (walk w = walk_start(hw, plane); w.o < end; walk_next(&w)) {
        uint len = chunk_len(w.j * CHUNK, hw);
        if (len == CHUNK) {
            float8 g = LOAD8P(HDY, pdy + w.o, 0);
            if (flags & FLAG_RELU)
                g *= select((float8)0.0f, (float8)1.0f, LOAD8P(HY, py + w.o, 0) > 0.0f);
            acc += g;
            accx += g * (LOAD8P(HX, px + w.o, 0) - mu);
        } else {
            for (uint k = 0; k < len; k++) {
                float g = RELU_GRAD(LOADP(HDY, pdy, w.o + k), LOADP(HY, py, w.o + k), flags);
                sd += g;
                sdx += g * (LOADP(HX, px, w.o + k) - mu);
            }
        }
    }
    sd = group_sum(sd + hsum8(acc), scratch);
    /* The centred sum times istd is sum(dy * xhat). */
    sdx = group_sum(sdx + hsum8(accx), scratch) * inv_std(AT(stat)[c], flags, eps);
    if (get_local_id(0) == 0) {
        AT(sums)[c] = sd;
        AT(sums)[channels + c] = sdx;
        if (flags & FLAG_DGAMMA)
            AT(dgamma)[c] += sdx;
        if (flags & FLAG_DBETA)
            AT(dbeta)[c] += sd;
    }
}

/* Over one chunk: dx += gamma * istd * (dy - sum(dy)/M - xhat *
 * sum(dy * xhat)/M) in training; dx += gamma * istd * dy in eval (the
 * statistics are then constants). Written as dx += a * dy + b * (x - mean) + d
 * with per-channel a, b, d. */
kernel void bn_dx(uint hw, uint channels, uint flags, float eps, float inv_m,
                  CTENSOR(x), CTENSOR(dy), CTENSOR(y), CTENSOR(mean),
                  CTENSOR(stat), CTENSOR(gamma), CTENSOR(sums), TENSOR(dx))
{
    uint i = get_global_id(0) * CHUNK, row = get_global_id(1);
    if (i >= hw)
        return;
    uint c = row % channels;
    float istd = inv_std(AT(stat)[c], flags, eps);
    float a = flags & FLAG_AFFINE ? AT(gamma)[c] * istd : istd;
    float b = 0.0f, d = 0.0f, mu = AT(mean)[c];
    if (!(flags & FLAG_EVAL)) {
        b = -a * istd * AT(sums)[channels + c] * inv_m;
        d = -a * AT(sums)[c] * inv_m;
    }
    size_t k = (size_t)row * hw + i;
    global const STORE_T(x) *px = AT(x) + k;
    global const STORE_T(dy) *pdy = AT(dy) + k;
    global const STORE_T(y) *py = AT(y) + k;
    global STORE_T(dx) *pdx = AT(dx) + k;
    uint len = chunk_len(i, hw);
    uint overwrite = flags & FLAG_OVERWRITE;
    if (len == CHUNK) {
        float8 g = LOAD8P(HDY, pdy, 0);
        if (flags & FLAG_RELU)
            g *= select((float8)0.0f, (float8)1.0f, LOAD8P(HY, py, 0) > 0.0f);
        float8 v = a * g + b * (LOAD8P(HX, px, 0) - mu) + d;
        STORE8P(HDX, overwrite ? v : LOAD8P(HDX, pdx, 0) + v, 0, pdx);
    } else {
        for (uint q = 0; q < len; q++)
            GRAD_PUTP(HDX, pdx, q,
                      a * RELU_GRAD(LOADP(HDY, pdy, q), LOADP(HY, py, q), flags) +
                          b * (LOADP(HX, px, q) - mu) + d,
                      overwrite);
    }
}
