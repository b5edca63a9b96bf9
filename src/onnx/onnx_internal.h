/* Internals of the ONNX importer shared by its files: constant tensors read
 * from TensorProtos (onnx_tensor.c) and attribute lookups. */
#ifndef CLNET_ONNX_INTERNAL_H
#define CLNET_ONNX_INTERNAL_H

#include "clnet/clnet.h"
#include "onnx.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define ONNX__MAX_DIMS 8

/* A constant: an initializer, a Constant node's value or a bound input.
 * f always holds the values as float; i holds them exactly when the tensor
 * is of an integer type (shapes, axes, pads). */
typedef struct onnx__const {
    int ndim;
    int64_t dims[ONNX__MAX_DIMS];
    size_t count;
    int is_int;
    float *f;
    int64_t *i;
} onnx__const;

/* Reads t into c (malloc'd arrays; free with onnx__const_free). Errors:
 * CLNET_EUNSUPPORTED (type, external data), CLNET_EFORMAT (sizes that do
 * not add up); what names the tensor in messages. */
clnet_status onnx__const_read(clnet_ctx *ctx, const Onnx__TensorProto *t,
                              const char *what, onnx__const *c);
void onnx__const_free(onnx__const *c);

/* Reads and decodes the ONNX file at path (onnx_meta.c); free *out with
 * onnx__model_proto__free_unpacked. CLNET_EFORMAT when it is not a
 * ModelProto with a graph. */
clnet_status onnx__read_model(clnet_ctx *ctx, const char *path, Onnx__ModelProto **out);

/* The node's attribute of that name, or NULL. */
const Onnx__AttributeProto *onnx__attr(const Onnx__NodeProto *n, const char *name);

#endif
