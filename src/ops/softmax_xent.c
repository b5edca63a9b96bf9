/* Softmax cross-entropy (the training loss, appended by the graph after the
 * logits) and row-wise softmax (inference). Kernels in cl/loss.cl; the
 * semantics are documented in loss.h. */
#include "ops/loss.h"
#include "ops/op_util.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>

size_t clnet__xent_work_count(int n)
{
    return n > 0 ? 3 * (size_t)n : 0;
}

/* The tensor view must hold `need` floats after its offset. */
static clnet_status check_room(clnet_ctx *ctx, const char *fn, const char *what,
                               clnet__tensor t, size_t need, const char *how)
{
    if (!t.buf)
        return clnet__fail(ctx, CLNET_EINVAL, "%s: %s tensor has no buffer", fn,
                           what);
    size_t have = t.buf->bytes / clnet__esize(t);
    have = have > t.off ? have - t.off : 0;
    if (have < need)
        return clnet__fail(ctx, CLNET_ESHAPE,
                           "%s: %s holds %zu elements after offset %zu, needs %s = %zu",
                           fn, what, have, t.off, how, need);
    return CLNET_OK;
}

static clnet_status check_sizes(clnet_ctx *ctx, const char *fn, int n, int k)
{
    if (n < 1)
        return clnet__fail(ctx, CLNET_EINVAL, "%s: batch size n=%d must be at least 1",
                           fn, n);
    if (k < 1)
        return clnet__fail(ctx, CLNET_EINVAL, "%s: class count k=%d must be at least 1",
                           fn, k);
    if ((size_t)n * (size_t)k > UINT_MAX / 3)
        return clnet__fail(ctx, CLNET_EINVAL, "%s: n=%d x k=%d logits is too large",
                           fn, n, k);
    return CLNET_OK;
}

clnet_status clnet__xent(clnet_ctx *ctx, int n, int k, float smoothing,
                         float scale, clnet__tensor logits,
                         clnet__tensor labels, clnet__tensor dlogits,
                         clnet__tensor stats, clnet__tensor work)
{
    static const char fn[] = "softmax cross-entropy";
    clnet_status st = check_sizes(ctx, fn, n, k);
    if (st != CLNET_OK)
        return st;
    if (!(smoothing >= 0.0f && smoothing < 1.0f))
        return clnet__fail(ctx, CLNET_EINVAL,
                           "%s: label smoothing %g must be in [0, 1)", fn,
                           (double)smoothing);
    if (!isfinite(scale))
        return clnet__fail(ctx, CLNET_EINVAL, "%s: loss scale %g is not finite",
                           fn, (double)scale);
    size_t nk = (size_t)n * (size_t)k;
    if ((st = check_room(ctx, fn, "logits", logits, nk, "n*k")) != CLNET_OK ||
        (st = check_room(ctx, fn, "labels", labels, (size_t)n, "n")) != CLNET_OK ||
        (dlogits.buf &&
         (st = check_room(ctx, fn, "dlogits", dlogits, nk, "n*k")) != CLNET_OK) ||
        (st = check_room(ctx, fn, "stats", stats, CLNET__STAT_COUNT, "4")) != CLNET_OK ||
        (st = check_room(ctx, fn, "work", work, clnet__xent_work_count(n), "3*n")) != CLNET_OK)
        return st;
    clnet__kernel *fwd = NULL, *sum = NULL;
    /* Logits and their gradient may be half (cl/common.h). */
    char opt[64] = "";
    clnet__half_opt(opt, sizeof opt, "x", logits);
    clnet__half_opt(opt, sizeof opt, "dx", dlogits.buf ? dlogits : logits);
    if ((st = clnet__kernel_get(ctx, "loss", opt, "xent_forward", &fwd)) != CLNET_OK ||
        (st = clnet__kernel_get(ctx, "loss", NULL, "xent_stats", &sum)) != CLNET_OK)
        return st;
    /* Without a gradient the kernel still needs a buffer argument. */
    int want_grad = dlogits.buf != NULL;
    clnet__tensor grad = want_grad ? dlogits : logits;
    st = CLNET__LAUNCH_N(ctx, fwd, (size_t)n, CLNET_ARG_U32(n), CLNET_ARG_U32(k),
                         CLNET_ARG_F32(smoothing), CLNET_ARG_F32(scale / (float)n),
                         CLNET_ARG_T(logits), CLNET_ARG_T(labels),
                         CLNET_ARG_U32(want_grad), CLNET_ARG_T(grad),
                         CLNET_ARG_T(work));
    if (st != CLNET_OK)
        return st;
    return CLNET__LAUNCH_N(ctx, sum, CLNET__STAT_COUNT, CLNET_ARG_U32(n),
                           CLNET_ARG_T(work), CLNET_ARG_T(stats));
}

