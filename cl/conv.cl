/* conv2d kernels (strategy in src/ops/conv.h).
 *
 * GEMM path: im2col unrolls a chunk of nb images into
 *   cols[r][j], r = (c*KH + kh)*KW + kw, j = n*P + oh*OW + ow  (P = OH*OW),
 * so that rows of one group are contiguous and W_g*cols_g is that group's
 * output as [O][nb*P]; scatter moves it to NCHW adding the bias, gather_dout
 * does the reverse for backward, col2im sums the column gradients back into
 * the input gradient.
 * Direct path (one input channel per group): the same loops with weights.
 *
 * Work split: the layout kernels (im2col, col2im, direct) give each
 * work-item one whole image row: PoCL then runs straight loops over
 * contiguous memory that LLVM vectorises, where one work-item per element
 * measured 5-10x slower (index division and masking per element). The
 * valid span of each row (outside the padding) is computed once per row and
 * tap, so the loops have no per-element conditions. A work-item owns the
 * row it writes: no races, no atomics; backward kernels accumulate (+=).
 * Ids are bounds-checked (the host rounds global sizes up).
 *
 * Storage (common.h): activation tensors (x, y, dx, dy and the work
 * regions cols, tmp, src, dst) may be half; weights, biases and their
 * gradients are fp32. A kernel that accumulates several taps into a half
 * output row sums each element in a register and rounds it once (the
 * HALF_OF(...) branches), instead of adding into memory tap by tap. */
#include "common.h"

#define GEOM                                                                 \
    int C, int H, int W, int O, int OH, int OW, int KH, int KW, int SH,      \
        int SW, int PT, int PL, int DH, int DW, int CG, int OG

/* 2-D ids: dim 0 over rows of a plane, dim 1 over planes. */
#define ID2(n0, n1)                                                          \
    uint i0 = get_global_id(0), i1 = get_global_id(1);                       \
    if (i0 >= (uint)(n0) || i1 >= (uint)(n1))                                \
        return

/* Forward direction, one output row: output column ow reads input column
 * ow*SW + off. [*lo, *hi) are the columns whose read lies inside [0, W). */
inline void fwd_span(int off, int SW, int W, int OW, int *lo, int *hi)
{
    int a = off >= 0 ? 0 : (-off + SW - 1) / SW;
    int b = W - 1 - off < 0 ? 0 : (W - 1 - off) / SW + 1;
    *hi = min(b, OW);
    *lo = min(a, *hi);
}

/* out[ow] += wv * in[ow*SW + off] over the valid columns of a row. */
inline void fwd_row_mad(global float *out, global const STORE_T(x) *in, float wv,
                        int off, int SW, int W, int OW)
{
    int lo, hi;
    fwd_span(off, SW, W, OW, &lo, &hi);
    in += off;
    if (SW == 1)
        for (int ow = lo; ow < hi; ow++)
            out[ow] += wv * LOADP(HALF_OF(x), in, ow);
    else
        for (int ow = lo; ow < hi; ow++)
            out[ow] += wv * LOADP(HALF_OF(x), in, ow * SW);
}

/* Backward direction, one input row: input column w was read by output
 * column (w + t) / SW (t = pad - tap*dilation) when that divides evenly and
 * lies in [0, OW). out[w] += wv * in[(w + t) / SW] over those columns. */
#define DEF_BWD_ROW_MAD(fn, name)                                            \
    inline void fn(global float *out, global const STORE_T(name) *in,       \
                   float wv, int t, int SW, int W, int OW)                   \
    {                                                                        \
        int w0 = max(0, -t);                                                 \
        int rem = (w0 + t) % SW;                                             \
        w0 += rem ? SW - rem : 0;                                            \
        int w1 = min(W, (OW - 1) * SW - t + 1);                              \
        if (SW == 1) {                                                       \
            in += t;                                                         \
            for (int w = w0; w < w1; w++)                                    \
                out[w] += wv * LOADP(HALF_OF(name), in, w);                  \
        } else {                                                             \
            for (int w = w0, ow = (w0 + t) / SW; w < w1; w += SW, ow++)      \
                out[w] += wv * LOADP(HALF_OF(name), in, ow);                 \
        }                                                                    \
    }
/* One per tensor it reads: col2im's cols, the direct dX's dy. */
DEF_BWD_ROW_MAD(bwd_row_mad_cols, cols)
DEF_BWD_ROW_MAD(bwd_row_mad_dy, dy)

/* The output column through which input column w is read by a tap with
 * t = pad - tap*dilation (as bwd_row_mad's), or -1. */
