/* Per-channel affine nodes: x + c, x - c, x * c, x / c with c a constant of
 * one value or one value per channel. PyTorch exports an input
 * normalisation inside a model this way, and clnet's own export writes
 * (x - mean) / std at the front. Each becomes a depthwise 1x1 convolution
 * (groups = channels, weight w, bias b: x*w + b), and a run of them on one
 * value folds into the same conv, so the network computes exactly what the
 * ONNX graph does. The conv is an ordinary layer: training changes it, and
 * --freeze keeps it (its name is the first node's). */
#include "onnx/import_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* c broadcast against x (NCHW, or [N, C]) gives one value per channel:
 * its dims, right-aligned to x's rank, are 1 except the channel axis. */
static int per_channel(const onnx__const *c, onnx__lref x)
{
    if (c->is_int || c->count == 0)
        return 0;
    if (c->count == 1)
        return 1;
    if (c->count != (size_t)x.shape.c || c->ndim > x.rank)
        return 0;
    for (int d = 0; d < c->ndim; d++) {
        int axis = x.rank - c->ndim + d;
        if (c->dims[d] != (axis == 1 ? x.shape.c : 1))
            return 0;
    }
    return 1;
}

static float *tensor_of(onnx__importer *im, int layer, const char *suffix)
{
    char name[CLNET__NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.%s", im->l[layer].name, suffix);
    const clnet__named_tensor *t = clnet__tensor_set_find(im->w, name);
    return t ? t->data : NULL;
}

clnet_status onnx__map_affine(onnx__importer *im, char op, int *handled)
{
    *handled = 0;
    if (im->n->n_input != 2)
        return CLNET_OK;
    onnx__value *a = onnx__in_value(im, 0), *b = onnx__in_value(im, 1);
    if (!a || !b)
        return CLNET_OK;
    if (a->kind == V_CONST && b->kind == V_LAYER && (op == '+' || op == '*')) {
        onnx__value *t = a; /* c + x, c * x */
        a = b;
        b = t;
    }
    if (a->kind != V_LAYER || b->kind != V_CONST || !per_channel(&b->c, a->x))
        return CLNET_OK;
    onnx__lref x = a->x;
    const onnx__const *c = &b->c;
    int C = x.shape.c;
    for (size_t i = 0; op == '/' && i < c->count; i++)
        if (c->f[i] == 0 || !isfinite(c->f[i]))
            return onnx__node_fail(im, 0, "division by %g", (double)c->f[i]);
    *handled = 1;
    /* The conv to fold into: the one that made x, when nothing else reads x. */
    int layer = x.layer >= 0 && im->l[x.layer].affine && onnx__uses(im, a->name) == 1
                    ? x.layer
                    : -1;
    onnx__lref y = x;
    if (layer < 0) {
        char keys[96];
        snprintf(keys, sizeof keys, "filters=%d\nkernel=1\ngroups=%d\nbias=1\n", C, C);
        TRY(onnx__add_layer(im, "conv", NULL, 1, &x, keys, x.rank, &y));
        layer = y.layer;
        im->l[layer].affine = 1;
        size_t wshape[4] = {(size_t)C, 1, 1, 1}, bshape[1] = {(size_t)C};
        float *ones = malloc((size_t)C * sizeof *ones), *zeros = calloc((size_t)C, sizeof *zeros);
        clnet_status st = ones && zeros ? CLNET_OK
                                        : clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
        for (int i = 0; ones && i < C; i++)
            ones[i] = 1;
        if (st == CLNET_OK)
            st = onnx__add_weight(im, layer, "weight", 4, wshape, ones);
        if (st == CLNET_OK)
            st = onnx__add_weight(im, layer, "bias", 1, bshape, zeros);
        free(ones);
        free(zeros);
        TRY(st);
    }
    float *w = tensor_of(im, layer, "weight"), *bias = tensor_of(im, layer, "bias");
    if (!w || !bias)
        return onnx__node_fail(im, CLNET_EINTERNAL, "affine layer without weights");
    for (int i = 0; i < C; i++) {
        float v = c->f[c->count == 1 ? 0 : i];
        switch (op) {
        case '+': bias[i] += v; break;
        case '-': bias[i] -= v; break;
        case '*': w[i] *= v, bias[i] *= v; break;
        default: w[i] /= v, bias[i] /= v; break;
        }
    }
    return onnx__set_out_layer(im, 0, y);
}
