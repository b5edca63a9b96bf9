/* ONNX import: reading the ModelProto (protobuf-c), the values and layers
 * the node mappings of import_nodes.c produce, and the model text. */
#include "onnx/import_impl.h"

#include "core/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char onnx__supported[] =
    "Conv (2-D; groups, dilations, strides, pads, auto_pad), Gemm (transA=0), "
    "MatMul (+ Add of a bias), BatchNormalization (inference), Relu, LeakyRelu, "
    "Sigmoid, Tanh, Clip (0..6 or 0..inf), HardSigmoid, HardSwish, "
    "x*Sigmoid(x) (SiLU), x*HardSigmoid(x) (HardSwish), GELU as "
    "x*0.5*(1+Erf(x/sqrt(2))), MaxPool and AveragePool (2-D, pads up to half "
    "the kernel, symmetric or a ceil_mode window, ceil_mode, count_include_pad, "
    "dilation 1), "
    "GlobalAveragePool, ReduceMean over H,W, Add and Sum (same shapes), Add, Sub, "
    "Mul and Div by a constant of one value or one per channel, Concat (channel "
    "axis), Flatten (axis 1), Unsqueeze/Squeeze ([N,C] <-> [N,C,1,1]), Reshape to [N,-1], Pad (constant zeros before a "
    "Conv or an AveragePool), Constant, Identity, Dropout (inference), Shape, "
    "Gather, Unsqueeze and Concat on shapes (folded), a final "
    "Softmax/LogSoftmax (dropped)";

clnet_status onnx__node_fail(onnx__importer *im, clnet_status st, const char *fmt, ...)
{
    char what[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const Onnx__NodeProto *n = im->n;
    return clnet__fail(im->ctx, st ? st : CLNET_EUNSUPPORTED,
                       "%s: node %d '%s' (%s): %s. Supported: %s", im->path,
                       im->node, n && n->name ? n->name : "",
                       n && n->op_type ? n->op_type : "?", what, onnx__supported);
}

onnx__value *onnx__find(onnx__importer *im, const char *name)
{
    /* The last value of that name (a graph may not redefine one, but a
     * bound input may shadow an initializer). */
    for (size_t i = im->nv; i-- > 0;)
        if (strcmp(im->v[i].name, name) == 0)
            return &im->v[i];
    return NULL;
}

onnx__value *onnx__in_value(onnx__importer *im, int i)
{
    const char *name = (size_t)i < im->n->n_input ? im->n->input[i] : "";
    return *name ? onnx__find(im, name) : NULL;
}

onnx__value *onnx__new_value(onnx__importer *im, const char *name, onnx__vkind kind)
{
    if (im->nv == im->capv) {
        size_t cap = im->capv ? 2 * im->capv : 256;
        onnx__value *v = realloc(im->v, cap * sizeof *v);
        if (!v) {
            clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
            return NULL;
        }
        im->v = v;
        im->capv = cap;
    }
    onnx__value *v = &im->v[im->nv++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->kind = kind;
    return v;
}

int onnx__uses(const onnx__importer *im, const char *name)
{
    int uses = onnx__is_graph_output(im, name);
    for (size_t k = 0; k < im->g->n_node; k++) {
        const Onnx__NodeProto *n = im->g->node[k];
        for (size_t i = 0; i < n->n_input; i++)
            uses += strcmp(n->input[i], name) == 0;
    }
    return uses;
}

int onnx__is_graph_output(const onnx__importer *im, const char *name)
{
    for (size_t i = 0; i < im->g->n_output; i++)
        if (im->g->output[i]->name && strcmp(im->g->output[i]->name, name) == 0)
            return 1;
    return 0;
}

static const char *kind_text(onnx__vkind k)
{
    switch (k) {
    case V_PAD: return "a Pad that only a Conv or an AveragePool can absorb";
    case V_GELU_DIV: case V_GELU_ERF: case V_GELU_ADD: case V_GELU_MUL:
    case V_HALF: return "part of an unfinished GELU pattern x*0.5*(1+Erf(x/sqrt(2)))";
    case V_CONST: return "a constant (clnet layers take computed tensors here)";
    default: return "a tensor";
    }
}

clnet_status onnx__in_layer(onnx__importer *im, int i, onnx__lref *out)
{
    const Onnx__NodeProto *n = im->n;
    if ((size_t)i >= n->n_input || !*n->input[i])
        return onnx__node_fail(im, 0, "input %d is missing", i);
    onnx__value *v = onnx__find(im, n->input[i]);
    if (!v)
        return onnx__node_fail(im, CLNET_EFORMAT, "input '%s' is produced by no "
                               "earlier node", n->input[i]);
    if (v->kind != V_LAYER)
        return onnx__node_fail(im, 0, "input %d '%s' is %s", i, n->input[i],
                               kind_text(v->kind));
    *out = v->x;
    return CLNET_OK;
}

clnet_status onnx__in_const(onnx__importer *im, int i, int optional,
                            const onnx__const **c)
{
    const Onnx__NodeProto *n = im->n;
    *c = NULL;
    if ((size_t)i >= n->n_input || !*n->input[i]) {
        if (optional)
            return CLNET_OK;
        return onnx__node_fail(im, 0, "input %d is missing", i);
    }
    onnx__value *v = onnx__find(im, n->input[i]);
    if (!v)
        return onnx__node_fail(im, CLNET_EFORMAT, "input '%s' is produced by no "
                               "earlier node", n->input[i]);
    if (v->kind != V_CONST)
        return onnx__node_fail(im, 0, "input %d '%s' must be a constant "
                               "(initializer or Constant), it is computed", i,
                               n->input[i]);
    *c = &v->c;
    return CLNET_OK;
}

static clnet_status attr_type(onnx__importer *im, const Onnx__AttributeProto *a,
                              int type)
{
    if (a->has_type && (int)a->type != type)
        return onnx__node_fail(im, CLNET_EFORMAT, "attribute '%s' has the wrong type",
                               a->name);
    return CLNET_OK;
}

clnet_status onnx__attr_int(onnx__importer *im, const char *name, int64_t dflt,
                            int64_t *out)
{
    const Onnx__AttributeProto *a = onnx__attr(im->n, name);
    *out = a ? a->i : dflt;
    return a ? attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) : CLNET_OK;
}

clnet_status onnx__attr_float(onnx__importer *im, const char *name, float dflt,
                              float *out)
{
    const Onnx__AttributeProto *a = onnx__attr(im->n, name);
    *out = a ? a->f : dflt;
    return a ? attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) : CLNET_OK;
}

