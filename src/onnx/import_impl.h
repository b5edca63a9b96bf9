/* The ONNX importer's state, shared by import.c (the walk over the graph,
 * values, layers, the model text) and import_nodes.c (one mapping per node
 * type or pattern). */
#ifndef CLNET_ONNX_IMPORT_IMPL_H
#define CLNET_ONNX_IMPORT_IMPL_H

#include "onnx/import.h"
#include "onnx/onnx_internal.h"

#include "core/core.h"
#include "io/model_desc.h"

#include <math.h>

/* The mapping files' shorthands: return on the first error. */
#define OK CLNET_OK
#define TRY(x) do { clnet_status st_ = (x); if (st_ != CLNET_OK) return st_; } while (0)

/* a equals b up to float rounding (constants written by exporters). */
static inline int onnx__near(float a, double b)
{
    return fabs((double)a - b) <= 1e-5 * (1 + fabs(b));
}

/* The single value of a constant with one element, or NAN. */
static inline float onnx__scalar(const onnx__const *c)
{
    return c && c->count == 1 ? c->f[0] : NAN;
}

/* What an ONNX value is while the graph is walked. */
typedef enum onnx__vkind {
    V_LAYER,     /* a clnet layer's output (or the net input) */
    V_CONST,     /* a constant tensor */
    V_PAD,       /* x padded with zeros, waiting to be folded into a conv/pool */
    V_GELU_DIV,  /* x / sqrt(2) (or x * 1/sqrt(2)) */
    V_GELU_ERF,  /* erf(x / sqrt(2)) */
    V_GELU_ADD,  /* 1 + erf(x / sqrt(2)) */
    V_GELU_MUL,  /* x * (1 + erf(x / sqrt(2))) */
    V_HALF       /* x * 0.5 */
} onnx__vkind;

/* A layer output: layer index (-1: the net input), ONNX rank, clnet shape. */
typedef struct onnx__lref {
    int layer;
    int rank;
    clnet__shape shape;
} onnx__lref;

typedef struct onnx__value {
    const char *name;      /* borrowed from the proto */
    onnx__vkind kind;
    onnx__lref x;          /* V_LAYER: the value; patterns and V_PAD: x */
    onnx__const c;         /* V_CONST */
    int owned;             /* c's arrays belong to this value */
    int pad[4];            /* V_PAD: top, bottom, left, right */
} onnx__value;

typedef struct onnx__layer {
    const clnet__op *op;
    char name[CLNET__NAME_MAX];
    int n_in, from[CLNET__MAX_IN];
    char keys[512];        /* "key=value\n" lines */
    int node;              /* the ONNX node it came from */
    int matmul;            /* a dense from MatMul whose bias may follow */
    int affine;            /* a per-channel x*w+b (import_affine.c) */
} onnx__layer;

typedef struct onnx__importer {
    clnet_ctx *ctx;
    const char *path;
    int node_test;
    const Onnx__GraphProto *g;
    int opset;
    onnx__value *v;
    size_t nv, capv;
    onnx__layer *l;
    int nl, capl;
    clnet__tensor_set *w;
    int node;                       /* index of the node being mapped */
    const Onnx__NodeProto *n;
} onnx__importer;

/* Error about the current node: "PATH: node I 'NAME' (OP): what. Supported:
 * ..." with CLNET_EUNSUPPORTED (or st when given != 0). */
clnet_status onnx__node_fail(onnx__importer *im, clnet_status st, const char *fmt, ...)
    CLNET__PRINTF(3, 4);

onnx__value *onnx__find(onnx__importer *im, const char *name);
/* The value of the current node's input i, or NULL (absent, or unknown). */
onnx__value *onnx__in_value(onnx__importer *im, int i);
/* Appends a value named name (borrowed) and returns it, or NULL (out of
 * memory: the context has the error). */
onnx__value *onnx__new_value(onnx__importer *im, const char *name, onnx__vkind kind);
/* How many node inputs and graph outputs read the value. */
int onnx__uses(const onnx__importer *im, const char *name);
int onnx__is_graph_output(const onnx__importer *im, const char *name);

/* Node input i as a layer output / a constant (errors name the node). An
 * absent optional input gives *c = NULL. */
clnet_status onnx__in_layer(onnx__importer *im, int i, onnx__lref *out);
clnet_status onnx__in_const(onnx__importer *im, int i, int optional,
                            const onnx__const **c);

/* Attributes of the current node, with defaults. Errors for a wrong type. */
clnet_status onnx__attr_int(onnx__importer *im, const char *name, int64_t dflt,
                            int64_t *out);
clnet_status onnx__attr_float(onnx__importer *im, const char *name, float dflt,
                              float *out);
/* ints: up to max values; *n = -1 when absent. */
clnet_status onnx__attr_ints(onnx__importer *im, const char *name, int64_t *out,
                             int max, int *n);
/* A string attribute into buf ("" when absent). */
clnet_status onnx__attr_str(onnx__importer *im, const char *name, char *buf,
                            size_t cap);
/* Fails naming the first attribute of the node not in the NULL-ended list. */
clnet_status onnx__attrs_allowed(onnx__importer *im, const char *const *allowed);

/* Adds a layer of op `section` with inputs in[0..n_in), keys ("k=v\n"
 * lines), named after the node (or weight_name minus ".weight"); infers
 * its shape with the op's own plan. out gets its output (rank as given). */
clnet_status onnx__add_layer(onnx__importer *im, const char *section,
                             const char *weight_name, int n_in,
                             const onnx__lref *in, const char *keys, int rank,
                             onnx__lref *out);
/* Adds tensor LAYER.suffix to the weights. */
clnet_status onnx__add_weight(onnx__importer *im, int layer, const char *suffix,
                              int ndim, const size_t *shape, const float *data);
/* Sets the current node's output o to a layer value / alias of v. */
clnet_status onnx__set_out_layer(onnx__importer *im, int o, onnx__lref x);
clnet_status onnx__set_out_alias(onnx__importer *im, int o, const onnx__value *v);

/* Maps the current node (import_nodes.c). */
clnet_status onnx__map_node(onnx__importer *im);

/* What the importer supports, for messages. */
extern const char onnx__supported[];

/* Elementwise nodes and the patterns built from them (import_elementwise.c). */
clnet_status onnx__map_mul(onnx__importer *im);
clnet_status onnx__map_div(onnx__importer *im);
clnet_status onnx__map_sub(onnx__importer *im);
clnet_status onnx__map_erf(onnx__importer *im);
clnet_status onnx__map_add(onnx__importer *im);

/* Add, Sub, Mul or Div (op '+', '-', '*', '/') of a computed tensor and a
 * per-channel (or single) constant, such as an input normalisation
 * (x - mean) / std: a depthwise 1x1 conv holding x*w+b, consecutive ones
 * merged into one (import_affine.c). *handled = 0 when the inputs are not
 * that (the caller tries its other patterns). */
clnet_status onnx__map_affine(onnx__importer *im, char op, int *handled);

/* Shape arithmetic on constants (import_shape.c): Shape of a layer's value,
 * Gather from a shape, Unsqueeze of a constant (axes given), Concat of 1-D
 * integer constants (*handled = 0 when the inputs are not all such). */
clnet_status onnx__map_shape(onnx__importer *im);
clnet_status onnx__map_gather(onnx__importer *im);
clnet_status onnx__const_unsqueeze(onnx__importer *im, const int64_t *axes, int n_axes);
clnet_status onnx__const_concat(onnx__importer *im, int *handled);

#endif
