/* Softmax cross-entropy and softmax: device against the plain-C reference
 * (loss sum, top-1/top-5 counts, dlogits), the reference gradient against
 * finite differences of the mean loss, huge logits, invalid labels, and
 * invalid arguments. Not a clnet__op, so it has its own checks here.
 * Tolerances: loss sum |dev - ref| <= 1e-5 (sum |loss_i| + n); counts exact
 * (the device compares the same floats); dlogits and probabilities norm-wise
 * like op_harness.h (OP_TOL_REL). */
#include "op_harness.h"
#include "../support.h"
#include "ops/loss.h"
#include "ops/op_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

/* Device tensors start at this float offset, after NaN padding. */
#define OFF 3

static clnet__tensor upload(const void *src, size_t n, clnet__buf **keep)
{
    size_t total = n + OFF + 1;
    float *tmp = malloc(total * sizeof *tmp);
    for (size_t i = 0; i < total; i++)
        tmp[i] = NAN;
    if (src)
        memcpy(tmp + OFF, src, n * sizeof *tmp);
    ck_assert_int_eq(clnet__buf_create(ctx, total * sizeof *tmp, keep), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, *keep, 0, total * sizeof *tmp, tmp), CLNET_OK);
    free(tmp);
    return (clnet__tensor){*keep, OFF, 0};
}

static void download(clnet__tensor t, size_t n, float *dst)
{
    ck_assert_int_eq(clnet__buf_read(ctx, t.buf, t.off * sizeof *dst,
                                     n * sizeof *dst, dst), CLNET_OK);
}

static void check_close(const float *dev, const float *ref, size_t n, const char *what)
{
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(dev[i]), "%s[%zu] = %g on the device (reference %g)",
                      what, i, (double)dev[i], (double)ref[i]);
        diff += ((double)dev[i] - ref[i]) * ((double)dev[i] - ref[i]);
        norm += (double)ref[i] * ref[i];
    }
    ck_assert_msg(sqrt(diff) <= OP_TOL_REL * sqrt(norm) + 1e-6 * sqrt((double)n),
                  "%s: relative error %g", what, sqrt(diff / (norm + 1e-30)));
}

/* Logits of one test: random in [-spread, spread]; with huge, every row
 * also holds +1000 and -1000 (at random places). */
static float *make_logits(clnet_test_rng *r, int n, int k, float spread, int huge)
{
    float *x = malloc((size_t)n * k * sizeof *x);
    for (size_t i = 0; i < (size_t)n * k; i++)
        x[i] = clnet_test_uniform(r, -spread, spread);
    for (int i = 0; huge && i < n; i++) {
        x[(size_t)i * k + (size_t)clnet_test_uniform(r, 0, (float)k) % k] = -1000.0f;
        x[(size_t)i * k + (size_t)clnet_test_uniform(r, 0, (float)k) % k] = 1000.0f;
    }
    return x;
}

/* Runs device xent on (x, labels) and compares with the reference. The
 * stats start non-zero to check they are accumulated into. */
