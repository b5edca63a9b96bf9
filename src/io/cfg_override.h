/* Rewriting a model file's input size and class count (cfg_override.c). */
#ifndef CLNET_IO_CFG_OVERRIDE_H
#define CLNET_IO_CFG_OVERRIDE_H

#include "core/core.h"

/* 0: keep the model file's value. */
typedef struct clnet__cfg_overrides {
    int channels, height, width, classes;
} clnet__cfg_overrides;

/* *out (malloc'd, caller frees): text with [net]'s channels/height/width/
 * classes set to the non-zero values of o and, when classes is set, the
 * `outputs` (dense) or `filters` (conv) of the layer that makes the logits
 * set to it too. Errors name label: text that does not parse, logits that
 * do not come from one dense or conv layer through single-input layers. */
clnet_status clnet__cfg_override(clnet_ctx *ctx, const char *label, const char *text,
                                 const clnet__cfg_overrides *o, char **out);

#endif
