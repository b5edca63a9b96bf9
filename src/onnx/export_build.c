/* The export builder: an arena, and small constructors for the protobuf-c
 * messages of a graph (nodes, attributes, initializers, value infos). */
#include "onnx/export_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clnet__ex_block {
    clnet__ex_block *next;
    max_align_t data[];
};

void clnet__ex_free(clnet__ex_builder *b)
{
    while (b->blocks) {
        clnet__ex_block *next = b->blocks->next;
        free(b->blocks);
        b->blocks = next;
    }
    free(b->node);
    free(b->init);
    b->node = NULL;
    b->init = NULL;
    b->n_node = b->cap_node = b->n_init = b->cap_init = 0;
}

void *clnet__ex_alloc(clnet__ex_builder *b, size_t bytes)
{
    if (b->oom)
        return NULL;
    clnet__ex_block *k = calloc(1, sizeof *k + (bytes ? bytes : 1));
    if (!k) {
        b->oom = 1;
        return NULL;
    }
    k->next = b->blocks;
    b->blocks = k;
    return k->data;
}

char *clnet__ex_strdup(clnet__ex_builder *b, const char *s)
{
    if (!s) { /* a name whose making failed */
        b->oom = 1;
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = clnet__ex_alloc(b, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *clnet__ex_printf(clnet__ex_builder *b, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return clnet__ex_strdup(b, buf);
}

/* Grows a pointer array by one slot; 0 when out of memory. */
static int grow(clnet__ex_builder *b, void ***arr, size_t n, size_t *cap)
{
    if (b->oom)
        return 0;
    if (n < *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 64;
    void **p = realloc(*arr, c * sizeof *p);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    *arr = p;
    *cap = c;
    return 1;
}

Onnx__NodeProto *clnet__ex_node(clnet__ex_builder *b, const char *op_type,
                                int n_in, const char *const *in,
                                const char *out)
{
    Onnx__NodeProto *n = clnet__ex_alloc(b, sizeof *n);
    char **ins = clnet__ex_alloc(b, (size_t)(n_in > 0 ? n_in : 1) * sizeof *ins);
    char **outs = clnet__ex_alloc(b, sizeof *outs);
    Onnx__AttributeProto **attrs =
        clnet__ex_alloc(b, CLNET__ONNX_MAX_ATTRS * sizeof *attrs);
    if (!n || !ins || !outs || !attrs ||
        !grow(b, (void ***)&b->node, b->n_node, &b->cap_node))
        return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < n_in; i++)
        if (!in[i] || !(ins[i] = clnet__ex_strdup(b, in[i]))) {
            b->oom = 1; /* an input that failed to be made */
            return NULL;
        }
    outs[0] = clnet__ex_strdup(b, out);
    n->op_type = clnet__ex_strdup(b, op_type);
    if (!outs[0] || !n->op_type)
        return NULL;
    n->n_input = (size_t)n_in;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    n->name = outs[0];
    n->attribute = attrs;
    b->node[b->n_node++] = n;
    return n;
}

static Onnx__AttributeProto *attr_new(clnet__ex_builder *b, Onnx__NodeProto *n,
                                      const char *name,
                                      Onnx__AttributeProto__AttributeType type)
{
    if (!n || n->n_attribute >= CLNET__ONNX_MAX_ATTRS) {
        b->oom = 1; /* a programming error; fail the export, never crash */
        return NULL;
    }
    Onnx__AttributeProto *a = clnet__ex_alloc(b, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = clnet__ex_strdup(b, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

void clnet__ex_attr_int(clnet__ex_builder *b, Onnx__NodeProto *n,
                        const char *name, int64_t v)
{
    Onnx__AttributeProto *a =
        attr_new(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
}

void clnet__ex_attr_ints(clnet__ex_builder *b, Onnx__NodeProto *n,
                         const char *name, const int64_t *v, size_t count)
{
    Onnx__AttributeProto *a =
        attr_new(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = clnet__ex_alloc(b, count * sizeof *copy);
    if (a && copy) {
        memcpy(copy, v, count * sizeof *copy);
        a->n_ints = count;
        a->ints = copy;
    }
}

void clnet__ex_attr_float(clnet__ex_builder *b, Onnx__NodeProto *n,
                          const char *name, float v)
{
    Onnx__AttributeProto *a =
        attr_new(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
}

static Onnx__TensorProto *tensor_new(clnet__ex_builder *b, const char *name,
                                     const int64_t *dims, int ndim, int32_t type)
{
    Onnx__TensorProto *t = clnet__ex_alloc(b, sizeof *t);
    int64_t *d = clnet__ex_alloc(b, (size_t)(ndim > 0 ? ndim : 1) * sizeof *d);
    if (!t || !d || !grow(b, (void ***)&b->init, b->n_init, &b->cap_init))
        return NULL;
    onnx__tensor_proto__init(t);
    t->name = clnet__ex_strdup(b, name);
    if (!t->name)
        return NULL;
    if (ndim > 0)
        memcpy(d, dims, (size_t)ndim * sizeof *d);
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = type;
    b->init[b->n_init++] = t;
    return t;
}

static size_t count_of(const int64_t *dims, int ndim)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)dims[i];
    return n;
}

const char *clnet__ex_init_float(clnet__ex_builder *b, const char *name,
                                 const int64_t *dims, int ndim,
                                 const float *data)
{
    Onnx__TensorProto *t =
        tensor_new(b, name, dims, ndim, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    if (!t)
        return NULL;
    /* float_data is written packed: the same bytes as raw_data, and
     * portable to big-endian hosts. */
    t->n_float_data = count_of(dims, ndim);
    t->float_data = (float *)data;
    return t->name;
}

const char *clnet__ex_init_float_copy(clnet__ex_builder *b, const char *name,
                                      const int64_t *dims, int ndim,
                                      const float *data)
{
    size_t n = count_of(dims, ndim);
    float *copy = clnet__ex_alloc(b, n * sizeof *copy);
    if (!copy)
        return NULL;
    memcpy(copy, data, n * sizeof *copy);
    return clnet__ex_init_float(b, name, dims, ndim, copy);
}

const char *clnet__ex_init_int64(clnet__ex_builder *b, const char *name,
                                 const int64_t *dims, int ndim,
                                 const int64_t *data)
{
    size_t n = count_of(dims, ndim);
    int64_t *copy = clnet__ex_alloc(b, n * sizeof *copy);
    Onnx__TensorProto *t =
        copy ? tensor_new(b, name, dims, ndim, ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
             : NULL;
    if (!t)
        return NULL;
    memcpy(copy, data, n * sizeof *copy);
    t->n_int64_data = n;
    t->int64_data = copy;
    return t->name;
}

/* The name of the initializer called name, or NULL when there is none. */
static const char *find_init(const clnet__ex_builder *b, const char *name)
{
    for (size_t i = 0; i < b->n_init; i++)
        if (strcmp(b->init[i]->name, name) == 0)
            return b->init[i]->name;
    return NULL;
}

const char *clnet__ex_scalar(clnet__ex_builder *b, float v)
{
    char name[64];
    snprintf(name, sizeof name, "const/%.9g", (double)v);
    const char *have = find_init(b, name);
    return have ? have : clnet__ex_init_float_copy(b, name, NULL, 0, &v);
}

Onnx__ValueInfoProto *clnet__ex_value_info(clnet__ex_builder *b,
                                           const char *name,
                                           const int64_t *dims, int ndim)
{
    Onnx__ValueInfoProto *v = clnet__ex_alloc(b, sizeof *v);
    Onnx__TypeProto *type = clnet__ex_alloc(b, sizeof *type);
    Onnx__TypeProto__Tensor *tt = clnet__ex_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *shape = clnet__ex_alloc(b, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dim =
        clnet__ex_alloc(b, (size_t)ndim * sizeof *dim);
    if (!v || !type || !tt || !shape || !dim)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(shape);
    for (int i = 0; i < ndim; i++) {
        dim[i] = clnet__ex_alloc(b, sizeof *dim[i]);
        if (!dim[i])
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (dims[i] < 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = clnet__ex_strdup(b, "N");
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    shape->n_dim = (size_t)ndim;
    shape->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tt;
    v->name = clnet__ex_strdup(b, name);
    v->type = type;
    return v->name ? v : NULL;
}

/* 1 when a node already computes the tensor called name (a value converted
 * once is shared by every layer that reads it: names are assigned once). */
static int has_node(const clnet__ex_builder *b, const char *name)
{
    for (size_t i = 0; i < b->n_node; i++)
        if (strcmp(b->node[i]->output[0], name) == 0)
            return 1;
    return 0;
}

clnet__ex_value clnet__ex_rank4(clnet__ex_builder *b, clnet__ex_value v)
{
    if (v.rank == 4)
        return v;
    static const int64_t axes[2] = {2, 3};
    const int64_t dims[1] = {2};
    char *out = clnet__ex_printf(b, "%s/unsqueeze", v.name);
    if (!out || has_node(b, out))
        return (clnet__ex_value){out, 4};
    const char *axes_name = find_init(b, "const/axes_2_3");
    if (!axes_name)
        axes_name = clnet__ex_init_int64(b, "const/axes_2_3", dims, 1, axes);
    const char *in[2] = {v.name, axes_name};
    clnet__ex_node(b, "Unsqueeze", 2, in, out);
    return (clnet__ex_value){out, 4};
}

clnet__ex_value clnet__ex_rank2(clnet__ex_builder *b, clnet__ex_value v)
{
    if (v.rank == 2)
        return v;
    char *out = clnet__ex_printf(b, "%s/flatten", v.name);
    if (!out || has_node(b, out))
        return (clnet__ex_value){out, 2};
    Onnx__NodeProto *n = clnet__ex_node(b, "Flatten", 1, &v.name, out);
    clnet__ex_attr_int(b, n, "axis", 1);
    return (clnet__ex_value){out, 2};
}
