/* Optimizers: the plain-C reference against hand-worked PyTorch-semantics
 * values, then the device step against the reference over several steps of
 * every configuration, the non-finite flag, zeroing, determinism and
 * argument checks. */
#include "../support.h"
#include "train/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

#define STEPS 5
/* Device vs reference, per element: |dev - ref| <= REL * |ref| + ABS. The
 * kernel does the reference's float operations in the same order without
 * contraction; what is left is the device's sqrt/division rounding. */
#define REL 1e-5
#define ABS 1e-7

static void near(float got, double want, double tol, const char *what)
{
    ck_assert_msg(fabs(got - want) <= tol, "%s: got %.9g, want %.9g", what,
                  got, want);
}

static float ref_one(const clnet__optim_settings *s, float *p, float g,
                     float *m1, float *m2, float lr, uint64_t t)
{
    unsigned char decays = 1;
    int nf = 0;
    clnet__optim_ref_step(s, 1, p, &g, m1, m2, &decays, lr, t, &nf);
    return *p;
}

/* Hand-worked values; torch 1.13 (torch.optim.*, clip_grad_norm_) prints the
 * same numbers to float precision for these inputs. p = 1, g = 0.5,
 * lr = 0.1, wd = 0.1, two steps. */
START_TEST(reference_matches_pytorch_by_hand)
{
    clnet__optim_settings s;
    float p, m1, m2;

    /* SGD momentum 0.9, Nesterov, L2 0.1:
     * t=1: g = 0.5 + 0.1*1 = 0.6; b = 0.9*0 + 0.6 = 0.6;
     *      g = 0.6 + 0.9*0.6 = 1.14; p = 1 - 0.1*1.14 = 0.886
     * t=2: g = 0.5 + 0.1*0.886 = 0.5886; b = 0.9*0.6 + 0.5886 = 1.1286;
     *      g = 0.5886 + 0.9*1.1286 = 1.60434; p = 0.886 - 0.160434 = 0.725566 */
    clnet__optim_default_settings(&s, CLNET__OPTIM_SGD);
    s.momentum = 0.9f, s.nesterov = 1, s.weight_decay = 0.1f;
    p = 1, m1 = 0;
    near(ref_one(&s, &p, 0.5f, &m1, NULL, 0.1f, 1), 0.886, 1e-6, "sgd t=1");
    near(ref_one(&s, &p, 0.5f, &m1, NULL, 0.1f, 2), 0.725566, 1e-6, "sgd t=2");

    /* Adam (L2 0.1), betas 0.9/0.999, eps 1e-8:
     * t=1: g = 0.6; m = 0.1*0.6 = 0.06; v = 0.001*0.36 = 3.6e-4;
     *      step = 0.1/(1-0.9) = 1; denom = sqrt(3.6e-4)/sqrt(1e-3) + eps = 0.6;
     *      p = 1 - 1 * 0.06/0.6 = 0.9
     * t=2: g = 0.5 + 0.1*0.9 = 0.59; m = 0.054 + 0.059 = 0.113;
     *      v = 0.999*3.6e-4 + 0.001*0.3481 = 7.0774e-4;
     *      step = 0.1/(1-0.81) = 0.526316; denom = sqrt(7.0774e-4/1.999e-3)
     *      = 0.595018; p = 0.9 - 0.526316*0.113/0.595018 = 0.800047 */
    clnet__optim_default_settings(&s, CLNET__OPTIM_ADAM);
    s.weight_decay = 0.1f;
    p = 1, m1 = 0, m2 = 0;
    near(ref_one(&s, &p, 0.5f, &m1, &m2, 0.1f, 1), 0.9, 1e-6, "adam t=1");
    near(ref_one(&s, &p, 0.5f, &m1, &m2, 0.1f, 2), 0.8000473, 1e-6, "adam t=2");

    /* AdamW, decoupled 0.1:
     * t=1: p = 1*(1 - 0.1*0.1) = 0.99; m = 0.05; v = 2.5e-4;
     *      denom = sqrt(2.5e-4/1e-3) = 0.5; p = 0.99 - 1*0.05/0.5 = 0.89
     * t=2: p = 0.89*0.99 = 0.8811; m = 0.045 + 0.05 = 0.095;
     *      v = 0.999*2.5e-4 + 2.5e-4 = 4.9975e-4 = 0.25 * 1.999e-3, so
     *      denom = 0.5; p = 0.8811 - (0.1/0.19)*0.095/0.5 = 0.7811 */
    clnet__optim_default_settings(&s, CLNET__OPTIM_ADAMW);
    s.weight_decay = 0.1f;
    p = 1, m1 = 0, m2 = 0;
    near(ref_one(&s, &p, 0.5f, &m1, &m2, 0.1f, 1), 0.89, 1e-6, "adamw t=1");
    near(ref_one(&s, &p, 0.5f, &m1, &m2, 0.1f, 2), 0.7811, 1e-6, "adamw t=2");

    /* Clipping: g = (3, 4), norm 5, clip 1: scale = 1/(5 + 1e-6); plain SGD
     * with lr 1 from p = 0 gives p = -(0.6, 0.8) * (1 - 2e-7). */
    clnet__optim_default_settings(&s, CLNET__OPTIM_SGD);
    s.clip_norm = 1.0f;
    float pp[2] = {0, 0}, gg[2] = {3, 4};
    int nf = 0;
    clnet__optim_ref_step(&s, 2, pp, gg, NULL, NULL, NULL, 1.0f, 1, &nf);
    near(pp[0], -0.6 / (1 + 2e-7), 1e-7, "clip[0]");
    near(pp[1], -0.8 / (1 + 2e-7), 1e-7, "clip[1]");
    ck_assert_int_eq(nf, 0);
}
END_TEST

