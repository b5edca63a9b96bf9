/* Global average pooling: [n,c,h,w] -> [n,c,1,1], the mean of each plane.
 * Forward: one work-item per plane; backward: one per input element
 * (dx += dy / (h w)). Kernels in cl/pool.cl. */
#include "ops/all_ops.h"
#include "ops/nokeys.h"
#include "ops/pool_common.h"

static void gap_defaults(void *p)
{
    *(clnet__nokeys *)p = (clnet__nokeys){"globalavgpool"};
}

static clnet_status gap_plan(const void *p, int n_in, const clnet__shape *in,
                             clnet__op_plan *plan, char *err, size_t errlen)
{
    (void)p;
    char s[64];
    if (n_in != 1)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "globalavgpool takes 1 input, got %d", n_in);
    if (clnet__shape_count(in[0]) == 0)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "globalavgpool: empty input %s",
                               clnet__shape_str(in[0], s, sizeof s));
    plan->out = (clnet__shape){in[0].n, in[0].c, 1, 1};
    plan->flops_forward = (double)clnet__shape_count(in[0]);
    return CLNET_OK;
}

static void gap_ref_forward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    clnet__shape s = io->in_shape[0];
    size_t hw = (size_t)s.h * s.w;
    for (size_t q = 0; q < (size_t)s.n * s.c; q++) {
        double sum = 0;
        for (size_t j = 0; j < hw; j++)
            sum += io->in[0][q * hw + j];
        io->out[q] = (float)(sum / (double)hw);
    }
}

static void gap_ref_backward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    if (!io->din[0])
        return;
    size_t hw = (size_t)io->in_shape[0].h * io->in_shape[0].w;
    size_t n = clnet__shape_count(io->in_shape[0]);
    for (size_t i = 0; i < n; i++)
        io->din[0][i] += (float)((double)io->dout[i / hw] / (double)hw);
}

static clnet_status gap_forward(clnet_ctx *ctx, const void *p,
                                const clnet__op_io *io)
{
    (void)p;
    clnet__kernel *k = NULL;
    char opt[64] = "";
    clnet__half_opt(opt, sizeof opt, "x", io->in[0]);
    clnet__half_opt(opt, sizeof opt, "y", io->out);
    clnet_status st = clnet__kernel_get(ctx, "pool", opt, "gap_forward", &k);
    if (st != CLNET_OK)
        return st;
    clnet__shape s = io->in_shape[0];
    size_t planes = (size_t)s.n * s.c;
    return CLNET__LAUNCH_N(ctx, k, planes, CLNET_ARG_U32(planes),
                           CLNET_ARG_U32(s.h * s.w), CLNET_ARG_T(io->in[0]),
                           CLNET_ARG_T(io->out));
}

static clnet_status gap_backward(clnet_ctx *ctx, const void *p,
                                 const clnet__op_io *io)
{
    (void)p;
    if (!io->din[0].buf)
        return CLNET_OK;
    clnet__kernel *k = NULL;
    char opt[64] = "";
    clnet__half_opt(opt, sizeof opt, "dy", io->dout);
    clnet__half_opt(opt, sizeof opt, "dx", io->din[0]);
    clnet_status st = clnet__kernel_get(ctx, "pool", opt, "gap_backward", &k);
    if (st != CLNET_OK)
        return st;
    clnet__shape s = io->in_shape[0];
    size_t n = clnet__shape_count(s);
    uint32_t hw = (uint32_t)s.h * (uint32_t)s.w;
    return CLNET__LAUNCH_N(ctx, k, n, CLNET_ARG_U32(n), CLNET_ARG_U32(hw),
                           CLNET_ARG_U64(clnet__pool_fdiv(hw)),
                           CLNET_ARG_T(io->dout), CLNET_ARG_T(io->din[0]),
                           CLNET_ARG_U32(io->din_write & 1u));
}

const clnet__op clnet__op_globalavgpool = {
    .name = "globalavgpool",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(clnet__nokeys),
    .defaults = gap_defaults,
    .set = clnet__nokeys_set,
    .plan = gap_plan,
    .forward = gap_forward,
    .backward = gap_backward,
    .ref_forward = gap_ref_forward,
    .ref_backward = gap_ref_backward,
    .writes_din = 1,
};
