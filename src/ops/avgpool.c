/* avgpool2d: the mean of each window, PyTorch's divisor included: with
 * count_include_pad=1 the window's size clipped to the padded input (a
 * ceil_mode window may reach past the padding), else the number of real
 * input elements it covers. Device backward is a gather (one work-item per
 * input element summing dy/divisor over its windows): no atomics. */
#include "ops/all_ops.h"
#include "ops/op_util.h"
#include "ops/pool_common.h"

#include <stdlib.h>

static void avgpool_defaults(void *p)
{
    clnet__pool_defaults(p, 1);
}

/* Output (oh, ow)'s window clipped to the input: rows [*h0, *h1), columns
 * [*w0, *w1); returns its divisor. */
static int ref_window(const clnet__pool_params *p, int h, int w, int oh, int ow,
                      int *h0, int *h1, int *w0, int *w1)
{
    int hs = oh * clnet__pool_stride_h(p) - p->ph;
    int ws = ow * clnet__pool_stride_w(p) - p->pw;
    int he = hs + p->kh < h + p->ph ? hs + p->kh : h + p->ph;
    int we = ws + p->kw < w + p->pw ? ws + p->kw : w + p->pw;
    int padded = (he - hs) * (we - ws);
    *h0 = hs > 0 ? hs : 0;
    *w0 = ws > 0 ? ws : 0;
    *h1 = he < h ? he : h;
    *w1 = we < w ? we : w;
    return p->count_include_pad ? padded : (*h1 - *h0) * (*w1 - *w0);
}

static void avgpool_ref_forward(const void *params, const clnet__ref_io *io)
{
    const clnet__pool_params *p = params;
    clnet__shape i = io->in_shape[0], o = io->out_shape;
    for (size_t nc = 0; nc < (size_t)i.n * i.c; nc++) {
        const float *x = io->in[0] + nc * i.h * i.w;
        float *y = io->out + nc * o.h * o.w;
        for (int oh = 0; oh < o.h; oh++)
            for (int ow = 0; ow < o.w; ow++) {
                int h0, h1, w0, w1;
                int div = ref_window(p, i.h, i.w, oh, ow, &h0, &h1, &w0, &w1);
                double s = 0;
                for (int r = h0; r < h1; r++)
                    for (int c = w0; c < w1; c++)
                        s += x[r * i.w + c];
                y[oh * o.w + ow] = (float)(s / div);
            }
    }
}

static void avgpool_ref_backward(const void *params, const clnet__ref_io *io)
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
        const float *dy = io->dout + nc * o.h * o.w;
        for (size_t j = 0; j < plane; j++)
            acc[j] = 0;
        for (int oh = 0; oh < o.h; oh++)
            for (int ow = 0; ow < o.w; ow++) {
                int h0, h1, w0, w1;
                int div = ref_window(p, i.h, i.w, oh, ow, &h0, &h1, &w0, &w1);
                for (int r = h0; r < h1; r++)
                    for (int c = w0; c < w1; c++)
                        acc[r * i.w + c] += (double)dy[oh * o.w + ow] / div;
            }
        for (size_t j = 0; j < plane; j++)
            io->din[0][nc * plane + j] += (float)acc[j];
    }
    free(acc);
}

const clnet__op clnet__op_avgpool = {
    .name = "avgpool",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(clnet__pool_params),
    .defaults = avgpool_defaults,
    .set = clnet__pool_set,
    .plan = clnet__pool_plan,
    .forward = clnet__pool_forward,
    .backward = clnet__pool_backward,
    .ref_forward = avgpool_ref_forward,
    .ref_backward = avgpool_ref_backward,
};