typedef struct opt_case {
    const char *label;
    clnet__optim_type type;
    float momentum;
    int nesterov;
    float wd;
    float clip;
    int all_decay; /* one range over everything instead of the patchy set */
} opt_case;

static const opt_case cases[] = {
    {"sgd", CLNET__OPTIM_SGD, 0, 0, 0, 0, 0},
    {"sgd momentum", CLNET__OPTIM_SGD, 0.9f, 0, 0, 0, 0},
    {"sgd nesterov", CLNET__OPTIM_SGD, 0.9f, 1, 0, 0, 0},
    {"sgd momentum decay", CLNET__OPTIM_SGD, 0.9f, 0, 5e-2f, 0, 0},
    {"sgd nesterov decay-all", CLNET__OPTIM_SGD, 0.8f, 1, 1e-2f, 0, 1},
    {"sgd decay clip", CLNET__OPTIM_SGD, 0, 0, 1e-1f, 5.0f, 0},
    {"sgd momentum clip (inactive)", CLNET__OPTIM_SGD, 0.9f, 0, 0, 1e4f, 0},
    {"adam", CLNET__OPTIM_ADAM, 0, 0, 0, 0, 0},
    {"adam decay", CLNET__OPTIM_ADAM, 0, 0, 1e-1f, 0, 0},
    {"adam decay clip", CLNET__OPTIM_ADAM, 0, 0, 1e-2f, 3.0f, 0},
    {"adamw", CLNET__OPTIM_ADAMW, 0, 0, 0, 0, 0},
    {"adamw decay", CLNET__OPTIM_ADAMW, 0, 0, 1e-1f, 0, 0},
    {"adamw decay-all clip", CLNET__OPTIM_ADAMW, 0, 0, 2e-1f, 2.0f, 1},
};

/* Patchy decay ranges (overlapping, single elements, the tail) for n >= 4. */
static size_t ranges_for(size_t n, int all, clnet__optim_range *r)
{
    if (all) {
        r[0] = (clnet__optim_range){0, n};
        return 1;
    }
    r[0] = (clnet__optim_range){0, n / 4};
    r[1] = (clnet__optim_range){n / 5, n / 10 + 1}; /* overlaps r[0] */
    r[2] = (clnet__optim_range){n / 2, 1};
    r[3] = (clnet__optim_range){n - n / 3, n / 3};
    return 4;
}

static clnet__buf *dev_buf(size_t n, const float *src)
{
    clnet__buf *b = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, n * 4, &b), CLNET_OK);
    if (src)
        ck_assert_int_eq(clnet__buf_write(ctx, b, 0, n * 4, src), CLNET_OK);
    return b;
}

static void compare(const char *label, const char *what, int step,
                    const float *dev, const float *ref, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double tol = REL * fabs(ref[i]) + ABS;
        ck_assert_msg(fabs((double)dev[i] - ref[i]) <= tol,
                      "%s, step %d, %s[%zu]: device %.9g, reference %.9g",
                      label, step, what, i, dev[i], ref[i]);
    }
}

