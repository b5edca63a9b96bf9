/* Read access to the parameters of ops whose params struct is private to
 * their file, for code that describes a model to the outside (ONNX export).
 * conv (ops/conv.h) and the pools (ops/pool_common.h) publish their structs;
 * dense, dropout and the no-key ops need nothing beyond their plan. */
#ifndef CLNET_OP_ATTRS_H
#define CLNET_OP_ATTRS_H

/* batchnorm's epsilon (params: a batchnorm layer's params). */
float clnet__batchnorm_eps(const void *params);

/* An activation's coefficients (params: any activation layer's params):
 * leakyrelu's slope; hardsigmoid's alpha (slope) and beta. */
void clnet__activation_coefs(const void *params, float *slope, float *beta);

#endif
