/* Bias helpers for dense (linear) layers; the products themselves go
 * through CLBlast. y is [n, outs] row-major, b is [outs]. */
#include "common.h"

/* y[i, j] = b[j]: forward then runs the GEMM with beta = 1 on top, so the
 * bias costs no extra pass over y. */
kernel void dense_bias_fill(uint total, uint outs, CTENSOR(b), TENSOR(y))
{
    uint i = get_global_id(0);
    if (i < total)
        ST(y, i, AT(b)[i % outs]);
}

/* db[j] += sum_i dy[i, j]: one work-item per output feature looping over the
 * batch, so the sum is deterministic (no atomics) and neighbouring
 * work-items read neighbouring floats. */
kernel void dense_bias_grad(uint n, uint outs, CTENSOR(dy), TENSOR(db))
{
    uint j = get_global_id(0);
    if (j >= outs)
        return;
    global const STORE_T(dy) *p = AT(dy) + j;
    float s = 0.0f;
    for (uint i = 0; i < n; i++)
        s += LOADP(HALF_OF(dy), p, (size_t)i * outs);
    AT(db)[j] += s;
}
