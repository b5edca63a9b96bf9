/* Generic elementwise kernels used across ops: scale, axpy, add. */
#include "common.h"

/* y[i] = alpha * x[i] + beta * y[i] */
kernel void axpby(uint n, float alpha, CTENSOR(x), float beta, TENSOR(y))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    ST(y, i, alpha * LD(x, i) + (beta == 0.0f ? 0.0f : beta * LD(y, i)));
}
