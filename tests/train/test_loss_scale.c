/* Dynamic loss scaling (src/train/loss_scale.h): the host reference of the
 * scale's state machine by hand, then the device (optim.cl, LSCALE) against
 * it over a random run of good and overflowing updates: the state after
 * every update, skipped updates leaving parameters and moments bit for bit,
 * good ones equal to an unscaled optimizer's bit for bit (the scale is a
 * power of two; Adam within float rounding of its bias corrections),
 * clipping included; the loss-gradient multiply; settings
 * checks. */
#include "../support.h"
#include "train/loss_scale.h"
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

static clnet__buf *dev_buf(size_t n, const float *src)
{
    clnet__buf *b = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, n * 4, &b), CLNET_OK);
    if (src)
        ck_assert_int_eq(clnet__buf_write(ctx, b, 0, n * 4, src), CLNET_OK);
    return b;
}

static void expect(const float ls[CLNET__LSCALE_FLOATS], float scale, float good,
                   float skipped, const char *when)
{
    ck_assert_msg(ls[0] == scale && ls[1] == good && ls[2] == 0.0f && ls[3] == skipped,
                  "%s: state {%g, %g, %g, %g}, want {%g, %g, 0, %g}", when,
                  (double)ls[0], (double)ls[1], (double)ls[2], (double)ls[3],
                  (double)scale, (double)good, (double)skipped);
}

/* PyTorch's GradScaler rules, worked by hand: interval 3. */
START_TEST(reference_by_hand)
{
    float ls[CLNET__LSCALE_FLOATS];
    clnet__loss_scale_init(ls, 1024.0f);
    expect(ls, 1024, 0, 0, "init");
    clnet__loss_scale_ref_update(ls, 0, 3);
    clnet__loss_scale_ref_update(ls, 0, 3);
    expect(ls, 1024, 2, 0, "two good");
    clnet__loss_scale_ref_update(ls, 0, 3);
    expect(ls, 2048, 0, 0, "third good: doubled, count restarts");
    clnet__loss_scale_ref_update(ls, 0, 3);
    clnet__loss_scale_ref_update(ls, 1, 3);
    expect(ls, 1024, 0, 1, "overflow: halved, count restarts, one skipped");
    clnet__loss_scale_ref_update(ls, 1, 3);
    expect(ls, 512, 0, 2, "second overflow");
    /* Bounds: halving stops at 2^-24, doubling at 2^24. */
    clnet__loss_scale_init(ls, CLNET__LSCALE_MIN);
    clnet__loss_scale_ref_update(ls, 1, 3);
    expect(ls, CLNET__LSCALE_MIN, 0, 1, "floor");
    clnet__loss_scale_init(ls, CLNET__LSCALE_MAX);
    clnet__loss_scale_ref_update(ls, 0, 1);
    expect(ls, CLNET__LSCALE_MAX, 0, 0, "ceiling");
    /* Interval 1: every good update doubles. */
    clnet__loss_scale_init(ls, 1.0f);
    for (int i = 0; i < 5; i++)
        clnet__loss_scale_ref_update(ls, 0, 1);
    expect(ls, 32, 0, 0, "interval 1");
    ck_assert(clnet__loss_scale_valid(65536.0f, 2000));
    ck_assert(!clnet__loss_scale_valid(0.0f, 2000));
    ck_assert(!clnet__loss_scale_valid(NAN, 2000));
    ck_assert(!clnet__loss_scale_valid(INFINITY, 2000));
    ck_assert(!clnet__loss_scale_valid(2 * CLNET__LSCALE_MAX, 2000));
    ck_assert(!clnet__loss_scale_valid(65536.0f, 0));
    ck_assert(!clnet__loss_scale_valid(65536.0f, CLNET__LSCALE_MAX_INTERVAL + 1));
}
END_TEST

/* Two optimizers on the same parameters: A with loss scaling gets the
 * gradients times its current scale (and now and then an Inf), B without
 * gets the true gradients on A's good updates only. After each update: A's
 * state equals the reference's, and A's parameters and moments equal B's
 * bit for bit (skips leave them as they were). */
