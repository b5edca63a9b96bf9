/* dense (linear): y = x W^T + b with x [n, c*h*w] (any input shape is read
 * as flat rows, so no flatten layer is needed), W [outputs, in] (PyTorch's
 * layout), y [n, outputs, 1, 1]. The products go through CLBlast; cl/dense.cl
 * holds the bias broadcast and the bias-gradient column sums. */
#include "ops/all_ops.h"
#include "ops/op_util.h"

#include <limits.h>
#include <string.h>

typedef struct dense_params {
    int outputs; /* 0 = not given (required) */
    int bias;
} dense_params;

static void dense_defaults(void *p)
{
    *(dense_params *)p = (dense_params){.outputs = 0, .bias = 1};
}

static clnet_status dense_set(void *p, const char *key, const char *value,
                              char *err, size_t errlen)
{
    dense_params *d = p;
    if (strcmp(key, "outputs") == 0)
        return clnet__parse_int(key, value, 1, INT_MAX, &d->outputs, err, errlen);
    if (strcmp(key, "bias") == 0)
        return clnet__parse_bool(key, value, &d->bias, err, errlen);
    return clnet__unknown_key("dense", key, err, errlen);
}

static clnet_status dense_plan(const void *p, int n_in, const clnet__shape *in,
                               clnet__op_plan *plan, char *err, size_t errlen)
{
    const dense_params *d = p;
    (void)n_in;
    char s[64];
    if (d->outputs < 1)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "dense: outputs=%d: the number of outputs is "
                               "required and must be at least 1", d->outputs);
    size_t features = (size_t)in[0].c * (size_t)in[0].h * (size_t)in[0].w;
    if (in[0].n < 1 || in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "dense: input %s has a zero or negative size",
                               clnet__shape_str(in[0], s, sizeof s));
    /* Kernels index with 32-bit unsigned integers. */
    if (features * (size_t)d->outputs > UINT_MAX ||
        (size_t)in[0].n * features > UINT_MAX ||
        (size_t)in[0].n * (size_t)d->outputs > UINT_MAX)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "dense: input %s with outputs=%d is too large",
                               clnet__shape_str(in[0], s, sizeof s), d->outputs);
    plan->out = (clnet__shape){in[0].n, d->outputs, 1, 1};
    plan->n_params = d->bias ? 2 : 1;
    plan->param_name[0] = "weight";
    plan->param[0] = (clnet__dims){2, {d->outputs, (int)features}};
    plan->param_init[0] = CLNET__INIT_KAIMING;
    plan->param_decay[0] = 1;
    if (d->bias) {
        plan->param_name[1] = "bias";
        plan->param[1] = (clnet__dims){1, {d->outputs}};
        plan->param_init[1] = CLNET__INIT_BIAS;
        plan->param_decay[1] = 0;
    }
    plan->fan_in = (int)features;
    plan->fan_out = d->outputs;
    plan->flops_forward = 2.0 * in[0].n * (double)features * d->outputs;
    return CLNET_OK;
}

static size_t in_features(const clnet__shape *s)
{
    return (size_t)s->c * (size_t)s->h * (size_t)s->w;
}

static void dense_ref_forward(const void *p, const clnet__ref_io *io)
{
    const dense_params *d = p;
    size_t n = (size_t)io->in_shape[0].n, in = in_features(&io->in_shape[0]);
    size_t outs = (size_t)d->outputs;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < outs; j++) {
            double s = d->bias ? io->param[1][j] : 0.0;
            for (size_t q = 0; q < in; q++)
                s += (double)io->in[0][i * in + q] * io->param[0][j * in + q];
            io->out[i * outs + j] = (float)s;
        }
}

