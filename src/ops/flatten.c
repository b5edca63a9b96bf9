/* flatten: [n,c,h,w] -> [n, c*h*w, 1, 1]. NCHW is already the flat layout,
 * so forward is a buffer copy and backward dx += dy (elementwise.cl's
 * axpby). When the executor gives out the same view as the input (and dout
 * the same as din), there is nothing to do in either direction. */
#include "ops/all_ops.h"
#include "ops/nokeys.h"

static void flatten_defaults(void *p)
{
    *(clnet__nokeys *)p = (clnet__nokeys){"flatten"};
}

static clnet_status flatten_plan(const void *p, int n_in, const clnet__shape *in,
                                 clnet__op_plan *plan, char *err, size_t errlen)
{
    (void)p;
    char s[64];
    if (n_in != 1)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "flatten takes 1 input, got %d", n_in);
    long chw = (long)in[0].c * in[0].h * in[0].w;
    if (chw > 0x7fffffff)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "flatten: input %s has too many features",
                               clnet__shape_str(in[0], s, sizeof s));
    plan->out = (clnet__shape){in[0].n, (int)chw, 1, 1};
    return CLNET_OK;
}

static void flatten_ref_forward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    size_t n = clnet__shape_count(io->out_shape);
    for (size_t i = 0; i < n; i++)
        io->out[i] = io->in[0][i];
}

static void flatten_ref_backward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    size_t n = clnet__shape_count(io->out_shape);
    for (size_t i = 0; io->din[0] && i < n; i++)
        io->din[0][i] += io->dout[i];
}

static int same_view(clnet__tensor a, clnet__tensor b)
{
    return a.buf == b.buf && a.off == b.off;
}

static clnet_status flatten_forward(clnet_ctx *ctx, const void *p,
                                    const clnet__op_io *io)
{
    (void)p;
    if (same_view(io->out, io->in[0]))
        return CLNET_OK;
    return clnet__copy(ctx, io->out, io->in[0], clnet__shape_count(io->out_shape));
}

static clnet_status flatten_backward(clnet_ctx *ctx, const void *p,
                                     const clnet__op_io *io)
{
    (void)p;
    if (!io->din[0].buf || same_view(io->din[0], io->dout))
        return CLNET_OK;
    clnet__kernel *k = NULL;
    char opt[64] = "";
    clnet__half_opt(opt, sizeof opt, "x", io->dout);
    clnet__half_opt(opt, sizeof opt, "y", io->din[0]);
    clnet_status st = clnet__kernel_get(ctx, "elementwise", opt, "axpby", &k);
    if (st != CLNET_OK)
        return st;
    size_t n = clnet__shape_count(io->out_shape);
    if (io->din_write & 1u)
        return clnet__copy(ctx, io->din[0], io->dout, n);
    return CLNET__LAUNCH_N(ctx, k, n, CLNET_ARG_U32(n), CLNET_ARG_F32(1.0f),
                           CLNET_ARG_T(io->dout), CLNET_ARG_F32(1.0f),
                           CLNET_ARG_T(io->din[0]));
}

const clnet__op clnet__op_flatten = {
    .name = "flatten",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(clnet__nokeys),
    .defaults = flatten_defaults,
    .set = clnet__nokeys_set,
    .plan = flatten_plan,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .ref_forward = flatten_ref_forward,
    .ref_backward = flatten_ref_backward,
    .writes_din = 1,
};