/* log(sum_j exp(x_j)) of one row, shifted by the row's maximum. */
static double ref_log_sum_exp(const float *x, int k)
{
    double m = x[0];
    for (int j = 1; j < k; j++)
        m = x[j] > m ? x[j] : m;
    double s = 0;
    for (int j = 0; j < k; j++)
        s += exp(x[j] - m);
    return m + log(s);
}

void clnet__xent_ref(int n, int k, float smoothing, float scale,
                     const float *logits, const int32_t *labels,
                     float *dlogits, double stats[4])
{
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * k;
        int y = labels[i];
        bool valid = y >= 0 && y < k;
        double lse = ref_log_sum_exp(x, k);
        stats[CLNET__STAT_SAMPLES] += 1;
        if (valid) {
            double loss = 0;
            int greater = 0;
            for (int j = 0; j < k; j++) {
                double q = smoothing / (double)k + (j == y ? 1.0 - smoothing : 0.0);
                loss -= q * (x[j] - lse);
                greater += x[j] > x[y];
            }
            stats[CLNET__STAT_LOSS_SUM] += loss;
            stats[CLNET__STAT_CORRECT] += greater == 0 && !isnan(x[y]);
            stats[CLNET__STAT_CORRECT5] += greater < 5 && !isnan(x[y]);
        }
        for (int j = 0; dlogits && j < k; j++) {
            double q = smoothing / (double)k + (j == y ? 1.0 - smoothing : 0.0);
            double g = scale * (exp(x[j] - lse) - q) / n;
            dlogits[(size_t)i * k + j] = valid ? (float)g : 0.0f;
        }
    }
}

clnet_status clnet__softmax(clnet_ctx *ctx, int n, int k, clnet__tensor logits,
                            clnet__tensor probs)
{
    static const char fn[] = "softmax";
    clnet_status st = check_sizes(ctx, fn, n, k);
    size_t nk = (size_t)n * (size_t)k;
    if (st != CLNET_OK ||
        (st = check_room(ctx, fn, "logits", logits, nk, "n*k")) != CLNET_OK ||
        (st = check_room(ctx, fn, "probs", probs, nk, "n*k")) != CLNET_OK)
        return st;
    clnet__kernel *kern = NULL;
    char opt[64] = "";
    clnet__half_opt(opt, sizeof opt, "x", logits);
    clnet__half_opt(opt, sizeof opt, "p", probs);
    if ((st = clnet__kernel_get(ctx, "loss", opt, "softmax_rows", &kern)) != CLNET_OK)
        return st;
    return CLNET__LAUNCH_N(ctx, kern, (size_t)n, CLNET_ARG_U32(n), CLNET_ARG_U32(k),
                           CLNET_ARG_T(logits), CLNET_ARG_T(probs));
}

void clnet__softmax_ref(int n, int k, const float *logits, float *probs)
{
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * k;
        float *p = probs + (size_t)i * k;
        double lse = ref_log_sum_exp(x, k);
        for (int j = 0; j < k; j++)
            p[j] = (float)exp(x[j] - lse);
    }
}
