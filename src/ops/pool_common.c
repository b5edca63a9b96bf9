#include "ops/pool_common.h"

#include "ops/op_util.h"

#include <stdio.h>
#include <string.h>

/* Kernel sizes beyond this are surely a typo; it also keeps the unrolled
 * window loops of cl/pool.cl small. */
#define POOL_MAX_KERNEL 64

static const char *pool_name(const clnet__pool_params *p)
{
    return p->avg ? "avgpool" : "maxpool";
}

void clnet__pool_defaults(clnet__pool_params *p, int avg)
{
    *p = (clnet__pool_params){.avg = avg, .kh = 2, .kw = 2, .count_include_pad = 1};
}

clnet_status clnet__pool_set(void *params, const char *key, const char *value,
                             char *err, size_t errlen)
{
    clnet__pool_params *p = params;
    if (strcmp(key, "kernel") == 0)
        return clnet__parse_pair(key, value, 1, POOL_MAX_KERNEL, &p->kh, &p->kw,
                                 err, errlen);
    if (strcmp(key, "stride") == 0) {
        p->stride_given = 1;
        return clnet__parse_pair(key, value, 1, POOL_MAX_KERNEL, &p->sh, &p->sw,
                                 err, errlen);
    }
    if (strcmp(key, "pad") == 0)
        return clnet__parse_pair(key, value, 0, POOL_MAX_KERNEL / 2, &p->ph,
                                 &p->pw, err, errlen);
    if (strcmp(key, "ceil_mode") == 0)
        return clnet__parse_bool(key, value, &p->ceil_mode, err, errlen);
    if (p->avg && strcmp(key, "count_include_pad") == 0)
        return clnet__parse_bool(key, value, &p->count_include_pad, err, errlen);
    return clnet__unknown_key(pool_name(p), key, err, errlen);
}

int clnet__pool_stride_h(const clnet__pool_params *p)
{
    return p->stride_given ? p->sh : p->kh;
}

int clnet__pool_stride_w(const clnet__pool_params *p)
{
    return p->stride_given ? p->sw : p->kw;
}

/* PyTorch's pooling_output_shape (dilation 1): floor or ceil of
 * (in + 2 pad - k) / s, plus one; in ceil mode the last window must start
 * inside the input or its left padding. Returns <= 0 when nothing fits. */
int clnet__pool_out_size(int in, int k, int s, int pad, int ceil_mode)
{
    int span = in + 2 * pad - k;
    if (span < 0)
        return 0;
    int o = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (o - 1) * s >= in + pad)
        o--;
    return o;
}

clnet_status clnet__pool_plan(const void *params, int n_in,
                              const clnet__shape *in, clnet__op_plan *plan,
                              char *err, size_t errlen)
{
    const clnet__pool_params *p = params;
    const char *name = pool_name(p);
    if (n_in != 1)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "%s takes 1 input, got %d", name, n_in);
    int sh = clnet__pool_stride_h(p), sw = clnet__pool_stride_w(p);
    /* PyTorch's rule: a window must never lie entirely in the padding. */
    if (p->ph > p->kh / 2 || p->pw > p->kw / 2)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "%s: pad=%d,%d must be at most half of kernel=%d,%d",
                               name, p->ph, p->pw, p->kh, p->kw);
    char s[64];
    int oh = clnet__pool_out_size(in[0].h, p->kh, sh, p->ph, p->ceil_mode);
    int ow = clnet__pool_out_size(in[0].w, p->kw, sw, p->pw, p->ceil_mode);
    if (in[0].n < 1 || in[0].c < 1 || oh < 1 || ow < 1)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "%s: input %s with kernel=%d,%d stride=%d,%d "
                               "pad=%d,%d gives an empty output (%dx%d)",
                               name, clnet__shape_str(in[0], s, sizeof s), p->kh,
                               p->kw, sh, sw, p->ph, p->pw, oh, ow);
    /* maxpool saves argmax indices within a plane as exact floats. */
    if (!p->avg && (long)in[0].h * in[0].w > (1L << 24))
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "maxpool: input %s has planes over 2^24 elements",
                               clnet__shape_str(in[0], s, sizeof s));
    plan->out = (clnet__shape){in[0].n, in[0].c, oh, ow};
    plan->n_saved = p->avg ? 0 : 1;
    plan->saved_count[0] = p->avg ? 0 : clnet__shape_count(plan->out);
    plan->flops_forward = (double)clnet__shape_count(plan->out) * p->kh * p->kw;
    return CLNET_OK;
}

/* pool_forward or pool_backward of cl/pool.cl. The window geometry is
 * compiled in (-D), so the window loops unroll. */
static clnet_status pool_kernel(clnet_ctx *ctx, const clnet__pool_params *p,
                                const char *name, const clnet__op_io *io,
                                clnet__kernel **k)
{
    char opt[256];
    snprintf(opt, sizeof opt,
             "-DMAXPOOL=%d -DKH=%d -DKW=%d -DSH=%d -DSW=%d -DPH=%d -DPW=%d "
             "-DCOUNT_PAD=%d",
             !p->avg, p->kh, p->kw, clnet__pool_stride_h(p),
             clnet__pool_stride_w(p), p->ph, p->pw,
             p->avg ? p->count_include_pad : 1);
    /* The activations' storage; maxpool's indices stay fp32. */
    if (strcmp(name, "pool_backward") == 0) {
        clnet__half_opt(opt, sizeof opt, "dy", io->dout);
        clnet__half_opt(opt, sizeof opt, "dx", io->din[0]);
    } else {
        clnet__half_opt(opt, sizeof opt, "x", io->in[0]);
        clnet__half_opt(opt, sizeof opt, "y", io->out);
    }
    return clnet__kernel_get(ctx, "pool", opt, name, k);
}

