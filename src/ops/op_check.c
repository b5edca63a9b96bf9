/* Checking an op against its plain-C reference (see op_check.h). Used by the
 * op test suites and by clnet-info --self-test, so both exercise the same
 * code on the device at hand. */
#include "ops/op_check.h"

#include "core/core.h"
#include "ops/op_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Test data: xorshift64*, deterministic per seed. */
typedef struct check_rng { uint64_t s; } check_rng;

static void rng_seed(check_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

static float rng_uniform(check_rng *r, float lo, float hi)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t x = r->s * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * ((float)(x >> 40) * (1.0f / 16777216.0f));
}

/* Uniform in [lo, hi] but never within 0.05 of zero. */
static float rng_nonzero(check_rng *r, float lo, float hi)
{
    for (;;) {
        float v = rng_uniform(r, lo, hi);
        if (v > 0.05f || v < -0.05f)
            return v;
    }
}

/* Host and device copies of every tensor of one op instance. */
typedef struct tensors {
    size_t n_in[CLNET__MAX_IN], n_out, n_param[CLNET__MAX_PARAMS],
        n_state[CLNET__MAX_STATE], n_saved[CLNET__MAX_SAVED], n_work;
    float *in[CLNET__MAX_IN], *din0[CLNET__MAX_IN], *din[CLNET__MAX_IN];
    float *out, *dout;
    float *param[CLNET__MAX_PARAMS], *dparam0[CLNET__MAX_PARAMS],
        *dparam[CLNET__MAX_PARAMS];
    float *state0[CLNET__MAX_STATE], *state[CLNET__MAX_STATE];
    float *saved[CLNET__MAX_SAVED];
} tensors;

/* Device tensors start at an odd float offset inside their buffer, so a
 * kernel that ignores the offset fails. */
#define DEV_OFFSET 3

const char *clnet__op_case_label(const clnet__op_case *c, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "%s(%s) in=", c->op,
                                  c->params ? c->params : "");
    for (int i = 0; i < c->n_in && len < cap; i++) {
        char s[64];
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "",
                                clnet__shape_str(c->in[i], s, sizeof s));
    }
    if (len < cap)
        snprintf(buf + len, cap - len, " %s", c->training ? "train" : "eval");
    return buf;
}

static float *fill_random(check_rng *r, size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = lo >= 0 ? rng_uniform(r, lo, hi) : rng_nonzero(r, lo, hi);
    return p;
}

static float *dup_floats(const float *src, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (p && n)
        memcpy(p, src, n * sizeof *p);
    return p;
}

static void tensors_free(tensors *t)
{
    for (int i = 0; i < CLNET__MAX_IN; i++) {
        free(t->in[i]);
        free(t->din0[i]);
        free(t->din[i]);
    }
    for (int i = 0; i < CLNET__MAX_PARAMS; i++) {
        free(t->param[i]);
        free(t->dparam0[i]);
        free(t->dparam[i]);
    }
    for (int i = 0; i < CLNET__MAX_STATE; i++) {
        free(t->state0[i]);
        free(t->state[i]);
    }
    for (int i = 0; i < CLNET__MAX_SAVED; i++)
        free(t->saved[i]);
    free(t->out);
    free(t->dout);
    memset(t, 0, sizeof *t);
}

static void make_tensors(const clnet__op_case *c, const clnet__op_plan *plan,
                         check_rng *r, tensors *t)
{
    memset(t, 0, sizeof *t);
    float range = c->in_range > 0 ? c->in_range : 1.0f;
    for (int i = 0; i < c->n_in; i++) {
        t->n_in[i] = clnet__shape_count(c->in[i]);
        t->in[i] = fill_random(r, t->n_in[i], -range, range);
        t->din0[i] = fill_random(r, t->n_in[i], -1.0f, 1.0f);
    }
    t->n_out = clnet__shape_count(plan->out);
    t->out = fill_random(r, t->n_out, -1.0f, 1.0f);
    t->dout = fill_random(r, t->n_out, -1.0f, 1.0f);
    for (int i = 0; i < plan->n_params; i++) {
        t->n_param[i] = clnet__dims_count(plan->param[i]);
        t->param[i] = fill_random(r, t->n_param[i], -0.8f, 0.8f);
        t->dparam0[i] = fill_random(r, t->n_param[i], -1.0f, 1.0f);
    }
    for (int i = 0; i < plan->n_state; i++) {
        t->n_state[i] = clnet__dims_count(plan->state[i]);
        /* ONE-initialised state is a variance: keep it positive. */
        t->state0[i] = plan->state_init[i] == CLNET__INIT_ONE
                           ? fill_random(r, t->n_state[i], 0.5f, 1.5f)
                           : fill_random(r, t->n_state[i], -0.5f, 0.5f);
    }
    for (int i = 0; i < plan->n_saved; i++)
        t->n_saved[i] = plan->saved_count[i];
    t->n_work = plan->work_count;
}