static void run_against_unscaled(clnet__optim_type type, float clip, uint64_t seed)
{
    const size_t n = 4099; /* several work-groups and a ragged end */
    const unsigned interval = 4;
    const int updates = 60;
    clnet__optim_settings sa, sb;
    clnet__optim_default_settings(&sb, type);
    sb.lr = 0.05f, sb.clip_norm = clip;
    if (type == CLNET__OPTIM_SGD)
        sb.momentum = 0.9f;
    sa = sb;
    sa.loss_scale = 256.0f, sa.loss_scale_interval = (int)interval;
    clnet__optim *a = NULL, *b = NULL;
    ck_assert_msg(clnet__optim_create(ctx, &sa, n, NULL, 0, &a) == CLNET_OK, "%s",
                  clnet_errmsg(ctx));
    ck_assert_int_eq(clnet__optim_create(ctx, &sb, n, NULL, 0, &b), CLNET_OK);
    ck_assert(clnet__optim_loss_scaled(a) && !clnet__optim_loss_scaled(b));

    clnet_test_rng rng;
    clnet_test_rng_seed(&rng, seed);
    float *p = malloc(n * 4), *g = malloc(n * 4), *gs = malloc(n * 4);
    float *pa = malloc(n * 4), *pb = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        p[i] = clnet_test_uniform(&rng, -1, 1);
    clnet__buf *bpa = dev_buf(n, p), *bpb = dev_buf(n, p);
    clnet__buf *bga = dev_buf(n, NULL), *bgb = dev_buf(n, NULL);
    float ref[CLNET__LSCALE_FLOATS], dev[CLNET__LSCALE_FLOATS];
    clnet__loss_scale_init(ref, 256.0f);
    uint64_t t_b = 0;
    int skipped = 0, grown = 0;
    for (int u = 1; u <= updates; u++) {
        for (size_t i = 0; i < n; i++) {
            g[i] = clnet_test_uniform(&rng, -1, 1);
            gs[i] = g[i] * ref[0];
        }
        /* About one update in five overflows, at a random element, as
         * Inf or NaN. */
        int found = clnet_test_uniform(&rng, 0, 1) < 0.2f;
        if (found)
            gs[(size_t)clnet_test_uniform(&rng, 0, (float)n - 1)] =
                clnet_test_uniform(&rng, 0, 1) < 0.5f ? INFINITY : NAN;
        ck_assert_int_eq(clnet__buf_write(ctx, bga, 0, n * 4, gs), CLNET_OK);
        ck_assert_int_eq(clnet__optim_step(ctx, a, (clnet__tensor){bpa, 0, 0},
                                           (clnet__tensor){bga, 0, 0}, sb.lr, (uint64_t)u),
                         CLNET_OK);
        if (!found) {
            t_b++;
            ck_assert_int_eq(clnet__buf_write(ctx, bgb, 0, n * 4, g), CLNET_OK);
            ck_assert_int_eq(clnet__optim_step(ctx, b, (clnet__tensor){bpb, 0, 0},
                                               (clnet__tensor){bgb, 0, 0}, sb.lr, t_b),
                             CLNET_OK);
        }
        float before = ref[0];
        clnet__loss_scale_ref_update(ref, found, interval);
        skipped += found;
        grown += ref[0] > before;
        ck_assert_int_eq(clnet__optim_loss_scale_get(ctx, a, dev), CLNET_OK);
        ck_assert_msg(memcmp(dev, ref, sizeof ref) == 0,
                      "update %d: device state {%g, %g, %g, %g}, reference {%g, %g, %g, %g}",
                      u, (double)dev[0], (double)dev[1], (double)dev[2], (double)dev[3],
                      (double)ref[0], (double)ref[1], (double)ref[2], (double)ref[3]);
        ck_assert_int_eq(clnet__buf_read(ctx, bpa, 0, n * 4, pa), CLNET_OK);
        ck_assert_int_eq(clnet__buf_read(ctx, bpb, 0, n * 4, pb), CLNET_OK);
        /* SGD: bit for bit. Adam: its bias corrections for t = updates
         * applied come from float arithmetic on the device (the host's in
         * double), so within float rounding (relative, or 1e-7 near 0). */
        double tol = type == CLNET__OPTIM_SGD ? 0.0 : 1e-5;
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs((double)pa[i] - pb[i]) <= tol * (fabs((double)pb[i]) + 0.01) &&
                              (tol > 0 || memcmp(&pa[i], &pb[i], 4) == 0),
                          "%s clip %g, update %d (%s): param[%zu] %.9g scaled, %.9g unscaled",
                          clnet__optim_name(type), (double)clip, u,
                          found ? "skipped" : "applied", i, (double)pa[i], (double)pb[i]);
        clnet__optim_state sta[CLNET__OPTIM_MAX_STATES], stb[CLNET__OPTIM_MAX_STATES];
        size_t ns = clnet__optim_states(a, sta);
        ck_assert_uint_eq(ns, clnet__optim_states(b, stb));
        for (size_t k = 0; k < ns; k++) {
            ck_assert_int_eq(clnet__buf_read(ctx, sta[k].buf, 0, n * 4, pa), CLNET_OK);
            ck_assert_int_eq(clnet__buf_read(ctx, stb[k].buf, 0, n * 4, pb), CLNET_OK);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(fabs((double)pa[i] - pb[i]) <= tol * (fabs((double)pb[i]) + 0.01) &&
                                  (tol > 0 || memcmp(&pa[i], &pb[i], 4) == 0),
                              "update %d: %s[%zu] %.9g scaled, %.9g unscaled", u,
                              sta[k].name, i, (double)pa[i], (double)pb[i]);
        }
    }
    /* The run did both: skipped some updates and grew the scale. */
    ck_assert_int_gt(skipped, 0);
    ck_assert_int_gt(grown, 0);
    /* A skip is not a divergence: the non-finite flag stays clear. */
    int nf = 1;
    ck_assert_int_eq(clnet__optim_read_flag(ctx, a, &nf, 0), CLNET_OK);
    ck_assert_int_eq(nf, 0);
    /* set, then get: the state a checkpoint restores. */
    float put[CLNET__LSCALE_FLOATS] = {8.0f, 3.0f, 0.0f, 11.0f};
    ck_assert_int_eq(clnet__optim_loss_scale_set(ctx, a, put), CLNET_OK);
    ck_assert_int_eq(clnet__optim_loss_scale_get(ctx, a, dev), CLNET_OK);
    ck_assert(memcmp(put, dev, sizeof put) == 0);

    clnet__optim_free(ctx, a);
    clnet__optim_free(ctx, b);
    clnet__buf_release(ctx, bpa);
    clnet__buf_release(ctx, bpb);
    clnet__buf_release(ctx, bga);
    clnet__buf_release(ctx, bgb);
    free(p), free(g), free(gs), free(pa), free(pb);
}

