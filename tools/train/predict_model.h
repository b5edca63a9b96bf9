/* clnet-predict --model MODEL WEIGHTS: a model file (or .onnx) run with the
 * weights of any safetensors file (a torchvision state_dict, a clnet
 * checkpoint), not only a clnet-train checkpoint. */
#ifndef CLNET_TOOLS_PREDICT_MODEL_H
#define CLNET_TOOLS_PREDICT_MODEL_H

#include "clnet/clnet.h"

/* Loads model_path with ms and copies every tensor of the model from
 * weights (by name and shape; PyTorch's dotted names match clnet's '_'
 * names); its other tensors (optimizer state, PyTorch's
 * num_batches_tracked) are ignored. Every parameter and running statistic must be in the file: a
 * network half-filled with random weights predicts nothing. Prints why on
 * failure and returns -1. */
int predict_open_model(clnet_ctx *ctx, const char *model_path, const char *weights,
                       const clnet_model_settings *ms, clnet_model **out);

/* Class names from a text file, one per line (blank lines and a trailing
 * newline ignored); exactly n of them. NULL after printing why. */
char **predict_read_class_file(const char *path, int n);

#endif