clnet_status onnx__attr_ints(onnx__importer *im, const char *name, int64_t *out,
                             int max, int *n)
{
    const Onnx__AttributeProto *a = onnx__attr(im->n, name);
    *n = -1;
    if (!a)
        return CLNET_OK;
    clnet_status st = attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (st != CLNET_OK)
        return st;
    if (a->n_ints > (size_t)max)
        return onnx__node_fail(im, 0, "attribute '%s' has %zu values (at most %d "
                               "here: 2-D only)", name, a->n_ints, max);
    for (size_t i = 0; i < a->n_ints; i++)
        out[i] = a->ints[i];
    *n = (int)a->n_ints;
    return CLNET_OK;
}

clnet_status onnx__attr_str(onnx__importer *im, const char *name, char *buf,
                            size_t cap)
{
    const Onnx__AttributeProto *a = onnx__attr(im->n, name);
    buf[0] = '\0';
    if (!a)
        return CLNET_OK;
    clnet_status st = attr_type(im, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (st != CLNET_OK)
        return st;
    size_t len = a->s.len < cap - 1 ? a->s.len : cap - 1;
    memcpy(buf, a->s.data, len);
    buf[len] = '\0';
    return CLNET_OK;
}

clnet_status onnx__attrs_allowed(onnx__importer *im, const char *const *allowed)
{
    for (size_t i = 0; i < im->n->n_attribute; i++) {
        const char *name = im->n->attribute[i]->name ? im->n->attribute[i]->name : "";
        int ok = 0;
        for (const char *const *p = allowed; *p && !ok; p++)
            ok = strcmp(*p, name) == 0;
        if (!ok)
            return onnx__node_fail(im, 0, "attribute '%s' is not supported", name);
    }
    return CLNET_OK;
}

/* ---- layer names --------------------------------------------------------- */

static int name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '.';
}

static int name_taken(const onnx__importer *im, const char *name)
{
    if (strcmp(name, "input") == 0)
        return 1;
    for (int i = 0; i < im->nl; i++)
        if (strcmp(im->l[i].name, name) == 0)
            return 1;
    return 0;
}

