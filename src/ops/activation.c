/* Elementwise activations: relu, leaky relu, sigmoid, tanh, gelu, silu,
 * relu6, hard sigmoid, hard swish.
 * One implementation parametrised by the activation kind; each kind is its
 * own op table (its own model-file section) and its own kernel build (-DACT),
 * so the device code has no per-element switch. */
#include "ops/all_ops.h"
#include "ops/op_attrs.h"
#include "ops/op_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { ACT_RELU, ACT_LEAKY, ACT_SIGMOID, ACT_TANH, ACT_GELU, ACT_SILU,
       ACT_RELU6, ACT_HARDSIGMOID, ACT_HARDSWISH };

typedef struct act_params {
    int kind;
    float slope; /* leaky relu's slope; hard sigmoid's alpha */
    float beta;  /* hard sigmoid's beta */
} act_params;

void clnet__activation_coefs(const void *params, float *slope, float *beta)
{
    const act_params *a = params;
    *slope = a->slope;
    *beta = a->beta;
}

static clnet_status act_set(void *p, const char *key, const char *value,
                            char *err, size_t errlen)
{
    act_params *a = p;
    if (a->kind == ACT_LEAKY && strcmp(key, "slope") == 0)
        return clnet__parse_float(key, value, 0.0f, 1.0f, &a->slope, err, errlen);
    /* ONNX's HardSigmoid: max(0, min(1, alpha*x + beta)); PyTorch's
     * Hardsigmoid is alpha = 1/6, beta = 1/2 (the defaults here). */
    if (a->kind == ACT_HARDSIGMOID && strcmp(key, "alpha") == 0)
        return clnet__parse_float(key, value, 1e-6f, 1e6f, &a->slope, err, errlen);
    if (a->kind == ACT_HARDSIGMOID && strcmp(key, "beta") == 0)
        return clnet__parse_float(key, value, -1e6f, 1e6f, &a->beta, err, errlen);
    static const char *const names[] = {"relu", "leakyrelu", "sigmoid",
                                        "tanh", "gelu", "silu",
                                        "relu6", "hardsigmoid", "hardswish"};
    return clnet__unknown_key(names[a->kind], key, err, errlen);
}

static clnet_status act_plan(const void *p, int n_in, const clnet__shape *in,
                             clnet__op_plan *plan, char *err, size_t errlen)
{
    (void)p;
    (void)err;
    (void)errlen;
    (void)n_in;
    plan->out = in[0];
    plan->flops_forward = (double)clnet__shape_count(in[0]);
    return CLNET_OK;
}

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static double ref_f(int kind, double x, double slope, double beta)
{
    switch (kind) {
    case ACT_RELU6: return x < 0 ? 0 : x > 6 ? 6 : x;
    case ACT_HARDSIGMOID: return clamp01(slope * x + beta);
    case ACT_HARDSWISH: return x * clamp01(x / 6 + 0.5);
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_LEAKY: return x > 0 ? x : slope * x;
    case ACT_SIGMOID: return 1 / (1 + exp(-x));
    case ACT_TANH: return tanh(x);
    case ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    default: return x / (1 + exp(-x));
    }
}

static double ref_df(int kind, double x, double slope, double beta)
{
    const double inv_sqrt_2pi = 0.39894228040143267794;
    double s;
    switch (kind) {
    case ACT_RELU6: return x > 0 && x < 6 ? 1 : 0;
    case ACT_HARDSIGMOID: s = slope * x + beta; return s > 0 && s < 1 ? slope : 0;
    case ACT_HARDSWISH: return x < -3 ? 0 : x > 3 ? 1 : x / 3 + 0.5;
    case ACT_RELU: return x > 0 ? 1 : 0;
    case ACT_LEAKY: return x > 0 ? 1 : slope;
    case ACT_SIGMOID: s = 1 / (1 + exp(-x)); return s * (1 - s);
    case ACT_TANH: s = tanh(x); return 1 - s * s;
    case ACT_GELU:
        return 0.5 * (1 + erf(x / sqrt(2.0))) + x * inv_sqrt_2pi * exp(-0.5 * x * x);
    default: s = 1 / (1 + exp(-x)); return s + x * s * (1 - s);
    }
}

static void act_ref_forward(const void *p, const clnet__ref_io *io)
{
    const act_params *a = p;
    size_t n = clnet__shape_count(io->in_shape[0]);
    for (size_t i = 0; i < n; i++)
        io->out[i] = (float)ref_f(a->kind, io->in[0][i], a->slope, a->beta);
}

