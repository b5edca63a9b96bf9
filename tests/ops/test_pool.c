/* maxpool, avgpool and globalavgpool against their references, and their
 * invalid arguments. Tolerances: op_harness.h (device vs reference 1e-4
 * relative, norm-wise). Shapes: odd 7x5 images, batch 1 and 33, kernel 2/3,
 * stride 1/2/3, padding 0/1, ceil_mode (including PyTorch's rule that drops
 * a last window starting in the right padding), count_include_pad on/off,
 * non-square kernels; backward both with disjoint windows (one scatter
 * launch) and overlapping ones (2x2 and 3x3 phases, some empty when the
 * output is smaller than the phase grid). */
#include "op_harness.h"
#include "../support.h"
#include "ops/op_util.h"

#include <string.h>

static clnet_ctx *ctx;

/* Geometry shared by both window pools; 7x5 gives odd output sizes. The
 * padded ones also run with count_include_pad=0 (the same without pad). */
#define PADDED_CASES(op, extra)                                                \
    {op, "kernel=3 stride=2 pad=1" extra, 1, {{2, 3, 7, 5}}, 1, 0},               \
    {op, "kernel=2 stride=1 pad=1" extra, 1, {{2, 2, 7, 5}}, 1, 0},               \
    {op, "kernel=2 stride=2 pad=1 ceil_mode=1" extra, 1, {{2, 3, 7, 5}}, 1, 0},   \
    {op, "kernel=3 stride=2 pad=1 ceil_mode=1" extra, 1, {{1, 2, 6, 8}}, 1, 0},   \
    {op, "kernel=3,2 stride=2,1 pad=1,0" extra, 1, {{2, 3, 7, 5}}, 1, 0},         \
    {op, "kernel=3 stride=1 pad=1" extra, 1, {{2, 2, 2, 3}}, 1, 0}
#define WINDOW_CASES(op)                                                       \
    {op, "kernel=2", 1, {{1, 3, 7, 5}}, 1, 0},                                    \
    {op, "kernel=2", 1, {{33, 2, 6, 4}}, 1, 0},                                   \
    {op, "kernel=3 stride=1", 1, {{1, 3, 7, 5}}, 1, 0},                           \
    {op, "kernel=2 stride=3", 1, {{2, 2, 7, 5}}, 1, 0},                           \
    {op, "kernel=2 ceil_mode=1", 1, {{2, 3, 7, 5}}, 1, 0},                        \
    {op, "kernel=3 stride=2", 1, {{3, 4, 7, 5}}, 0, 0},                           \
    PADDED_CASES(op, "")

static const op_case cases[] = {
    WINDOW_CASES("maxpool"),
    WINDOW_CASES("avgpool"),
    PADDED_CASES("avgpool", " count_include_pad=0"),
    {"globalavgpool", "", 1, {{1, 3, 7, 5}}, 1, 0},
    {"globalavgpool", "", 1, {{33, 2, 3, 3}}, 1, 0},
    {"globalavgpool", "", 1, {{2, 4, 1, 1}}, 1, 0},
    {"globalavgpool", "", 1, {{2, 5, 5, 7}}, 0, 0},
};

