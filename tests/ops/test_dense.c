/* dense (linear) against its reference: odd feature counts, batch 1 and 33,
 * with and without bias, a 4-D input read as flat rows, and the fashion-cnn
 * shape (3136 -> 128). Tolerances: op_harness.h. */
#include "op_harness.h"
#include "../support.h"
#include "ops/op_util.h"

#include <string.h>

static clnet_ctx *ctx;

static const op_case cases[] = {
    {"dense", "outputs=5", 1, {{1, 3, 7, 5}}, 1, 0},
    {"dense", "outputs=7", 1, {{33, 3, 7, 5}}, 1, 0},
    {"dense", "outputs=10 bias=0", 1, {{33, 20, 1, 1}}, 1, 0},
    {"dense", "outputs=1", 1, {{3, 1, 1, 1}}, 1, 0},
    {"dense", "outputs=13", 1, {{2, 5, 1, 1}}, 0, 0},
    {"dense", "outputs=128", 1, {{2, 64, 7, 7}}, 1, 0},
};

START_TEST(dense_matches_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The same with activations stored as half (fp16-storage). */
START_TEST(dense_half_storage_matches_reference)
{
    op_cases_run_half(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The status of parsing text then planning in; err gets the message. */
static clnet_status dense_try(const char *text, clnet__shape in, char *err,
                              size_t cap)
{
    const clnet__op *op = clnet__op_find("dense");
    unsigned char params[CLNET__PARAMS_MAX];
    err[0] = '\0';
    clnet_status st = clnet__op_params_parse(op, params, text, err, cap);
    if (st != CLNET_OK)
        return st;
    clnet__op_plan plan = {0};
    return op->plan(params, 1, &in, &plan, err, cap);
}

START_TEST(dense_rejects_bad_arguments)
{
    static const struct {
        const char *params;
        clnet__shape in;
        clnet_status want;
        const char *mention;
    } bad[] = {
        {"outputs=0", {2, 3, 1, 1}, CLNET_EPARSE, "outputs=0"},
        {"outputs=-4", {2, 3, 1, 1}, CLNET_EPARSE, "outputs=-4"},
        {"", {2, 3, 1, 1}, CLNET_EINVAL, "outputs"},
        {"outputs=3 bias=maybe", {2, 3, 1, 1}, CLNET_EPARSE, "bias=maybe"},
        {"outputs=3 units=3", {2, 3, 1, 1}, CLNET_ENOTFOUND, "units"},
        {"outputs=3", {0, 3, 7, 5}, CLNET_ESHAPE, "[0,3,7,5]"},
        {"outputs=3", {2, 3, 0, 5}, CLNET_ESHAPE, "[2,3,0,5]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256];
        clnet_status st = dense_try(bad[i].params, bad[i].in, err, sizeof err);
        ck_assert_msg(st == bad[i].want, "'%s': got %s, want %s (%s)",
                      bad[i].params, clnet_status_name(st),
                      clnet_status_name(bad[i].want), err);
        ck_assert_msg(strstr(err, bad[i].mention), "'%s': message '%s' lacks '%s'",
                      bad[i].params, err, bad[i].mention);
    }
    char err[256];
    ck_assert_int_eq(dense_try("outputs=3 bias=0", (clnet__shape){4, 2, 3, 5}, err,
                               sizeof err), CLNET_OK);
}
END_TEST

START_TEST(dense_plan_reports_parameters)
{
    const clnet__op *op = clnet__op_find("dense");
    unsigned char params[CLNET__PARAMS_MAX];
    char err[256];
    ck_assert_int_eq(clnet__op_params_parse(op, params, "outputs=6", err, sizeof err),
                     CLNET_OK);
    clnet__op_plan plan = {0};
    clnet__shape in = {4, 3, 7, 5};
    ck_assert_int_eq(op->plan(params, 1, &in, &plan, err, sizeof err), CLNET_OK);
    ck_assert(clnet__shape_eq(plan.out, (clnet__shape){4, 6, 1, 1}));
    ck_assert_int_eq(plan.n_params, 2);
    ck_assert_str_eq(plan.param_name[0], "weight");
    ck_assert_int_eq(plan.param[0].ndim, 2);
    ck_assert_int_eq(plan.param[0].d[0], 6);
    ck_assert_int_eq(plan.param[0].d[1], 105);
    ck_assert_int_eq(plan.param_init[0], CLNET__INIT_KAIMING);
    ck_assert_int_eq(plan.param_decay[0], 1);
    ck_assert_str_eq(plan.param_name[1], "bias");
    ck_assert_int_eq(plan.param[1].d[0], 6);
    ck_assert_int_eq(plan.param_init[1], CLNET__INIT_BIAS);
    ck_assert_int_eq(plan.param_decay[1], 0);
    ck_assert_int_eq(plan.fan_in, 105);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("dense");
    TCase *tc = tcase_create("device_vs_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, dense_matches_reference);
    tcase_add_test(tc, dense_half_storage_matches_reference);
    suite_add_tcase(s, tc);
    TCase *args = tcase_create("arguments");
    tcase_add_test(args, dense_rejects_bad_arguments);
    tcase_add_test(args, dense_plan_reports_parameters);
    suite_add_tcase(s, args);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
