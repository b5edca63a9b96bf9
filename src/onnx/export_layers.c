/* One clnet layer -> ONNX opset 13 nodes. Tensors of rank 2 ([N, K], after
 * Gemm or Flatten) and rank 4 (NCHW) both occur; a layer that needs rank 4
 * gets an Unsqueeze, dense gets a Flatten (clnet's dense flattens its input
 * itself), so every layer's output has clnet's values in clnet's order. */
#include "graph/graph.h"
#include "onnx/export_build.h"
#include "ops/conv.h"
#include "ops/op_attrs.h"
#include "ops/pool_common.h"

#include <stdio.h>
#include <string.h>

/* The ONNX name of layer i's output: the layer's name, unless that is one
 * of the graph output names (layer names never contain '/'). */
static const char *out_name(clnet__ex_builder *b, const clnet__layer_desc *l)
{
    if (strcmp(l->name, "probabilities") == 0 || strcmp(l->name, "logits") == 0)
        return clnet__ex_printf(b, "%s/out", l->name);
    return clnet__ex_strdup(b, l->name);
}

/* Layer i's parameter (state = 0) or state tensor called suffix: its
 * initializer, added on first use; NULL (with a message) when missing. */
static const char *tensor_init(clnet__ex_builder *b, const clnet__model_desc *d,
                               int i, const clnet__ex_tensors *t, int state,
                               const char *suffix)
{
    const clnet__graph *g = t->g;
    int n = state ? g->n_state : g->n_params;
    const clnet__param_ref *refs = state ? g->state : g->params;
    const float *base = state ? t->state : t->params;
    char want[CLNET__NAME_MAX + 32];
    snprintf(want, sizeof want, "%s.%s", d->layers[i].name, suffix);
    for (int k = 0; k < n; k++) {
        if (refs[k].layer != i || strcmp(refs[k].name, want) != 0)
            continue;
        for (size_t j = 0; j < b->n_init; j++)
            if (strcmp(b->init[j]->name, want) == 0)
                return b->init[j]->name;
        int64_t dims[4];
        for (int q = 0; q < refs[k].dims.ndim; q++)
            dims[q] = refs[k].dims.d[q];
        return clnet__ex_init_float(b, refs[k].name, dims, refs[k].dims.ndim,
                                    base + refs[k].offset);
    }
    clnet__fail(b->ctx, CLNET_EINVAL, "layer %s (%s): no tensor %s in the model",
                d->layers[i].name, d->layers[i].op->name, want);
    return NULL;
}

static int has_tensor(const clnet__ex_tensors *t, int i, const char *suffix,
                      const clnet__model_desc *d)
{
    char want[CLNET__NAME_MAX + 32];
    snprintf(want, sizeof want, "%s.%s", d->layers[i].name, suffix);
    for (int k = 0; k < t->g->n_params; k++)
        if (t->g->params[k].layer == i && strcmp(t->g->params[k].name, want) == 0)
            return 1;
    return 0;
}

static clnet__ex_value input_of(const clnet__model_desc *d, int i, int k,
                                const clnet__ex_value *vals,
                                clnet__ex_value net_input)
{
    int from = d->layers[i].from[k];
    return from < 0 ? net_input : vals[from];
}

static void pair(int64_t *v, int a, int c)
{
    v[0] = a;
    v[1] = c;
}

static clnet_status conv_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                               int i, const clnet__ex_tensors *t,
                               clnet__ex_value x, clnet__ex_value *out)
{
    const conv_params *p = (const conv_params *)d->layers[i].params;
    x = clnet__ex_rank4(b, x);
    const char *in[3] = {x.name, tensor_init(b, d, i, t, 0, "weight"), NULL};
    int n_in = 2;
    if (p->bias)
        in[n_in++] = tensor_init(b, d, i, t, 0, "bias");
    for (int k = 1; k < n_in; k++)
        if (!in[k] && !b->oom)
            return CLNET_EINVAL;
    out->name = out_name(b, &d->layers[i]);
    out->rank = 4;
    Onnx__NodeProto *n = clnet__ex_node(b, "Conv", n_in, in, out->name);
    int64_t v[4];
    pair(v, p->kh, p->kw);
    clnet__ex_attr_ints(b, n, "kernel_shape", v, 2);
    pair(v, p->sh, p->sw);
    clnet__ex_attr_ints(b, n, "strides", v, 2);
    pair(v, p->dh, p->dw);
    clnet__ex_attr_ints(b, n, "dilations", v, 2);
    v[0] = p->pt, v[1] = p->pl, v[2] = p->pb, v[3] = p->pr;
    clnet__ex_attr_ints(b, n, "pads", v, 4);
    clnet__ex_attr_int(b, n, "group", p->groups);
    return CLNET_OK;
}

