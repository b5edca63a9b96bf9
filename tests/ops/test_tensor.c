/* add, concat and flatten against their references, and their invalid
 * arguments. Tolerances: op_harness.h (device vs reference 1e-4 relative,
 * norm-wise). */
#include "op_harness.h"
#include "../support.h"
#include "ops/op_util.h"

#include <string.h>

static clnet_ctx *ctx;

static const op_case cases[] = {
    {"add", "", 2, {{1, 3, 7, 5}, {1, 3, 7, 5}}, 1, 0},
    {"add", "", 3, {{33, 2, 3, 3}, {33, 2, 3, 3}, {33, 2, 3, 3}}, 1, 0},
    {"add", "", 4, {{2, 5, 1, 1}, {2, 5, 1, 1}, {2, 5, 1, 1}, {2, 5, 1, 1}}, 0, 0},
    {"concat", "", 2, {{1, 3, 7, 5}, {1, 2, 7, 5}}, 1, 0},
    {"concat", "", 3, {{33, 1, 3, 3}, {33, 4, 3, 3}, {33, 2, 3, 3}}, 1, 0},
    {"concat", "", 2, {{2, 5, 1, 1}, {2, 3, 1, 1}}, 0, 0},
    {"flatten", "", 1, {{1, 3, 7, 5}}, 1, 0},
    {"flatten", "", 1, {{33, 2, 3, 3}}, 1, 0},
    {"flatten", "", 1, {{2, 5, 1, 1}}, 0, 0},
};

START_TEST(tensor_ops_match_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The same with activations stored as half (fp16-storage). */
START_TEST(tensor_ops_half_storage_match_reference)
{
    op_cases_run_half(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

typedef struct bad_case {
    const char *op, *params;
    int n_in;
    clnet__shape in[3];
    clnet_status want;
    const char *mention[2]; /* the message must contain these */
} bad_case;

static const bad_case bad[] = {
    {"add", "", 2, {{1, 3, 7, 5}, {1, 3, 5, 7}}, CLNET_ESHAPE, {"[1,3,7,5]", "[1,3,5,7]"}},
    {"add", "", 3, {{2, 3, 4, 4}, {2, 3, 4, 4}, {1, 3, 4, 4}}, CLNET_ESHAPE, {"[2,3,4,4]", "[1,3,4,4]"}},
    {"add", "", 1, {{2, 3, 4, 4}}, CLNET_EINVAL, {"got 1", ""}},
    {"concat", "", 2, {{1, 3, 7, 5}, {1, 2, 7, 4}}, CLNET_ESHAPE, {"[1,3,7,5]", "[1,2,7,4]"}},
    {"concat", "", 2, {{2, 3, 7, 5}, {1, 3, 7, 5}}, CLNET_ESHAPE, {"[2,3,7,5]", "[1,3,7,5]"}},
    {"concat", "", 1, {{2, 3, 4, 4}}, CLNET_EINVAL, {"got 1", ""}},
    {"flatten", "", 2, {{1, 3, 7, 5}, {1, 3, 7, 5}}, CLNET_EINVAL, {"got 2", ""}},
    {"add", "alpha=2", 2, {{1, 1, 1, 1}, {1, 1, 1, 1}}, CLNET_ENOTFOUND, {"alpha", "[add]"}},
    {"concat", "axis=2", 2, {{1, 1, 1, 1}, {1, 1, 1, 1}}, CLNET_ENOTFOUND, {"axis", "[concat]"}},
    {"flatten", "dims=2", 1, {{1, 1, 1, 1}}, CLNET_ENOTFOUND, {"dims", "[flatten]"}},
};

START_TEST(tensor_ops_reject_bad_arguments)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const bad_case *b = &bad[i];
        const clnet__op *op = clnet__op_find(b->op);
        unsigned char p[CLNET__PARAMS_MAX];
        clnet__op_plan plan = {0};
        char msg[512] = "";
        clnet_status st = clnet__op_params_parse(op, p, b->params, msg, sizeof msg);
        if (st == CLNET_OK)
            st = op->plan(p, b->n_in, b->in, &plan, msg, sizeof msg);
        ck_assert_msg(st == b->want, "bad case %zu (%s): got %s (%s), want %s", i,
                      b->op, clnet_status_name(st), msg, clnet_status_name(b->want));
        for (int m = 0; m < 2; m++)
            ck_assert_msg(strstr(msg, b->mention[m]), "bad case %zu (%s): "
                          "message '%s' lacks '%s'", i, b->op, msg, b->mention[m]);
    }
}
END_TEST

START_TEST(tensor_ops_output_shapes)
{
    const clnet__shape in[3] = {{4, 3, 7, 5}, {4, 1, 7, 5}, {4, 6, 7, 5}};
    unsigned char p[CLNET__PARAMS_MAX];
    char msg[256];
    clnet__op_plan plan = {0};
    const clnet__op *concat = clnet__op_find("concat");
    concat->defaults(p);
    ck_assert_int_eq(concat->plan(p, 3, in, &plan, msg, sizeof msg), CLNET_OK);
    ck_assert(clnet__shape_eq(plan.out, (clnet__shape){4, 10, 7, 5}));
    const clnet__op *flatten = clnet__op_find("flatten");
    flatten->defaults(p);
    ck_assert_int_eq(flatten->plan(p, 1, in, &plan, msg, sizeof msg), CLNET_OK);
    ck_assert(clnet__shape_eq(plan.out, (clnet__shape){4, 105, 1, 1}));
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, tensor_ops_reject_bad_arguments);
    tcase_add_test(tc, tensor_ops_output_shapes);
    tcase_add_test(tc, tensor_ops_match_reference);
    tcase_add_test(tc, tensor_ops_half_storage_match_reference);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