inline int bwd_out_col(int w, int t, int SW, int OW)
{
    int u = w + t;
    if (u < 0 || u % SW)
        return -1;
    u /= SW;
    return u < OW ? u : -1;
}

/* Output row read through input row h by tap kh, or -1. */
inline int bwd_out_row(int h, int kh, int PT, int DH, int SH, int OH)
{
    int t = h + PT - kh * DH;
    if (t < 0 || t % SH)
        return -1;
    t /= SH;
    return t < OH ? t : -1;
}

/* One row of cols per work-item: oh = i0, plane i1 = r*nb + n. x starts at
 * the chunk's first image. */
kernel void conv_im2col(GEOM, int nb, CTENSOR(x), TENSOR(cols))
{
    ID2(OH, C * KH * KW * nb);
    int r = i1 / nb, n = i1 - r * nb;
    int kw = r % KW, t = r / KW;
    int kh = t % KH, c = t / KH;
    int ih = (int)i0 * SH - PT + kh * DH, off = kw * DW - PL;
    global STORE_T(cols) *out = AT(cols) + (i1 * OH + i0) * OW;
    int lo = 0, hi = 0;
    if (ih >= 0 && ih < H)
        fwd_span(off, SW, W, OW, &lo, &hi);
    global const STORE_T(x) *in = AT(x) + ((n * C + c) * H + max(ih, 0)) * W + off;
#if HALF_OF(cols) && HALF_OF(x)
    /* Half to half: the 16-bit patterns as they are (exact, and no
     * conversion, which PoCL does one element at a time, slowly). */
    global ushort *o16 = (global ushort *)out;
    global const ushort *i16 = (global const ushort *)in;
    for (int ow = 0; ow < lo; ow++)
        o16[ow] = 0;
    for (int ow = lo; ow < hi; ow++)
        o16[ow] = i16[ow * SW];
    for (int ow = hi; ow < OW; ow++)
        o16[ow] = 0;
    return;
#endif
    for (int ow = 0; ow < lo; ow++)
        STOREP(HALF_OF(cols), out, ow, 0.0f);
    if (SW == 1)
        for (int ow = lo; ow < hi; ow++)
            STOREP(HALF_OF(cols), out, ow, LOADP(HALF_OF(x), in, ow));
    else
        for (int ow = lo; ow < hi; ow++)
            STOREP(HALF_OF(cols), out, ow, LOADP(HALF_OF(x), in, ow * SW));
    for (int ow = hi; ow < OW; ow++)
        STOREP(HALF_OF(cols), out, ow, 0.0f);
}

/* One row of dx per work-item: h = i0, plane i1 = n*C + c over the chunk;
 * adds every column-gradient entry that row was copied to. */
kernel void conv_col2im(GEOM, int nb, CTENSOR(cols), TENSOR(dx), int overwrite)
{
    ID2(H, nb * C);
    int n = i1 / C, c = i1 - n * C;
    int P = OH * OW;
#if HALF_OF(dx)
    /* A half dx (precision fp16): each element's sum in a float register
     * and one store, as a half row summed in place would round at every
     * tap. */
    global half *row = AT(dx) + (i1 * H + i0) * W;
    for (int w = 0; w < W; w++) {
        float acc = 0.0f;
        for (int kh = 0; kh < KH; kh++) {
            int oh = bwd_out_row(i0, kh, PT, DH, SH, OH);
            if (oh < 0)
                continue;
            for (int kw = 0; kw < KW; kw++) {
                int ow = bwd_out_col(w, PL - kw * DW, SW, OW);
                if (ow >= 0)
                    acc += LOADP(HALF_OF(cols), AT(cols),
                                 (((c * KH + kh) * KW + kw) * nb + n) * P + oh * OW + ow);
            }
        }
        GRAD_PUTP(1, row, w, acc, overwrite);
    }
#else
    global float *out = AT(dx) + (i1 * H + i0) * W;
    if (overwrite) /* the first contribution: the row starts from zero */
        for (int w = 0; w < W; w++)
            out[w] = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        int oh = bwd_out_row(i0, kh, PT, DH, SH, OH);
        if (oh < 0)
            continue;
        for (int kw = 0; kw < KW; kw++) {
            global const STORE_T(cols) *in =
                AT(cols) + (((c * KH + kh) * KW + kw) * nb + n) * P + oh * OW;
            bwd_row_mad_cols(out, in, 1.0f, PL - kw * DW, SW, W, OW);
        }
    }
#endif
}

/* 3-D ids for the layout changes: p = i0, o = i1, image n = i2. */
#define ID3(n0, n1, n2)                                                      \
    uint i0 = get_global_id(0), i1 = get_global_id(1), i2 = get_global_id(2); \
    if (i0 >= (uint)(n0) || i1 >= (uint)(n1) || i2 >= (uint)(n2))           \
        return

