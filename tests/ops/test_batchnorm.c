/* batchnorm against its reference (PyTorch's BatchNorm2d semantics).
 * Table: odd spatial sizes (7x5), 3 channels, batch 1 (statistics over the
 * spatial positions), batch 33, 1x1 spatial with batch > 1 (after a
 * flatten), one channel, a plane wider than the reduction work-group, the
 * benchmark's 64x28x28 values per channel (float accumulation), affine
 * on/off, eval mode, momentum 0, 0.1 and 0.5. The harness also compares the running
 * statistics after a training forward. Extra checks: eval-mode backward,
 * the per-channel reduction kernels at odd work-group sizes (1, 3, 7, 100,
 * ...), and invalid arguments. Tolerances: op_harness.h. */
#include "op_harness.h"
#include "../support.h"
#include "ops/op_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

static const op_case cases[] = {
    {"batchnorm", "", 1, {{1, 3, 7, 5}}, 1, 0},
    {"batchnorm", "momentum=0.5", 1, {{33, 3, 3, 3}}, 1, 0},
    {"batchnorm", "", 1, {{33, 7, 1, 1}}, 1, 0},
    {"batchnorm", "momentum=0.5 affine=0", 1, {{5, 4, 1, 1}}, 1, 0},
    {"batchnorm", "affine=0", 1, {{2, 3, 7, 5}}, 1, 0},
    {"batchnorm", "eps=1e-3", 1, {{2, 3, 20, 17}}, 1, 0},
    {"batchnorm", "momentum=0", 1, {{3, 2, 4, 4}}, 1, 0},
    {"batchnorm", "", 1, {{2, 1, 7, 5}}, 1, 0},
    {"batchnorm", "", 1, {{64, 2, 28, 28}}, 1, 0},
    {"batchnorm", "", 1, {{2, 3, 7, 5}}, 0, 0},
    {"batchnorm", "affine=0", 1, {{3, 4, 1, 1}}, 0, 0},
    {"batchnorm", "momentum=0.5", 1, {{1, 5, 1, 1}}, 0, 0},
};

START_TEST(batchnorm_matches_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The same with activations stored as half (fp16-storage). */
START_TEST(batchnorm_half_storage_matches_reference)
{
    op_cases_run_half(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* ---- device helpers for the hand-made checks ---------------------------- */

typedef struct dev {
    clnet__buf *b[16];
    int n;
} dev;

/* A device copy of src (or NaN when src is NULL) at float offset 1. */
static clnet__tensor put(dev *d, const float *src, size_t n)
{
    clnet__buf *b = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, (n + 1) * sizeof(float), &b), CLNET_OK);
    d->b[d->n++] = b;
    float *tmp = malloc((n + 1) * sizeof(float));
    for (size_t i = 0; i <= n; i++)
        tmp[i] = src && i ? src[i - 1] : NAN;
    ck_assert_int_eq(clnet__buf_write(ctx, b, 0, (n + 1) * sizeof(float), tmp), CLNET_OK);
    free(tmp);
    return (clnet__tensor){b, 1, 0};
}

static void get(clnet__tensor t, float *dst, size_t n)
{
    ck_assert_int_eq(clnet__buf_read(ctx, t.buf, t.off * sizeof(float),
                                     n * sizeof(float), dst), CLNET_OK);
}

static void dev_free(dev *d)
{
    for (int i = 0; i < d->n; i++)
        clnet__buf_release(ctx, d->b[i]);
    d->n = 0;
}

/* Norm-wise comparison with the harness's tolerance; NaN fails. */
static void expect_close(const float *got, const float *want, size_t n,
                         const char *what)
{
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(got[i]), "%s[%zu] = %g", what, i, (double)got[i]);
        diff += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        norm += (double)want[i] * want[i];
    }
    ck_assert_msg(sqrt(diff) <= OP_TOL_REL * sqrt(norm) + 1e-6 * sqrt((double)n),
                  "%s: relative error %g", what, sqrt(diff) / (sqrt(norm) + 1e-30));
}

static float *randoms(clnet_test_rng *r, size_t n, float lo, float hi)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = clnet_test_uniform(r, lo, hi);
    return p;
}

