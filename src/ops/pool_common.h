/* What maxpool and avgpool share: their parameters (kernel, stride, pad,
 * ceil_mode, and count_include_pad for avgpool), PyTorch's output-size rule,
 * the kernel build options and the launches (both families' kernels in
 * cl/pool.cl take the same arguments). */
#ifndef CLNET_POOL_COMMON_H
#define CLNET_POOL_COMMON_H

#include "ops/op.h"

typedef struct clnet__pool_params {
    int avg;                /* 1: avgpool (accepts count_include_pad) */
    int kh, kw, sh, sw, ph, pw;
    int stride_given;       /* else the stride follows the kernel */
    int ceil_mode;
    int count_include_pad;  /* avgpool only; PyTorch's default 1 */
} clnet__pool_params;

void clnet__pool_defaults(clnet__pool_params *p, int avg);

/* The op table entries of both ops (params: a clnet__pool_params). */
clnet_status clnet__pool_set(void *params, const char *key, const char *value,
                             char *err, size_t errlen);
/* One input; pad <= kernel/2 (CLNET_EINVAL); output >= 1x1 (CLNET_ESHAPE). */
clnet_status clnet__pool_plan(const void *params, int n_in,
                              const clnet__shape *in, clnet__op_plan *plan,
                              char *err, size_t errlen);
/* Forward: one work-item per output element (x -> y; maxpool also saves
 * its argmax when training). Backward: dx += ..., scattered from the
 * windows in phases of non-overlapping windows (cl/pool.cl). */
clnet_status clnet__pool_forward(clnet_ctx *ctx, const void *params,
                                 const clnet__op_io *io);
clnet_status clnet__pool_backward(clnet_ctx *ctx, const void *params,
                                  const clnet__op_io *io);

/* A runtime divisor d (1 <= d <= 2^31) packed for fdiv() in cl/pool.cl:
 * exact n / d by multiply-high and shifts, which PoCL vectorises. */
uint64_t clnet__pool_fdiv(uint32_t d);

/* The effective stride (the kernel when no stride was given). */
/* Output extent along one axis: (in + 2 pad - k) / s + 1; with ceil_mode
 * rounded up, but the last window starts inside the input or its start
 * padding (PyTorch's rule). <= 0 when nothing fits. The ONNX importer uses
 * it to recognise a ceil_mode window written as end padding. */
int clnet__pool_out_size(int in, int k, int s, int pad, int ceil_mode);
int clnet__pool_stride_h(const clnet__pool_params *p);
int clnet__pool_stride_w(const clnet__pool_params *p);

#endif
