/* Dropout with masks from the counter-based RNG of common.h: element i is
 * kept when clnet_uniform(seed, i) >= p, so backward recomputes the same mask
 * from the same seed and nothing is stored between the passes. */
#include "common.h"

inline float dropout_factor(uint i, float p, float scale, uint seed_lo,
                            uint seed_hi)
{
    return clnet_uniform(seed_lo, seed_hi, i) >= p ? scale : 0.0f;
}

/* y = x * mask / (1 - p); scale = 1 / (1 - p) comes from the host. */
kernel void dropout_forward(uint n, float p, float scale, uint seed_lo,
                            uint seed_hi, CTENSOR(x), TENSOR(y))
{
    uint i = get_global_id(0);
    if (i < n)
        ST(y, i, LD(x, i) * dropout_factor(i, p, scale, seed_lo, seed_hi));
}

/* dx += dy * mask / (1 - p) */
kernel void dropout_backward(uint n, float p, float scale, uint seed_lo,
                             uint seed_hi, CTENSOR(dy), TENSOR(dx), uint overwrite)
{
    uint i = get_global_id(0);
    if (i < n)
        GRAD_AT(dx, i, LD(dy, i) * dropout_factor(i, p, scale, seed_lo, seed_hi),
                overwrite);
}
