/* relu, leaky relu, sigmoid, tanh, gelu, silu against their references. */
#include "op_harness.h"
#include "../support.h"

static clnet_ctx *ctx;

#define SHAPES(op, params)                                               \
    {op, params, 1, {{1, 3, 7, 5}}, 1}, {op, params, 1, {{33, 2, 3, 3}}, 1}, \
        {op, params, 1, {{2, 5, 1, 1}}, 0}

static const op_case cases[] = {
    SHAPES("relu", ""),
    SHAPES("leakyrelu", "slope=0.1"),
    SHAPES("sigmoid", ""),
    SHAPES("tanh", ""),
    SHAPES("gelu", ""),
    SHAPES("silu", ""),
};

START_TEST(activations_match_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("device_vs_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, activations_match_reference);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