static void xent_compare(int n, int k, float smoothing, float scale,
                         const float *x, const int32_t *labels, double out_stats[4])
{
    size_t nk = (size_t)n * k;
    float *ref_g = malloc(nk * sizeof *ref_g), *dev_g = malloc(nk * sizeof *dev_g);
    double ref_stats[4] = {0.5, 1, 2, 3};
    clnet__xent_ref(n, k, smoothing, scale, x, labels, ref_g, ref_stats);
    const float stats0[4] = {0.5f, 1, 2, 3};
    clnet__buf *b[5];
    clnet__tensor tx = upload(x, nk, &b[0]), tl = upload(labels, (size_t)n, &b[1]),
                  tg = upload(NULL, nk, &b[2]), ts = upload(stats0, 4, &b[3]),
                  tw = upload(NULL, clnet__xent_work_count(n), &b[4]);
    clnet_status st = clnet__xent(ctx, n, k, smoothing, scale, tx, tl, tg, ts, tw);
    ck_assert_msg(st == CLNET_OK, "xent: %s", clnet_errmsg(ctx));
    float dev_stats[4];
    download(tg, nk, dev_g);
    download(ts, 4, dev_stats);
    char what[96];
    snprintf(what, sizeof what, "dlogits n=%d k=%d s=%g", n, k, (double)smoothing);
    check_close(dev_g, ref_g, nk, what);
    double abs_loss = 0;
    for (int i = 0; i < n; i++) {
        double one[4] = {0};
        clnet__xent_ref(1, k, smoothing, scale, x + (size_t)i * k, labels + i, NULL, one);
        abs_loss += fabs(one[0]);
    }
    ck_assert_msg(fabs(dev_stats[0] - ref_stats[0]) <= 1e-5 * (abs_loss + n) + 1e-6,
                  "%s: loss sum device %.9g, reference %.9g", what,
                  (double)dev_stats[0], ref_stats[0]);
    for (int s = 1; s < 4; s++)
        ck_assert_msg(dev_stats[s] == (float)ref_stats[s],
                      "%s: stat %d device %g, reference %g", what, s,
                      (double)dev_stats[s], ref_stats[s]);
    /* Without dlogits the stats are the same and nothing else is written. */
    ck_assert_int_eq(clnet__xent(ctx, n, k, smoothing, scale, tx, tl,
                                 (clnet__tensor){0}, ts, tw), CLNET_OK);
    download(ts, 4, dev_stats);
    ck_assert_msg(fabs(dev_stats[1] - (2 * ref_stats[1] - 1)) < 0.5,
                  "%s: second run without dlogits did not add the same count", what);
    for (int i = 0; i < 5; i++)
        clnet__buf_release(ctx, b[i]);
    for (int s = 0; out_stats && s < 4; s++)
        out_stats[s] = ref_stats[s] - stats0[s];
    free(ref_g);
    free(dev_g);
}

static void random_case(uint64_t seed, int n, int k, float smoothing, float scale,
                        int huge)
{
    clnet_test_rng r;
    clnet_test_rng_seed(&r, seed);
    float *x = make_logits(&r, n, k, 4.0f, huge);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)((size_t)clnet_test_uniform(&r, 0, (float)k) % (size_t)k);
    xent_compare(n, k, smoothing, scale, x, labels, NULL);
    free(x);
    free(labels);
}

START_TEST(xent_matches_reference)
{
    static const struct { int n, k; float smoothing, scale; int huge; } cases[] = {
        {1, 10, 0.0f, 1.0f, 0},    {33, 10, 0.0f, 1.0f, 0},
        {33, 10, 0.1f, 1.0f, 0},   {1, 1000, 0.1f, 1.0f, 0},
        {33, 1000, 0.0f, 2.5f, 0}, {33, 1000, 0.1f, 1.0f, 0},
        {5, 1, 0.0f, 1.0f, 0},     {5, 1, 0.1f, 1.0f, 0},
        {7, 3, 0.0f, 1.0f, 0},     {33, 10, 0.0f, 1.0f, 1},
        {33, 10, 0.1f, 1.0f, 1},   {4, 1000, 0.1f, 1.0f, 1},
    };
    uint64_t fresh = op_test_seed();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int s = 0; s < 2; s++)
            random_case(s ? fresh + i : 1000 + i, cases[i].n, cases[i].k,
                        cases[i].smoothing, cases[i].scale, cases[i].huge);
}
END_TEST

/* Finite differences of the mean loss (scale 1) against the reference
 * dlogits, at every logit of small cases. */
START_TEST(xent_reference_gradient)
{
    const double eps = 1e-2;
    for (int c = 0; c < 4; c++) {
        int n = c < 2 ? 3 : 1, k = c < 2 ? 7 : 12;
        float smoothing = c % 2 ? 0.1f : 0.0f;
        clnet_test_rng r;
        clnet_test_rng_seed(&r, 77 + (uint64_t)c);
        float *x = make_logits(&r, n, k, 3.0f, 0);
        int32_t labels[3] = {2, 0, 6};
        float *g = malloc((size_t)n * k * sizeof *g);
        double st[4] = {0};
        clnet__xent_ref(n, k, smoothing, 1.0f, x, labels, g, st);
        for (size_t i = 0; i < (size_t)n * k; i++) {
            float x0 = x[i];
            double lp[4] = {0}, lm[4] = {0};
            x[i] = (float)(x0 + eps);
            double hp = (double)x[i] - x0;
            clnet__xent_ref(n, k, smoothing, 1.0f, x, labels, NULL, lp);
            x[i] = (float)(x0 - eps);
            double hm = x0 - (double)x[i];
            clnet__xent_ref(n, k, smoothing, 1.0f, x, labels, NULL, lm);
            x[i] = x0;
            double num = (lp[0] - lm[0]) / n / (hp + hm);
            ck_assert_msg(fabs(num - g[i]) <= FD_TOL_ABS * 0.1 + FD_TOL_REL * fabs(g[i]),
                          "case %d logit %zu: analytic %g, finite difference %g", c,
                          i, (double)g[i], num);
        }
        free(x);
        free(g);
    }
}
END_TEST