/* Reference forward into out (fresh state and saved copies each time);
 * returns L = sum(out * dout) in double. */
static double ref_loss(const clnet__op *op, const void *params, const clnet__op_case *c,
                       const clnet__op_plan *plan, tensors *t, uint64_t seed,
                       int keep)
{
    clnet__ref_io io = {0};
    io.n_in = c->n_in;
    for (int i = 0; i < c->n_in; i++) {
        io.in_shape[i] = c->in[i];
        io.in[i] = t->in[i];
    }
    io.out_shape = plan->out;
    io.out = t->out;
    for (int i = 0; i < plan->n_params; i++)
        io.param[i] = t->param[i];
    for (int i = 0; i < plan->n_state; i++) {
        free(t->state[i]);
        t->state[i] = dup_floats(t->state0[i], t->n_state[i]);
        io.state[i] = t->state[i];
    }
    for (int i = 0; i < plan->n_saved; i++) {
        if (!keep || !t->saved[i]) {
            free(t->saved[i]);
            t->saved[i] = calloc(t->n_saved[i] ? t->n_saved[i] : 1, sizeof(float));
        }
        io.saved[i] = t->saved[i];
    }
    io.training = c->training;
    io.seed = seed;
    op->ref_forward(params, &io);
    double L = 0;
    for (size_t i = 0; i < t->n_out; i++)
        L += (double)t->out[i] * (double)t->dout[i];
    return L;
}

static void ref_backward(const clnet__op *op, const void *params, const clnet__op_case *c,
                         const clnet__op_plan *plan, tensors *t, uint64_t seed)
{
    clnet__ref_io io = {0};
    io.n_in = c->n_in;
    for (int i = 0; i < c->n_in; i++) {
        io.in_shape[i] = c->in[i];
        io.in[i] = t->in[i];
        free(t->din[i]);
        t->din[i] = dup_floats(t->din0[i], t->n_in[i]);
        io.din[i] = t->din[i];
    }
    io.out_shape = plan->out;
    io.out = t->out;
    io.dout = t->dout;
    for (int i = 0; i < plan->n_params; i++) {
        io.param[i] = t->param[i];
        free(t->dparam[i]);
        t->dparam[i] = dup_floats(t->dparam0[i], t->n_param[i]);
        io.dparam[i] = t->dparam[i];
    }
    for (int i = 0; i < plan->n_state; i++)
        io.state[i] = t->state[i];
    for (int i = 0; i < plan->n_saved; i++)
        io.saved[i] = t->saved[i];
    io.training = c->training;
    io.seed = seed;
    op->ref_backward(params, &io);
}

