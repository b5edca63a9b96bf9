/* Every op, indexed by clnet__op_kind. Adding an op: write src/ops/<op>.c
 * exporting `const clnet__op clnet__op_<op>`, declare it in ops/all_ops.h,
 * add its enum value in op.h and its line here. */
#include "ops/all_ops.h"

#include <string.h>

static const clnet__op *const registry[CLNET_OP_COUNT] = {
    [CLNET_OP_CONV] = &clnet__op_conv,
    [CLNET_OP_DENSE] = &clnet__op_dense,
    [CLNET_OP_MAXPOOL] = &clnet__op_maxpool,
    [CLNET_OP_AVGPOOL] = &clnet__op_avgpool,
    [CLNET_OP_GLOBALAVGPOOL] = &clnet__op_globalavgpool,
    [CLNET_OP_BATCHNORM] = &clnet__op_batchnorm,
    [CLNET_OP_DROPOUT] = &clnet__op_dropout,
    [CLNET_OP_RELU] = &clnet__op_relu,
    [CLNET_OP_LEAKYRELU] = &clnet__op_leakyrelu,
    [CLNET_OP_SIGMOID] = &clnet__op_sigmoid,
    [CLNET_OP_TANH] = &clnet__op_tanh,
    [CLNET_OP_GELU] = &clnet__op_gelu,
    [CLNET_OP_SILU] = &clnet__op_silu,
    [CLNET_OP_RELU6] = &clnet__op_relu6,
    [CLNET_OP_HARDSIGMOID] = &clnet__op_hardsigmoid,
    [CLNET_OP_HARDSWISH] = &clnet__op_hardswish,
    [CLNET_OP_ADD] = &clnet__op_add,
    [CLNET_OP_CONCAT] = &clnet__op_concat,
    [CLNET_OP_FLATTEN] = &clnet__op_flatten,
};

const clnet__op *clnet__op_get(clnet__op_kind kind)
{
    return (unsigned)kind < CLNET_OP_COUNT ? registry[kind] : NULL;
}

const clnet__op *clnet__op_find(const char *name)
{
    for (int i = 0; name && i < CLNET_OP_COUNT; i++)
        if (registry[i] && strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}