static clnet_status dense_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                                int i, const clnet__ex_tensors *t,
                                clnet__ex_value x, clnet__ex_value *out)
{
    x = clnet__ex_rank2(b, x);
    const char *in[3] = {x.name, tensor_init(b, d, i, t, 0, "weight"), NULL};
    int n_in = 2;
    if (has_tensor(t, i, "bias", d))
        in[n_in++] = tensor_init(b, d, i, t, 0, "bias");
    for (int k = 1; k < n_in; k++)
        if (!in[k] && !b->oom)
            return CLNET_EINVAL;
    out->name = out_name(b, &d->layers[i]);
    out->rank = 2;
    Onnx__NodeProto *n = clnet__ex_node(b, "Gemm", n_in, in, out->name);
    clnet__ex_attr_int(b, n, "transB", 1);
    return CLNET_OK;
}

/* The end padding along one axis that gives clnet's output extent `o`
 * without ceil_mode (whose output rule differs between ONNX runtimes and
 * versions): at least the start padding, more where clnet's ceil_mode adds
 * a last window. clnet's rule keeps that window's start inside the input,
 * so the end padding stays below the kernel. */
static int pool_end_pad(int in, int k, int s, int pad, int o)
{
    int need = (o - 1) * s + k - in - pad;
    return need > pad ? need : pad;
}

static clnet_status pool_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                               int i, clnet__ex_value x, clnet__ex_value *out)
{
    const clnet__layer_desc *l = &d->layers[i];
    const clnet__pool_params *p = (const clnet__pool_params *)l->params;
    clnet__shape is = clnet__model_input_shape(d, i, 0), os = l->plan.out;
    int sh = clnet__pool_stride_h(p), sw = clnet__pool_stride_w(p);
    int eh = pool_end_pad(is.h, p->kh, sh, p->ph, os.h);
    int ew = pool_end_pad(is.w, p->kw, sw, p->pw, os.w);
    int extra = eh > p->ph || ew > p->pw;
    x = clnet__ex_rank4(b, x);
    int64_t pads[4] = {p->ph, p->pw, eh, ew};
    int include_pad = p->avg && p->count_include_pad;
    if (include_pad && extra) {
        /* PyTorch's divisor counts the padding but not what a ceil_mode
         * window reaches past it: pad explicitly with zeros, then count
         * only what lies in the padded tensor. */
        include_pad = 0;
        if (p->ph || p->pw) {
            const int64_t zp[8] = {0, 0, p->ph, p->pw, 0, 0, p->ph, p->pw};
            const int64_t dims[1] = {8};
            const char *pin[2] = {x.name, clnet__ex_init_int64(
                                              b, clnet__ex_printf(b, "%s/pads", l->name),
                                              dims, 1, zp)};
            char *padded = clnet__ex_printf(b, "%s/pad", l->name);
            Onnx__NodeProto *pn = clnet__ex_node(b, "Pad", 2, pin, padded);
            (void)pn;
            x.name = padded;
            pads[0] = pads[1] = 0;
            pads[2] = eh - p->ph;
            pads[3] = ew - p->pw;
        }
    }
    out->name = out_name(b, l);
    out->rank = 4;
    Onnx__NodeProto *n =
        clnet__ex_node(b, p->avg ? "AveragePool" : "MaxPool", 1, &x.name, out->name);
    int64_t v[2];
    pair(v, p->kh, p->kw);
    clnet__ex_attr_ints(b, n, "kernel_shape", v, 2);
    pair(v, sh, sw);
    clnet__ex_attr_ints(b, n, "strides", v, 2);
    clnet__ex_attr_ints(b, n, "pads", pads, 4);
    if (p->avg)
        clnet__ex_attr_int(b, n, "count_include_pad", include_pad);
    return CLNET_OK;
}