START_TEST(pools_match_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The same with activations stored as half (fp16-storage). */
START_TEST(pools_half_storage_match_reference)
{
    op_cases_run_half(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* Parses params, then plans in; returns the first failing status and its
 * message in msg. */
static clnet_status try_plan(const char *op_name, const char *params,
                             clnet__shape in, clnet__shape *out, char *msg,
                             size_t cap)
{
    const clnet__op *op = clnet__op_find(op_name);
    unsigned char p[CLNET__PARAMS_MAX];
    clnet__op_plan plan = {0};
    msg[0] = '\0';
    clnet_status st = clnet__op_params_parse(op, p, params, msg, cap);
    if (st == CLNET_OK)
        st = op->plan(p, 1, &in, &plan, msg, cap);
    *out = plan.out;
    return st;
}

typedef struct bad_case {
    const char *op, *params;
    clnet__shape in;
    clnet_status want;
    const char *mention; /* the message must contain this */
} bad_case;

static const bad_case bad[] = {
    {"maxpool", "kernel=0", {1, 1, 4, 4}, CLNET_EPARSE, "kernel=0"},
    {"avgpool", "kernel=3,0", {1, 1, 4, 4}, CLNET_EPARSE, "kernel=0"},
    {"maxpool", "stride=0", {1, 1, 4, 4}, CLNET_EPARSE, "stride=0"},
    {"maxpool", "kernel=2 pad=2", {1, 1, 8, 8}, CLNET_EINVAL, "pad=2,2"},
    {"avgpool", "kernel=3,2 pad=1,2", {1, 1, 8, 8}, CLNET_EINVAL, "pad=1,2"},
    {"maxpool", "pad=-1", {1, 1, 8, 8}, CLNET_EPARSE, "pad=-1"},
    {"maxpool", "kernel=5", {1, 1, 3, 7}, CLNET_ESHAPE, "[1,1,3,7]"},
    {"avgpool", "kernel=2,9", {2, 3, 7, 5}, CLNET_ESHAPE, "[2,3,7,5]"},
    {"maxpool", "ceil_mode=maybe", {1, 1, 4, 4}, CLNET_EPARSE, "maybe"},
    {"maxpool", "count_include_pad=0", {1, 1, 4, 4}, CLNET_ENOTFOUND, "count_include_pad"},
    {"globalavgpool", "kernel=2", {1, 1, 4, 4}, CLNET_ENOTFOUND, "kernel"},
    {"globalavgpool", "", {1, 0, 4, 4}, CLNET_ESHAPE, "[1,0,4,4]"},
};

START_TEST(pools_reject_bad_arguments)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char msg[512];
        clnet__shape out;
        clnet_status st = try_plan(bad[i].op, bad[i].params, bad[i].in, &out,
                                   msg, sizeof msg);
        ck_assert_msg(st == bad[i].want, "%s(%s): got %s (%s), want %s",
                      bad[i].op, bad[i].params, clnet_status_name(st), msg,
                      clnet_status_name(bad[i].want));
        ck_assert_msg(strstr(msg, bad[i].mention), "%s(%s): message '%s' lacks '%s'",
                      bad[i].op, bad[i].params, msg, bad[i].mention);
    }
}
END_TEST

/* Output sizes against PyTorch's (torch.nn.functional.max_pool2d). */
START_TEST(pools_output_sizes_match_pytorch)
{
    static const struct {
        const char *params;
        clnet__shape in;
        int oh, ow;
    } sizes[] = {
        {"kernel=2", {1, 1, 7, 5}, 3, 2},
        {"kernel=2 ceil_mode=1", {1, 1, 7, 5}, 4, 3},
        /* ceil would give 5x4, but the last windows start in the padding */
        {"kernel=2 pad=1 ceil_mode=1", {1, 1, 7, 5}, 4, 3},
        {"kernel=3 stride=2 pad=1", {1, 1, 7, 5}, 4, 3},
        {"kernel=3,1 stride=2,1", {1, 1, 7, 5}, 3, 5},
        {"kernel=2 stride=3", {1, 1, 7, 5}, 2, 2},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char msg[512];
        clnet__shape out;
        ck_assert_int_eq(try_plan("maxpool", sizes[i].params, sizes[i].in, &out,
                                  msg, sizeof msg),
                         CLNET_OK);
        ck_assert_msg(out.h == sizes[i].oh && out.w == sizes[i].ow,
                      "%s: %dx%d, want %dx%d", sizes[i].params, out.h, out.w,
                      sizes[i].oh, sizes[i].ow);
    }
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, pools_reject_bad_arguments);
    tcase_add_test(tc, pools_output_sizes_match_pytorch);
    tcase_add_test(tc, pools_match_reference);
    tcase_add_test(tc, pools_half_storage_match_reference);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