static const clnet__op *bn_parse(const char *text, void *params)
{
    const clnet__op *op = clnet__op_find("batchnorm");
    char err[256];
    ck_assert_msg(clnet__op_params_parse(op, params, text, err, sizeof err) == CLNET_OK,
                  "%s", err);
    return op;
}

/* ---- eval-mode backward (not in the harness, which checks training) ----- */

/* L = sum(out * dy) from the reference in eval mode. */
static double eval_loss(const clnet__op *op, const void *params, clnet__shape s,
                        const float *x, const float *gamma, const float *beta,
                        float *rm, float *rv, const float *dy, float *out)
{
    clnet__ref_io io = {.n_in = 1, .in_shape = {s}, .in = {x}, .out_shape = s,
                        .out = out, .param = {gamma, beta}, .state = {rm, rv}};
    op->ref_forward(params, &io);
    double l = 0;
    for (size_t i = 0; i < clnet__shape_count(s); i++)
        l += (double)out[i] * dy[i];
    return l;
}

START_TEST(batchnorm_eval_backward)
{
    unsigned char params[CLNET__PARAMS_MAX];
    const clnet__op *op = bn_parse("eps=1e-3", params);
    clnet__shape s = {3, 4, 5, 3};
    size_t n = clnet__shape_count(s), c = (size_t)s.c;
    clnet_test_rng r;
    clnet_test_rng_seed(&r, op_test_seed());
    float *x = randoms(&r, n, -1, 1), *dy = randoms(&r, n, -1, 1);
    float *dx0 = randoms(&r, n, -1, 1), *dx = malloc(n * sizeof(float));
    float *gamma = randoms(&r, c, -0.8f, 0.8f), *beta = randoms(&r, c, -1, 1);
    float *rm = randoms(&r, c, -0.5f, 0.5f), *rv = randoms(&r, c, 0.5f, 1.5f);
    float *dp0 = randoms(&r, 2 * c, -1, 1), *dp = malloc(2 * c * sizeof(float));
    float *out = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    memcpy(dx, dx0, n * sizeof(float));
    memcpy(dp, dp0, 2 * c * sizeof(float));
    clnet__ref_io rio = {.n_in = 1, .in_shape = {s}, .in = {x}, .din = {dx},
                         .out_shape = s, .dout = dy, .param = {gamma, beta},
                         .dparam = {dp, dp + c}, .state = {rm, rv}};
    op->ref_backward(params, &rio);
    /* Finite differences on the reference (L is linear in x, gamma, beta). */
    float *probe[3] = {x, gamma, beta}, *ana[3] = {dx, dp, dp + c};
    const float *ana0[3] = {dx0, dp0, dp0 + c};
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < 3; i++) {
            float v = probe[t][i];
            probe[t][i] = v + 0.01f;
            double lp = eval_loss(op, params, s, x, gamma, beta, rm, rv, dy, out);
            probe[t][i] = v - 0.01f;
            double lm = eval_loss(op, params, s, x, gamma, beta, rm, rv, dy, out);
            probe[t][i] = v;
            double num = (lp - lm) / 0.02, a = (double)ana[t][i] - ana0[t][i];
            ck_assert_msg(fabs(num - a) <= 1e-3 + 1e-3 * fabs(a),
                          "eval gradient %d[%zu]: analytic %g, numeric %g", t, i, a, num);
        }
    dev d = {0};
    clnet__op_io io = {.n_in = 1, .in_shape = {s}, .out_shape = s, .training = 0};
    io.in[0] = put(&d, x, n);
    io.din[0] = put(&d, dx0, n);
    io.dout = put(&d, dy, n);
    io.param[0] = put(&d, gamma, c);
    io.param[1] = put(&d, beta, c);
    io.dparam[0] = put(&d, dp0, c);
    io.dparam[1] = put(&d, dp0 + c, c);
    io.state[0] = put(&d, rm, c);
    io.state[1] = put(&d, rv, c);
    io.work = put(&d, NULL, 2 * c);
    ck_assert_int_eq(op->backward(ctx, params, &io), CLNET_OK);
    get(io.din[0], got, n);
    expect_close(got, dx, n, "eval input gradient");
    get(io.dparam[0], got, c);
    expect_close(got, dp, c, "eval weight gradient");
    get(io.dparam[1], got, c);
    expect_close(got, dp + c, c, "eval bias gradient");
    dev_free(&d);
    free(x), free(dy), free(dx0), free(dx), free(gamma), free(beta);
    free(rm), free(rv), free(dp0), free(dp), free(out), free(got);
}
END_TEST

