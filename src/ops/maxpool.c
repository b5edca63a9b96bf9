/* maxpool2d: the largest value of each window (padding counts as -inf).
 * Backward routes each output gradient to the first maximum of its window
 * (row-major order; NaN wins so it propagates), the same rule on the host
 * and the device.
 *
 * The device forward saves each window's argmax (saved[0], one float per
 * output holding the exact index within the h x w plane) and backward adds
 * dy there, one work-item per window, in phases of non-overlapping windows
 * (no atomics, deterministic; cl/pool.cl). On PoCL a 2x2/2 backward over
 * [64,32,28,28] takes ~0.5 ms this way, against ~10 ms for a gather that
 * recomputes each window's argmax from the input; the price is one float
 * per output. The reference recomputes the argmax instead: simpler, and the
 * same tie rule. */
#include "ops/all_ops.h"
#include "ops/op_util.h"
#include "ops/pool_common.h"

#include <math.h>
#include <stdlib.h>

static void maxpool_defaults(void *p)
{
    clnet__pool_defaults(p, 0);
}

/* Index (within one h x w plane) of the first maximum of output (oh, ow)'s
 * window; every window holds at least one input element (pad <= k/2). */
static size_t ref_argmax(const clnet__pool_params *p, const float *x, int h,
                         int w, int oh, int ow)
{
    int h0 = oh * clnet__pool_stride_h(p) - p->ph;
    int w0 = ow * clnet__pool_stride_w(p) - p->pw;
    size_t best = (size_t)(h0 > 0 ? h0 : 0) * (size_t)w + (size_t)(w0 > 0 ? w0 : 0);
    float m = -INFINITY;
    for (int y = h0; y < h0 + p->kh; y++)
        for (int x0 = w0; x0 < w0 + p->kw; x0++) {
            if (y < 0 || y >= h || x0 < 0 || x0 >= w)
                continue;
            float v = x[(size_t)y * w + x0];
            if (v > m || (isnan(v) && !isnan(m))) {
                m = v;
                best = (size_t)y * w + x0;
            }
        }
    return best;
}

static void maxpool_ref_forward(const void *params, const clnet__ref_io *io)
{
    const clnet__pool_params *p = params;
    clnet__shape i = io->in_shape[0], o = io->out_shape;
    size_t plane = (size_t)i.h * i.w;
    for (size_t nc = 0; nc < (size_t)i.n * i.c; nc++) {
        const float *x = io->in[0] + nc * plane;
        float *y = io->out + nc * (size_t)o.h * o.w;
        for (int oh = 0; oh < o.h; oh++)
            for (int ow = 0; ow < o.w; ow++)
                y[oh * o.w + ow] = x[ref_argmax(p, x, i.h, i.w, oh, ow)];
    }
}

static void maxpool_ref_backward(const void *params, const clnet__ref_io *io)
{
    const clnet__pool_params *p = params;
    if (!io->din[0])
        return;
    clnet__shape i = io->in_shape[0], o = io->out_shape;
    size_t plane = (size_t)i.h * i.w;
    double *acc = calloc(plane, sizeof *acc);
    if (!acc)
        return;
    for (size_t nc = 0; nc < (size_t)i.n * i.c; nc++) {
        const float *x = io->in[0] + nc * plane;
        const float *dy = io->dout + nc * (size_t)o.h * o.w;
        for (size_t j = 0; j < plane; j++)
            acc[j] = 0;
        for (int oh = 0; oh < o.h; oh++)
            for (int ow = 0; ow < o.w; ow++)
                acc[ref_argmax(p, x, i.h, i.w, oh, ow)] += dy[oh * o.w + ow];
        for (size_t j = 0; j < plane; j++)
            io->din[0][nc * plane + j] += (float)acc[j];
    }
    free(acc);
}

const clnet__op clnet__op_maxpool = {
    .name = "maxpool",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(clnet__pool_params),
    .defaults = maxpool_defaults,
    .set = clnet__pool_set,
    .plan = clnet__pool_plan,
    .forward = clnet__pool_forward,
    .backward = clnet__pool_backward,
    .ref_forward = maxpool_ref_forward,
    .ref_backward = maxpool_ref_backward,
};
