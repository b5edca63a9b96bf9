/* The op part of clnet-info --self-test: one small training-mode case per op
 * (forward, backward and a finite-difference gradient check of the
 * reference), through the same checker as the op test suites. */
#include "selftest.h"

#include "ops/op_check.h"

#include <stdio.h>

static const clnet__op_case cases[] = {
    {"conv", "filters=4 kernel=3 stride=2 pad=1", 1, {{2, 3, 7, 5}}, 1, 0},
    {"conv", "filters=6 kernel=3 pad=1 groups=3", 1, {{2, 3, 6, 6}}, 1, 0},
    {"dense", "outputs=5", 1, {{3, 4, 2, 2}}, 1, 0},
    {"maxpool", "kernel=2", 1, {{2, 3, 6, 5}}, 1, 0},
    {"avgpool", "kernel=3 stride=2 pad=1", 1, {{2, 3, 7, 5}}, 1, 0},
    {"globalavgpool", "", 1, {{2, 3, 5, 3}}, 1, 0},
    {"batchnorm", "", 1, {{4, 3, 5, 3}}, 1, 0},
    {"dropout", "p=0.3", 1, {{2, 3, 5, 5}}, 1, 0},
    {"relu", "", 1, {{2, 3, 5, 3}}, 1, 0},
    {"leakyrelu", "slope=0.1", 1, {{2, 3, 5, 3}}, 1, 0},
    {"sigmoid", "", 1, {{2, 3, 5, 3}}, 1, 0},
    {"tanh", "", 1, {{2, 3, 5, 3}}, 1, 0},
    {"gelu", "", 1, {{2, 3, 5, 3}}, 1, 0},
    {"silu", "", 1, {{2, 3, 5, 3}}, 1, 0},
    {"relu6", "", 1, {{2, 3, 5, 3}}, 1, 8.0f},
    {"hardswish", "", 1, {{2, 3, 5, 3}}, 1, 5.0f},
    {"add", "", 2, {{2, 3, 4, 3}, {2, 3, 4, 3}}, 1, 0},
    {"concat", "", 2, {{2, 3, 4, 3}, {2, 2, 4, 3}}, 1, 0},
    {"flatten", "", 1, {{2, 3, 4, 3}}, 1, 0},
};

size_t selftest_op_count(void) { return sizeof cases / sizeof cases[0]; }

int selftest_op_run(clnet_ctx *ctx, size_t i, uint64_t seed, int verbosity)
{
    char msg[1024], label[256];
    clnet__op_case_label(&cases[i], label, sizeof label);
    int ok = clnet__op_case_check(ctx, &cases[i], seed, 1, msg, sizeof msg);
    if (!ok)
        printf("FAIL  op %s: %s (seed %llu)\n", label, msg, (unsigned long long)seed);
    else if (verbosity >= 1)
        printf("PASS  op %s: forward, backward, gradient check\n", label);
    return ok ? 0 : 1;
}