/* PyTorch (1.13) names nodes after their module scope, e.g.
 * "/layer1/layer1.0/conv1/Conv": the module's dotted name is rebuilt
 * ("layer1.0.conv1") so that parameters keep PyTorch's names. Other names
 * are kept with unusable characters replaced by '_'. */
static void base_name(const char *node_name, const char *weight_name,
                      char *out, size_t cap)
{
    out[0] = '\0';
    size_t wl = weight_name ? strlen(weight_name) : 0;
    if (wl > 7 && strcmp(weight_name + wl - 7, ".weight") == 0 && wl - 7 < cap) {
        memcpy(out, weight_name, wl - 7);
        out[wl - 7] = '\0';
    } else if (node_name && node_name[0] == '/') {
        char comp[16][CLNET__NAME_MAX * 2];
        int nc = 0;
        const char *p = node_name;
        while (*p && nc < 16) {
            while (*p == '/')
                p++;
            size_t len = strcspn(p, "/");
            if (!len)
                break;
            size_t k = len < sizeof comp[0] - 1 ? len : sizeof comp[0] - 1;
            memcpy(comp[nc], p, k);
            comp[nc++][k] = '\0';
            p += len;
        }
        if (nc > 1)
            nc--; /* the last part is the op type */
        char cur[CLNET__NAME_MAX * 4] = "";
        for (int i = 0; i < nc; i++) {
            size_t cl = strlen(cur), len = strlen(comp[i]);
            if (cl && strncmp(comp[i], cur, cl) == 0 && comp[i][cl] == '.') {
                memcpy(cur, comp[i], len + 1);
            } else if (cl + 1 + len < sizeof cur) {
                if (cl)
                    cur[cl++] = '.';
                memcpy(cur + cl, comp[i], len + 1);
            }
        }
        clnet__strlcpy(out, cur, cap);
    } else if (node_name) {
        clnet__strlcpy(out, node_name, cap);
    }
    for (char *s = out; *s; s++)
        if (!name_char_ok(*s))
            *s = '_';
}

static void layer_name(const onnx__importer *im, const char *section,
                       const char *weight_name, char *out, size_t cap)
{
    char base[CLNET__NAME_MAX * 2];
    base_name(im->n->name, weight_name, base, sizeof base);
    /* Room for "_act" (the parser's activation suffix) and "_NN". */
    size_t limit = CLNET__NAME_MAX - sizeof "_act" - 4;
    if (!base[0] || strlen(base) > limit || (base[0] >= '0' && base[0] <= '9') ||
        base[0] == '.')
        snprintf(base, sizeof base, "%s%d", section, im->node);
    if (!name_taken(im, base)) {
        clnet__strlcpy(out, base, cap);
        return;
    }
    for (int k = 1;; k++) {
        snprintf(out, cap, "%s_%d", base, k);
        if (!name_taken(im, out))
            return;
    }
}

/* ---- layers ---------------------------------------------------------------- */

clnet_status onnx__add_layer(onnx__importer *im, const char *section,
                             const char *weight_name, int n_in,
                             const onnx__lref *in, const char *keys, int rank,
                             onnx__lref *out)
{
    const clnet__op *op = clnet__op_find(section);
    if (!op || !op->defaults || !op->set || !op->plan)
        return onnx__node_fail(im, CLNET_EINTERNAL, "no clnet layer '%s'", section);
    if (n_in < 1 || n_in > CLNET__MAX_IN)
        return onnx__node_fail(im, 0, "%d inputs (clnet layers take 1 to %d)",
                               n_in, CLNET__MAX_IN);
    if (im->nl == im->capl) {
        int cap = im->capl ? 2 * im->capl : 64;
        onnx__layer *l = realloc(im->l, (size_t)cap * sizeof *l);
        if (!l)
            return clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
        im->l = l;
        im->capl = cap;
    }
    /* The shape, by the op's own rules (the cfg parser checks it again). */
    _Alignas(16) unsigned char params[CLNET__PARAMS_MAX];
    op->defaults(params);
    char err[512] = "";
    clnet_status st = CLNET_OK;
    const char *p = keys;
    while (*p && st == CLNET_OK) {
        size_t len = strcspn(p, "\n");
        char line[256], *eq;
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p += len + (p[len] == '\n');
        if (!(eq = strchr(line, '=')))
            continue;
        *eq = '\0';
        st = op->set(params, line, eq + 1, err, sizeof err);
    }
    clnet__shape shapes[CLNET__MAX_IN];
    for (int i = 0; i < n_in; i++)
        shapes[i] = in[i].shape;
    clnet__op_plan plan;
    memset(&plan, 0, sizeof plan);
    if (st == CLNET_OK)
        st = op->plan(params, n_in, shapes, &plan, err, sizeof err);
    if (st != CLNET_OK)
        return onnx__node_fail(im, 0, "as a clnet [%s] layer: %s", section, err);
    onnx__layer *l = &im->l[im->nl];
    memset(l, 0, sizeof *l);
    l->op = op;
    layer_name(im, section, weight_name, l->name, sizeof l->name);
    l->n_in = n_in;
    for (int i = 0; i < n_in; i++)
        l->from[i] = in[i].layer;
    clnet__strlcpy(l->keys, keys, sizeof l->keys);
    l->node = im->node;
    *out = (onnx__lref){im->nl, rank, plan.out};
    im->nl++;
    return CLNET_OK;
}

