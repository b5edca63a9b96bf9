/* SGEMM inside src/ocl: clnet's own kernels (cl/gemm.cl), CLBlast, and the
 * per-shape choice between them.
 *
 *   blas.c       clnet__sgemm / clnet__sgemm_batched: validate, ask
 *                gemm_tune.c for a variant, run it (CLBlast when a clnet
 *                kernel cannot be built here).
 *   gemm.c       the variant table and the launch of each variant.
 *   gemm_tune.c  the choice: a heuristic per device type, or (with
 *                CLNET_GEMM_TUNE=1) a timed run of every candidate, stored in
 *                <cache dir>/gemm-<hash>.txt for the next process.
 *
 * A problem is row-major C = alpha * op(A) * op(B) + beta * C repeated over
 * `batch` matrices at fixed strides (floats). */
#ifndef CLNET_OCL_GEMM_H
#define CLNET_OCL_GEMM_H

#include "ocl/ocl_private.h"

typedef struct clnet__gemm_problem {
    int ta, tb;
    clnet__gemm_taps taps;
    size_t m, n, k;
    float alpha, beta;
    clnet__tensor a, b, c;
    size_t lda, ldb, ldc;
    size_t stride_a, stride_b, stride_c;
    size_t batch;
    /* 1: operands rounded to half, products and sums fp32 (precision fp16;
     * the tiled kernel's GEMM_FP16, with half tiles where the device has
     * cl_khr_fp16). The CPU kernels and CLBlast compute in fp32. */
    int fp16;
} clnet__gemm_problem;

typedef enum clnet__gemm_kind {
    CLNET__GEMM_CLBLAST,
    CLNET__GEMM_PANEL,  /* gemm_panel: CPU micro-kernel, not for A*B^T */
    CLNET__GEMM_DOT,    /* gemm_dot: CPU, only A*B^T */
    CLNET__GEMM_TILED   /* gemm_tiled: GPU shape, any transposes */
} clnet__gemm_kind;

typedef struct clnet__gemm_variant {
    const char *name;   /* stable: the tuning file stores it */
    clnet__gemm_kind kind;
    /* panel: MR NV MB KC; dot: MR NR; tiled: TSM TSN TSK WPTM WPTN */
    int p[5];
} clnet__gemm_variant;

/* 1 when an operand is stored as half (fp16-storage): only clnet's own
 * kernels read those, and the tuner does not time them (gemm_tune.c). */
static inline int clnet__gemm_has_half(const clnet__gemm_problem *p)
{
    return p->a.half || p->b.half || p->c.half;
}

/* Through taps (p->taps.kk > 0): the floats one of B's `batch` matrices
 * spans from its start, the last channel plane's farthest kernel tap plus
 * a row's length, into *floats. 0 when the taps are malformed (rows not
 * whole (channel, kh, kw) sets) or the extent overflows. */
int clnet__gemm_taps_extent(const clnet__gemm_problem *p, size_t *floats);

/* The variant table (gemm.c); index 0 is CLBlast. */
extern const clnet__gemm_variant clnet__gemm_variants[];
extern const size_t clnet__gemm_variant_count;

/* Index of a variant name, or -1. */
int clnet__gemm_find(const char *name);

/* 1 when variant v can run problem p on this context's device (transposes,
 * 32-bit index limits, work-group size); no side effects beyond building
 * the kernel to learn its work-group limit (tiled only). */
int clnet__gemm_applies(clnet_ctx *ctx, size_t v, const clnet__gemm_problem *p);

/* Enqueues variant v on the compute queue: one of clnet's kernels through
 * gemm.c, CLBlast (index 0) through blas.c. */
clnet_status clnet__gemm_run(clnet_ctx *ctx, size_t v,
                             const clnet__gemm_problem *p);
/* The CLBlast call (blas.c). */
clnet_status clnet__gemm_clblast(clnet_ctx *ctx, const clnet__gemm_problem *p);

/* C = beta * C, all a problem with k = 0 does (gemm_scale). */
clnet_status clnet__gemm_scale(clnet_ctx *ctx, const clnet__gemm_problem *p);

/* The variant to use for p (gemm_tune.c). Deterministic for a context once
 * a shape class has been decided; may time candidates when tuning is on. */
size_t clnet__gemm_pick(clnet_ctx *ctx, const clnet__gemm_problem *p);

/* Marks v unusable for this context (its kernel failed to build, or allows
 * fewer work-items than its tiles need), so later picks use CLBlast. */
void clnet__gemm_disable(clnet_ctx *ctx, size_t v);

/* Frees the context's GEMM state (called by clnet__ocl_close). */
void clnet__gemm_release(clnet_ctx *ctx);

#endif
