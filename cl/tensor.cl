/* Tensor plumbing: elementwise add of up to 8 inputs (residual joins) and
 * channel concatenation, forward and backward side by side.
 * Backward accumulates: dx += ... */
#include "common.h"

/* y = x0 + ... + x(m-1), 1 <= m <= 8. Slots past m are bound to x0 by the
 * host and never read; m is uniform across work-items, so the branches cost
 * little. */
kernel void add_forward(uint n, uint m, CTENSOR(x0), CTENSOR(x1), CTENSOR(x2),
                        CTENSOR(x3), CTENSOR(x4), CTENSOR(x5), CTENSOR(x6),
                        CTENSOR(x7), TENSOR(y))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float s = AT(x0)[i];
    if (m > 1) s += AT(x1)[i];
    if (m > 2) s += AT(x2)[i];
    if (m > 3) s += AT(x3)[i];
    if (m > 4) s += AT(x4)[i];
    if (m > 5) s += AT(x5)[i];
    if (m > 6) s += AT(x6)[i];
    if (m > 7) s += AT(x7)[i];
    AT(y)[i] = s;
}

/* d0..d(m-1) += dy, reading dy once. Unused slots as in add_forward. */
kernel void add_backward(uint n, uint m, CTENSOR(dy), TENSOR(d0), TENSOR(d1),
                         TENSOR(d2), TENSOR(d3), TENSOR(d4), TENSOR(d5),
                         TENSOR(d6), TENSOR(d7))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    float g = AT(dy)[i];
    AT(d0)[i] += g;
    if (m > 1) AT(d1)[i] += g;
    if (m > 2) AT(d2)[i] += g;
    if (m > 3) AT(d3)[i] += g;
    if (m > 4) AT(d4)[i] += g;
    if (m > 5) AT(d5)[i] += g;
    if (m > 6) AT(d6)[i] += g;
    if (m > 7) AT(d7)[i] += g;
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
        AT(y)[b * inner_y + off + j] = AT(x)[b * inner_x + j];
}

kernel void concat_backward(uint inner_x, uint inner_y, uint off, CTENSOR(dy),
                            TENSOR(dx))
{
    uint j = get_global_id(0), b = get_global_id(1);
    if (j < inner_x)
        AT(dx)[b * inner_x + j] += AT(dy)[b * inner_y + off + j];
}