static void act_ref_backward(const void *p, const clnet__ref_io *io)
{
    const act_params *a = p;
    if (!io->din[0])
        return;
    size_t n = clnet__shape_count(io->in_shape[0]);
    for (size_t i = 0; i < n; i++)
        io->din[0][i] += (float)(io->dout[i] * ref_df(a->kind, io->in[0][i], a->slope, a->beta));
}

/* The kernel for this activation and the storage of the tensors it gets. */
static clnet_status act_kernel(clnet_ctx *ctx, const act_params *a,
                               const char *name, const clnet__op_io *io,
                               int backward, clnet__kernel **k)
{
    char opt[128];
    snprintf(opt, sizeof opt, "-DACT=%d", a->kind);
    clnet__half_opt(opt, sizeof opt, "x", io->in[0]);
    clnet__half_opt(opt, sizeof opt, "y", io->out);
    if (backward) {
        clnet__half_opt(opt, sizeof opt, "dy", io->dout);
        clnet__half_opt(opt, sizeof opt, "dx", io->din[0]);
    }
    return clnet__kernel_get(ctx, "activation", opt, name, k);
}

static clnet_status act_forward(clnet_ctx *ctx, const void *p,
                                const clnet__op_io *io)
{
    const act_params *a = p;
    clnet__kernel *k = NULL;
    clnet_status st = act_kernel(ctx, a, "act_forward", io, 0, &k);
    if (st != CLNET_OK)
        return st;
    size_t n = clnet__shape_count(io->in_shape[0]);
    /* A half output: eight per work-item (cl/activation.cl). */
    size_t items = io->out.half ? (n + 7) / 8 : n;
    return CLNET__LAUNCH_N(ctx, k, items, CLNET_ARG_U32(n), CLNET_ARG_F32(a->slope),
                           CLNET_ARG_F32(a->beta), CLNET_ARG_T(io->in[0]),
                           CLNET_ARG_T(io->out));
}

static clnet_status act_backward(clnet_ctx *ctx, const void *p,
                                 const clnet__op_io *io)
{
    const act_params *a = p;
    if (!io->din[0].buf)
        return CLNET_OK;
    clnet__kernel *k = NULL;
    clnet_status st = act_kernel(ctx, a, "act_backward", io, 1, &k);
    if (st != CLNET_OK)
        return st;
    size_t n = clnet__shape_count(io->in_shape[0]);
    return CLNET__LAUNCH_N(ctx, k, n, CLNET_ARG_U32(n), CLNET_ARG_F32(a->slope),
                           CLNET_ARG_F32(a->beta), CLNET_ARG_T(io->in[0]),
                           CLNET_ARG_T(io->out),
                           CLNET_ARG_T(io->dout), CLNET_ARG_T(io->din[0]),
                           CLNET_ARG_U32(io->din_write & 1u));
}

#define ACT_OP(ident, kind_value, section)                                 \
    static void ident##_defaults(void *p)                                  \
    {                                                                      \
        *(act_params *)p = (act_params){                                  \
            .kind = kind_value,                                            \
            .slope = kind_value == ACT_HARDSIGMOID ? 1.0f / 6 : 0.01f,     \
            .beta = 0.5f};                                                 \
    }                                                                      \
    const clnet__op clnet__op_##ident = {                                  \
        .name = section,                                                   \
        .min_inputs = 1,                                                   \
        .max_inputs = 1,                                                   \
        .params_size = sizeof(act_params),                                 \
        .defaults = ident##_defaults,                                      \
        .set = act_set,                                                    \
        .plan = act_plan,                                                  \
        .forward = act_forward,                                            \
        .backward = act_backward,                                          \
        .writes_din = 1,                                                   \
        .ref_forward = act_ref_forward,                                    \
        .ref_backward = act_ref_backward,                                  \
    };

ACT_OP(relu, ACT_RELU, "relu")
ACT_OP(leakyrelu, ACT_LEAKY, "leakyrelu")
ACT_OP(sigmoid, ACT_SIGMOID, "sigmoid")
ACT_OP(tanh, ACT_TANH, "tanh")
ACT_OP(gelu, ACT_GELU, "gelu")
ACT_OP(silu, ACT_SILU, "silu")
ACT_OP(relu6, ACT_RELU6, "relu6")
ACT_OP(hardsigmoid, ACT_HARDSIGMOID, "hardsigmoid")
ACT_OP(hardswish, ACT_HARDSWISH, "hardswish")
