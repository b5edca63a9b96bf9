/* relu, leaky relu, sigmoid, tanh, gelu, silu, relu6, hard sigmoid and hard
 * swish against their references; the last three on inputs wide enough to
 * reach their clamps (relu6 at 0 and 6, the hard ones at +-3). */
#include "op_harness.h"
#include "../support.h"

static clnet_ctx *ctx;

#define SHAPES(op, params)                                               \
    {op, params, 1, {{1, 3, 7, 5}}, 1, 0}, {op, params, 1, {{33, 2, 3, 3}}, 1, 0}, \
        {op, params, 1, {{2, 5, 1, 1}}, 0, 0}
#define WIDE(op, params, range)                                                 \
    {op, params, 1, {{1, 3, 7, 5}}, 1, range}, {op, params, 1, {{33, 2, 3, 3}}, 1, range}

static const op_case cases[] = {
    SHAPES("relu", ""),
    SHAPES("leakyrelu", "slope=0.1"),
    SHAPES("sigmoid", ""),
    SHAPES("tanh", ""),
    SHAPES("gelu", ""),
    SHAPES("silu", ""),
    WIDE("relu6", "", 8.0f),
    WIDE("hardsigmoid", "", 5.0f),
    WIDE("hardsigmoid", "alpha=0.2 beta=0.5", 4.0f),
    WIDE("hardswish", "", 5.0f),
};

START_TEST(activations_match_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The same with activations stored as half (fp16-storage). */
START_TEST(activations_half_storage_match_reference)
{
    op_cases_run_half(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("device_vs_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, activations_match_reference);
    tcase_add_test(tc, activations_half_storage_match_reference);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
