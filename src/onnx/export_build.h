/* ONNX export internals: a builder that collects the graph's nodes and
 * initializers as protobuf-c messages (onnx.pb-c.h, generated at build
 * time), the layer-by-layer translation, and the atomic file write.
 *
 * Every message, string and array of one export comes from the builder's
 * arena and is freed with it; tensor data may also be borrowed (the host
 * copies of the parameters outlive the builder). Allocation failures are
 * sticky (b->oom): calls after one do nothing, and the caller checks once. */
#ifndef CLNET_ONNX_EXPORT_BUILD_H
#define CLNET_ONNX_EXPORT_BUILD_H

#include "core/core.h"
#include "io/model_desc.h"
#include "onnx.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define CLNET__ONNX_OPSET 13
#define CLNET__ONNX_IR_VERSION 8 /* ONNX 1.10 to 1.12 write this */
#define CLNET__ONNX_MAX_ATTRS 8

typedef struct clnet__ex_block clnet__ex_block;

typedef struct clnet__ex_builder {
    clnet_ctx *ctx;
    clnet__ex_block *blocks;
    Onnx__NodeProto **node;
    size_t n_node, cap_node;
    Onnx__TensorProto **init;
    size_t n_init, cap_init;
    int oom;
} clnet__ex_builder;

/* A tensor of the graph: its name and rank (2: [N, K] after a Flatten or
 * Gemm; 4: NCHW). */
typedef struct clnet__ex_value {
    const char *name;
    int rank;
} clnet__ex_value;

void clnet__ex_free(clnet__ex_builder *b);

/* Zeroed memory from the arena; NULL (and b->oom) when out of memory. */
void *clnet__ex_alloc(clnet__ex_builder *b, size_t bytes);
char *clnet__ex_strdup(clnet__ex_builder *b, const char *s);
char *clnet__ex_printf(clnet__ex_builder *b, const char *fmt, ...)
    CLNET__PRINTF(2, 3);

/* Appends a node with n_in inputs and one output; its name is the output's. */
Onnx__NodeProto *clnet__ex_node(clnet__ex_builder *b, const char *op_type,
                                int n_in, const char *const *in,
                                const char *out);
void clnet__ex_attr_int(clnet__ex_builder *b, Onnx__NodeProto *n,
                        const char *name, int64_t v);
void clnet__ex_attr_ints(clnet__ex_builder *b, Onnx__NodeProto *n,
                         const char *name, const int64_t *v, size_t count);
void clnet__ex_attr_float(clnet__ex_builder *b, Onnx__NodeProto *n,
                          const char *name, float v);

/* Appends a float32 initializer. data is borrowed (it must live until the
 * model is packed); returns its name (arena copy) or NULL. */
const char *clnet__ex_init_float(clnet__ex_builder *b, const char *name,
                                 const int64_t *dims, int ndim,
                                 const float *data);
/* The same, the data copied into the arena. */
const char *clnet__ex_init_float_copy(clnet__ex_builder *b, const char *name,
                                      const int64_t *dims, int ndim,
                                      const float *data);
/* An int64 initializer (copied). */
const char *clnet__ex_init_int64(clnet__ex_builder *b, const char *name,
                                 const int64_t *dims, int ndim,
                                 const int64_t *data);
/* A float32 scalar constant named "const/<value>", added once. */
const char *clnet__ex_scalar(clnet__ex_builder *b, float v);

/* A float32 value info: dims[i] < 0 is the dynamic dimension "N". */
Onnx__ValueInfoProto *clnet__ex_value_info(clnet__ex_builder *b,
                                           const char *name,
                                           const int64_t *dims, int ndim);

/* Host copies of the model's parameters and state, found by tensor name. */
typedef struct clnet__ex_tensors {
    const struct clnet__graph *g;
    const float *params, *state;
} clnet__ex_tensors;

/* The translation of layer i: reads its inputs' values from vals[] (which
 * has d->n_layers + 1 entries, the last the network input after the
 * normalisation), adds its nodes and initializers, and sets vals[i]
 * (dropout: its input's value). */
clnet_status clnet__ex_layer(clnet__ex_builder *b, const clnet__model_desc *d,
                             int i, const clnet__ex_tensors *t,
                             clnet__ex_value *vals);

/* The value as rank 4 (Unsqueeze axes 2, 3 of a rank-2 value). */
clnet__ex_value clnet__ex_rank4(clnet__ex_builder *b, clnet__ex_value v);
/* The value as rank 2 (Flatten axis 1 of a rank-4 value). */
clnet__ex_value clnet__ex_rank2(clnet__ex_builder *b, clnet__ex_value v);

/* Writes len bytes to path: a temp file beside it, fsync, rename, directory
 * fsync. Errors name path. */
clnet_status clnet__ex_write_file(clnet_ctx *ctx, const char *path,
                                  const void *data, size_t len);

#endif