/* y[n][o][p] = tmp[o][n*P + p] + bias[o]. */
kernel void conv_scatter(GEOM, int nb, int has_bias, CTENSOR(tmp),
                         CTENSOR(bias), TENSOR(y))
{
    uint P = OH * OW;
    ID3(P, O, nb);
    float v = LD(tmp, (i1 * nb + i2) * P + i0);
    ST(y, (i2 * O + i1) * P + i0, has_bias ? v + AT(bias)[i1] : v);
}

/* The inverse layout change for backward: tmp[o][n*P + p] = dy[n][o][p]. */
kernel void conv_gather_dout(GEOM, int nb, CTENSOR(dy), TENSOR(tmp))
{
    uint P = OH * OW;
    ID3(P, O, nb);
    ST(tmp, (i1 * nb + i2) * P + i0, LD(dy, (i2 * O + i1) * P + i0));
}

/* y[n][o][p] += bias[o] (after the 1x1 GEMM wrote y directly). */
kernel void conv_bias_add(GEOM, int nb, CTENSOR(bias), TENSOR(y))
{
    uint P = OH * OW;
    ID3(P, O, nb);
    uint i = (i2 * O + i1) * P + i0;
    ST(y, i, LD(y, i) + AT(bias)[i1]);
}

/* Sum of a[i] * b[i] (b == NULL: of a[i]) over i < n, with 8 partial sums
 * so that it vectorises without reassociation flags. a is part of dy, b of
 * x (their storage). */
inline float dot_n(global const STORE_T(dy) *a, global const STORE_T(x) *b, int n)
{
    float8 acc = 0.0f;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        acc += b ? LOAD8P(HALF_OF(dy), a + i, 0) * LOAD8P(HALF_OF(x), b + i, 0)
                 : LOAD8P(HALF_OF(dy), a + i, 0);
    float s = ((acc.s0 + acc.s1) + (acc.s2 + acc.s3)) +
              ((acc.s4 + acc.s5) + (acc.s6 + acc.s7));
    for (; i < n; i++)
        s += b ? LOADP(HALF_OF(dy), a, i) * LOADP(HALF_OF(x), b, i)
               : LOADP(HALF_OF(dy), a, i);
    return s;
}

/* dbias, level 1: part[n*O + o] = sum over p of dy[n][o][p]. */
kernel void conv_dbias_partial(GEOM, int nb, CTENSOR(dy), TENSOR(part))
{
    uint i = get_global_id(0), P = OH * OW;
    if (i < (uint)(nb * O))
        AT(part)[i] = dot_n(AT(dy) + i * P, 0, P);
}

/* dbias, level 2: db[o] += sum over n of part[n*O + o]. */
kernel void conv_dbias_reduce(GEOM, int nb, CTENSOR(part), TENSOR(db))
{
    uint o = get_global_id(0);
    if (o >= (uint)O)
        return;
    float s = 0.0f;
    for (int n = 0; n < nb; n++)
        s += AT(part)[n * O + o];
    AT(db)[o] += s;
}

/* dw[i] += sum over s < S of part[s*len + i] (split-K weight gradient). */
kernel void conv_sum_slices(uint len, int S, CTENSOR(part), TENSOR(dw))
{
    uint i = get_global_id(0);
    if (i >= len)
        return;
    float s = 0.0f;
    for (int k = 0; k < S; k++)
        s += AT(part)[k * len + i];
    AT(dw)[i] += s;
}

/* Direct forward, one output row per work-item: oh = i0, plane i1 =
 * n*O + o. */
