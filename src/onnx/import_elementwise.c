/* Elementwise nodes (Mul, Div, Sub, Erf, Add): the activation patterns
 * PyTorch exports as several nodes (SiLU x*Sigmoid(x), HardSwish
 * x*HardSigmoid(x), GELU x*0.5*(1+Erf(x/sqrt(2)))) folded into one layer,
 * MatMul's bias, a residual add, and per-channel constants (affine, in
 * import_affine.c). The dispatcher is onnx__map_node in import_nodes.c. */
#include "onnx/import_impl.h"

#include "core/core.h"

#include <math.h>
#include <stdio.h>

static onnx__value *in_value(onnx__importer *im, int i)
{
    return onnx__in_value(im, i);
}

static clnet_status set_pattern(onnx__importer *im, onnx__vkind kind, onnx__lref x)
{
    if (onnx__is_graph_output(im, im->n->output[0]))
        return onnx__node_fail(im, 0, "the graph ends inside a GELU pattern");
    onnx__value *v = onnx__new_value(im, im->n->output[0], kind);
    if (!v)
        return CLNET_ENOMEM;
    v->x = x;
    return OK;
}

/* Converts layer y (a sigmoid or hard sigmoid of x read only by this Mul) into
 * silu / hardswish. */
static int fuse_gate(onnx__importer *im, const onnx__value *x, const onnx__value *s)
{
    if (x->kind != V_LAYER || s->kind != V_LAYER || s->x.layer < 0)
        return 0;
    onnx__layer *l = &im->l[s->x.layer];
    if (l->n_in != 1 || l->from[0] != x->x.layer || onnx__uses(im, s->name) != 1)
        return 0;
    const char *to = NULL;
    if (l->op == clnet__op_get(CLNET_OP_SIGMOID)) {
        to = "silu";
    } else if (l->op == clnet__op_get(CLNET_OP_HARDSIGMOID)) {
        float a = 0.2f, b = 0.5f;
        sscanf(l->keys, "alpha=%g\nbeta=%g", &a, &b);
        if (onnx__near(a, 1.0 / 6.0) && onnx__near(b, 0.5))
            to = "hardswish";
    }
    if (!to)
        return 0;
    l->op = clnet__op_find(to);
    l->keys[0] = '\0';
    return 1;
}

static clnet_status gelu_layer(onnx__importer *im, onnx__lref x)
{
    onnx__lref y;
    TRY(onnx__add_layer(im, "gelu", NULL, 1, &x, "", x.rank, &y));
    return onnx__set_out_layer(im, 0, y);
}

/* The node as a per-channel affine layer (import_affine.c) where it is
 * one; otherwise the error `why`, naming what the op is supported as. */
static clnet_status affine_or_fail(onnx__importer *im, char op, const char *why)
{
    int handled;
    TRY(onnx__map_affine(im, op, &handled));
    return handled ? OK : onnx__node_fail(im, 0, "%s", why);
}

clnet_status onnx__map_mul(onnx__importer *im)
{
    onnx__value *a = in_value(im, 0), *b = in_value(im, 1);
    if (!a || !b)
        return onnx__node_fail(im, CLNET_EFORMAT, "an input is produced by no "
                               "earlier node");
    if (a->kind == V_CONST || (a->kind != V_LAYER && b->kind == V_LAYER)) {
        onnx__value *t = a;
        a = b;
        b = t;
    }
    /* x * c */
    if (a->kind == V_LAYER && b->kind == V_CONST) {
        float c = onnx__scalar(&b->c);
        if (onnx__near(c, 0.5))
            return set_pattern(im, V_HALF, a->x);
        if (onnx__near(c, 1.0 / sqrt(2.0)))
            return set_pattern(im, V_GELU_DIV, a->x);
    }
    if (a->kind == V_LAYER && b->kind == V_LAYER) {
        size_t ai = (size_t)(a - im->v), bi = (size_t)(b - im->v);
        if (fuse_gate(im, &im->v[ai], &im->v[bi]))
            return onnx__set_out_layer(im, 0, im->v[bi].x);
        if (fuse_gate(im, &im->v[bi], &im->v[ai]))
            return onnx__set_out_layer(im, 0, im->v[ai].x);
    }
    if (a->kind == V_LAYER && b->kind == V_GELU_ADD && a->x.layer == b->x.layer)
        return set_pattern(im, V_GELU_MUL, a->x);
    if (a->kind == V_GELU_ADD && b->kind == V_LAYER && a->x.layer == b->x.layer)
        return set_pattern(im, V_GELU_MUL, b->x);
    if ((a->kind == V_GELU_MUL && b->kind == V_CONST && onnx__near(onnx__scalar(&b->c), 0.5)) ||
        (b->kind == V_GELU_MUL && a->kind == V_CONST && onnx__near(onnx__scalar(&a->c), 0.5)))
        return gelu_layer(im, a->kind == V_GELU_MUL ? a->x : b->x);
    if ((a->kind == V_HALF && b->kind == V_GELU_ADD && a->x.layer == b->x.layer) ||
        (b->kind == V_HALF && a->kind == V_GELU_ADD && a->x.layer == b->x.layer))
        return gelu_layer(im, a->x);
    return affine_or_fail(im, '*', "Mul is supported only by a constant of one value "
                          "or one per channel, and in x*Sigmoid(x), "
                          "x*HardSigmoid(x) and GELU's x*0.5*(1+Erf(x/sqrt(2)))");
}