/* Known values: uniform logits give loss log k per sample; a dominant
 * correct logit gives ~0; ties count in favour of the label; labels
 * outside [0, k) count as wrong with no loss and no gradient. */
START_TEST(xent_known_values)
{
    enum { K = 6 };
    const float x[5 * K] = {
        0, 0, 0, 0, 0, 0,             /* uniform, label 3: loss log 6, tie top-1 */
        1000, -1000, 0, 0, 0, 0,      /* label 0: loss ~0 */
        1000, -1000, 0, 0, 0, 0,      /* label 1: loss 2000, not in top-5 */
        5, 4, 3, 2, 1, 0,             /* label 4: top-5, not top-1 */
        1, 2, 3, 4, 5, 6,             /* label 6: out of range */
    };
    const int32_t labels[5] = {3, 0, 1, 4, K};
    double st[4];
    xent_compare(5, K, 0.0f, 1.0f, x, labels, st);
    double lse3 = 0;
    for (int j = 0; j < K; j++)
        lse3 += exp((double)j);
    lse3 = log(lse3);
    ck_assert_msg(fabs(st[0] - (log(6.0) + 2000.0 + lse3 - 1.0)) < 1e-6,
                  "loss sum %.12g", st[0]);
    ck_assert_msg(st[1] == 2 && st[2] == 3 && st[3] == 5,
                  "counts %g %g %g, want 2 3 5", st[1], st[2], st[3]);
    const int32_t negative[5] = {3, 0, 1, 4, -1};
    xent_compare(5, K, 0.1f, 1.0f, x, negative, st);
    ck_assert_msg(st[1] == 2 && st[2] == 3 && st[3] == 5, "counts with label -1");

    /* The row of an invalid label gets zero gradient on the device. */
    float g[5 * K];
    clnet__buf *b[5];
    const float zero[4] = {0};
    clnet__tensor tx = upload(x, 5 * K, &b[0]), tl = upload(labels, 5, &b[1]),
                  tg = upload(NULL, 5 * K, &b[2]), ts = upload(zero, 4, &b[3]),
                  tw = upload(NULL, clnet__xent_work_count(5), &b[4]);
    ck_assert_int_eq(clnet__xent(ctx, 5, K, 0.1f, 1.0f, tx, tl, tg, ts, tw), CLNET_OK);
    download(tg, 5 * K, g);
    for (int j = 0; j < K; j++)
        ck_assert_msg(g[4 * K + j] == 0.0f, "invalid label: dlogits[4,%d] = %g", j,
                      (double)g[4 * K + j]);
    for (int i = 0; i < 5; i++)
        clnet__buf_release(ctx, b[i]);
}
END_TEST

START_TEST(softmax_matches_reference)
{
    static const struct { int n, k, huge; } cases[] = {
        {1, 10, 0}, {33, 10, 1}, {33, 1000, 0}, {3, 1, 0}, {4, 1000, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = cases[c].n, k = cases[c].k;
        size_t nk = (size_t)n * k;
        clnet_test_rng r;
        clnet_test_rng_seed(&r, 500 + c);
        float *x = make_logits(&r, n, k, 8.0f, cases[c].huge);
        float *ref = malloc(nk * sizeof *ref), *dev = malloc(nk * sizeof *dev);
        clnet__softmax_ref(n, k, x, ref);
        clnet__buf *bx, *bp;
        clnet__tensor tx = upload(x, nk, &bx), tp = upload(NULL, nk, &bp);
        ck_assert_int_eq(clnet__softmax(ctx, n, k, tx, tp), CLNET_OK);
        download(tp, nk, dev);
        check_close(dev, ref, nk, "softmax");
        /* In place (probs aliasing logits) gives the same. */
        ck_assert_int_eq(clnet__softmax(ctx, n, k, tx, tx), CLNET_OK);
        download(tx, nk, dev);
        check_close(dev, ref, nk, "softmax in place");
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < k; j++)
                s += dev[(size_t)i * k + j];
            ck_assert_msg(fabs(s - 1) < 1e-5, "row %d sums to %.9g", i, s);
        }
        clnet__buf_release(ctx, bx);
        clnet__buf_release(ctx, bp);
        free(x);
        free(ref);
        free(dev);
    }
}
END_TEST

