/*
 * clnet ONNX export: write a model as an ONNX file that other runtimes
 * (onnxruntime, OpenCV's dnn, TensorRT...) run for inference.
 *
 * Overview
 *   The file holds the inference graph of the model: batchnorm with its
 *   running statistics, dropout left out. Opset 13, IR version 8 (ONNX
 *   1.10 and later read it).
 *     input          "input", float32 [N, C, H, W], N dynamic: pixels in
 *                    [0, 1] when the normalisation is in the graph (below),
 *                    else inputs as the model itself takes them
 *     normalisation  (input - mean) / std per channel (Sub, Div nodes), when
 *                    the options or the model's checkpoint (clnet-train's
 *                    run.mean / run.std) give it
 *     network        one node or a few per layer (Conv, Gemm, MaxPool...);
 *                    parameters and running statistics are initializers
 *                    named as in clnet's checkpoints ("conv1.weight",
 *                    "bn1.running_mean"), PyTorch's layouts
 *     output         "probabilities", float32 [N, classes] (a Softmax), or
 *                    "logits" when softmax = 0
 *   metadata_props: "classes" (a JSON array of the class names, from the
 *   options or the checkpoint's run.classes, else "0", "1", ...),
 *   "input_size" ("C,H,W"), "mean" and "std" ("a,b,c", when normalised in
 *   the graph, "" otherwise), "clnet.version" and "clnet.model" (the model
 *   file text).
 *
 * Example: export a trained checkpoint
 *   clnet_model *m = NULL;
 *   clnet_model_settings ms;
 *   clnet_model_default_settings(&ms);
 *   ms.batch = 1;
 *   ms.training = 0;
 *   if (clnet_model_open_checkpoint(ctx, "run/best.safetensors", &ms, &m) !=
 *           CLNET_OK ||
 *       clnet_model_export_onnx(m, "run/model.onnx", NULL) != CLNET_OK)
 *       fprintf(stderr, "%s\n", clnet_errmsg(ctx));
 *   clnet_model_free(m);
 *
 * Example: a model without a checkpoint, with its normalisation and names
 *   clnet_model *m = NULL;        // e.g. trained with the calls of model.h
 *   if (clnet_model_load(ctx, "models/resnet20.cfg", NULL, &m) != CLNET_OK)
 *       fail(clnet_errmsg(ctx));
 *   static const float mean[3] = {0.49f, 0.48f, 0.45f};
 *   static const float std[3] = {0.25f, 0.24f, 0.26f};
 *   static const char *const names[10] = {"plane", "car", "bird", "cat",
 *       "deer", "dog", "frog", "horse", "ship", "truck"};
 *   clnet_onnx_export_options eo;
 *   clnet_onnx_export_default_options(&eo);
 *   eo.mean = mean;              // one value per input channel
 *   eo.std = std;
 *   eo.class_names = names;      // one name per class
 *   if (clnet_model_export_onnx(m, "cats-dogs.onnx", &eo) != CLNET_OK)
 *       fprintf(stderr, "%s\n", clnet_errmsg(ctx));
 *   clnet_model_free(m);
 *
 * Errors (clnet_errmsg names the file, and the layer or value at fault):
 * CLNET_EINVAL for bad arguments (a std of 0, a class name that is not
 * UTF-8), CLNET_EIO when the file cannot be written, CLNET_ENOMEM.
 *
 * Ownership and threads
 *   Nothing is kept: the options and what they point to are read during the
 *   call only. The file is written to a temp file in the same folder,
 *   fsync'd and renamed, so an interrupted export leaves any old file whole.
 *   The model is read (its parameters come from the device), not changed;
 *   like every call on a model, one thread at a time.
 */
#ifndef CLNET_ONNX_H
#define CLNET_ONNX_H

#include "clnet/clnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* model.h's handle (declared here too: clnet.h includes both headers). */
typedef struct clnet_model clnet_model;

typedef struct clnet_onnx_export_options {
    /* Per-channel normalisation the model expects of pixels in [0, 1]:
     * C values each. NULL: the checkpoint's run.mean / run.std when the
     * model was loaded from one that has them; else none. */
    const float *mean, *std;
    /* 0: no normalisation nodes even when mean/std are known (the input is
     * then what the model itself takes). Default 1. */
    int normalize;
    /* One UTF-8 name per class; NULL: the checkpoint's run.classes, else
     * the class numbers. */
    const char *const *class_names;
    /* 1 (default): end with Softmax, output "probabilities"; 0: output the
     * logits, named "logits". */
    int softmax;
    /* The graph's name; NULL: the model file's name without folders. */
    const char *graph_name;
} clnet_onnx_export_options;

void clnet_onnx_export_default_options(clnet_onnx_export_options *o);

/* Writes m as an ONNX file at path (see the overview). opt may be NULL
 * (the defaults). */
clnet_status clnet_model_export_onnx(clnet_model *m, const char *path,
                                     const clnet_onnx_export_options *opt);

#ifdef __cplusplus
}
#endif
#endif /* CLNET_ONNX_H */
