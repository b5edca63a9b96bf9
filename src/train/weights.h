/* Weights from elsewhere: a set of named float32 tensors (read from a clnet
 * checkpoint, a PyTorch-named safetensors file or an ONNX file's
 * initializers) copied into a model's parameters and running statistics by
 * name and shape.
 *
 * Strict copy (loading an imported network): every tensor of the model must
 * be in the set with its shape, or nothing is written and the error names
 * the first one missing or misshapen. Lenient copy (fine-tuning): whatever
 * matches is copied, and the result lists what was skipped and why; a set
 * from which nothing matches is an error (CLNET_ENOTFOUND). Either way the
 * model is written only after every tensor was checked. */
#ifndef CLNET_TRAIN_WEIGHTS_H
#define CLNET_TRAIN_WEIGHTS_H

#include "clnet/model.h"

#include <stddef.h>

#define CLNET__TENSOR_MAX_DIMS 8

typedef struct clnet__named_tensor {
    char *name;
    int ndim;                              /* 0 (a scalar) to 8 */
    size_t shape[CLNET__TENSOR_MAX_DIMS];
    float *data;                           /* product(shape) floats */
} clnet__named_tensor;

typedef struct clnet__tensor_set {
    char source[512];                      /* file name, for messages */
    size_t n, cap;
    clnet__named_tensor *t;
} clnet__tensor_set;

/* Appends a copy of (name, shape, data). A name already in the set is
 * CLNET_EINVAL. */
clnet_status clnet__tensor_set_add(clnet_ctx *ctx, clnet__tensor_set *s,
                                   const char *name, int ndim,
                                   const size_t *shape, const float *data);
const clnet__named_tensor *clnet__tensor_set_find(const clnet__tensor_set *s,
                                                  const char *name);
/* Frees what the set holds (not s itself); s is left empty and reusable. */
void clnet__tensor_set_clear(clnet__tensor_set *s);

/* One tensor of the set that was not copied, or one tensor of the model
 * that nothing filled (reason says which). */
typedef struct clnet__weights_skip {
    char *name;
    char *reason;     /* e.g. "shape [10,512] in the file, [3,512] in the model" */
} clnet__weights_skip;

typedef struct clnet__weights_result {
    size_t loaded;           /* model tensors written */
    size_t model_tensors;    /* parameters + running statistics */
    size_t n_skipped;        /* set tensors not used */
    clnet__weights_skip *skipped;
    size_t n_missing;        /* model tensors left as they were */
    clnet__weights_skip *missing;
} clnet__weights_result;

/* Copies tensors of s into m by name and shape (see above). Shapes match
 * when they are equal once dims of size 1 are dropped ([out,in] against
 * [out,in,1,1]: the same row-major data). res
 * may be NULL; when not, the caller frees it with clnet__weights_result_free. */
clnet_status clnet__weights_copy(clnet_model *m, const clnet__tensor_set *s,
                                 int strict, clnet__weights_result *res);
void clnet__weights_result_free(clnet__weights_result *res);

#endif
