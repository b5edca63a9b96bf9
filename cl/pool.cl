/* Pooling: maxpool2d and avgpool2d (window geometry compiled in) and global
 * average pooling, forward and backward side by side.
 *
 * MAXPOOL 1: maxpool, 0: avgpool; KH, KW kernel; SH, SW stride; PH, PW
 * padding; COUNT_PAD (avgpool) 1: the divisor counts padding as PyTorch's
 * count_include_pad.
 *
 * Forward runs one work-item per output element. Backward accumulates
 * (dx += ...) by scattering from the windows, without atomics: the host
 * launches it once per phase (a, b) of the NWH x NWW phases of the output
 * grid (rows a, a + NWH, ...; columns b, b + NWW, ...). Windows of one phase
 * never overlap, so no two work-items of a launch touch the same dx
 * element, and the in-order queue serialises the phases (deterministic).
 * Windows that never overlap at all (stride >= kernel, the usual 2x2/2)
 * take one launch.
 *
 * maxpool forward saves each window's argmax (its index within the h x w
 * plane, as an exact float): the first maximum in row-major order, NaN
 * winning once, as the reference. Backward adds dy at that index only.
 *
 * Index arithmetic divides by runtime sizes through fdiv (multiply-high and
 * shifts, exact for any 32-bit numerator): PoCL does not vectorise integer
 * division, which cost more than the pooling itself. */
#include "common.h"

#ifndef KH
#define KH 2
#endif
#ifndef KW
#define KW 2
#endif
#ifndef SH
#define SH KH
#endif
#ifndef SW
#define SW KW
#endif
#ifndef PH
#define PH 0
#endif
#ifndef PW
#define PW 0
#endif
#ifndef COUNT_PAD
#define COUNT_PAD 1
#endif
#ifndef MAXPOOL
#define MAXPOOL 1
#endif

/* Phases per axis: windows NWH output rows apart never overlap. */
#define NWH ((KH + SH - 1) / SH)
#define NWW ((KW + SW - 1) / SW)

/* n / d for a divisor packed by the host (src/ops/pool_common.c) as
 * magic | s1 << 32 | s2 << 40 (Granlund and Montgomery 1994, fig. 4.1).
 * The high half comes from a 64-bit product: PoCL's mul_hi() is a call
 * that stops vectorisation. */
inline uint fdiv(uint n, ulong d)
{
    uint t = (uint)(((ulong)n * (uint)d) >> 32);
    return (t + ((n - t) >> (uint)((d >> 32) & 0xff))) >> (uint)(d >> 40);
}

/* Splits a flat index over planes of h x w into (plane, row, column). */
inline uint split_index(uint i, uint h, uint w, ulong div_h, ulong div_w,
                        int *r, int *c)
{
    uint t = fdiv(i, div_w);
    uint plane = fdiv(t, div_h);
    *c = (int)(i - t * w);
    *r = (int)(t - plane * h);
    return plane;
}

/* Reduces the window whose top-left corner (padding included) is (h0, w0)
 * into *v: maxpool, its maximum (padding is -inf), returning the index
 * within the plane of the first maximum in row-major order (NaN wins
 * once); every window holds an input element (pad <= kernel / 2), where the
 * search starts. avgpool: its sum (padding adds nothing). (A branch-free
 * form with clamped loads and selects measured slower on PoCL.) */
inline int window_reduce(global const STORE_T(x) *x, int h, int w, int h0, int w0,
                         float *v)
{
    int best = max(h0, 0) * w + max(w0, 0);
    float m = MAXPOOL ? -INFINITY : 0.0f;
#pragma unroll
    for (int a = 0; a < KH; a++) {
        int r = h0 + a;
        if (r < 0 || r >= h)
            continue;
#pragma unroll
        for (int b = 0; b < KW; b++) {
            int c = w0 + b;
            if (c < 0 || c >= w)
                continue;
            float xv = LOADP(HALF_OF(x), x, r * w + c);
#if MAXPOOL
            if (xv > m || (isnan(xv) && !isnan(m))) {
                m = xv;
                best = r * w + c;
            }
#else
            m += xv;
#endif
        }
    }
    *v = m;
    return best;
}

/* PyTorch's avg_pool2d divisor for the window starting at (h0, w0). */
inline float avg_divisor(int h, int w, int h0, int w0)
{
    int h1 = min(h0 + KH, h + PH), w1 = min(w0 + KW, w + PW);
#if COUNT_PAD
    return (float)((h1 - h0) * (w1 - w0));
#else
    return (float)((min(h1, h) - max(h0, 0)) * (min(w1, w) - max(w0, 0)));
#endif
}

/* maxpool: y = window max, and idx = its plane index when save != 0
 * (training). avgpool: y = window mean; idx and save are unused. */
