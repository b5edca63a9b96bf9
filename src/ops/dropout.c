/* dropout: in training, each element is zeroed with probability p and the
 * survivors are scaled by 1/(1-p); in evaluation it is the identity. The
 * mask comes from the counter-based RNG (cl/common.h, src/ops/rng.h) keyed
 * by io->seed and the element index, so backward recomputes it: nothing is
 * saved and nothing travels to the host. Two dropout layers given the same
 * seed would draw the same mask: the graph gives each its own. */
#include "ops/all_ops.h"
#include "ops/op_util.h"
#include "ops/rng.h"

#include <limits.h>
#include <string.h>

typedef struct dropout_params {
    float p;
} dropout_params;

static void dropout_defaults(void *p)
{
    *(dropout_params *)p = (dropout_params){.p = 0.5f};
}

static clnet_status dropout_set(void *p, const char *key, const char *value,
                                char *err, size_t errlen)
{
    dropout_params *d = p;
    if (strcmp(key, "p") != 0)
        return clnet__unknown_key("dropout", key, err, errlen);
    float v = 0;
    clnet_status st = clnet__parse_float(key, value, 0.0f, 1.0f, &v, err, errlen);
    if (st != CLNET_OK)
        return st;
    if (v >= 1.0f) /* everything dropped: the 1/(1-p) scale is undefined */
        return clnet__op_error(err, errlen, CLNET_EPARSE,
                               "%s=%s: the drop probability must be below 1",
                               key, value);
    d->p = v;
    return CLNET_OK;
}

static clnet_status dropout_plan(const void *p, int n_in, const clnet__shape *in,
                                 clnet__op_plan *plan, char *err, size_t errlen)
{
    const dropout_params *d = p;
    (void)n_in;
    char s[64];
    if (!(d->p >= 0.0f && d->p < 1.0f))
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "dropout: p=%g must be in [0, 1)", (double)d->p);
    if (in[0].n < 1 || in[0].c < 1 || in[0].h < 1 || in[0].w < 1 ||
        clnet__shape_count(in[0]) > UINT_MAX)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "dropout: input %s is empty or too large",
                               clnet__shape_str(in[0], s, sizeof s));
    plan->out = in[0];
    plan->flops_forward = (double)clnet__shape_count(in[0]);
    return CLNET_OK;
}

/* The factor each element is multiplied by (0 or 1/(1-p); 1 in eval). */
static float ref_factor(const dropout_params *d, int training, uint64_t seed,
                        size_t i)
{
    if (!training)
        return 1.0f;
    float scale = 1.0f / (1.0f - d->p);
    return clnet__uniform(seed, (uint32_t)i) >= d->p ? scale : 0.0f;
}

static void dropout_ref_forward(const void *p, const clnet__ref_io *io)
{
    size_t n = clnet__shape_count(io->in_shape[0]);
    for (size_t i = 0; i < n; i++)
        io->out[i] = io->in[0][i] * ref_factor(p, io->training, io->seed, i);
}

static void dropout_ref_backward(const void *p, const clnet__ref_io *io)
{
    size_t n = clnet__shape_count(io->in_shape[0]);
    for (size_t i = 0; io->din[0] && i < n; i++)
        io->din[0][i] += io->dout[i] * ref_factor(p, io->training, io->seed, i);
}

/* One launch of dropout_forward or dropout_backward over n elements. */
static clnet_status dropout_launch(clnet_ctx *ctx, const dropout_params *d,
                                   int backward, const clnet__op_io *io,
                                   clnet__tensor src, clnet__tensor dst)
{
    clnet__kernel *k = NULL;
    char opt[64] = "";
    clnet__half_opt(opt, sizeof opt, backward ? "dy" : "x", src);
    clnet__half_opt(opt, sizeof opt, backward ? "dx" : "y", dst);
    clnet_status st = clnet__kernel_get(ctx, "dropout", opt,
                                        backward ? "dropout_backward"
                                                 : "dropout_forward", &k);
    if (st != CLNET_OK)
        return st;
    size_t n = clnet__shape_count(io->in_shape[0]);
    clnet__arg args[] = {CLNET_ARG_U32(n), CLNET_ARG_F32(d->p),
                         CLNET_ARG_F32(1.0f / (1.0f - d->p)),
                         CLNET_ARG_U32((uint32_t)io->seed),
                         CLNET_ARG_U32((uint32_t)(io->seed >> 32)),
                         CLNET_ARG_BUF(src.buf), CLNET_ARG_U32(src.off),
                         CLNET_ARG_BUF(dst.buf), CLNET_ARG_U32(dst.off),
                         CLNET_ARG_U32(io->din_write & 1u)};
    /* Only dropout_backward takes the last one (op.h, din_write). */
    size_t na = sizeof args / sizeof args[0] - !backward;
    return clnet__launch_n(ctx, k, n, na, args);
}

static clnet_status dropout_forward(clnet_ctx *ctx, const void *p,
                                    const clnet__op_io *io)
{
    if (!io->training)
        return clnet__copy(ctx, io->out, io->in[0], clnet__shape_count(io->in_shape[0]));
    return dropout_launch(ctx, p, 0, io, io->in[0], io->out);
}

static clnet_status dropout_backward(clnet_ctx *ctx, const void *p,
                                     const clnet__op_io *io)
{
    if (!io->din[0].buf)
        return CLNET_OK;
    /* In eval the op is the identity: a p = 0 launch adds dout unchanged. */
    dropout_params eval = {.p = 0.0f};
    return dropout_launch(ctx, io->training ? p : &eval, 1, io, io->dout,
                          io->din[0]);
}

const clnet__op clnet__op_dropout = {
    .name = "dropout",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(dropout_params),
    .defaults = dropout_defaults,
    .set = dropout_set,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .ref_forward = dropout_ref_forward,
    .ref_backward = dropout_ref_backward,
    .writes_din = 1,
};
