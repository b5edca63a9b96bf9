/* Tensor plumbing: elementwise add of up to 8 inputs (residual joins) and
 * channel concatenation, forward and backward side by side.
 * Backward accumulates (dx += ...) unless told to write (op.h, din_write). */
#include "common.h"

/* The add kernels are built per use (src/ops/add.c): ADD_M inputs, bit k
 * of ADD_WRITE set where backward writes (not adds to) input gradient k
 * (op.h, din_write), ADD_RELU when a relu is fused after the add (op.h,
 * relu_after). As build options rather than arguments, so that every branch
 * is decided at compile time: PoCL vectorised the runtime-flag form badly
 * (add_backward 2.6x slower, resnet20, 2026-12-06). Slots past ADD_M are
 * bound to x0/d0 by the host and never touched. */
#ifndef ADD_M
#define ADD_M 2
#endif
#ifndef ADD_WRITE
#define ADD_WRITE 0
#endif
#ifndef ADD_RELU
#define ADD_RELU 0
#endif

/* Input k's element i (or eight from i) added into s when k < ADD_M. */
#define ADD_IN(k, s, i) if (ADD_M > k) s += LD(x##k, i)
#define ADD_IN8(k, s, i) if (ADD_M > k) s += LOAD8P(HALF_OF(x##k), AT(x##k) + (i), 0)

inline float add_at(uint i, CTENSOR(x0), CTENSOR(x1), CTENSOR(x2), CTENSOR(x3),
                    CTENSOR(x4), CTENSOR(x5), CTENSOR(x6), CTENSOR(x7))
{
    float s = LD(x0, i);
    ADD_IN(1, s, i); ADD_IN(2, s, i); ADD_IN(3, s, i);
    ADD_IN(4, s, i); ADD_IN(5, s, i); ADD_IN(6, s, i); ADD_IN(7, s, i);
    return ADD_RELU ? fmax(s, 0.0f) : s;
}

#define ADD_ARGS x0_buf, x0_off, x1_buf, x1_off, x2_buf, x2_off, x3_buf, x3_off, \
                 x4_buf, x4_off, x5_buf, x5_off, x6_buf, x6_off, x7_buf, x7_off

/* y = x0 + ... + x(ADD_M-1), then relu(y) (fmax, as act_forward's relu).
 * A half y: eight outputs per work-item (the host launches n/8, rounded
 * up), since PoCL stores a half one at a time 3.6x slower than eight; the
 * same sums in the same order. */
kernel void add_forward(uint n, CTENSOR(x0), CTENSOR(x1), CTENSOR(x2),
                        CTENSOR(x3), CTENSOR(x4), CTENSOR(x5), CTENSOR(x6),
                        CTENSOR(x7), TENSOR(y))
{
#if HALF_OF(y)
    uint i0 = get_global_id(0) * 8;
    if (i0 + 8 <= n) {
        float8 v = LOAD8P(HALF_OF(x0), AT(x0) + i0, 0);
        ADD_IN8(1, v, i0); ADD_IN8(2, v, i0); ADD_IN8(3, v, i0);
        ADD_IN8(4, v, i0); ADD_IN8(5, v, i0); ADD_IN8(6, v, i0); ADD_IN8(7, v, i0);
        STORE8P(1, ADD_RELU ? fmax(v, 0.0f) : v, 0, AT(y) + i0);
        return;
    }
    for (uint i = i0; i < n; i++)
        ST(y, i, add_at(i, ADD_ARGS));
#else
    uint i = get_global_id(0);
    if (i < n)
        ST(y, i, add_at(i, ADD_ARGS));
#endif
}

/* d0..d(ADD_M-1) += g (= g where ADD_WRITE says), reading dy once; g = dy,
 * or through the fused relu with output y, dy where y > 0 (the product
 * act_backward's relu computes). */
kernel void add_backward(uint n, CTENSOR(dy), TENSOR(d0), TENSOR(d1),
                         TENSOR(d2), TENSOR(d3), TENSOR(d4), TENSOR(d5),
                         TENSOR(d6), TENSOR(d7), CTENSOR(y))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float g = LD(dy, i);
    if (ADD_RELU)
        g *= LD(y, i) > 0.0f ? 1.0f : 0.0f;
    GRAD_AT(d0, i, g, ADD_WRITE & 1);
    if (ADD_M > 1) GRAD_AT(d1, i, g, ADD_WRITE & 2);
    if (ADD_M > 2) GRAD_AT(d2, i, g, ADD_WRITE & 4);
    if (ADD_M > 3) GRAD_AT(d3, i, g, ADD_WRITE & 8);
    if (ADD_M > 4) GRAD_AT(d4, i, g, ADD_WRITE & 16);
    if (ADD_M > 5) GRAD_AT(d5, i, g, ADD_WRITE & 32);
    if (ADD_M > 6) GRAD_AT(d6, i, g, ADD_WRITE & 64);
    if (ADD_M > 7) GRAD_AT(d7, i, g, ADD_WRITE & 128);
}

/* One concat input x ([batch, c_x, h, w], inner_x = c_x h w floats per
 * image) is the channel slice of y starting at float `off` of each image
 * (inner_y floats per image). 2-D launch: (element within the image,
 * image), so no work-item divides (PoCL does not vectorise division). */
kernel void concat_forward(uint inner_x, uint inner_y, uint off, CTENSOR(x),
                           TENSOR(y))
{
    uint j = get_global_id(0), b = get_global_id(1);
    if (j < inner_x)
        ST(y, b * inner_y + off + j, LD(x, b * inner_x + j));
}

kernel void concat_backward(uint inner_x, uint inner_y, uint off, CTENSOR(dy),
                            TENSOR(dx), uint overwrite)
{
    uint j = get_global_id(0), b = get_global_id(1);
    if (j < inner_x)
        GRAD_AT(dx, b * inner_x + j, LD(dy, b * inner_y + off + j), overwrite);
}

/* y = x with a change of storage (fp32 <-> half; src/ocl/buffer.c's
 * clnet__copy between tensors of different storage). */
kernel void tensor_convert(uint n, CTENSOR(x), TENSOR(y))
{
    uint i = get_global_id(0);
    if (i < n)
        ST(y, i, LD(x, i));
}