/* Finite-difference check of one tensor (an input or a parameter). */
static int grad_check_tensor(const clnet__op *op, const void *params,
                             const clnet__op_case *c, const clnet__op_plan *plan,
                             tensors *t, uint64_t seed, float *x, size_t n,
                             const float *ana, const float *ana0,
                             const char *what, check_rng *r, char *msg,
                             size_t cap)
{
    tensors probe = *t;
    /* The probe shares inputs/params with t but needs its own out/saved. */
    probe.out = malloc((t->n_out ? t->n_out : 1) * sizeof(float));
    memset(probe.state, 0, sizeof probe.state);
    memset(probe.saved, 0, sizeof probe.saved);
    int ok = 1, checked = 0;
    size_t points = n < GRAD_POINTS ? n : GRAD_POINTS;
    for (size_t p = 0; p < points && ok; p++) {
        size_t i = n <= GRAD_POINTS ? p : (size_t)rng_uniform(r, 0, (float)n) % n;
        float x0 = x[i];
        x[i] = x0 + (float)FD_EPS;
        double lp = ref_loss(op, params, c, plan, &probe, seed, 0);
        x[i] = x0 - (float)FD_EPS;
        double lm = ref_loss(op, params, c, plan, &probe, seed, 0);
        x[i] = x0;
        double l0 = ref_loss(op, params, c, plan, &probe, seed, 0);
        double right = (lp - l0) / FD_EPS, left = (l0 - lm) / FD_EPS;
        double num = (lp - lm) / (2 * FD_EPS);
        double a = (double)ana[i] - (double)ana0[i];
        /* A kink (relu at 0, max ties) makes the one-sided slopes differ. */
        if (fabs(right - left) > FD_TOL_ABS + FD_TOL_REL * fabs(num) + 10 * FD_EPS * (fabs(right) + fabs(left)) + 0.05)
            continue;
        /* A kink within eps whose slope change is too small for that test
         * (max pooling's near-ties): the analytic gradient is one of the
         * one-sided slopes there, the central difference their mean. */
        double tol = FD_TOL_ABS + FD_TOL_REL * fabs(a);
        if (fabs(right - left) > tol && fmin(fabs(a - left), fabs(a - right)) <= tol)
            continue;
        checked++;
        if (fabs(num - a) > tol) {
            snprintf(msg, cap,
                     "gradient check of %s[%zu]: analytic %.6g, finite "
                     "difference %.6g",
                     what, i, a, num);
            ok = 0;
        }
    }
    free(probe.out);
    for (int i = 0; i < CLNET__MAX_STATE; i++)
        free(probe.state[i]);
    for (int i = 0; i < CLNET__MAX_SAVED; i++)
        free(probe.saved[i]);
    (void)checked;
    return ok;
}

/* ||dev - ref|| <= tol; NaN fails. */
static int compare_tol(const float *dev, const float *ref, size_t n, double tol,
                       const char *what, char *msg, size_t cap)
{
    double diff = 0, norm = 0;
    size_t worst = 0;
    double worst_err = -1;
    for (size_t i = 0; i < n; i++) {
        double d = (double)dev[i] - (double)ref[i];
        if (isnan(dev[i]) || isinf(dev[i])) {
            snprintf(msg, cap, "%s[%zu] is %g on the device (reference %g): "
                               "element not written?",
                     what, i, (double)dev[i], (double)ref[i]);
            return 0;
        }
        diff += d * d;
        norm += (double)ref[i] * ref[i];
        if (fabs(d) > worst_err) {
            worst_err = fabs(d);
            worst = i;
        }
    }
    if (sqrt(diff) > tol * sqrt(norm) + 1e-6 * sqrt((double)n)) {
        snprintf(msg, cap,
                 "%s: device differs from reference: relative error %.3g > %g "
                 "(worst at [%zu]: device %.7g, reference %.7g)",
                 what, sqrt(diff) / (sqrt(norm) + 1e-30), tol, worst,
                 (double)dev[worst], (double)ref[worst]);
        return 0;
    }
    return 1;
}

static int compare(const float *dev, const float *ref, size_t n, const char *what,
                   char *msg, size_t cap)
{
    return compare_tol(dev, ref, n, OP_TOL_REL, what, msg, cap);
}

typedef struct dev_tensors {
    clnet__buf *bufs[64];
    int nbufs;
} dev_tensors;

static clnet__tensor dev_upload(clnet_ctx *ctx, dev_tensors *d, const float *src,
                                size_t n, float poison, int *err);

/* The same for an activation tensor of a half-storage check: stored as
 * half (clnet__tensor.half), at an odd offset too. */
static clnet__tensor dev_upload_act(clnet_ctx *ctx, dev_tensors *d, const float *src,
                                    size_t n, float poison, int half, int *err)
{
    if (!half)
        return dev_upload(ctx, d, src, n, poison, err);
    clnet__tensor t = {0};
    clnet__buf *b = NULL;
    size_t total = n + DEV_OFFSET + 1;
    if (clnet__buf_create(ctx, total * sizeof(uint16_t), &b) != CLNET_OK) {
        *err = 1;
        return t;
    }
    d->bufs[d->nbufs++] = b;
    uint16_t *tmp = malloc(total * sizeof(uint16_t));
    for (size_t i = 0; i < total; i++)
        tmp[i] = clnet__half_from_float(i >= DEV_OFFSET && src && i - DEV_OFFSET < n
                                            ? src[i - DEV_OFFSET] : poison);
    if (clnet__buf_write(ctx, b, 0, total * sizeof(uint16_t), tmp) != CLNET_OK)
        *err = 1;
    free(tmp);
    t.buf = b;
    t.off = DEV_OFFSET;
    t.half = 1;
    return t;
}