clnet_status onnx__map_div(onnx__importer *im)
{
    onnx__value *a = in_value(im, 0), *b = in_value(im, 1);
    if (a && b && a->kind == V_LAYER && b->kind == V_CONST && onnx__near(onnx__scalar(&b->c), sqrt(2.0)))
        return set_pattern(im, V_GELU_DIV, a->x);
    return affine_or_fail(im, '/', "Div is supported only by a constant of one value "
                          "or one per channel, and in GELU's x/sqrt(2)");
}

clnet_status onnx__map_sub(onnx__importer *im)
{
    return affine_or_fail(im, '-', "Sub is supported only as x minus a constant of "
                          "one value or one per channel");
}

clnet_status onnx__map_erf(onnx__importer *im)
{
    onnx__value *a = in_value(im, 0);
    if (a && a->kind == V_GELU_DIV)
        return set_pattern(im, V_GELU_ERF, a->x);
    return onnx__node_fail(im, 0, "Erf is supported only in GELU's "
                           "x*0.5*(1+Erf(x/sqrt(2)))");
}

clnet_status onnx__map_add(onnx__importer *im)
{
    onnx__value *a = in_value(im, 0), *b = in_value(im, 1);
    if (!a || !b || im->n->n_input != 2)
        return onnx__node_fail(im, CLNET_EFORMAT, "needs two computed inputs");
    if (a->kind == V_CONST) {
        onnx__value *t = a;
        a = b;
        b = t;
    }
    if (a->kind == V_GELU_ERF && b->kind == V_CONST && onnx__near(onnx__scalar(&b->c), 1.0))
        return set_pattern(im, V_GELU_ADD, a->x);
    if (a->kind == V_LAYER && b->kind == V_CONST && a->x.layer >= 0) {
        /* MatMul's bias: one value per output, the MatMul read only here. */
        onnx__layer *l = &im->l[a->x.layer];
        const onnx__const *c = &b->c;
        int outs = a->x.shape.c;
        if (l->matmul && onnx__uses(im, a->name) == 1 && c->count == (size_t)outs &&
            (c->ndim == 1 || (c->ndim == 2 && c->dims[0] == 1))) {
            snprintf(l->keys, sizeof l->keys, "outputs=%d\nbias=1\n", outs);
            l->matmul = 0;
            size_t n = (size_t)outs;
            TRY(onnx__add_weight(im, a->x.layer, "bias", 1, &n, c->f));
            return onnx__set_out_layer(im, 0, a->x);
        }
        return affine_or_fail(im, '+', "Add of a constant is supported only as "
                              "MatMul's bias, or of one value or one per channel");
    }
    onnx__lref in[2];
    TRY(onnx__in_layer(im, 0, &in[0]));
    TRY(onnx__in_layer(im, 1, &in[1]));
    if (in[0].rank != in[1].rank || in[0].shape.n != in[1].shape.n ||
        in[0].shape.c != in[1].shape.c || in[0].shape.h != in[1].shape.h ||
        in[0].shape.w != in[1].shape.w)
        return onnx__node_fail(im, 0, "Add with broadcasting is not supported (both "
                               "inputs must have one shape)");
    onnx__lref y;
    TRY(onnx__add_layer(im, "add", NULL, 2, in, "", in[0].rank, &y));
    return onnx__set_out_layer(im, 0, y);
}