/* Patchy frozen ranges for n >= 8: the head, one overlapping pair in the
 * middle, a single element and the tail, listed out of order. */
static size_t frozen_for(size_t n, clnet__optim_range *r)
{
    r[0] = (clnet__optim_range){n - n / 8, n / 8};
    r[1] = (clnet__optim_range){0, n / 6 + 1};
    r[2] = (clnet__optim_range){n / 3, n / 10 + 1};
    r[3] = (clnet__optim_range){n / 3 + n / 20, n / 10};
    r[4] = (clnet__optim_range){n / 2 + 1, 1};
    return 5;
}

/* STEPS steps of one configuration on n parameters: params and moments on
 * the device compared to the reference after every step. The parameter and
 * gradient views start at an offset so offsets are exercised too. With
 * `frozen`, some ranges are frozen (frozen_for): the reference skips them,
 * and they must keep their values bit for bit. */
static void run_case_frozen(const opt_case *c, size_t n, uint64_t seed, int frozen)
{
    const size_t off = 3;
    clnet__optim_settings s;
    clnet__optim_default_settings(&s, c->type);
    s.lr = 0.05f, s.momentum = c->momentum, s.nesterov = c->nesterov;
    s.weight_decay = c->wd, s.clip_norm = c->clip;
    clnet__optim_range r[4];
    size_t nr = ranges_for(n, c->all_decay, r);
    unsigned char *mask = calloc(n, 1);
    for (size_t k = 0; k < nr; k++)
        memset(mask + r[k].begin, 1, r[k].count);

    clnet__optim *opt = NULL;
    ck_assert_msg(clnet__optim_create(ctx, &s, n, r, nr, &opt) == CLNET_OK,
                  "%s: %s", c->label, clnet_errmsg(ctx));
    unsigned char *fmask = NULL;
    if (frozen) {
        clnet__optim_range fr[5];
        size_t nf = frozen_for(n, fr);
        fmask = calloc(n, 1);
        for (size_t k = 0; k < nf; k++)
            memset(fmask + fr[k].begin, 1, fr[k].count);
        ck_assert_int_eq(clnet__optim_set_frozen(ctx, opt, fr, nf), CLNET_OK);
        size_t updated = 0;
        for (size_t i = 0; i < n; i++)
            updated += !fmask[i];
        ck_assert_uint_eq(clnet__optim_updated(opt), updated);
    }
    float *p = malloc((n + off) * 4), *g = malloc((n + off) * 4);
    float *m1 = calloc(n, 4), *m2 = calloc(n, 4), *got = malloc(n * 4);
    clnet_test_rng rng;
    clnet_test_rng_seed(&rng, seed);
    for (size_t i = 0; i < n + off; i++)
        p[i] = clnet_test_uniform(&rng, -1, 1);
    clnet__buf *bp = dev_buf(n + off, p), *bg = dev_buf(n + off, NULL);
    clnet__tensor tp = {bp, off, 0}, tg = {bg, off, 0};

    for (int t = 1; t <= STEPS; t++) {
        for (size_t i = 0; i < n + off; i++)
            g[i] = clnet_test_uniform(&rng, -1, 1);
        ck_assert_int_eq(clnet__buf_write(ctx, bg, 0, (n + off) * 4, g), CLNET_OK);
        float lr = s.lr * (1.0f - 0.1f * (float)t); /* as a schedule would */
        ck_assert_msg(clnet__optim_step(ctx, opt, tp, tg, lr, (uint64_t)t) == CLNET_OK,
                      "%s: %s", c->label, clnet_errmsg(ctx));
        int nf = 0;
        clnet__optim_ref_step_frozen(&s, n, p + off, g + off, m1, m2, mask, fmask,
                                     lr, (uint64_t)t, &nf);
        ck_assert_int_eq(clnet__buf_read(ctx, bp, off * 4, n * 4, got), CLNET_OK);
        compare(c->label, "param", t, got, p + off, n);
        /* The reference never touched frozen elements: still the initial
         * values and zero moments, exactly. */
        for (size_t i = 0; fmask && i < n; i++)
            ck_assert_msg(!fmask[i] || memcmp(&got[i], &p[off + i], 4) == 0,
                          "%s, step %d: frozen param[%zu] changed", c->label, t, i);
        clnet__optim_state st[CLNET__OPTIM_MAX_STATES];
        size_t ns = clnet__optim_states(opt, st);
        for (size_t k = 0; k < ns; k++) {
            ck_assert_int_eq(clnet__buf_read(ctx, st[k].buf, 0, n * 4, got), CLNET_OK);
            compare(c->label, st[k].name, t, got, k == 0 ? m1 : m2, n);
            for (size_t i = 0; fmask && i < n; i++)
                ck_assert_msg(!fmask[i] || got[i] == 0.0f,
                              "%s, step %d: frozen %s[%zu] = %g", c->label, t,
                              st[k].name, i, (double)got[i]);
        }
    }
    /* The views' neighbours are untouched. */
    ck_assert_int_eq(clnet__buf_read(ctx, bp, 0, off * 4, got), CLNET_OK);
    ck_assert(memcmp(got, p, off * 4) == 0);
    int nf = 1;
    ck_assert_int_eq(clnet__optim_read_flag(ctx, opt, &nf, 0), CLNET_OK);
    ck_assert_int_eq(nf, 0);

    clnet__optim_free(ctx, opt);
    clnet__buf_release(ctx, bp);
    clnet__buf_release(ctx, bg);
    free(p), free(g), free(m1), free(m2), free(got), free(mask), free(fmask);
}