kernel void pool_forward(uint n, uint h, uint w, uint oh, uint ow, ulong div_oh,
                         ulong div_ow, CTENSOR(x), TENSOR(y), TENSOR(idx),
                         uint save)
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    int r, c;
    uint plane = split_index(i, oh, ow, div_oh, div_ow, &r, &c);
    global const STORE_T(x) *xp = AT(x) + plane * h * w;
    int h0 = r * SH - PH, w0 = c * SW - PW;
    float v;
    int a = window_reduce(xp, (int)h, (int)w, h0, w0, &v);
#if MAXPOOL
    ST(y, i, v);
    if (save)
        AT(idx)[i] = (float)a;
#else
    ST(y, i, v / avg_divisor((int)h, (int)w, h0, w0));
#endif
}

/* The same, one output row per work-item (r over oh, plane over planes): on
 * PoCL (2 cores) fashion-cnn's two maxpools took 4.0 ms a step this way
 * against 5.6 ms with one work-item per output (tools/bench/RESULTS.md). */
kernel void pool_forward_rows(uint oh, uint planes, uint h, uint w, uint ow,
                              CTENSOR(x), TENSOR(y), TENSOR(idx), uint save)
{
    uint r = get_global_id(0), plane = get_global_id(1);
    if (r >= oh || plane >= planes)
        return;
    global const STORE_T(x) *xp = AT(x) + plane * h * w;
    uint o = (plane * oh + r) * ow;
    int h0 = (int)r * SH - PH;
    for (uint c = 0; c < ow; c++) {
        int w0 = (int)c * SW - PW;
        float v;
        int a = window_reduce(xp, (int)h, (int)w, h0, w0, &v);
#if MAXPOOL
        ST(y, o + c, v);
        if (save)
            AT(idx)[o + c] = (float)a;
#else
        ST(y, o + c, v / avg_divisor((int)h, (int)w, h0, w0));
#endif
    }
}

/* Work-item i of phase (a, b) -> output (plane, *r, *c); a phase has prows
 * x pcols outputs per plane. */
inline uint phase_output(uint i, uint a, uint b, uint prows, uint pcols,
                         ulong div_prows, ulong div_pcols, int *r, int *c)
{
    uint plane = split_index(i, prows, pcols, div_prows, div_pcols, r, c);
    *r = (int)a + *r * NWH;
    *c = (int)b + *c * NWW;
    return plane;
}

/* n: work-items of phase (a, b). maxpool: dy goes to the argmax that
 * forward saved in aux. avgpool: dy / divisor goes to every input element
 * of the window; aux is unused. */
kernel void pool_backward(uint n, uint h, uint w, uint oh, uint ow, uint a,
                          uint b, uint prows, uint pcols, ulong div_prows,
                          ulong div_pcols, CTENSOR(aux), CTENSOR(dy), TENSOR(dx))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    int r, c;
    uint plane = phase_output(i, a, b, prows, pcols, div_prows, div_pcols, &r, &c);
    uint o = (plane * oh + (uint)r) * ow + (uint)c;
    global STORE_T(dx) *dxp = AT(dx) + plane * h * w;
#if MAXPOOL
    GRAD_PUTP(HALF_OF(dx), dxp, (uint)AT(aux)[o], LD(dy, o), 0);
#else
    int h0 = r * SH - PH, w0 = c * SW - PW;
    float g = LD(dy, o) / avg_divisor((int)h, (int)w, h0, w0);
#pragma unroll
    for (int ka = 0; ka < KH; ka++) {
        int rr = h0 + ka;
        if (rr < 0 || rr >= (int)h)
            continue;
#pragma unroll
        for (int kb = 0; kb < KW; kb++) {
            int cc = w0 + kb;
            if (cc >= 0 && cc < (int)w)
                GRAD_PUTP(HALF_OF(dx), dxp, rr * (int)w + cc, g, 0);
        }
    }
#endif
}

/* Global average pooling: y[p] = mean of plane p (hw elements). */
kernel void gap_forward(uint planes, uint hw, CTENSOR(x), TENSOR(y))
{
    uint p = get_global_id(0);
    if (p >= planes)
        return;
    global const STORE_T(x) *xp = AT(x) + p * hw;
    float s = 0.0f;
    for (uint j = 0; j < hw; j++)
        s += LOADP(HALF_OF(x), xp, j);
    ST(y, p, s / (float)hw);
}

kernel void gap_backward(uint n, uint hw, ulong div_hw, CTENSOR(dy), TENSOR(dx),
                         uint overwrite)
{
    uint i = get_global_id(0);
    if (i < n)
        GRAD_AT(dx, i, LD(dy, fdiv(i, div_hw)) / (float)hw, overwrite);
}
