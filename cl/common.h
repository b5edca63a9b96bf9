/* Shared definitions for every clnet kernel source. Inlined by the runtime
 * where a .cl file says #include "common.h".
 *
 * Build options arrive as -D macros from clnet__build_options(); each has a
 * default here so any .cl file compiles on its own (e.g. with clang -x cl). */
#ifndef CLNET_CL_COMMON_H
#define CLNET_CL_COMMON_H

#ifndef CLNET_HAS_FP16
#define CLNET_HAS_FP16 0
#endif
#ifndef CLNET_HAS_FP64
#define CLNET_HAS_FP64 0
#endif
#ifndef CLNET_VEC_FLOAT
#define CLNET_VEC_FLOAT 1
#endif
#ifndef CLNET_MAX_WG
#define CLNET_MAX_WG 64
#endif
#ifndef CLNET_IS_CPU
#define CLNET_IS_CPU 0
#endif

/* A tensor argument is a (buffer, element offset) pair; TENSOR(name) declares
 * both and AT(name) gives the pointer to element 0 of the view. */
#define TENSOR(name) global float *name##_buf, uint name##_off
#define CTENSOR(name) global const float *name##_buf, uint name##_off
#define AT(name) (name##_buf + name##_off)

/* Backward kernels write an input gradient as *p = v when `overwrite` (the
 * executor's first contribution to it: *p holds garbage, never read) and
 * as *p += v otherwise (src/ops/op.h, din_write). */
#define GRAD_PUT(p, v, overwrite)                                            \
    do {                                                                     \
        float gp_v_ = (v);                                                   \
        *(p) = (overwrite) ? gp_v_ : *(p) + gp_v_;                           \
    } while (0)

/* Counter-based random numbers (a 32-bit integer hash of seed and index):
 * the same function runs on the host (src/ops/rng.h) so references and the
 * device draw identical masks without a host round-trip. */
inline uint clnet_hash32(uint x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* Uniform float in [0, 1) from (seed, index). */
inline float clnet_uniform(uint seed_lo, uint seed_hi, uint i)
{
    uint h = clnet_hash32(i ^ clnet_hash32(seed_lo ^ clnet_hash32(seed_hi + 0x9e3779b9U)));
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

#endif