START_TEST(device_sgd_momentum_against_unscaled)
{
    run_against_unscaled(CLNET__OPTIM_SGD, 0.0f, 11);
}
END_TEST

START_TEST(device_adam_clipped_against_unscaled)
{
    /* Clip norm 5 of gradients whose norm is about 37: clipping is on in
     * every update, and its norm must be the unscaled one. */
    run_against_unscaled(CLNET__OPTIM_ADAM, 5.0f, 12);
}
END_TEST

START_TEST(loss_gradient_times_scale)
{
    const size_t n = 37;
    clnet__optim_settings s;
    clnet__optim_default_settings(&s, CLNET__OPTIM_SGD);
    s.loss_scale = 4096.0f;
    clnet__optim *opt = NULL;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_OK);
    float d[37], got[37];
    for (size_t i = 0; i < n; i++)
        d[i] = 0.001f * (float)i - 0.01f;
    clnet__buf *bd = dev_buf(n + 2, NULL);
    float edge[2] = {7.0f, 9.0f};
    ck_assert_int_eq(clnet__buf_write(ctx, bd, 0, 4, &edge[0]), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, bd, (n + 1) * 4, 4, &edge[1]), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, bd, 4, n * 4, d), CLNET_OK);
    ck_assert_int_eq(clnet__optim_scale_loss_grad(ctx, opt, (clnet__tensor){bd, 1, 0}, n),
                     CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bd, 4, n * 4, got), CLNET_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == d[i] * 4096.0f, "[%zu] %g", i, (double)got[i]);
    ck_assert_int_eq(clnet__buf_read(ctx, bd, 0, 4, &edge[0]), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bd, (n + 1) * 4, 4, &edge[1]), CLNET_OK);
    ck_assert(edge[0] == 7.0f && edge[1] == 9.0f);
    clnet__optim_free(ctx, opt);
    clnet__buf_release(ctx, bd);
}
END_TEST

START_TEST(settings_checked)
{
    clnet__optim_settings s;
    clnet__optim_default_settings(&s, CLNET__OPTIM_SGD);
    const float bad_scales[] = {-1.0f, NAN, INFINITY, 2 * CLNET__LSCALE_MAX,
                                CLNET__LSCALE_MIN / 4};
    clnet__optim *opt = NULL;
    for (size_t i = 0; i < sizeof bad_scales / sizeof bad_scales[0]; i++) {
        s.loss_scale = bad_scales[i];
        ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
        ck_assert(strstr(clnet_errmsg(ctx), "loss scale") != NULL);
    }
    s.loss_scale = 2.0f, s.loss_scale_interval = CLNET__LSCALE_MAX_INTERVAL + 1;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
    /* Off: get reports scale 1, set does nothing, the multiply nothing. */
    s.loss_scale = 0.0f, s.loss_scale_interval = 0;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_OK);
    float st[CLNET__LSCALE_FLOATS] = {5, 5, 5, 5};
    ck_assert_int_eq(clnet__optim_loss_scale_get(ctx, opt, st), CLNET_OK);
    ck_assert(st[0] == 1.0f && st[1] == 0.0f && st[3] == 0.0f);
    ck_assert_int_eq(clnet__optim_loss_scale_set(ctx, opt, st), CLNET_OK);
    ck_assert_int_eq(clnet__optim_scale_loss_grad(ctx, opt, (clnet__tensor){0}, 5),
                     CLNET_OK);
    clnet__optim_free(ctx, opt);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    if (!ctx)
        return 1;
    Suite *s = suite_create("loss_scale");
    TCase *tc = tcase_create("loss_scale");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reference_by_hand);
    tcase_add_test(tc, device_sgd_momentum_against_unscaled);
    tcase_add_test(tc, device_adam_clipped_against_unscaled);
    tcase_add_test(tc, loss_gradient_times_scale);
    tcase_add_test(tc, settings_checked);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
