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
 * both and AT(name) gives the pointer to element 0 of the view.
 *
 * Storage: a tensor argument `name` is fp32 unless the program is built
 * with -DHALF_name=1 (the host's clnet__half_opt, from the tensor's
 * storage flag); then it is `global half *`, read through vload_half and
 * written through vstore_half_rte (core OpenCL 1.2, no cl_khr_fp16), and
 * all arithmetic stays fp32. Without any HALF_ option every macro below is
 * the plain float indexing the kernels always used, so fp32 builds compile
 * to the same code. HALF_OF(name) is 1 or 0 (a HALF_name that is not
 * defined counts as 0: the probe below needs no default per name). */
#define CLNET_CAT_(a, b) a##b
#define CLNET_CAT(a, b) CLNET_CAT_(a, b)
#define CLNET_SECOND_(a, b, ...) b
#define CLNET_SECOND(...) CLNET_SECOND_(__VA_ARGS__)
#define CLNET_PROBE_1 ~, 1
#define CLNET_FLAG(v) CLNET_SECOND(CLNET_CAT(CLNET_PROBE_, v), 0, ~)
#define CLNET_IF_0(a, b) b
#define CLNET_IF_1(a, b) a
#define CLNET_IF(c, a, b) CLNET_CAT(CLNET_IF_, c)(a, b)

#define HALF_OF(name) CLNET_FLAG(HALF_##name)
#define STORE_T(name) CLNET_IF(HALF_OF(name), half, float)

#define TENSOR(name) global STORE_T(name) *name##_buf, uint name##_off
#define CTENSOR(name) global const STORE_T(name) *name##_buf, uint name##_off
#define AT(name) (name##_buf + name##_off)

/* Element i through a pointer p of storage h (0 fp32, 1 half), as float;
 * stores round to nearest even. The 8- and 16-wide forms read and write
 * float8 / float16 at p + 8*i (p + 16*i), as vload8 / vstore8 do. */
#define LOADP(h, p, i) CLNET_IF(h, (vload_half((i), (p))), ((p)[i]))
#define STOREP(h, p, i, v) CLNET_IF(h, vstore_half_rte((v), (i), (p)), ((p)[i] = (v)))
#define LOAD8P(h, p, i) CLNET_IF(h, (vload_half8((i), (p))), (vload8((i), (p))))
#define STORE8P(h, v, i, p) CLNET_IF(h, vstore_half8_rte((v), (i), (p)), vstore8((v), (i), (p)))
#define LOAD16P(h, p, i) CLNET_IF(h, (vload_half16((i), (p))), (vload16((i), (p))))
#define STORE16P(h, v, i, p) CLNET_IF(h, vstore_half16_rte((v), (i), (p)), vstore16((v), (i), (p)))
/* The same on a tensor argument's view. */
#define LD(name, i) LOADP(HALF_OF(name), AT(name), i)
#define ST(name, i, v) STOREP(HALF_OF(name), AT(name), i, v)

/* Backward kernels write an input gradient as *p = v when `overwrite` (the
 * executor's first contribution to it: *p holds garbage, never read) and
 * as *p += v otherwise (src/ops/op.h, din_write). GRAD_PUT is for fp32
 * pointers, GRAD_PUTP for element i through p of storage h, GRAD_AT for
 * element i of tensor argument `name`. */
#define GRAD_PUT(p, v, overwrite)                                            \
    do {                                                                     \
        float gp_v_ = (v);                                                   \
        *(p) = (overwrite) ? gp_v_ : *(p) + gp_v_;                           \
    } while (0)
#define GRAD_PUTP(h, p, i, v, overwrite)                                     \
    do {                                                                     \
        float gp_v_ = (v);                                                   \
        STOREP(h, p, i, (overwrite) ? gp_v_ : LOADP(h, p, i) + gp_v_);       \
    } while (0)
#define GRAD_AT(name, i, v, overwrite)                                       \
    GRAD_PUTP(HALF_OF(name), AT(name), i, v, overwrite)

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
