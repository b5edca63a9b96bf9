/* ONNX import: an ONNX file (opsets 9-17, what PyTorch's torch.onnx.export
 * writes for CNNs) becomes clnet model-file text (the INI format of
 * models/NAME.cfg, see io/model_desc.h) plus the initializers as a named tensor
 * set under clnet's parameter names ("layer1.0.conv1.weight",
 * "bn1.running_mean"), so an imported network goes through the cfg parser
 * and the executor like any other.
 *
 * The graph is mapped node pattern by node pattern (import.c lists what is
 * supported); anything else is CLNET_EUNSUPPORTED with a message naming the
 * node (index and name), its op type and the attribute, and listing what is
 * supported. A file that is not an ONNX model is CLNET_EFORMAT.
 *
 * Contract of a model: one graph input, an NCHW float tensor; the graph's
 * one output is the logits [N, classes] (or [N, classes, 1, 1]); a final
 * Softmax/LogSoftmax is dropped (clnet adds its own). */
#ifndef CLNET_ONNX_IMPORT_H
#define CLNET_ONNX_IMPORT_H

#include "clnet/model.h"
#include "train/weights.h"

/* Options for tests (ONNX's node tests); NULL means a model import. */
typedef struct clnet__onnx_import_opts {
    /* 1: the first graph input may have rank 1 to 4 (read as NCHW with
     * trailing dims of 1), and an output that is not [N, K] is flattened
     * into the logits (same row-major order). */
    int node_test;
    /* Values for graph inputs 2, 3, ... (those not initializers), in order:
     * bound[k] is graph input k+2. They act as initializers. May be NULL. */
    const clnet__tensor_set *bound;
} clnet__onnx_import_opts;

/* Reads the ONNX file at path. On success *cfg_text (malloc'd, caller
 * frees) holds the model file text and weights (an empty set the caller
 * owns; clear it with clnet__tensor_set_clear) the parameters and running
 * statistics of every layer. */
clnet_status clnet__onnx_import(clnet_ctx *ctx, const char *path,
                                char **cfg_text, clnet__tensor_set *weights);
clnet_status clnet__onnx_import_ex(clnet_ctx *ctx, const char *path,
                                   const clnet__onnx_import_opts *opts,
                                   char **cfg_text, clnet__tensor_set *weights);

/* clnet_model_load for a .onnx file: import, build the model from the text,
 * copy the weights in (strict: every tensor of the model must be there). */
clnet_status clnet__onnx_model_load(clnet_ctx *ctx, const char *path,
                                    const clnet_model_settings *s,
                                    clnet_model **out);

/* The value of metadata_props[key] of the ONNX file at path (malloc'd, the
 * caller frees), or *value = NULL when it has no such key. */
clnet_status clnet__onnx_meta(clnet_ctx *ctx, const char *path, const char *key,
                              char **value);

/* 1 when path names an ONNX file: it ends in ".onnx" (any case). */
int clnet__onnx_is_onnx_path(const char *path);

/* Reads a serialized TensorProto file (ONNX test data: input_0.pb) as float32
 * into out (name from the proto or "tensor"; caller frees out->name and
 * out->data). Integer and double tensors are converted; other types are
 * CLNET_EUNSUPPORTED. */
clnet_status clnet__onnx_read_tensor_file(clnet_ctx *ctx, const char *path,
                                          clnet__named_tensor *out);

#endif