/* ---- the reduction kernels at any work-group size ------------------------ */

/* The op picks one local size per device (1 on a CPU), so the harness sees
 * only that one; here both per-channel reductions run at many sizes, against
 * the reference: batch statistics and running statistics (bn_stats), then
 * sum(dy * xhat) and sum(dy) (bn_grad_sums, read back through the gamma and
 * beta gradients, which start at zero). */
static void reductions_at_local_size(clnet__shape s, size_t local)
{
    clnet__kernel *ks = NULL, *kg = NULL;
    ck_assert_int_eq(clnet__kernel_get(ctx, "batchnorm", NULL, "bn_stats", &ks), CLNET_OK);
    ck_assert_int_eq(clnet__kernel_get(ctx, "batchnorm", NULL, "bn_grad_sums", &kg),
                     CLNET_OK);
    if (local > ks->max_wg || local > kg->max_wg)
        return;
    unsigned char params[CLNET__PARAMS_MAX];
    const clnet__op *op = bn_parse("momentum=0.5", params);
    size_t n = clnet__shape_count(s), c = (size_t)s.c;
    size_t hw = (size_t)s.h * s.w, m = (size_t)s.n * hw;
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 7 + local);
    /* An offset mean checks the two-pass variance too. */
    float *x = randoms(&r, n, 2.0f, 4.0f), *dy = randoms(&r, n, -1.0f, 1.0f);
    float *out = malloc(n * sizeof(float));
    enum { CMAX = 8 };
    float st0[2][CMAX], st[2][CMAX], saved[2][CMAX], got[CMAX];
    float ones[CMAX], zeros[CMAX], dg[CMAX] = {0}, db[CMAX] = {0};
    for (size_t i = 0; i < c; i++) {
        st[0][i] = st0[0][i] = clnet_test_uniform(&r, -0.5f, 0.5f);
        st[1][i] = st0[1][i] = clnet_test_uniform(&r, 0.5f, 1.5f);
        ones[i] = 1, zeros[i] = 0;
    }
    clnet__ref_io rio = {.n_in = 1, .in_shape = {s}, .in = {x}, .out_shape = s,
                         .out = out, .dout = dy, .param = {ones, zeros},
                         .dparam = {dg, db}, .state = {st[0], st[1]},
                         .saved = {saved[0], saved[1]}, .training = 1};
    op->ref_forward(params, &rio);
    op->ref_backward(params, &rio);
    dev d = {0};
    clnet__tensor tx = put(&d, x, n), tdy = put(&d, dy, n);
    clnet__tensor mean = put(&d, NULL, c), istd = put(&d, NULL, c);
    clnet__tensor rm = put(&d, st0[0], c), rv = put(&d, st0[1], c);
    clnet__tensor sums = put(&d, NULL, 2 * c), tdg = put(&d, zeros, c), tdb = put(&d, zeros, c);
    size_t global = local * c;
    clnet_status status = CLNET__LAUNCH(
        ctx, ks, 1, &global, &local, CLNET_ARG_U32(hw), CLNET_ARG_U32(c * hw),
        CLNET_ARG_U32(n), CLNET_ARG_F32(1.0 / (double)m),
        CLNET_ARG_F32((double)m / (double)(m - 1)), CLNET_ARG_F32(0.5f),
        CLNET_ARG_F32(1e-5f), CLNET_ARG_T(tx), CLNET_ARG_T(mean), CLNET_ARG_T(istd),
        CLNET_ARG_T(rm), CLNET_ARG_T(rv), CLNET_ARG_LOCAL(local * sizeof(float)));
    if (status == CLNET_OK)
        status = CLNET__LAUNCH(
            ctx, kg, 1, &global, &local, CLNET_ARG_U32(hw), CLNET_ARG_U32(c * hw),
            CLNET_ARG_U32(n), CLNET_ARG_U32(4 | 8), CLNET_ARG_F32(1e-5f),
            CLNET_ARG_T(tx), CLNET_ARG_T(tdy), CLNET_ARG_T(tdy) /* no relu */,
            CLNET_ARG_T(mean), CLNET_ARG_T(istd), CLNET_ARG_T(sums), CLNET_ARG_T(tdg),
            CLNET_ARG_T(tdb),
            CLNET_ARG_LOCAL(local * sizeof(float)));
    ck_assert_msg(status == CLNET_OK, "local %zu: %s", local, clnet_errmsg(ctx));
    static const char *const names[] = {"mean", "inverse std", "running_mean",
                                        "running_var", "sum(dy*xhat)", "sum(dy)"};
    clnet__tensor t[6] = {mean, istd, rm, rv, tdg, tdb};
    const float *want[6] = {saved[0], saved[1], st[0], st[1], dg, db};
    for (int i = 0; i < 6; i++) {
        char what[96], sh[64];
        get(t[i], got, c);
        snprintf(what, sizeof what, "%s at local size %zu, input %s", names[i], local,
                 clnet__shape_str(s, sh, sizeof sh));
        expect_close(got, want[i], c, what);
    }
    dev_free(&d);
    free(x);
    free(dy);
    free(out);
}