/* A half-storage check's scratch in its fp16-storage layout (op.h,
 * clnet__work_bytes), NaN throughout, at an even offset (as arena offsets
 * are) that is not 0. */
static clnet__tensor dev_upload_work_half(clnet_ctx *ctx, dev_tensors *d,
                                          const clnet__op_plan *plan, int *err)
{
    clnet__tensor t = {0};
    size_t off = 2 * DEV_OFFSET, n = off + clnet__work_bytes(plan, 1) / 2 + 2;
    clnet__buf *b = NULL;
    uint16_t *tmp = malloc(n * sizeof(uint16_t));
    if (!tmp || clnet__buf_create(ctx, n * sizeof(uint16_t), &b) != CLNET_OK) {
        free(tmp);
        *err = 1;
        return t;
    }
    d->bufs[d->nbufs++] = b;
    for (size_t i = 0; i < n; i++)
        tmp[i] = 0x7e00; /* a half NaN; two of them a float of about 8e37 */
    if (clnet__buf_write(ctx, b, 0, n * sizeof(uint16_t), tmp) != CLNET_OK)
        *err = 1;
    free(tmp);
    t.buf = b;
    t.off = off;
    t.half = 1;
    return t;
}

static clnet__tensor dev_upload(clnet_ctx *ctx, dev_tensors *d, const float *src,
                                size_t n, float poison, int *err)
{
    clnet__tensor t = {0};
    clnet__buf *b = NULL;
    size_t total = n + DEV_OFFSET + 1;
    if (clnet__buf_create(ctx, total * sizeof(float), &b) != CLNET_OK) {
        *err = 1;
        return t;
    }
    d->bufs[d->nbufs++] = b;
    float *tmp = malloc(total * sizeof(float));
    for (size_t i = 0; i < total; i++)
        tmp[i] = poison;
    if (src)
        memcpy(tmp + DEV_OFFSET, src, n * sizeof(float));
    if (clnet__buf_write(ctx, b, 0, total * sizeof(float), tmp) != CLNET_OK)
        *err = 1;
    free(tmp);
    t.buf = b;
    t.off = DEV_OFFSET;
    return t;
}

static float *dev_download(clnet_ctx *ctx, clnet__tensor t, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (t.half) {
        uint16_t *h = malloc((n ? n : 1) * sizeof(uint16_t));
        int ok = !n || clnet__buf_read(ctx, t.buf, t.off * sizeof(uint16_t),
                                       n * sizeof(uint16_t), h) == CLNET_OK;
        for (size_t i = 0; ok && i < n; i++)
            p[i] = clnet__half_to_float(h[i]);
        free(h);
        if (!ok) {
            free(p);
            return NULL;
        }
        return p;
    }
    if (n && clnet__buf_read(ctx, t.buf, t.off * sizeof(float), n * sizeof(float), p) != CLNET_OK) {
        free(p);
        return NULL;
    }
    return p;
}

/* The backward of an op that writes its first contribution (op.h,
 * din_write): input gradients poisoned with NaN, every din_write bit set;
 * they must equal the reference's gradients from zero. */
static int write_mode_check(clnet_ctx *ctx, const clnet__op *op,
                            const void *params, const clnet__op_case *c,
                            const clnet__op_plan *plan, tensors *t,
                            uint64_t seed, dev_tensors *d, clnet__op_io *io,
                            char *msg, size_t cap)
{
    float *keep[CLNET__MAX_IN];
    int err = 0;
    for (int i = 0; i < c->n_in; i++) {
        keep[i] = t->din0[i];
        t->din0[i] = calloc(t->n_in[i] ? t->n_in[i] : 1, sizeof(float));
        io->din[i] = dev_upload(ctx, d, NULL, t->n_in[i], NAN, &err);
    }
    ref_backward(op, params, c, plan, t, seed);
    for (int i = 0; i < c->n_in; i++) {
        free(t->din0[i]);
        t->din0[i] = keep[i];
    }
    if (err) {
        snprintf(msg, cap, "device buffers: %s", clnet_errmsg(ctx));
        return 0;
    }
    io->din_write = (1u << c->n_in) - 1u;
    clnet_status st = op->backward(ctx, params, io);
    if (st == CLNET_OK)
        st = clnet__finish(ctx);
    if (st != CLNET_OK) {
        snprintf(msg, cap, "backward writing din: %s: %s", clnet_status_name(st),
                 clnet_errmsg(ctx));
        return 0;
    }
    int ok = 1;
    for (int i = 0; ok && i < c->n_in; i++) {
        float *g = dev_download(ctx, io->din[i], t->n_in[i]);
        char what[48];
        snprintf(what, sizeof what, "input %d gradient (written)", i);
        ok = g && compare(g, t->din[i], t->n_in[i], what, msg, cap);
        free(g);
    }
    return ok;
}