static void run_case(const opt_case *c, size_t n, uint64_t seed)
{
    run_case_frozen(c, n, seed, 0);
}

START_TEST(device_matches_reference)
{
    /* 4099: several groups and a ragged end; 5: fewer than one group. */
    const size_t sizes[] = {4099, 5};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run_case(&cases[i], sizes[k], 1000 + i);
}
END_TEST

/* Every configuration with frozen ranges, against the reference that skips
 * them; run_case_frozen also checks the frozen elements bit for bit. */
START_TEST(frozen_ranges_match_reference)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case_frozen(&cases[i], 4099, 2000 + i, 1);
}
END_TEST

/* Frozen elements keep their bits and moments; unfreezing (no ranges)
 * brings them back into the update; a bad range is refused; everything
 * frozen launches nothing. */
START_TEST(frozen_exact_and_unfreeze)
{
    const size_t n = 300;
    clnet__optim_settings s;
    clnet__optim_default_settings(&s, CLNET__OPTIM_ADAMW);
    s.weight_decay = 0.5f, s.clip_norm = 1.0f;
    clnet__optim_range all = {0, n};
    clnet__optim *opt = NULL;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, n, &all, 1, &opt), CLNET_OK);
    float p[300], g[300], got[300], m[300];
    for (size_t i = 0; i < n; i++)
        p[i] = 1.0f + (float)i / 7.0f, g[i] = 0.25f - (float)(i % 5) / 9.0f;
    clnet__buf *bp = dev_buf(n, p), *bg = dev_buf(n, g);
    clnet__tensor tp = {bp, 0, 0}, tg = {bg, 0, 0};
    clnet__optim_range fr[2] = {{100, 50}, {250, 50}};
    ck_assert_int_eq(clnet__optim_set_frozen(ctx, opt, fr, 2), CLNET_OK);
    ck_assert_uint_eq(clnet__optim_updated(opt), n - 100);
    for (int t = 1; t <= 3; t++)
        ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, (uint64_t)t), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bp, 0, sizeof got, got), CLNET_OK);
    clnet__optim_state st[CLNET__OPTIM_MAX_STATES];
    ck_assert_uint_eq(clnet__optim_states(opt, st), 2);
    ck_assert_int_eq(clnet__buf_read(ctx, st[0].buf, 0, sizeof m, m), CLNET_OK);
    for (size_t i = 0; i < n; i++) {
        int fz = (i >= 100 && i < 150) || i >= 250;
        if (fz) {
            ck_assert_msg(memcmp(&got[i], &p[i], 4) == 0 && m[i] == 0.0f,
                          "frozen %zu changed: %.9g -> %.9g, moment %g", i,
                          (double)p[i], (double)got[i], (double)m[i]);
        } else {
            ck_assert_msg(got[i] != p[i] && m[i] != 0.0f, "trained %zu unchanged", i);
        }
    }
    /* Unfrozen again: every element moves. */
    ck_assert_int_eq(clnet__optim_set_frozen(ctx, opt, NULL, 0), CLNET_OK);
    ck_assert_uint_eq(clnet__optim_updated(opt), n);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, 4), CLNET_OK);
    float again[300];
    ck_assert_int_eq(clnet__buf_read(ctx, bp, 0, sizeof again, again), CLNET_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(again[i] != got[i], "element %zu not updated after unfreezing", i);
    /* Everything frozen: nothing moves (nothing is launched). */
    ck_assert_int_eq(clnet__optim_set_frozen(ctx, opt, &all, 1), CLNET_OK);
    ck_assert_uint_eq(clnet__optim_updated(opt), 0);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, 5), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bp, 0, sizeof got, got), CLNET_OK);
    ck_assert(memcmp(got, again, sizeof got) == 0);
    /* A range past the end is refused and changes nothing. */
    clnet__optim_range bad = {n - 1, 2};
    ck_assert_int_eq(clnet__optim_set_frozen(ctx, opt, &bad, 1), CLNET_EINVAL);
    ck_assert_uint_eq(clnet__optim_updated(opt), 0);
    clnet__optim_free(ctx, opt);
    clnet__buf_release(ctx, bp);
    clnet__buf_release(ctx, bg);
}
END_TEST