START_TEST(batchnorm_reductions_any_local_size)
{
    static const size_t locals[] = {1, 2, 3, 7, 64, 100, 256};
    static const clnet__shape shapes[] = {{5, 3, 7, 5}, {33, 4, 1, 1}, {2, 3, 20, 17},
                                          {3, 1, 7, 5}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t l = 0; l < sizeof locals / sizeof locals[0]; l++)
            reductions_at_local_size(shapes[s], locals[l]);
}
END_TEST

/* ---- arguments ------------------------------------------------------------ */

static clnet_status bn_try(const char *text, clnet__shape in, char *err, size_t cap)
{
    const clnet__op *op = clnet__op_find("batchnorm");
    unsigned char params[CLNET__PARAMS_MAX];
    err[0] = '\0';
    clnet_status st = clnet__op_params_parse(op, params, text, err, cap);
    if (st != CLNET_OK)
        return st;
    clnet__op_plan plan = {0};
    return op->plan(params, 1, &in, &plan, err, cap);
}

START_TEST(batchnorm_rejects_bad_arguments)
{
    static const struct {
        const char *params;
        clnet__shape in;
        clnet_status want;
        const char *mention;
    } bad[] = {
        {"eps=0", {2, 3, 5, 5}, CLNET_EPARSE, "eps=0"},
        {"eps=-1e-5", {2, 3, 5, 5}, CLNET_EPARSE, "eps=-1e-5"},
        {"eps=small", {2, 3, 5, 5}, CLNET_EPARSE, "eps=small"},
        {"momentum=1.5", {2, 3, 5, 5}, CLNET_EPARSE, "momentum=1.5"},
        {"momentum=-0.1", {2, 3, 5, 5}, CLNET_EPARSE, "momentum=-0.1"},
        {"affine=maybe", {2, 3, 5, 5}, CLNET_EPARSE, "affine=maybe"},
        {"gamma=1", {2, 3, 5, 5}, CLNET_ENOTFOUND, "gamma"},
        {"", {0, 3, 7, 5}, CLNET_ESHAPE, "[0,3,7,5]"},
        {"", {2, 0, 7, 5}, CLNET_ESHAPE, "[2,0,7,5]"},
        {"", {2, 3, 7, -1}, CLNET_ESHAPE, "[2,3,7,-1]"},
        {"", {65536, 256, 16, 16}, CLNET_ESHAPE, "[65536,256,16,16]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256];
        clnet_status st = bn_try(bad[i].params, bad[i].in, err, sizeof err);
        ck_assert_msg(st == bad[i].want, "'%s': got %s, want %s (%s)", bad[i].params,
                      clnet_status_name(st), clnet_status_name(bad[i].want), err);
        ck_assert_msg(strstr(err, bad[i].mention), "'%s': message '%s' lacks '%s'",
                      bad[i].params, err, bad[i].mention);
    }
    char err[256];
    ck_assert_int_eq(bn_try("eps=1e-3 momentum=1 affine=0", (clnet__shape){1, 2, 1, 1},
                            err, sizeof err), CLNET_OK);
}
END_TEST

/* One value per channel has no batch variance: PyTorch raises, so do we
 * (in forward: plan() does not know the mode, and eval mode is fine). */
START_TEST(batchnorm_rejects_single_value_training)
{
    unsigned char params[CLNET__PARAMS_MAX];
    const clnet__op *op = bn_parse("", params);
    clnet__shape s = {1, 4, 1, 1};
    float v[4] = {0.5f, -1, 2, 3};
    dev d = {0};
    clnet__op_io io = {.n_in = 1, .in_shape = {s}, .out_shape = s, .training = 1};
    io.in[0] = put(&d, v, 4);
    io.out = put(&d, NULL, 4);
    for (int i = 0; i < 2; i++) {
        io.param[i] = put(&d, v, 4);
        io.state[i] = put(&d, v, 4);
        io.saved[i] = put(&d, NULL, 4);
    }
    clnet_status st = op->forward(ctx, params, &io);
    ck_assert_msg(st == CLNET_ESHAPE, "got %s", clnet_status_name(st));
    ck_assert_msg(strstr(clnet_errmsg(ctx), "[1,4,1,1]"), "message: %s",
                  clnet_errmsg(ctx));
    io.training = 0;
    ck_assert_int_eq(op->forward(ctx, params, &io), CLNET_OK);
    dev_free(&d);
}
END_TEST

START_TEST(batchnorm_plan_reports_parameters)
{
    unsigned char params[CLNET__PARAMS_MAX];
    const clnet__op *op = bn_parse("", params);
    clnet__op_plan plan = {0};
    clnet__shape in = {4, 6, 7, 5};
    char err[256];
    ck_assert_int_eq(op->plan(params, 1, &in, &plan, err, sizeof err), CLNET_OK);
    ck_assert(clnet__shape_eq(plan.out, in));
    ck_assert_int_eq(plan.n_params, 2);
    ck_assert_str_eq(plan.param_name[0], "weight");
    ck_assert_str_eq(plan.param_name[1], "bias");
    ck_assert_int_eq(plan.param_init[0], CLNET__INIT_ONE);
    ck_assert_int_eq(plan.param_init[1], CLNET__INIT_ZERO);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(plan.param[i].ndim, 1);
        ck_assert_int_eq(plan.param[i].d[0], 6);
        ck_assert_int_eq(plan.param_decay[i], 0);
        ck_assert_int_eq(plan.state[i].ndim, 1);
        ck_assert_int_eq(plan.state[i].d[0], 6);
    }
    ck_assert_int_eq(plan.n_state, 2);
    ck_assert_str_eq(plan.state_name[0], "running_mean");
    ck_assert_str_eq(plan.state_name[1], "running_var");
    ck_assert_int_eq(plan.state_init[0], CLNET__INIT_ZERO);
    ck_assert_int_eq(plan.state_init[1], CLNET__INIT_ONE);
    op = bn_parse("affine=0", params);
    memset(&plan, 0, sizeof plan);
    ck_assert_int_eq(op->plan(params, 1, &in, &plan, err, sizeof err), CLNET_OK);
    ck_assert_int_eq(plan.n_params, 0);
    ck_assert_int_eq(plan.n_state, 2);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("batchnorm");
    TCase *tc = tcase_create("device_vs_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, batchnorm_matches_reference);
    tcase_add_test(tc, batchnorm_half_storage_matches_reference);
    tcase_add_test(tc, batchnorm_eval_backward);
    tcase_add_test(tc, batchnorm_reductions_any_local_size);
    suite_add_tcase(s, tc);
    TCase *args = tcase_create("arguments");
    tcase_add_test(args, batchnorm_rejects_bad_arguments);
    tcase_add_test(args, batchnorm_rejects_single_value_training);
    tcase_add_test(args, batchnorm_plan_reports_parameters);
    suite_add_tcase(s, args);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