/* Calls xent with one argument spoiled and checks status and message. */
static void expect_fail(clnet_status got, clnet_status want, const char *mention)
{
    ck_assert_msg(got == want, "got %s, want %s (%s)", clnet_status_name(got),
                  clnet_status_name(want), clnet_errmsg(ctx));
    ck_assert_msg(strstr(clnet_errmsg(ctx), mention), "message '%s' lacks '%s'",
                  clnet_errmsg(ctx), mention);
}

START_TEST(xent_rejects_bad_arguments)
{
    /* Buffers sized for n = 4, k = 10. */
    clnet__buf *b[5];
    clnet__tensor tx = upload(NULL, 40, &b[0]), tl = upload(NULL, 4, &b[1]),
                  tg = upload(NULL, 40, &b[2]), ts = upload(NULL, 4, &b[3]),
                  tw = upload(NULL, clnet__xent_work_count(4), &b[4]);
    clnet__tensor none = {0};
    expect_fail(clnet__xent(ctx, 0, 10, 0, 1, tx, tl, tg, ts, tw), CLNET_EINVAL, "n=0");
    expect_fail(clnet__xent(ctx, -2, 10, 0, 1, tx, tl, tg, ts, tw), CLNET_EINVAL, "n=-2");
    expect_fail(clnet__xent(ctx, 4, 0, 0, 1, tx, tl, tg, ts, tw), CLNET_EINVAL, "k=0");
    /* A class count the logits do not hold (mismatched with the model). */
    expect_fail(clnet__xent(ctx, 4, 11, 0, 1, tx, tl, tg, ts, tw), CLNET_ESHAPE, "44");
    expect_fail(clnet__xent(ctx, 6, 6, 0, 1, tx, tl, tg, ts, tw), CLNET_ESHAPE, "labels");
    expect_fail(clnet__xent(ctx, 4, 10, 0, 1, tx, tl, tg, ts, clnet__at(tw, 2)),
                CLNET_ESHAPE, "work");
    expect_fail(clnet__xent(ctx, 4, 10, 1.0f, 1, tx, tl, tg, ts, tw), CLNET_EINVAL, "1");
    expect_fail(clnet__xent(ctx, 4, 10, -0.1f, 1, tx, tl, tg, ts, tw), CLNET_EINVAL,
                "-0.1");
    expect_fail(clnet__xent(ctx, 4, 10, 0, INFINITY, tx, tl, tg, ts, tw), CLNET_EINVAL,
                "inf");
    expect_fail(clnet__xent(ctx, 4, 10, 0, 1, tx, tl, tg, none, tw), CLNET_EINVAL, "stats");
    expect_fail(clnet__softmax(ctx, 4, 0, tx, tg), CLNET_EINVAL, "k=0");
    expect_fail(clnet__softmax(ctx, 0, 10, tx, tg), CLNET_EINVAL, "n=0");
    expect_fail(clnet__softmax(ctx, 4, 12, tx, tg), CLNET_ESHAPE, "48");
    for (int i = 0; i < 5; i++)
        clnet__buf_release(ctx, b[i]);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("device_vs_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, xent_matches_reference);
    tcase_add_test(tc, xent_known_values);
    tcase_add_test(tc, softmax_matches_reference);
    suite_add_tcase(s, tc);
    TCase *ref = tcase_create("reference");
    tcase_add_test(ref, xent_reference_gradient);
    suite_add_tcase(s, ref);
    TCase *args = tcase_create("arguments");
    tcase_add_test(args, xent_rejects_bad_arguments);
    suite_add_tcase(s, args);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