START_TEST(state_names)
{
    clnet__optim_settings s;
    clnet__optim *opt = NULL;
    clnet__optim_state st[CLNET__OPTIM_MAX_STATES];
    clnet__optim_default_settings(&s, CLNET__OPTIM_SGD);
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_OK);
    ck_assert_uint_eq(clnet__optim_states(opt, st), 0);
    clnet__optim_free(ctx, opt);
    s.momentum = 0.9f;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_OK);
    ck_assert_uint_eq(clnet__optim_states(opt, st), 1);
    ck_assert_str_eq(st[0].name, "optim.momentum");
    ck_assert_uint_eq(st[0].n, 10);
    clnet__optim_free(ctx, opt);
    clnet__optim_default_settings(&s, CLNET__OPTIM_ADAMW);
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_OK);
    ck_assert_uint_eq(clnet__optim_states(opt, st), 2);
    ck_assert_str_eq(st[0].name, "optim.exp_avg");
    ck_assert_str_eq(st[1].name, "optim.exp_avg_sq");
    clnet__optim_free(ctx, opt);
    clnet__optim_type ty;
    ck_assert_int_eq(clnet__optim_from_name("adamw", &ty), 0);
    ck_assert_int_eq(ty, CLNET__OPTIM_ADAMW);
    ck_assert_str_eq(clnet__optim_name(CLNET__OPTIM_SGD), "sgd");
    ck_assert_int_eq(clnet__optim_from_name("rmsprop", &ty), -1);
}
END_TEST

/* A NaN or Inf gradient sets the flag (in the optimizer's own floats or in
 * floats of the caller's) and records the step and the highest bad element
 * of the first bad step; clearing resets them; clean steps leave them 0. */