static int device_check(clnet_ctx *ctx, const clnet__op *op, const void *params,
                        const clnet__op_case *c, const clnet__op_plan *plan, tensors *t,
                        uint64_t seed, int full, int half, char *msg, size_t cap)
{
    dev_tensors d = {0};
    const double tol = half ? OP_TOL_HALF : OP_TOL_REL;
    int err = 0, ok = 1;
    const float nan = NAN;
    clnet__op_io io = {0};
    io.n_in = c->n_in;
    for (int i = 0; i < c->n_in; i++) {
        io.in_shape[i] = c->in[i];
        io.in[i] = dev_upload_act(ctx, &d, t->in[i], t->n_in[i], nan,
                                  half & CLNET__HALF_IN, &err);
        if (c->training)
            io.din[i] = dev_upload_act(ctx, &d, t->din0[i], t->n_in[i], nan,
                                       half & CLNET__HALF_DIN, &err);
    }
    io.out_shape = plan->out;
    io.out = dev_upload_act(ctx, &d, NULL, t->n_out, nan, half & CLNET__HALF_OUT, &err);
    if (c->training)
        io.dout = dev_upload_act(ctx, &d, t->dout, t->n_out, nan, half & CLNET__HALF_DOUT,
                                 &err);
    for (int i = 0; i < plan->n_params; i++) {
        io.param[i] = dev_upload(ctx, &d, t->param[i], t->n_param[i], nan, &err);
        if (c->training)
            io.dparam[i] = dev_upload(ctx, &d, t->dparam0[i], t->n_param[i], nan, &err);
    }
    for (int i = 0; i < plan->n_state; i++)
        io.state[i] = dev_upload(ctx, &d, t->state0[i], t->n_state[i], nan, &err);
    for (int i = 0; i < plan->n_saved; i++)
        io.saved[i] = dev_upload(ctx, &d, NULL, t->n_saved[i], nan, &err);
    if (half && plan->work_half)
        io.work = dev_upload_work_half(ctx, &d, plan, &err);
    else if (t->n_work)
        io.work = dev_upload(ctx, &d, NULL, t->n_work, nan, &err);
    io.training = c->training;
    io.seed = seed;
    if (err) {
        snprintf(msg, cap, "device buffers: %s", clnet_errmsg(ctx));
        ok = 0;
        goto done;
    }
    clnet_status st = op->forward(ctx, params, &io);
    if (st == CLNET_OK)
        st = clnet__finish(ctx);
    if (st != CLNET_OK) {
        snprintf(msg, cap, "forward: %s: %s", clnet_status_name(st), clnet_errmsg(ctx));
        ok = 0;
        goto done;
    }
    float *out = dev_download(ctx, io.out, t->n_out);
    ok = out && compare_tol(out, t->out, t->n_out, tol, "forward output", msg, cap);
    free(out);
    for (int i = 0; ok && i < plan->n_state; i++) {
        float *s = dev_download(ctx, io.state[i], t->n_state[i]);
        ok = s && compare_tol(s, t->state[i], t->n_state[i], tol, plan->state_name[i],
                              msg, cap);
        free(s);
    }
    if (!ok || !c->training)
        goto done;
    st = op->backward(ctx, params, &io);
    if (st == CLNET_OK)
        st = clnet__finish(ctx);
    if (st != CLNET_OK) {
        snprintf(msg, cap, "backward: %s: %s", clnet_status_name(st), clnet_errmsg(ctx));
        ok = 0;
        goto done;
    }
    for (int i = 0; ok && i < c->n_in; i++) {
        float *g = dev_download(ctx, io.din[i], t->n_in[i]);
        char what[32];
        snprintf(what, sizeof what, "input %d gradient", i);
        ok = g && compare_tol(g, t->din[i], t->n_in[i], tol, what, msg, cap);
        free(g);
    }
    for (int i = 0; ok && i < plan->n_params; i++) {
        float *g = dev_download(ctx, io.dparam[i], t->n_param[i]);
        char what[64];
        snprintf(what, sizeof what, "%s gradient", plan->param_name[i]);
        ok = g && compare_tol(g, t->dparam[i], t->n_param[i], tol, what, msg, cap);
        free(g);
    }
    /* Full runs only: quick ones (oclgrind, forced local sizes) run the
     * same kernels, and the poisoned buffers are initialised memory to
     * oclgrind anyway. */
    if (ok && full && op->writes_din)
        ok = write_mode_check(ctx, op, params, c, plan, t, seed, &d, &io, msg, cap);
done:
    for (int i = 0; i < d.nbufs; i++)
        clnet__buf_release(ctx, d.bufs[i]);
    return ok;
}