clnet_status onnx__add_weight(onnx__importer *im, int layer, const char *suffix,
                              int ndim, const size_t *shape, const float *data)
{
    char name[CLNET__NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.%s", im->l[layer].name, suffix);
    return clnet__tensor_set_add(im->ctx, im->w, name, ndim, shape, data);
}

clnet_status onnx__set_out_layer(onnx__importer *im, int o, onnx__lref x)
{
    if ((size_t)o >= im->n->n_output || !*im->n->output[o])
        return CLNET_OK;
    onnx__value *v = onnx__new_value(im, im->n->output[o], V_LAYER);
    if (!v)
        return CLNET_ENOMEM;
    v->x = x;
    return CLNET_OK;
}

clnet_status onnx__set_out_alias(onnx__importer *im, int o, const onnx__value *src)
{
    if ((size_t)o >= im->n->n_output || !*im->n->output[o])
        return CLNET_OK;
    size_t idx = (size_t)(src - im->v);
    onnx__value *v = onnx__new_value(im, im->n->output[o], src->kind);
    if (!v)
        return CLNET_ENOMEM;
    src = &im->v[idx]; /* the array may have moved */
    const char *name = v->name;
    *v = *src;
    v->name = name;
    v->owned = 0;
    return CLNET_OK;
}

/* ---- the graph --------------------------------------------------------------- */

static int is_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0)
            return 1;
    return 0;
}

/* The net input: its value, and the [net] shape. */
static clnet_status net_input(onnx__importer *im, const Onnx__ValueInfoProto *vi,
                              onnx__lref *x)
{
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph input '%s' is not "
                           "a tensor", im->path, vi->name);
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    if (tt->elem_type != 1)
        return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph input '%s' has "
                           "element type %d; clnet takes float32 images", im->path,
                           vi->name, tt->elem_type);
    int rank = tt->shape ? (int)tt->shape->n_dim : -1;
    int lo = im->node_test ? 1 : 4;
    if (rank < lo || rank > 4)
        return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph input '%s' has "
                           "rank %d; clnet takes one NCHW float tensor [N,C,H,W]",
                           im->path, vi->name, rank);
    int d[4] = {1, 1, 1, 1};
    for (int i = 0; i < rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
        int fixed = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        if (fixed && (dim->dim_value < 1 || dim->dim_value > (1 << 24)))
            return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph input '%s': "
                               "dimension %d is %lld", im->path, vi->name, i,
                               (long long)dim->dim_value);
        if (!fixed && i > 0)
            return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph input '%s': "
                               "dimension %d is not fixed (only the batch may "
                               "vary)", im->path, vi->name, i);
        d[i] = fixed ? (int)dim->dim_value : 1;
    }
    *x = (onnx__lref){-1, rank, {d[0], d[1], d[2], d[3]}};
    return CLNET_OK;
}

