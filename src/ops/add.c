/* add: elementwise sum of 2..8 inputs of one shape (residual joins).
 * Forward and backward are one launch each (cl/tensor.cl): the kernels take
 * eight tensor slots (the count a build option), so dy is read once however many inputs
 * want a gradient. */
#include "ops/all_ops.h"
#include "ops/nokeys.h"

#include <stdio.h>

/* The kernels in cl/tensor.cl have eight input slots. */
_Static_assert(CLNET__MAX_IN == 8, "add kernels take 8 tensor slots");

static void add_defaults(void *p)
{
    *(clnet__nokeys *)p = (clnet__nokeys){"add"};
}

static clnet_status add_plan(const void *p, int n_in, const clnet__shape *in,
                             clnet__op_plan *plan, char *err, size_t errlen)
{
    (void)p;
    char a[64], b[64];
    if (n_in < 2 || n_in > CLNET__MAX_IN)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "add takes 2 to %d inputs, got %d", CLNET__MAX_IN,
                               n_in);
    for (int i = 1; i < n_in; i++)
        if (!clnet__shape_eq(in[i], in[0]))
            return clnet__op_error(err, errlen, CLNET_ESHAPE,
                                   "add: input %d has shape %s, input 0 has %s",
                                   i, clnet__shape_str(in[i], a, sizeof a),
                                   clnet__shape_str(in[0], b, sizeof b));
    plan->out = in[0];
    plan->flops_forward = (double)(n_in - 1) * (double)clnet__shape_count(in[0]);
    return CLNET_OK;
}

static void add_ref_forward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    size_t n = clnet__shape_count(io->out_shape);
    for (size_t j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < io->n_in; i++)
            s += io->in[i][j];
        io->out[j] = (float)s;
    }
}

static void add_ref_backward(const void *p, const clnet__ref_io *io)
{
    (void)p;
    size_t n = clnet__shape_count(io->out_shape);
    for (int i = 0; i < io->n_in; i++)
        for (size_t j = 0; io->din[i] && j < n; j++)
            io->din[i][j] += io->dout[j];
}

/* Launches add_forward (extra = y, after the slots) or add_backward (extra
 * = dy, before them; the fused relu's output after them) over n elements
 * with the m tensors t in eight slots; slots past m repeat t[0] and the
 * kernel never touches them. m, the written slots and the fused relu are
 * build options (cl/tensor.cl says why). */
static clnet_status launch8(clnet_ctx *ctx, int backward, size_t n, int m,
                            const clnet__tensor *t, clnet__tensor extra,
                            unsigned overwrite, const clnet__op_io *io)
{
    char opts[256];
    snprintf(opts, sizeof opts, "-DADD_M=%d -DADD_WRITE=%u -DADD_RELU=%d", m,
             backward ? overwrite : 0u, io->relu_after != 0);
    /* Storage of the slots the kernel touches (common.h). */
    static const char *const xs[8] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"};
    static const char *const ds[8] = {"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"};
    for (int i = 0; i < m; i++)
        clnet__half_opt(opts, sizeof opts, backward ? ds[i] : xs[i], t[i]);
    clnet__half_opt(opts, sizeof opts, backward ? "dy" : "y", extra);
    if (backward && io->relu_after && io->out.buf)
        clnet__half_opt(opts, sizeof opts, "y", io->out);
    clnet__kernel *k = NULL;
    clnet_status st = clnet__kernel_get(ctx, "tensor", opts,
                                        backward ? "add_backward" : "add_forward", &k);
    if (st != CLNET_OK)
        return st;
    clnet__tensor list[10];
    int nt = 0;
    if (backward)
        list[nt++] = extra;
    for (int i = 0; i < 8; i++)
        list[nt++] = t[i < m ? i : 0];
    if (!backward)
        list[nt++] = extra;
    else /* the relu's output (any valid buffer when none is fused) */
        list[nt++] = io->relu_after && io->out.buf ? io->out : extra;
    clnet__arg args[1 + 2 * 10] = {CLNET_ARG_U32(n)};
    for (int i = 0; i < nt; i++) {
        args[1 + 2 * i] = CLNET_ARG_BUF(list[i].buf);
        args[2 + 2 * i] = CLNET_ARG_U32(list[i].off);
    }
    /* A half output: eight per work-item (cl/tensor.cl, add_forward). */
    size_t items = !backward && extra.half ? (n + 7) / 8 : n;
    return clnet__launch_n(ctx, k, items, 1 + 2 * (size_t)nt, args);
}

static clnet_status add_forward(clnet_ctx *ctx, const void *p,
                                const clnet__op_io *io)
{
    (void)p;
    return launch8(ctx, 0, clnet__shape_count(io->out_shape), io->n_in, io->in,
                   io->out, 0, io);
}

static clnet_status add_backward(clnet_ctx *ctx, const void *p,
                                 const clnet__op_io *io)
{
    (void)p;
    clnet__tensor want[CLNET__MAX_IN];
    int m = 0;
    unsigned overwrite = 0;
    for (int i = 0; i < io->n_in; i++)
        if (io->din[i].buf) {
            overwrite |= ((io->din_write >> i) & 1u) << m;
            want[m++] = io->din[i];
        }
    if (m == 0)
        return CLNET_OK;
    return launch8(ctx, 1, clnet__shape_count(io->out_shape), m, want, io->dout,
                   overwrite, io);
}

const clnet__op clnet__op_add = {
    .name = "add",
    .min_inputs = 2,
    .max_inputs = CLNET__MAX_IN,
    .params_size = sizeof(clnet__nokeys),
    .defaults = add_defaults,
    .set = clnet__nokeys_set,
    .plan = add_plan,
    .forward = add_forward,
    .backward = add_backward,
    .ref_forward = add_ref_forward,
    .ref_backward = add_ref_backward,
    .writes_din = 1,
    .fuses_relu = 1,
};