/* Rounds n values to the nearest half, as a half-storage upload does. */
static void round_half(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = clnet__half_to_float(clnet__half_from_float(x[i]));
}

static int case_check(clnet_ctx *ctx, const clnet__op_case *c, uint64_t seed,
                      int grad_check, int half, char *msg, size_t cap)
{
    msg[0] = '\0';
    const clnet__op *op = clnet__op_find(c->op);
    if (!op || !op->plan || !op->forward || !op->ref_forward) {
        snprintf(msg, cap, "op '%s' is missing or not implemented", c->op);
        return 0;
    }
    unsigned char params[CLNET__PARAMS_MAX];
    char err[512] = "";
    if (clnet__op_params_parse(op, params, c->params, err, sizeof err) != CLNET_OK) {
        snprintf(msg, cap, "params: %s", err);
        return 0;
    }
    clnet__op_plan plan = {0};
    if (op->plan(params, c->n_in, c->in, &plan, err, sizeof err) != CLNET_OK) {
        snprintf(msg, cap, "plan: %s", err);
        return 0;
    }
    check_rng r;
    rng_seed(&r, seed);
    tensors t;
    make_tensors(c, &plan, &r, &t);
    /* Half storage: the reference sees the values the device stores. */
    for (int i = 0; (half & CLNET__HALF_IN) && i < c->n_in; i++) {
        round_half(t.in[i], t.n_in[i]);
    }
    for (int i = 0; (half & CLNET__HALF_DIN) && c->training && i < c->n_in; i++)
        round_half(t.din0[i], t.n_in[i]);
    if ((half & CLNET__HALF_DOUT) && c->training)
        round_half(t.dout, t.n_out);
    ref_loss(op, params, c, &plan, &t, seed, 0);
    int ok = 1;
    if (c->training && grad_check) {
        ref_backward(op, params, c, &plan, &t, seed);
        for (int i = 0; ok && i < c->n_in; i++) {
            char what[32];
            snprintf(what, sizeof what, "input %d", i);
            ok = grad_check_tensor(op, params, c, &plan, &t, seed, t.in[i],
                                   t.n_in[i], t.din[i], t.din0[i], what, &r, msg, cap);
        }
        for (int i = 0; ok && i < plan.n_params; i++)
            ok = grad_check_tensor(op, params, c, &plan, &t, seed, t.param[i],
                                   t.n_param[i], t.dparam[i], t.dparam0[i],
                                   plan.param_name[i], &r, msg, cap);
    }
    /* (Re)compute the reference outputs the finite differences overwrote. */
    ref_loss(op, params, c, &plan, &t, seed, 0);
    if (c->training)
        ref_backward(op, params, c, &plan, &t, seed);
    if (ok)
        ok = device_check(ctx, op, params, c, &plan, &t, seed, grad_check, half,
                          msg, cap);
    tensors_free(&t);
    return ok;
}

int clnet__op_case_check(clnet_ctx *ctx, const clnet__op_case *c, uint64_t seed,
                         int grad_check, char *msg, size_t cap)
{
    return case_check(ctx, c, seed, grad_check, 0, msg, cap);
}

int clnet__op_case_check_half(clnet_ctx *ctx, const clnet__op_case *c,
                              uint64_t seed, int halves, char *msg, size_t cap)
{
    halves &= CLNET__HALF_IN | CLNET__HALF_OUT | CLNET__HALF_DIN | CLNET__HALF_DOUT;
    if (!halves) {
        snprintf(msg, cap, "half check with nothing stored as half");
        return 0;
    }
    return case_check(ctx, c, seed, 0, halves, msg, cap);
}