static clnet_status read_inputs(onnx__importer *im, const clnet__onnx_import_opts *o,
                                onnx__lref *x)
{
    const Onnx__GraphProto *g = im->g;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        char what[600];
        snprintf(what, sizeof what, "%s: initializer '%s'", im->path,
                 t->name ? t->name : "");
        onnx__value *v = onnx__new_value(im, t->name ? t->name : "", V_CONST);
        if (!v)
            return CLNET_ENOMEM;
        clnet_status st = onnx__const_read(im->ctx, t, what, &v->c);
        if (st != CLNET_OK) {
            im->nv--;
            return st;
        }
        v->owned = 1;
    }
    int n_real = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name || is_initializer(g, vi->name))
            continue;
        if (n_real == 0) {
            clnet_status st = net_input(im, vi, x);
            if (st != CLNET_OK)
                return st;
            onnx__value *v = onnx__new_value(im, vi->name, V_LAYER);
            if (!v)
                return CLNET_ENOMEM;
            v->x = *x;
        } else {
            const clnet__tensor_set *b = o ? o->bound : NULL;
            if (!b || (size_t)n_real - 1 >= b->n)
                return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph input "
                                   "'%s' is a second input; clnet models take one "
                                   "image tensor", im->path, vi->name);
            const clnet__named_tensor *t = &b->t[n_real - 1];
            onnx__value *v = onnx__new_value(im, vi->name, V_CONST);
            if (!v)
                return CLNET_ENOMEM;
            size_t count = 1;
            v->c.ndim = t->ndim;
            for (int d = 0; d < t->ndim; d++) {
                v->c.dims[d] = (int64_t)t->shape[d];
                count *= t->shape[d];
            }
            v->c.count = count;
            v->c.f = malloc((count ? count : 1) * sizeof(float));
            v->c.i = malloc((count ? count : 1) * sizeof(int64_t));
            v->owned = 1;
            if (!v->c.f || !v->c.i)
                return clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
            memcpy(v->c.f, t->data, count * sizeof(float));
            /* Bound values arrive as float; integer uses (shapes, axes) read i. */
            v->c.is_int = 1;
            for (size_t k = 0; k < count; k++) {
                v->c.i[k] = (int64_t)llroundf(t->data[k]);
                if ((float)v->c.i[k] != t->data[k])
                    v->c.is_int = 0;
            }
        }
        n_real++;
    }
    if (n_real == 0)
        return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: the graph has no input "
                           "besides its initializers", im->path);
    return CLNET_OK;
}

static int fmt_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    CLNET__PRINTF(4, 5);
static int fmt_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return 0;
        if (*buf && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return 1;
        }
        size_t cap2 = (*cap ? *cap * 2 : 4096) + (size_t)n;
        char *b = realloc(*buf, cap2);
        if (!b)
            return 0;
        *buf = b;
        *cap = cap2;
    }
}

static clnet_status write_text(onnx__importer *im, const Onnx__ModelProto *mp,
                               onnx__lref in, onnx__lref logits, char **out)
{
    char *b = NULL;
    size_t len = 0, cap = 0;
    int ok = fmt_append(&b, &len, &cap,
                        "# Imported from %s by clnet (ONNX opset %d, producer %s %s).\n"
                        "# Layers and parameters keep the ONNX graph's names where "
                        "clnet's naming allows.\n"
                        "[net]\nchannels=%d\nheight=%d\nwidth=%d\nclasses=%d\nbatch=%d\n",
                        im->path, im->opset, mp->producer_name ? mp->producer_name : "?",
                        mp->producer_version ? mp->producer_version : "",
                        in.shape.c, in.shape.h, in.shape.w, logits.shape.c, in.shape.n);
    for (int i = 0; i < im->nl && ok; i++) {
        const onnx__layer *l = &im->l[i];
        ok = fmt_append(&b, &len, &cap, "\n[%s]\nname=%s\n", l->op->name, l->name);
        if (ok && !(l->n_in == 1 && l->from[0] == i - 1)) {
            ok = fmt_append(&b, &len, &cap, "from=");
            for (int k = 0; k < l->n_in && ok; k++)
                ok = fmt_append(&b, &len, &cap, "%s%s", k ? "," : "",
                                l->from[k] < 0 ? "input" : im->l[l->from[k]].name);
            ok = ok && fmt_append(&b, &len, &cap, "\n");
        }
        if (ok && l->keys[0])
            ok = fmt_append(&b, &len, &cap, "%s", l->keys);
    }
    if (!ok) {
        free(b);
        return clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
    }
    *out = b;
    return CLNET_OK;
}

