/* The op tables, one per file in src/ops/. */
#ifndef CLNET_ALL_OPS_H
#define CLNET_ALL_OPS_H

#include "ops/op.h"

extern const clnet__op clnet__op_conv;          /* conv.c */
extern const clnet__op clnet__op_dense;         /* dense.c */
extern const clnet__op clnet__op_maxpool;       /* maxpool.c */
extern const clnet__op clnet__op_avgpool;       /* avgpool.c */
extern const clnet__op clnet__op_globalavgpool; /* globalavgpool.c */
extern const clnet__op clnet__op_batchnorm;     /* batchnorm.c */
extern const clnet__op clnet__op_dropout;       /* dropout.c */
extern const clnet__op clnet__op_relu;          /* activation.c */
extern const clnet__op clnet__op_leakyrelu;     /* activation.c */
extern const clnet__op clnet__op_sigmoid;       /* activation.c */
extern const clnet__op clnet__op_tanh;          /* activation.c */
extern const clnet__op clnet__op_gelu;          /* activation.c */
extern const clnet__op clnet__op_silu;          /* activation.c */
extern const clnet__op clnet__op_relu6;         /* activation.c */
extern const clnet__op clnet__op_hardsigmoid;   /* activation.c */
extern const clnet__op clnet__op_hardswish;     /* activation.c */
extern const clnet__op clnet__op_add;           /* add.c */
extern const clnet__op clnet__op_concat;        /* concat.c */
extern const clnet__op clnet__op_flatten;       /* flatten.c */

#endif