static clnet_status bn_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                             int i, const clnet__ex_tensors *t,
                             clnet__ex_value x, clnet__ex_value *out)
{
    const clnet__layer_desc *l = &d->layers[i];
    const char *in[5] = {x.name, NULL, NULL, NULL, NULL};
    if (has_tensor(t, i, "weight", d)) {
        in[1] = tensor_init(b, d, i, t, 0, "weight");
        in[2] = tensor_init(b, d, i, t, 0, "bias");
    } else {
        /* affine=0: scale 1, shift 0 (ONNX's BatchNormalization needs them) */
        int c = l->plan.out.c;
        float *one = clnet__ex_alloc(b, (size_t)c * sizeof *one);
        float *zero = clnet__ex_alloc(b, (size_t)c * sizeof *zero);
        for (int k = 0; one && k < c; k++)
            one[k] = 1.0f;
        const int64_t dims[1] = {c};
        in[1] = one ? clnet__ex_init_float(b, clnet__ex_printf(b, "%s.weight", l->name),
                                           dims, 1, one) : NULL;
        in[2] = zero ? clnet__ex_init_float(b, clnet__ex_printf(b, "%s.bias", l->name),
                                            dims, 1, zero) : NULL;
    }
    in[3] = tensor_init(b, d, i, t, 1, "running_mean");
    in[4] = tensor_init(b, d, i, t, 1, "running_var");
    for (int k = 1; k < 5; k++)
        if (!in[k] && !b->oom)
            return CLNET_EINVAL;
    out->name = out_name(b, l);
    out->rank = x.rank;
    Onnx__NodeProto *n = clnet__ex_node(b, "BatchNormalization", 5, in, out->name);
    clnet__ex_attr_float(b, n, "epsilon", clnet__batchnorm_eps(l->params));
    return CLNET_OK;
}

/* x * f(x): silu (f = Sigmoid) and hardswish (f = HardSigmoid(1/6, 1/2)). */
static void gated(clnet__ex_builder *b, const clnet__layer_desc *l,
                  clnet__ex_value x, const char *out, int hard)
{
    char *gate = clnet__ex_printf(b, "%s/gate", l->name);
    Onnx__NodeProto *n = clnet__ex_node(b, hard ? "HardSigmoid" : "Sigmoid", 1,
                                        &x.name, gate);
    if (hard) {
        clnet__ex_attr_float(b, n, "alpha", 1.0f / 6);
        clnet__ex_attr_float(b, n, "beta", 0.5f);
    }
    const char *in[2] = {x.name, gate};
    clnet__ex_node(b, "Mul", 2, in, out);
}

/* GELU as PyTorch exports it before opset 20: x * (1 + erf(x / sqrt 2)) / 2. */
static void gelu(clnet__ex_builder *b, const clnet__layer_desc *l,
                 clnet__ex_value x, const char *out)
{
    char *t1 = clnet__ex_printf(b, "%s/div", l->name);
    char *t2 = clnet__ex_printf(b, "%s/erf", l->name);
    char *t3 = clnet__ex_printf(b, "%s/add", l->name);
    char *t4 = clnet__ex_printf(b, "%s/mul", l->name);
    const char *a[2] = {x.name, clnet__ex_scalar(b, 1.41421356f)};
    clnet__ex_node(b, "Div", 2, a, t1);
    clnet__ex_node(b, "Erf", 1, (const char *const *)&t1, t2);
    const char *c[2] = {t2, clnet__ex_scalar(b, 1.0f)};
    clnet__ex_node(b, "Add", 2, c, t3);
    const char *e[2] = {x.name, t3};
    clnet__ex_node(b, "Mul", 2, e, t4);
    const char *f[2] = {t4, clnet__ex_scalar(b, 0.5f)};
    clnet__ex_node(b, "Mul", 2, f, out);
}

static clnet_status act_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                              int i, clnet__ex_value x, clnet__ex_value *out)
{
    const clnet__layer_desc *l = &d->layers[i];
    float slope = 0, beta = 0;
    clnet__activation_coefs(l->params, &slope, &beta);
    out->name = out_name(b, l);
    out->rank = x.rank;
    Onnx__NodeProto *n = NULL;
    switch (l->kind) {
    case CLNET_OP_RELU: clnet__ex_node(b, "Relu", 1, &x.name, out->name); break;
    case CLNET_OP_SIGMOID: clnet__ex_node(b, "Sigmoid", 1, &x.name, out->name); break;
    case CLNET_OP_TANH: clnet__ex_node(b, "Tanh", 1, &x.name, out->name); break;
    case CLNET_OP_LEAKYRELU:
        n = clnet__ex_node(b, "LeakyRelu", 1, &x.name, out->name);
        clnet__ex_attr_float(b, n, "alpha", slope);
        break;
    case CLNET_OP_HARDSIGMOID:
        n = clnet__ex_node(b, "HardSigmoid", 1, &x.name, out->name);
        clnet__ex_attr_float(b, n, "alpha", slope);
        clnet__ex_attr_float(b, n, "beta", beta);
        break;
    case CLNET_OP_RELU6: {
        const char *in[3] = {x.name, clnet__ex_scalar(b, 0.0f), clnet__ex_scalar(b, 6.0f)};
        clnet__ex_node(b, "Clip", 3, in, out->name);
        break;
    }
    case CLNET_OP_GELU: gelu(b, l, x, out->name); break;
    case CLNET_OP_SILU: gated(b, l, x, out->name, 0); break;
    case CLNET_OP_HARDSWISH: gated(b, l, x, out->name, 1); break;
    default:
        return clnet__fail(b->ctx, CLNET_EUNSUPPORTED,
                           "layer %s: no ONNX form for activation %s", l->name,
                           l->op->name);
    }
    return CLNET_OK;
}

