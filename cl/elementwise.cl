/* Generic elementwise kernels used across ops: scale, axpy, add. */
#include "common.h"

/* y[i] = alpha * x[i] + beta * y[i] */
kernel void axpby(uint n, float alpha, CTENSOR(x), float beta, TENSOR(y))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    global const float *xp = AT(x);
    global float *yp = AT(y);
    yp[i] = alpha * xp[i] + (beta == 0.0f ? 0.0f : beta * yp[i]);
}