START_TEST(nonfinite_flag)
{
    const size_t n = 300;
    clnet__optim_settings s;
    clnet__optim_default_settings(&s, CLNET__OPTIM_ADAM);
    clnet__optim *opt = NULL;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, n, NULL, 0, &opt), CLNET_OK);
    float g[300];
    for (size_t i = 0; i < n; i++)
        g[i] = 0.01f * (float)i;
    clnet__buf *bp = dev_buf(n, g), *bg = dev_buf(n, g);
    clnet__tensor tp = {bp, 0, 0}, tg = {bg, 0, 0};
    int nf = -1;
    ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, 1), CLNET_OK);
    ck_assert_int_eq(clnet__optim_read_flag(ctx, opt, &nf, 1), CLNET_OK);
    ck_assert_int_eq(nf, 0);

    float bad = NAN;
    ck_assert_int_eq(clnet__buf_write(ctx, bg, 257 * 4, 4, &bad), CLNET_OK);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, 2), CLNET_OK);
    ck_assert_int_eq(clnet__optim_read_flag(ctx, opt, &nf, 1), CLNET_OK);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(clnet__optim_read_flag(ctx, opt, &nf, 0), CLNET_OK);
    ck_assert_int_eq(nf, 0); /* cleared by the previous read */

    /* Into the caller's floats: elements 2..4 of a small stats buffer. The
     * record keeps the first bad step (3: Inf at 0 and NaN at 257, the
     * highest) although step 4 has a bad element too. */
    float stats[6] = {5, 6, 0, 0, 0, 7};
    clnet__buf *bs = dev_buf(6, stats);
    clnet__optim_set_flag(opt, (clnet__tensor){bs, 2, 0});
    bad = INFINITY;
    ck_assert_int_eq(clnet__buf_write(ctx, bg, 0, 4, &bad), CLNET_OK);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, 3), CLNET_OK);
    float fine = 1.0f;
    ck_assert_int_eq(clnet__buf_write(ctx, bg, 257 * 4, 4, &fine), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, bg, 299 * 4, 4, &bad), CLNET_OK);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, 4), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bs, 0, sizeof stats, stats), CLNET_OK);
    ck_assert(stats[0] == 5 && stats[1] == 6 && stats[2] == 1 && stats[5] == 7);
    clnet__nonfinite rec;
    ck_assert_int_eq(clnet__nonfinite_decode(&stats[2], &rec), 1);
    ck_assert_uint_eq(rec.index, 257);
    ck_assert_int_eq(rec.is_nan, 1);
    ck_assert_uint_eq(rec.step, 3);
    ck_assert_int_eq(rec.loss_bad, 0);
    ck_assert_int_eq(clnet__optim_read_flag(ctx, opt, &nf, 1), CLNET_OK);
    ck_assert_int_eq(nf, 1);
    ck_assert_int_eq(clnet__buf_read(ctx, bs, 0, sizeof stats, stats), CLNET_OK);
    ck_assert_int_eq(clnet__nonfinite_decode(&stats[2], &rec), 0);
    /* A record starts again after the clear: Inf at 0 only, and the loss
     * float (element 1, made NaN) marks it. */
    ck_assert_int_eq(clnet__buf_write(ctx, bg, 299 * 4, 4, &fine), CLNET_OK);
    float nan = NAN;
    ck_assert_int_eq(clnet__buf_write(ctx, bs, 4, 4, &nan), CLNET_OK);
    clnet__optim_set_loss(opt, (clnet__tensor){bs, 1, 0});
    ck_assert_int_eq(clnet__optim_step(ctx, opt, tp, tg, 0.1f, 5), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bs, 0, sizeof stats, stats), CLNET_OK);
    ck_assert_int_eq(clnet__nonfinite_decode(&stats[2], &rec), 1);
    ck_assert_uint_eq(rec.index, 0);
    ck_assert_int_eq(rec.is_nan, 0);
    ck_assert_uint_eq(rec.step, 5);
    ck_assert_int_eq(rec.loss_bad, 1);

    clnet__optim_free(ctx, opt);
    clnet__buf_release(ctx, bp);
    clnet__buf_release(ctx, bg);
    clnet__buf_release(ctx, bs);
}
END_TEST

START_TEST(zero_grad_and_reset)
{
    const size_t n = 1000;
    clnet__optim_settings s;
    clnet__optim_default_settings(&s, CLNET__OPTIM_SGD);
    s.momentum = 0.5f;
    clnet__optim *opt = NULL;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, n, NULL, 0, &opt), CLNET_OK);
    float *h = malloc((n + 2) * 4);
    for (size_t i = 0; i < n + 2; i++)
        h[i] = 1.0f + (float)i;
    clnet__buf *bp = dev_buf(n + 2, h), *bg = dev_buf(n + 2, h);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, (clnet__tensor){bp, 1, 0},
                                       (clnet__tensor){bg, 1, 0}, 0.1f, 1), CLNET_OK);
    ck_assert_int_eq(clnet__optim_zero_grad(ctx, opt, (clnet__tensor){bg, 1, 0}), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bg, 0, (n + 2) * 4, h), CLNET_OK);
    ck_assert(h[0] == 1.0f && h[n + 1] == (float)(n + 2));
    for (size_t i = 1; i <= n; i++)
        ck_assert(h[i] == 0.0f);
    clnet__optim_state st[CLNET__OPTIM_MAX_STATES];
    ck_assert_uint_eq(clnet__optim_states(opt, st), 1);
    ck_assert_int_eq(clnet__buf_read(ctx, st[0].buf, 0, n * 4, h), CLNET_OK);
    ck_assert(h[5] == 7.0f); /* b = g after the first step */
    ck_assert_int_eq(clnet__optim_reset(ctx, opt), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, st[0].buf, 0, n * 4, h), CLNET_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(h[i] == 0.0f);
    clnet__optim_free(ctx, opt);
    clnet__buf_release(ctx, bp);
    clnet__buf_release(ctx, bg);
    free(h);
}
END_TEST