kernel void conv_direct_forward(GEOM, int nb, int has_bias, CTENSOR(x),
                                CTENSOR(w), CTENSOR(bias), TENSOR(y))
{
    ID2(OH, nb * O);
    int n = i1 / O, o = i1 - n * O;
    int c0 = (o / OG) * CG;
    float b = has_bias ? AT(bias)[o] : 0.0f;
#if HALF_OF(y)
    global half *out = AT(y) + (i1 * OH + i0) * OW;
    for (int ow = 0; ow < OW; ow++) {
        float s = b;
        for (int ci = 0; ci < CG; ci++) {
            global const float *wc = AT(w) + (o * CG + ci) * KH * KW;
            for (int kh = 0; kh < KH; kh++) {
                int ih = (int)i0 * SH - PT + kh * DH;
                if (ih < 0 || ih >= H)
                    continue;
                global const STORE_T(x) *in = AT(x) + ((n * C + c0 + ci) * H + ih) * W;
                for (int kw = 0; kw < KW; kw++) {
                    int iw = ow * SW + kw * DW - PL;
                    if (iw >= 0 && iw < W)
                        s += wc[kh * KW + kw] * LOADP(HALF_OF(x), in, iw);
                }
            }
        }
        vstore_half_rte(s, ow, out);
    }
#else
    global float *out = AT(y) + (i1 * OH + i0) * OW;
    for (int ow = 0; ow < OW; ow++)
        out[ow] = b;
    for (int ci = 0; ci < CG; ci++) {
        global const float *wc = AT(w) + (o * CG + ci) * KH * KW;
        for (int kh = 0; kh < KH; kh++) {
            int ih = (int)i0 * SH - PT + kh * DH;
            if (ih < 0 || ih >= H)
                continue;
            global const STORE_T(x) *in = AT(x) + ((n * C + c0 + ci) * H + ih) * W;
            for (int kw = 0; kw < KW; kw++)
                fwd_row_mad(out, in, wc[kh * KW + kw], kw * DW - PL, SW, W, OW);
        }
    }
#endif
}

/* Direct dX, one input row per work-item: h = i0, plane i1 = n*C + c. */
kernel void conv_direct_backward_data(GEOM, int nb, CTENSOR(dy), CTENSOR(w),
                                      TENSOR(dx), int overwrite)
{
    ID2(H, nb * C);
    int n = i1 / C, c = i1 - n * C;
    int g = c / CG, ci = c - g * CG;
#if HALF_OF(dx)
    /* A half dx (precision fp16): each element's sum in a float register
     * and one store (as conv_col2im). */
    global half *row = AT(dx) + (i1 * H + i0) * W;
    for (int w = 0; w < W; w++) {
        float acc = 0.0f;
        for (int og = 0; og < OG; og++) {
            int o = g * OG + og;
            global const float *wc = AT(w) + (o * CG + ci) * KH * KW;
            for (int kh = 0; kh < KH; kh++) {
                int oh = bwd_out_row(i0, kh, PT, DH, SH, OH);
                if (oh < 0)
                    continue;
                for (int kw = 0; kw < KW; kw++) {
                    int ow = bwd_out_col(w, PL - kw * DW, SW, OW);
                    if (ow >= 0)
                        acc += wc[kh * KW + kw] *
                               LOADP(HALF_OF(dy), AT(dy), ((n * O + o) * OH + oh) * OW + ow);
                }
            }
        }
        GRAD_PUTP(1, row, w, acc, overwrite);
    }
#else
    global float *out = AT(dx) + (i1 * H + i0) * W;
    if (overwrite) /* the first contribution: the row starts from zero */
        for (int w = 0; w < W; w++)
            out[w] = 0.0f;
    for (int og = 0; og < OG; og++) {
        int o = g * OG + og;
        global const float *wc = AT(w) + (o * CG + ci) * KH * KW;
        for (int kh = 0; kh < KH; kh++) {
            int oh = bwd_out_row(i0, kh, PT, DH, SH, OH);
            if (oh < 0)
                continue;
            global const STORE_T(dy) *in = AT(dy) + ((n * O + o) * OH + oh) * OW;
            for (int kw = 0; kw < KW; kw++)
                bwd_row_mad_dy(out, in, wc[kh * KW + kw], PL - kw * DW, SW, W, OW);
        }
    }
#endif
}

/* Direct dW, one work-item per weight (o, ci, kh, kw) summing over the
 * batch and the output positions whose tap stays inside the input. */
kernel void conv_direct_backward_weight(GEOM, int nb, CTENSOR(x), CTENSOR(dy),
                                        TENSOR(dw))
{
    uint i = get_global_id(0);
    if (i >= (uint)(O * CG * KH * KW))
        return;
    int kw = i % KW, t = i / KW;
    int kh = t % KH;
    t /= KH;
    int ci = t % CG, o = t / CG;
    int c = (o / OG) * CG + ci, off = kw * DW - PL;
    int lo, hi;
    fwd_span(off, SW, W, OW, &lo, &hi);
    float s = 0.0f;
    for (int n = 0; n < nb; n++) {
        for (int oh = 0; oh < OH; oh++) {
            int ih = oh * SH - PT + kh * DH;
            if (ih < 0 || ih >= H || lo >= hi)
                continue;
            global const STORE_T(dy) *d = AT(dy) + ((n * O + o) * OH + oh) * OW;
            global const STORE_T(x) *in = AT(x) + ((n * C + c) * H + ih) * W + off;
            if (SW == 1)
                s += dot_n(d + lo, in + lo, hi - lo);
            else
                for (int ow = lo; ow < hi; ow++)
                    s += LOADP(HALF_OF(dy), d, ow) * LOADP(HALF_OF(x), in, ow * SW);
        }
    }
    AT(dw)[i] += s;
}

