/* concat: 2..8 inputs with the same n, h, w joined along channels in input
 * order. Each input is one launch (cl/tensor.cl) in forward (copy into its
 * channel slice of y) and in backward (dx += its slice of dy). */
#include "ops/all_ops.h"
#include "ops/nokeys.h"

static void concat_defaults(void *p)
{
    *(clnet__nokeys *)p = (clnet__nokeys){"concat"};
}

static clnet_status concat_plan(const void *p, int n_in, const clnet__shape *in,
                                clnet__op_plan *plan, char *err, size_t errlen)
{
    (void)p;
    char a[64], b[64];
    if (n_in < 2 || n_in > CLNET__MAX_IN)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "concat takes 2 to %d inputs, got %d",
                               CLNET__MAX_IN, n_in);
    long c = 0;
    for (int i = 0; i < n_in; i++) {
        if (in[i].n != in[0].n || in[i].h != in[0].h || in[i].w != in[0].w)
            return clnet__op_error(err, errlen, CLNET_ESHAPE,
                                   "concat: input %d has shape %s, input 0 has "
                                   "%s (n, h, w must match)",
                                   i, clnet__shape_str(in[i], a, sizeof a),
                                   clnet__shape_str(in[0], b, sizeof b));
        c += in[i].c;
    }
    if (c > 0x7fffffff)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "concat: %ld channels in all is too many", c);
    plan->out = (clnet__shape){in[0].n, (int)c, in[0].h, in[0].w};
    return CLNET_OK;
}

/* Floats per image of input i and of the output, and input i's first
 * float within an output image. */
static void slice(const clnet__shape *in, int i, clnet__shape out,
                  size_t *inner_x, size_t *inner_y, size_t *off)
{
    size_t hw = (size_t)out.h * out.w, before = 0;
    for (int j = 0; j < i; j++)
        before += (size_t)in[j].c;
    *inner_x = (size_t)in[i].c * hw;
    *inner_y = (size_t)out.c * hw;
    *off = before * hw;
}

static void concat_ref_forward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    for (int i = 0; i < io->n_in; i++) {
        size_t ix, iy, off;
        slice(io->in_shape, i, io->out_shape, &ix, &iy, &off);
        for (size_t b = 0; b < (size_t)io->out_shape.n; b++)
            for (size_t j = 0; j < ix; j++)
                io->out[b * iy + off + j] = io->in[i][b * ix + j];
    }
}

static void concat_ref_backward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    for (int i = 0; i < io->n_in; i++) {
        size_t ix, iy, off;
        slice(io->in_shape, i, io->out_shape, &ix, &iy, &off);
        for (size_t b = 0; io->din[i] && b < (size_t)io->out_shape.n; b++)
            for (size_t j = 0; j < ix; j++)
                io->din[i][b * ix + j] += io->dout[b * iy + off + j];
    }
}

/* forward: x = in[i], y = out; backward: x = dout, y = din[i]. */
static clnet_status concat_run(clnet_ctx *ctx, const clnet__op_io *io,
                               int backward)
{
    clnet_status st = CLNET_OK;
    for (int i = 0; st == CLNET_OK && i < io->n_in; i++) {
        if (backward && !io->din[i].buf)
            continue;
        size_t ix, iy, off;
        slice(io->in_shape, i, io->out_shape, &ix, &iy, &off);
        size_t global[2] = {ix, (size_t)io->out_shape.n};
        clnet__tensor x = backward ? io->dout : io->in[i];
        clnet__tensor y = backward ? io->din[i] : io->out;
        /* Each input's storage may differ (the network input is fp32). */
        char opt[64] = "";
        clnet__half_opt(opt, sizeof opt, backward ? "dy" : "x", x);
        clnet__half_opt(opt, sizeof opt, backward ? "dx" : "y", y);
        clnet__kernel *k = NULL;
        st = clnet__kernel_get(ctx, "tensor", opt,
                               backward ? "concat_backward" : "concat_forward", &k);
        if (st != CLNET_OK)
            break;
        size_t local[2] = {clnet__wg_1d(ctx, k), 1};
        clnet__arg args[] = {CLNET_ARG_U32(ix), CLNET_ARG_U32(iy),
                             CLNET_ARG_U32(off), CLNET_ARG_BUF(x.buf),
                             CLNET_ARG_U32(x.off), CLNET_ARG_BUF(y.buf),
                             CLNET_ARG_U32(y.off),
                             CLNET_ARG_U32((io->din_write >> i) & 1u)};
        /* Only concat_backward takes the last one (op.h, din_write). */
        st = clnet__launch(ctx, k, 2, global, local,
                           sizeof args / sizeof args[0] - !backward, args);
    }
    return st;
}

static clnet_status concat_forward(clnet_ctx *ctx, const void *p,
                                   const clnet__op_io *io)
{
    (void)p;
    return concat_run(ctx, io, 0);
}

static clnet_status concat_backward(clnet_ctx *ctx, const void *p,
                                    const clnet__op_io *io)
{
    (void)p;
    return concat_run(ctx, io, 1);
}

const clnet__op clnet__op_concat = {
    .name = "concat",
    .min_inputs = 2,
    .max_inputs = CLNET__MAX_IN,
    .params_size = sizeof(clnet__nokeys),
    .defaults = concat_defaults,
    .set = clnet__nokeys_set,
    .plan = concat_plan,
    .forward = concat_forward,
    .backward = concat_backward,
    .ref_forward = concat_ref_forward,
    .ref_backward = concat_ref_backward,
    .writes_din = 1,
};