/* Clipping reduces on the device; two runs from the same start must give
 * bit-identical parameters (fixed reduction order, no atomics). */
START_TEST(clipping_is_deterministic)
{
    const size_t n = 100003;
    clnet__optim_settings s;
    clnet__optim_default_settings(&s, CLNET__OPTIM_ADAMW);
    s.clip_norm = 1.0f;
    float *p0 = malloc(n * 4), *g = malloc(n * 4), *a = malloc(n * 4),
          *b = malloc(n * 4);
    clnet_test_rng rng;
    clnet_test_rng_seed(&rng, 7);
    for (size_t i = 0; i < n; i++)
        p0[i] = clnet_test_uniform(&rng, -1, 1), g[i] = clnet_test_uniform(&rng, -1, 1);
    float *out[2] = {a, b};
    for (int run = 0; run < 2; run++) {
        clnet__optim *opt = NULL;
        ck_assert_int_eq(clnet__optim_create(ctx, &s, n, NULL, 0, &opt), CLNET_OK);
        clnet__buf *bp = dev_buf(n, p0), *bg = dev_buf(n, g);
        for (int t = 1; t <= 3; t++)
            ck_assert_int_eq(clnet__optim_step(ctx, opt, (clnet__tensor){bp, 0, 0},
                                               (clnet__tensor){bg, 0, 0}, 0.01f, (uint64_t)t),
                             CLNET_OK);
        ck_assert_int_eq(clnet__buf_read(ctx, bp, 0, n * 4, out[run]), CLNET_OK);
        clnet__optim_free(ctx, opt);
        clnet__buf_release(ctx, bp);
        clnet__buf_release(ctx, bg);
    }
    ck_assert(memcmp(a, b, n * 4) == 0);
    free(p0), free(g), free(a), free(b);
}
END_TEST

START_TEST(invalid_arguments)
{
    clnet__optim_settings s;
    clnet__optim *opt = NULL;
    clnet__optim_default_settings(&s, CLNET__OPTIM_SGD);
    s.momentum = 1.0f;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
    ck_assert_ptr_null(opt);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "momentum"));
    s.momentum = 0;
    s.nesterov = 1;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "nesterov"));
    s.nesterov = 0;
    s.lr = -1;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
    s.lr = 0.1f;
    s.clip_norm = NAN;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
    s.clip_norm = 0;
    clnet__optim_default_settings(&s, CLNET__OPTIM_ADAM);
    s.beta2 = 1.0f;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
    s.beta2 = 0.999f;
    s.eps = 0;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, NULL, 0, &opt), CLNET_EINVAL);
    s.eps = 1e-8f;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 0, NULL, 0, &opt), CLNET_EINVAL);
    clnet__optim_range r = {8, 3};
    s.weight_decay = 0.1f;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, &r, 1, &opt), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "decay range 0"));
    r.count = 2;
    ck_assert_int_eq(clnet__optim_create(ctx, &s, 10, &r, 1, &opt), CLNET_OK);
    /* Views too small, step 0 for Adam. */
    clnet__buf *b = dev_buf(10, NULL);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, (clnet__tensor){b, 1, 0},
                                       (clnet__tensor){b, 0, 0}, 0.1f, 1), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "parameter view"));
    ck_assert_int_eq(clnet__optim_step(ctx, opt, (clnet__tensor){b, 0, 0},
                                       (clnet__tensor){b, 0, 0}, 0.1f, 0), CLNET_EINVAL);
    ck_assert_int_eq(clnet__optim_step(ctx, opt, (clnet__tensor){b, 0, 0},
                                       (clnet__tensor){b, 0, 0}, NAN, 1), CLNET_EINVAL);
    clnet__buf_release(ctx, b);
    clnet__optim_free(ctx, opt);
    clnet__optim_free(ctx, NULL);
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    if (!ctx)
        return 1;
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reference_matches_pytorch_by_hand);
    tcase_add_test(tc, device_matches_reference);
    tcase_add_test(tc, frozen_ranges_match_reference);
    tcase_add_test(tc, frozen_exact_and_unfreeze);
    tcase_add_test(tc, state_names);
    tcase_add_test(tc, nonfinite_flag);
    tcase_add_test(tc, zero_grad_and_reset);
    tcase_add_test(tc, clipping_is_deterministic);
    tcase_add_test(tc, invalid_arguments);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