/* ---- implicit path (src/ops/conv.h, conv_implicit.c) ------------------- */

/* One row of the padded layout per work-item: row r = i0 of channel plane
 * c = i1 of dst, from src (nb images, CC channels of HH x WW, NCHW). Rows
 * and columns outside the pixels are written as zeros, so a layout needs no
 * separate clearing. */
kernel void conv_pad(int CC, int HH, int WW, int nb, int row0, int col0,
                     int hs, int wp, int rows, CTENSOR(src), TENSOR(dst))
{
    ID2(rows, CC);
    global STORE_T(dst) *out = AT(dst) + ((size_t)i1 * rows + i0) * wp;
    int t = (int)i0 - row0, n = t >= 0 ? t / hs : 0, h = t - n * hs;
    if (t < 0 || n >= nb || h >= HH) {
        for (int x = 0; x < wp; x++)
            STOREP(HALF_OF(dst), out, x, 0.0f);
        return;
    }
    global const STORE_T(src) *in = AT(src) + (((size_t)n * CC + i1) * HH + h) * WW;
    for (int x = 0; x < col0; x++)
        STOREP(HALF_OF(dst), out, x, 0.0f);
    int x = 0;
#if HALF_OF(dst) && HALF_OF(src)
    /* Half to half: the bit patterns (conv_im2col says why). */
    for (; x < WW; x++)
        ((global ushort *)out)[col0 + x] = ((global const ushort *)in)[x];
#elif HALF_OF(dst)
    /* Eight halves per store: PoCL converts one at a time 3.6x slower. */
    for (; x + 8 <= WW; x += 8)
        STORE8P(1, LOAD8P(HALF_OF(src), in + x, 0), 0, out + col0 + x);
#endif
    for (; x < WW; x++)
        STOREP(HALF_OF(dst), out, col0 + x, LOADP(HALF_OF(src), in, x));
    for (x = col0 + WW; x < wp; x++)
        STOREP(HALF_OF(dst), out, x, 0.0f);
}

/* The GEMM's output rows back to NCHW, one output row per work-item: row
 * y = i0 of plane i1 = n*CC + c reads tmp[c][(n*hs + y)*wp + x]; adds the
 * bias when has_bias, adds into dst when accumulate (dX), else writes. */
kernel void conv_crop(int CC, int HH, int WW, int nb, int hs, int wp,
                      uint nq, int has_bias, int accumulate, CTENSOR(tmp),
                      CTENSOR(bias), TENSOR(dst))
{
    ID2(HH, nb * CC);
    int n = i1 / CC, c = i1 - n * CC;
    global const STORE_T(tmp) *in = AT(tmp) + (size_t)c * nq + ((size_t)n * hs + i0) * wp;
    global STORE_T(dst) *out = AT(dst) + ((size_t)i1 * HH + i0) * WW;
    float b = has_bias ? AT(bias)[c] : 0.0f;
    int x = 0;
#if HALF_OF(dst)
    /* Eight halves per store (conv_pad says why); the same sums. */
    for (; x + 8 <= WW; x += 8) {
        float8 v = LOAD8P(HALF_OF(tmp), in + x, 0) + b;
        STORE8P(1, accumulate ? LOAD8P(1, out + x, 0) + v : v, 0, out + x);
    }
#endif
    if (accumulate)
        for (; x < WW; x++)
            STOREP(HALF_OF(dst), out, x,
                   LOADP(HALF_OF(dst), out, x) + (LOADP(HALF_OF(tmp), in, x) + b));
    else
        for (; x < WW; x++)
            STOREP(HALF_OF(dst), out, x, LOADP(HALF_OF(tmp), in, x) + b);
}

/* wt[g][ci][og*KK + t] = w[g*OG + og][ci][KK-1-t]: per group, the weights
 * transposed (input channels become rows) with the kernel turned by 180
 * degrees, the A operand of the data gradient. One weight per work-item. */
kernel void conv_flip(GEOM, int nb, CTENSOR(w), TENSOR(wt))
{
    uint i = get_global_id(0);
    int KK = KH * KW;
    if (i >= (uint)(O * CG * KK))
        return;
    int t = i % KK, r = i / KK;
    int og = r % OG, s = r / OG;
    int ci = s % CG, g = s / CG;
    AT(wt)[i] = AT(w)[((g * OG + og) * CG + ci) * KK + (KK - 1 - t)];
}