uint64_t clnet__pool_fdiv(uint32_t d)
{
    unsigned l = 0;
    while (l < 32 && ((uint64_t)1 << l) < d)
        l++;
    /* (2^l - d) < d <= 2^31, so the product fits in 64 bits. */
    uint64_t magic = (((uint64_t)1 << 32) * (((uint64_t)1 << l) - d)) / d + 1;
    uint64_t s1 = l ? 1 : 0, s2 = l ? l - 1 : 0;
    return (magic & 0xffffffffu) | s1 << 32 | s2 << 40;
}

/* CPU devices: pool_forward_rows, one output row per work-item, up to 16
 * rows per work-group (as conv's row kernels). */
static clnet_status forward_rows(clnet_ctx *ctx, const clnet__pool_params *p,
                                 const clnet__op_io *io, clnet__tensor idx, int save)
{
    clnet__kernel *k = NULL;
    clnet_status st = pool_kernel(ctx, p, "pool_forward_rows", io, &k);
    if (st != CLNET_OK)
        return st;
    clnet__shape i = io->in_shape[0], o = io->out_shape;
    size_t planes = (size_t)o.n * o.c, wg = clnet__wg_1d(ctx, k);
    size_t global[2] = {(size_t)o.h, planes}, local[2] = {1, 1};
    while (local[0] * 2 <= (size_t)o.h && local[0] * 2 <= 16 && local[0] * 2 <= wg)
        local[0] *= 2;
    clnet__arg args[] = {CLNET_ARG_U32(o.h), CLNET_ARG_U32(planes), CLNET_ARG_U32(i.h),
                         CLNET_ARG_U32(i.w), CLNET_ARG_U32(o.w), CLNET_ARG_T(io->in[0]),
                         CLNET_ARG_T(io->out), CLNET_ARG_T(idx), CLNET_ARG_U32(save)};
    return clnet__launch(ctx, k, 2, global, local, sizeof args / sizeof args[0], args);
}

clnet_status clnet__pool_forward(clnet_ctx *ctx, const void *params,
                                 const clnet__op_io *io)
{
    const clnet__pool_params *p = params;
    /* maxpool saves its argmax for backward when training; the idx slot is
     * bound to y, never written, otherwise. */
    clnet__tensor idx = io->saved[0];
    int save = !p->avg && io->training && idx.buf;
    if (!save)
        idx = io->out;
    if (clnet__ocl_of(ctx)->caps.is_cpu)
        return forward_rows(ctx, p, io, idx, save);
    clnet__kernel *k = NULL;
    clnet_status st = pool_kernel(ctx, p, "pool_forward", io, &k);
    if (st != CLNET_OK)
        return st;
    clnet__shape i = io->in_shape[0], o = io->out_shape;
    size_t n = clnet__shape_count(o);
    return CLNET__LAUNCH_N(ctx, k, n, CLNET_ARG_U32(n), CLNET_ARG_U32(i.h),
                           CLNET_ARG_U32(i.w), CLNET_ARG_U32(o.h),
                           CLNET_ARG_U32(o.w), CLNET_ARG_U64(clnet__pool_fdiv(o.h)),
                           CLNET_ARG_U64(clnet__pool_fdiv(o.w)),
                           CLNET_ARG_T(io->in[0]), CLNET_ARG_T(io->out),
                           CLNET_ARG_T(idx), CLNET_ARG_U32(save));
}

clnet_status clnet__pool_backward(clnet_ctx *ctx, const void *params,
                                  const clnet__op_io *io)
{
    const clnet__pool_params *p = params;
    if (!io->din[0].buf)
        return CLNET_OK;
    if (!p->avg && !io->saved[0].buf)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "maxpool backward needs the indices its training "
                           "forward saves (no saved tensor given)");
    clnet__kernel *k = NULL;
    clnet_status st = pool_kernel(ctx, p, "pool_backward", io, &k);
    if (st != CLNET_OK)
        return st;
    clnet__shape i = io->in_shape[0], o = io->out_shape;
    clnet__tensor aux = p->avg ? io->in[0] : io->saved[0];
    /* One launch per phase: outputs nwh rows (nww columns) apart have
     * disjoint windows (see cl/pool.cl). */
    int sh = clnet__pool_stride_h(p), sw = clnet__pool_stride_w(p);
    int nwh = (p->kh + sh - 1) / sh, nww = (p->kw + sw - 1) / sw;
    for (int a = 0; a < nwh && st == CLNET_OK; a++)
        for (int b = 0; b < nww && st == CLNET_OK; b++) {
            uint32_t prows = o.h > a ? (uint32_t)((o.h - a + nwh - 1) / nwh) : 0;
            uint32_t pcols = o.w > b ? (uint32_t)((o.w - b + nww - 1) / nww) : 0;
            size_t n = (size_t)i.n * i.c * prows * pcols;
            if (n == 0)
                continue;
            st = CLNET__LAUNCH_N(ctx, k, n, CLNET_ARG_U32(n), CLNET_ARG_U32(i.h),
                                 CLNET_ARG_U32(i.w), CLNET_ARG_U32(o.h),
                                 CLNET_ARG_U32(o.w), CLNET_ARG_U32(a),
                                 CLNET_ARG_U32(b), CLNET_ARG_U32(prows),
                                 CLNET_ARG_U32(pcols),
                                 CLNET_ARG_U64(clnet__pool_fdiv(prows)),
                                 CLNET_ARG_U64(clnet__pool_fdiv(pcols)),
                                 CLNET_ARG_T(aux), CLNET_ARG_T(io->dout),
                                 CLNET_ARG_T(io->din[0]));
        }
    return st;
}
