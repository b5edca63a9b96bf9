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

struct clnet__weights_skip;

typedef struct clnet__tensor_set {
    char source[512];                      /* file name, for messages */
    size_t n, cap;
    clnet__named_tensor *t;
    /* Tensors of the file that the reader left out (an I64
     * num_batches_tracked, an unsupported dtype), with the reason; copying
     * lists them among the skipped. */
    size_t n_unread;
    struct clnet__weights_skip *unread;
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
/* Records a tensor of the file that the reader did not take, and why. */
clnet_status clnet__tensor_set_unread(clnet_ctx *ctx, clnet__tensor_set *s,
                                      const char *name, const char *reason);

/* Reads every tensor of a safetensors file into s (which must be empty):
 * a clnet checkpoint or a PyTorch state_dict saved as safetensors. F32 is
 * read as is; F16, BF16 and F64 are converted to float32; integer and
 * other tensors (PyTorch's I64 num_batches_tracked) go to s->unread with
 * the reason, as do a clnet checkpoint's optimizer moments ("optim.*").
 * Names are kept as in the file; the copy matches PyTorch's dotted module
 * paths itself (clnet__weights_name_key). */
clnet_status clnet__weights_read_safetensors(clnet_ctx *ctx, const char *path,
                                             clnet__tensor_set *s);
/* Reads weights from path by its kind: .onnx through the ONNX importer
 * (its initializers), anything else as safetensors. */
clnet_status clnet__weights_read(clnet_ctx *ctx, const char *path,
                                 clnet__tensor_set *s);

/* The key names are matched by: PyTorch's module path with '_' for '.',
 * then '.' and the tensor's own name ("features.0.0.weight" ->
 * "features_0_0.weight", "layer1.0.bn1.running_mean" ->
 * "layer1_0_bn1.running_mean"); a name without dots is unchanged. Writes
 * at most cap bytes (NUL included) to out. */
void clnet__weights_name_key(const char *name, char *out, size_t cap);

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

/* Copies tensors of s into m by name and shape (see above). A model tensor
 * takes the set's tensor of exactly its name, else the one whose
 * clnet__weights_name_key is its own (so PyTorch's "layer1.0.conv1.weight"
 * fills clnet's "layer1_0_conv1.weight"). Shapes match
 * when they are equal once dims of size 1 are dropped ([out,in] against
 * [out,in,1,1]: the same row-major data). res
 * may be NULL; when not, the caller frees it with clnet__weights_result_free. */
clnet_status clnet__weights_copy(clnet_model *m, const clnet__tensor_set *s,
                                 int strict, clnet__weights_result *res);
void clnet__weights_result_free(clnet__weights_result *res);

/* After a lenient copy: the parameters of the model's last layer with
 * parameters (the classifier) that res lists as missing (all of them when
 * `all`: a head trained for other classes) are set to zero, as
 * Big Transfer (Kolesnikov et al., 2020) does for a new head. A randomly
 * initialised head on a trained backbone's large, all-positive features
 * starts with confidently wrong logits (measured: loss 5.4 and accuracy
 * below chance after 10 steps at lr 0.001); a zero head starts at the
 * uniform prediction and its first gradients are the features themselves.
 * *zeroed: how many tensors. */
clnet_status clnet__weights_zero_head(clnet_model *m, const clnet__weights_result *res,
                                      int all, size_t *zeroed);

#endif
