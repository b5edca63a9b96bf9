/* dropout against its reference (train and eval, odd shapes, p = 0, 0.3,
 * 0.5), plus the statistics of the device mask over a large tensor: the
 * dropped fraction is within 0.01 of p, the mask equals the host RNG's bit
 * for bit, is the same for the same seed and differs for another seed.
 * Tolerances: op_harness.h. */
#include "op_harness.h"
#include "../support.h"
#include "ops/op_util.h"
#include "ops/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

static const op_case cases[] = {
    {"dropout", "p=0.3", 1, {{1, 3, 7, 5}}, 1, 0},
    {"dropout", "p=0.5", 1, {{33, 2, 3, 3}}, 1, 0},
    {"dropout", "", 1, {{5, 1, 1, 13}}, 1, 0},
    {"dropout", "p=0", 1, {{2, 3, 5, 7}}, 1, 0},
    {"dropout", "p=0.3", 1, {{1, 3, 7, 5}}, 0, 0},
    {"dropout", "p=0.5", 1, {{33, 2, 3, 3}}, 0, 0},
};

START_TEST(dropout_matches_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The same with activations stored as half (fp16-storage). */
START_TEST(dropout_half_storage_matches_reference)
{
    op_cases_run_half(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* Elements per statistics run; fewer in quick mode (the bounds below still
 * hold: the dropped fraction's standard deviation is then 0.002). */
#define BIG (op_test_quick() ? 1u << 16 : 1u << 20)

/* Device training forward of dropout(p) on BIG ones with seed; returns the
 * output (malloc'd). */
static float *dropout_ones(float p, uint64_t seed)
{
    const clnet__op *op = clnet__op_find("dropout");
    unsigned char params[CLNET__PARAMS_MAX];
    char text[32], err[256];
    snprintf(text, sizeof text, "p=%g", (double)p);
    ck_assert_int_eq(clnet__op_params_parse(op, params, text, err, sizeof err), CLNET_OK);
    float *host = malloc(BIG * sizeof *host);
    for (size_t i = 0; i < BIG; i++)
        host[i] = 1.0f;
    clnet__buf *x = NULL, *y = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, BIG * sizeof(float), &x), CLNET_OK);
    ck_assert_int_eq(clnet__buf_create(ctx, BIG * sizeof(float), &y), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, x, 0, BIG * sizeof(float), host), CLNET_OK);
    clnet__op_io io = {.n_in = 1, .training = 1, .seed = seed};
    io.in_shape[0] = (clnet__shape){1, 1, 1, BIG};
    io.out_shape = io.in_shape[0];
    io.in[0] = (clnet__tensor){x, 0, 0};
    io.out = (clnet__tensor){y, 0, 0};
    clnet_status st = op->forward(ctx, params, &io);
    ck_assert_msg(st == CLNET_OK, "forward: %s", clnet_errmsg(ctx));
    ck_assert_int_eq(clnet__buf_read(ctx, y, 0, BIG * sizeof(float), host), CLNET_OK);
    clnet__buf_release(ctx, x);
    clnet__buf_release(ctx, y);
    return host;
}

START_TEST(dropout_mask_statistics)
{
    static const float ps[] = {0.3f, 0.5f};
    const uint64_t seed = 0x123456789abcdefull;
    for (int t = 0; t < 2; t++) {
        float p = ps[t], keep = 1.0f / (1.0f - p);
        float *a = dropout_ones(p, seed), *b = dropout_ones(p, seed),
              *c = dropout_ones(p, seed + 1);
        size_t dropped = 0, differ = 0, not_host = 0, not_same = 0;
        for (size_t i = 0; i < BIG; i++) {
            int host_kept = clnet__uniform(seed, (uint32_t)i) >= p;
            not_host += a[i] != (host_kept ? keep : 0.0f);
            not_same += a[i] != b[i];
            dropped += a[i] == 0.0f;
            differ += (a[i] == 0.0f) != (c[i] == 0.0f);
        }
        ck_assert_msg(not_host == 0, "p=%g: %zu elements differ from the host mask",
                      (double)p, not_host);
        ck_assert_msg(not_same == 0, "p=%g: the same seed gave %zu different elements",
                      (double)p, not_same);
        double frac = (double)dropped / BIG;
        ck_assert_msg(frac > p - 0.01 && frac < p + 0.01,
                      "p=%g: dropped fraction %g", (double)p, frac);
        /* Independent masks differ at a fraction 2p(1-p) of elements. */
        double want = 2.0 * p * (1.0 - p), got = (double)differ / BIG;
        ck_assert_msg(got > want - 0.01 && got < want + 0.01,
                      "p=%g: seeds s and s+1 differ at a fraction %g, expected %g",
                      (double)p, got, want);
        free(a);
        free(b);
        free(c);
    }
}
END_TEST

START_TEST(dropout_rejects_bad_arguments)
{
    static const struct {
        const char *params;
        clnet_status want;
        const char *mention;
    } bad[] = {
        {"p=1", CLNET_EPARSE, "p=1"},
        {"p=1.5", CLNET_EPARSE, "p=1.5"},
        {"p=-0.1", CLNET_EPARSE, "p=-0.1"},
        {"p=half", CLNET_EPARSE, "p=half"},
        {"rate=0.5", CLNET_ENOTFOUND, "rate"},
    };
    const clnet__op *op = clnet__op_find("dropout");
    unsigned char params[CLNET__PARAMS_MAX];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        clnet_status st = clnet__op_params_parse(op, params, bad[i].params, err, sizeof err);
        ck_assert_msg(st == bad[i].want, "'%s': got %s (%s)", bad[i].params,
                      clnet_status_name(st), err);
        ck_assert_msg(strstr(err, bad[i].mention), "'%s': message '%s' lacks '%s'",
                      bad[i].params, err, bad[i].mention);
    }
    char err[256] = "";
    clnet__op_plan plan = {0};
    clnet__shape empty = {3, 0, 7, 5};
    ck_assert_int_eq(clnet__op_params_parse(op, params, "p=0.2", err, sizeof err), CLNET_OK);
    ck_assert_int_eq(op->plan(params, 1, &empty, &plan, err, sizeof err), CLNET_ESHAPE);
    ck_assert_msg(strstr(err, "[3,0,7,5]"), "message '%s' lacks the shape", err);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("device_vs_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, dropout_matches_reference);
    tcase_add_test(tc, dropout_half_storage_matches_reference);
    tcase_add_test(tc, dropout_mask_statistics);
    suite_add_tcase(s, tc);
    TCase *args = tcase_create("arguments");
    tcase_add_test(args, dropout_rejects_bad_arguments);
    suite_add_tcase(s, args);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