/* add and concat: inputs of mixed rank all become rank 4. */
static clnet_status join_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                               int i, const clnet__ex_value *vals,
                               clnet__ex_value net_input, clnet__ex_value *out)
{
    const clnet__layer_desc *l = &d->layers[i];
    clnet__ex_value x[CLNET__MAX_IN];
    const char *in[CLNET__MAX_IN];
    int rank = 2;
    for (int k = 0; k < l->n_in; k++) {
        x[k] = input_of(d, i, k, vals, net_input);
        if (x[k].rank == 4)
            rank = 4;
    }
    for (int k = 0; k < l->n_in; k++)
        in[k] = (rank == 4 ? clnet__ex_rank4(b, x[k]) : x[k]).name;
    out->name = out_name(b, l);
    out->rank = rank;
    if (l->kind == CLNET_OP_CONCAT) {
        Onnx__NodeProto *n = clnet__ex_node(b, "Concat", l->n_in, in, out->name);
        clnet__ex_attr_int(b, n, "axis", 1);
    } else {
        clnet__ex_node(b, l->n_in == 2 ? "Add" : "Sum", l->n_in, in, out->name);
    }
    return CLNET_OK;
}

clnet_status clnet__ex_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                             int i, const clnet__ex_tensors *t,
                             clnet__ex_value *vals)
{
    const clnet__layer_desc *l = &d->layers[i];
    clnet__ex_value net_input = vals[d->n_layers];
    clnet__ex_value x = input_of(d, i, 0, vals, net_input), *out = &vals[i];
    Onnx__NodeProto *n;
    switch (l->kind) {
    case CLNET_OP_CONV: return conv_layer(b, d, i, t, x, out);
    case CLNET_OP_DENSE: return dense_layer(b, d, i, t, x, out);
    case CLNET_OP_MAXPOOL:
    case CLNET_OP_AVGPOOL: return pool_layer(b, d, i, x, out);
    case CLNET_OP_GLOBALAVGPOOL:
        x = clnet__ex_rank4(b, x);
        out->name = out_name(b, l);
        out->rank = 4;
        clnet__ex_node(b, "GlobalAveragePool", 1, &x.name, out->name);
        return CLNET_OK;
    case CLNET_OP_BATCHNORM: return bn_layer(b, d, i, t, x, out);
    case CLNET_OP_DROPOUT:
        *out = x; /* inference: the identity */
        return CLNET_OK;
    case CLNET_OP_ADD:
    case CLNET_OP_CONCAT: return join_layer(b, d, i, vals, net_input, out);
    case CLNET_OP_FLATTEN:
        out->name = out_name(b, l);
        out->rank = 2;
        n = clnet__ex_node(b, "Flatten", 1, &x.name, out->name);
        clnet__ex_attr_int(b, n, "axis", 1);
        return CLNET_OK;
    case CLNET_OP_RELU:
    case CLNET_OP_LEAKYRELU:
    case CLNET_OP_SIGMOID:
    case CLNET_OP_TANH:
    case CLNET_OP_GELU:
    case CLNET_OP_SILU:
    case CLNET_OP_RELU6:
    case CLNET_OP_HARDSIGMOID:
    case CLNET_OP_HARDSWISH: return act_layer(b, d, i, x, out);
    case CLNET_OP_COUNT: break;
    }
    return clnet__fail(b->ctx, CLNET_EUNSUPPORTED,
                       "layer %s: op %s has no ONNX export", l->name, l->op->name);
}