static clnet_status import_graph(onnx__importer *im, const Onnx__ModelProto *mp,
                                 const clnet__onnx_import_opts *o, char **text)
{
    const Onnx__GraphProto *g = im->g;
    onnx__lref in;
    clnet_status st = read_inputs(im, o, &in);
    for (size_t k = 0; k < g->n_node && st == CLNET_OK; k++) {
        im->node = (int)k;
        im->n = g->node[k];
        st = onnx__map_node(im);
    }
    im->n = NULL;
    if (st != CLNET_OK)
        return st;
    if (g->n_output != 1 || !g->output[0]->name)
        return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: the graph has %zu "
                           "outputs; clnet models have one (the logits)", im->path,
                           g->n_output);
    const char *oname = g->output[0]->name;
    onnx__value *v = onnx__find(im, oname);
    if (!v)
        return clnet__fail(im->ctx, CLNET_EFORMAT, "%s: graph output '%s' is "
                           "produced by no node", im->path, oname);
    if (v->kind != V_LAYER || v->x.layer < 0)
        return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph output '%s' is "
                           "%s, not computed by a layer", im->path, oname,
                           v->x.layer < 0 && v->kind == V_LAYER ? "the input itself"
                                                                : kind_text(v->kind));
    onnx__lref out = v->x;
    if (out.shape.h != 1 || out.shape.w != 1) {
        if (!im->node_test)
            return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph output '%s' "
                               "has shape [%d,%d,%d,%d]; clnet's last layer gives "
                               "the logits [N, classes]", im->path, oname,
                               out.shape.n, out.shape.c, out.shape.h, out.shape.w);
        im->node = (int)g->n_node;
        static const Onnx__NodeProto flat_node = {.name = "output_flatten",
                                                  .op_type = "Flatten"};
        im->n = &flat_node;
        st = onnx__add_layer(im, "flatten", NULL, 1, &out, "", 2, &out);
        im->n = NULL;
        if (st != CLNET_OK)
            return st;
    }
    if (out.layer != im->nl - 1)
        return clnet__fail(im->ctx, CLNET_EUNSUPPORTED, "%s: graph output '%s' comes "
                           "from layer '%s', but layers after it ('%s') do not lead "
                           "to it", im->path, oname, im->l[out.layer].name,
                           im->l[im->nl - 1].name);
    return write_text(im, mp, in, out, text);
}

static int model_opset(const Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0)
            return o->has_version ? (int)o->version : 1;
    }
    return -1;
}

clnet_status clnet__onnx_import_ex(clnet_ctx *ctx, const char *path,
                                   const clnet__onnx_import_opts *opts,
                                   char **cfg_text, clnet__tensor_set *weights)
{
    if (!ctx || !path || !cfg_text || !weights)
        return clnet__fail(ctx, CLNET_EINVAL, "clnet__onnx_import: NULL argument");
    *cfg_text = NULL;
    Onnx__ModelProto *mp = NULL;
    clnet_status st = onnx__read_model(ctx, path, &mp);
    onnx__importer im = {.ctx = ctx, .path = path,
                         .node_test = opts ? opts->node_test : 0, .w = weights};
    if (st == CLNET_OK) {
        im.g = mp->graph;
        im.opset = model_opset(mp);
        if (im.opset < 7 || im.opset > 17)
            st = clnet__fail(ctx, CLNET_EUNSUPPORTED, "%s: ONNX opset %d is not "
                             "supported (7 to 17 are; PyTorch 1.13 writes 9 to 17)",
                             path, im.opset);
    }
    if (st == CLNET_OK) {
        clnet__strlcpy(weights->source, path, sizeof weights->source);
        st = import_graph(&im, mp, opts, cfg_text);
    }
    /* The text must parse as any model file does (a final check of shapes). */
    if (st == CLNET_OK) {
        clnet__model_desc *d = NULL;
        st = clnet__model_parse(ctx, path, *cfg_text, 0, &d);
        clnet__model_desc_free(d);
    }
    for (size_t i = 0; i < im.nv; i++)
        if (im.v[i].owned)
            onnx__const_free(&im.v[i].c);
    free(im.v);
    free(im.l);
    if (mp)
        onnx__model_proto__free_unpacked(mp, NULL);
    if (st != CLNET_OK) {
        free(*cfg_text);
        *cfg_text = NULL;
        clnet__tensor_set_clear(weights);
    }
    return st;
}

clnet_status clnet__onnx_import(clnet_ctx *ctx, const char *path,
                                char **cfg_text, clnet__tensor_set *weights)
{
    return clnet__onnx_import_ex(ctx, path, NULL, cfg_text, weights);
}
