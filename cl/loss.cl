/* Softmax cross-entropy and softmax, one work-item per sample (row of k
 * logits). Every row is shifted by its maximum before exp (log-sum-exp), so
 * logits of any finite size give finite results. */
#include "common.h"

/* Per-sample loss, top-1 and top-5 hits into work[0..n), work[n..2n),
 * work[2n..3n) (summed by xent_stats, which keeps the sum deterministic), and
 * when want_grad, dx[i, :] = gscale * (softmax - q), gscale = scale / n,
 * q = (1 - s) onehot(label) + s / k. A label outside [0, k) gives zeros.
 * Top-k: the classes whose logit is strictly greater than the label's are
 * counted, so a tie is resolved in favour of the label; a NaN label logit is
 * never a hit. dx may be the same tensor as x (each element is read before
 * it is written by the same work-item). */
kernel void xent_forward(uint n, uint k, float smoothing, float gscale,
                         CTENSOR(x), CTENSOR(labels), uint want_grad,
                         TENSOR(dx), TENSOR(work))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    global const STORE_T(x) *row = AT(x) + (size_t)i * k;
#define ROW(j) LOADP(HALF_OF(x), row, j)
    int label = as_int(AT(labels)[i]);
    bool valid = label >= 0 && (uint)label < k;
    float xy = valid ? ROW(label) : 0.0f;
    float m = ROW(0);
    uint greater = 0;
    for (uint j = 0; j < k; j++) {
        float v = ROW(j);
        m = fmax(m, v);
        greater += v > xy ? 1u : 0u;
    }
    /* sum of exp(x - m), and sum of (m - x) for the smoothing term; both
     * stay finite where sum(x) itself might not. */
    float s = 0.0f, below = 0.0f;
    for (uint j = 0; j < k; j++) {
        float v = ROW(j);
        s += exp(v - m);
        below += m - v;
    }
    float lse_m = log(s); /* log-sum-exp minus m */
    float loss = 0.0f, hit1 = 0.0f, hit5 = 0.0f;
    if (valid) {
        loss = (1.0f - smoothing) * ((m - xy) + lse_m) +
               smoothing * (lse_m + below / (float)k);
        hit1 = (greater == 0 && xy == xy) ? 1.0f : 0.0f;
        hit5 = (greater < 5 && xy == xy) ? 1.0f : 0.0f;
    }
    global float *w = AT(work);
    w[i] = loss;
    w[n + i] = hit1;
    w[2 * n + i] = hit5;
    if (!want_grad)
        return;
    global STORE_T(dx) *g = AT(dx) + (size_t)i * k;
    float inv_s = 1.0f / s, q_off = smoothing / (float)k;
    float q_on = 1.0f - smoothing;
    for (uint j = 0; j < k; j++) {
        float q = q_off + ((int)j == label ? q_on : 0.0f);
        STOREP(HALF_OF(dx), g, j, valid ? gscale * (exp(ROW(j) - m) * inv_s - q) : 0.0f);
    }
#undef ROW
}

/* stats[0..2] += column sums of the per-sample work; stats[3] += n. One
 * work-item per statistic looping in order: deterministic. */
kernel void xent_stats(uint n, CTENSOR(work), TENSOR(stats))
{
    uint s = get_global_id(0);
    if (s >= 4)
        return;
    float sum = (float)n;
    if (s < 3) {
        global const float *w = AT(work) + (size_t)s * n;
        sum = 0.0f;
        for (uint i = 0; i < n; i++)
            sum += w[i];
    }
    AT(stats)[s] += sum;
}

/* p[i, :] = softmax(x[i, :]); p may be the same tensor as x. */
kernel void softmax_rows(uint n, uint k, CTENSOR(x), TENSOR(p))
{
    uint i = get_global_id(0);
    if (i >= n)
        return;
    global const STORE_T(x) *row = AT(x) + (size_t)i * k;
    global STORE_T(p) *out = AT(p) + (size_t)i * k;
#define ROW(j) LOADP(HALF_OF(x), row, j)
    float m = ROW(0);
    for (uint j = 0; j < k; j++)
        m = fmax(m, ROW(j));
    float s = 0.0f;
    for (uint j = 0; j < k; j++)
        s += exp(ROW(j) - m);
    float inv_s = 1.0f / s;
    for (uint j = 0; j < k; j++)
        STOREP(HALF_OF(p), out, j, exp(ROW(j) - m) * inv_s);
#undef ROW
}