static void dense_ref_backward(const void *p, const clnet__ref_io *io)
{
    const dense_params *d = p;
    size_t n = (size_t)io->in_shape[0].n, in = in_features(&io->in_shape[0]);
    size_t outs = (size_t)d->outputs;
    const float *x = io->in[0], *w = io->param[0], *dy = io->dout;
    for (size_t i = 0; io->din[0] && i < n; i++)
        for (size_t q = 0; q < in; q++) {
            double s = 0;
            for (size_t j = 0; j < outs; j++)
                s += (double)dy[i * outs + j] * w[j * in + q];
            io->din[0][i * in + q] += (float)s;
        }
    for (size_t j = 0; io->dparam[0] && j < outs; j++)
        for (size_t q = 0; q < in; q++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += (double)dy[i * outs + j] * x[i * in + q];
            io->dparam[0][j * in + q] += (float)s;
        }
    for (size_t j = 0; d->bias && io->dparam[1] && j < outs; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += dy[i * outs + j];
        io->dparam[1][j] += (float)s;
    }
}

static clnet_status dense_forward(clnet_ctx *ctx, const void *p,
                                  const clnet__op_io *io)
{
    const dense_params *d = p;
    size_t n = (size_t)io->in_shape[0].n, in = in_features(&io->in_shape[0]);
    size_t outs = (size_t)d->outputs;
    float beta = 0.0f;
    if (d->bias) {
        clnet__kernel *k = NULL;
        char opt[32] = "";
        clnet__half_opt(opt, sizeof opt, "y", io->out);
        clnet_status st = clnet__kernel_get(ctx, "dense", opt, "dense_bias_fill", &k);
        if (st == CLNET_OK)
            st = CLNET__LAUNCH_N(ctx, k, n * outs, CLNET_ARG_U32(n * outs),
                                 CLNET_ARG_U32(outs), CLNET_ARG_T(io->param[1]),
                                 CLNET_ARG_T(io->out));
        if (st != CLNET_OK)
            return st;
        beta = 1.0f;
    }
    /* out[n, outs] = x[n, in] . W[outs, in]^T (+ out holding the bias) */
    return clnet__sgemm(ctx, 0, 1, n, outs, in, 1.0f, io->in[0], in,
                        io->param[0], in, beta, io->out, outs);
}

static clnet_status dense_backward(clnet_ctx *ctx, const void *p,
                                   const clnet__op_io *io)
{
    const dense_params *d = p;
    size_t n = (size_t)io->in_shape[0].n, in = in_features(&io->in_shape[0]);
    size_t outs = (size_t)d->outputs;
    clnet_status st = CLNET_OK;
    /* dx[n, in] += dy[n, outs] . W[outs, in] (= on the first contribution) */
    if (io->din[0].buf)
        st = clnet__sgemm(ctx, 0, 0, n, in, outs, 1.0f, io->dout, outs,
                          io->param[0], in, io->din_write & 1u ? 0.0f : 1.0f,
                          io->din[0], in);
    /* dW[outs, in] += dy^T . x[n, in] */
    if (st == CLNET_OK && io->dparam[0].buf)
        st = clnet__sgemm(ctx, 1, 0, outs, in, n, 1.0f, io->dout, outs,
                          io->in[0], in, 1.0f, io->dparam[0], in);
    if (st != CLNET_OK || !d->bias || !io->dparam[1].buf)
        return st;
    clnet__kernel *k = NULL;
    char opt[32] = "";
    clnet__half_opt(opt, sizeof opt, "dy", io->dout);
    st = clnet__kernel_get(ctx, "dense", opt, "dense_bias_grad", &k);
    if (st != CLNET_OK)
        return st;
    return CLNET__LAUNCH_N(ctx, k, outs, CLNET_ARG_U32(n), CLNET_ARG_U32(outs),
                           CLNET_ARG_T(io->dout), CLNET_ARG_T(io->dparam[1]));
}

const clnet__op clnet__op_dense = {
    .name = "dense",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(dense_params),
    .defaults = dense_defaults,
    .set = dense_set,
    .plan = dense_plan,
    .forward = dense_forward,
    .backward = dense_backward,
    .ref_forward = dense_ref_forward,
    .ref_backward = dense_ref_backward,
    .writes_din = 1,
};
