/* conv2d: parameters, shape inference and the op table. The reference is in
 * conv_ref.c, the device code in conv_device.c (strategy in conv.h). */
#include "ops/all_ops.h"
#include "ops/conv.h"
#include "ops/op_util.h"

#include <stdint.h>
#include <string.h>

#define CONV_MAX_DIM 4096       /* kernel, stride, pad, dilation */
#define CONV_MAX_CH (1 << 20)   /* filters, groups, batch_chunk */

static void conv_defaults(void *params)
{
    *(conv_params *)params = (conv_params){
        .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
        .groups = 1, .bias = 1,
    };
}

static clnet_status conv_set(void *params, const char *key, const char *value,
                             char *err, size_t errlen)
{
    conv_params *p = params;
    if (strcmp(key, "filters") == 0)
        return clnet__parse_int(key, value, 1, CONV_MAX_CH, &p->filters, err, errlen);
    if (strcmp(key, "kernel") == 0)
        return clnet__parse_pair(key, value, 1, CONV_MAX_DIM, &p->kh, &p->kw, err, errlen);
    if (strcmp(key, "stride") == 0)
        return clnet__parse_pair(key, value, 1, CONV_MAX_DIM, &p->sh, &p->sw, err, errlen);
    if (strcmp(key, "dilation") == 0)
        return clnet__parse_pair(key, value, 1, CONV_MAX_DIM, &p->dh, &p->dw, err, errlen);
    if (strcmp(key, "pad") == 0) {
        clnet_status st = clnet__parse_pair(key, value, 0, CONV_MAX_DIM, &p->pt,
                                            &p->pl, err, errlen);
        p->pb = p->pt;
        p->pr = p->pl;
        return st;
    }
    static const char *const sides[] = {"pad_top", "pad_bottom", "pad_left", "pad_right"};
    int *side[] = {&p->pt, &p->pb, &p->pl, &p->pr};
    for (int i = 0; i < 4; i++)
        if (strcmp(key, sides[i]) == 0)
            return clnet__parse_int(key, value, 0, CONV_MAX_DIM, side[i], err, errlen);
    if (strcmp(key, "groups") == 0)
        return clnet__parse_int(key, value, 1, CONV_MAX_CH, &p->groups, err, errlen);
    if (strcmp(key, "bias") == 0)
        return clnet__parse_bool(key, value, &p->bias, err, errlen);
    if (strcmp(key, "algo") == 0) {
        static const char *const algos[] = {"auto", "gemm", "direct", "implicit"};
        for (int i = 0; i < (int)(sizeof algos / sizeof algos[0]); i++)
            if (value && strcmp(value, algos[i]) == 0) {
                p->algo = i;
                return CLNET_OK;
            }
        return clnet__op_error(err, errlen, CLNET_EPARSE,
                               "algo=%s: expected auto, gemm, direct or implicit",
                               value ? value : "");
    }
    if (strcmp(key, "batch_chunk") == 0)
        return clnet__parse_int(key, value, 0, CONV_MAX_CH, &p->batch_chunk, err, errlen);
    return clnet__unknown_key("conv", key, err, errlen);
}

/* Output extent along one axis, or -1 when the padded input is smaller than
 * the dilated kernel. */
static long long out_extent(int in, int pad_a, int pad_b, int k, int dil, int stride)
{
    long long span = (long long)in + pad_a + pad_b;
    long long ek = (long long)dil * (k - 1) + 1;
    return span < ek ? -1 : (span - ek) / stride + 1;
}

/* The automatic choice (measured on PoCL, tools/bench/RESULTS.md,
 * 2026-12-06): grouped convs with few taps per output (depthwise) run
 * direct; stride 1 runs the implicit GEMM, even with a tiny inner dimension
 * (a 1- or 3-channel first layer: 5-10x faster than direct), except a 1x1
 * conv on maps of at least CONV_1X1_MIN_P positions, a GEMM straight on
 * NCHW with no copies (on smaller maps its per-image GEMMs are too narrow:
 * 256 channels on 4x4 took 57 ms a step, not 5); strided convs with few
 * taps run direct, the rest im2col + GEMM. */
#define CONV_1X1_MIN_P 256

static conv_path choose_path(const conv_params *p, const conv_geom *g)
{
    int one_by_one = p->kh == 1 && p->kw == 1;
    int small = !one_by_one && g->cg * g->kk <= CONV_DIRECT_MAX_TAPS;
    int plain_1x1 = one_by_one && p->sh == 1 && p->sw == 1 && p->pt == 0 &&
                    p->pb == 0 && p->pl == 0 && p->pr == 0 && p->groups == 1;
    switch (p->algo) {
    case CONV_ALGO_DIRECT: return CONV_DIRECT;
    case CONV_ALGO_IMPLICIT: return CONV_IMPLICIT;
    case CONV_ALGO_GEMM: return plain_1x1 ? CONV_GEMM_1X1 : CONV_GEMM;
    default: break;
    }
    if (p->groups > 1 && (g->cg == 1 || small))
        return CONV_DIRECT;
    if (conv_implicit_fits(p))
        return plain_1x1 && g->p >= CONV_1X1_MIN_P ? CONV_GEMM_1X1 : CONV_IMPLICIT;
    if (g->cg == 1 || small)
        return CONV_DIRECT;
    return CONV_GEMM;
}

clnet_status conv_geom_make(const conv_params *p, clnet__shape in,
                            conv_geom *g, char *err, size_t errlen)
{
    char s[64];
    clnet__shape_str(in, s, sizeof s);
    if (p->filters < 1)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "conv: filters= (output channels) is required");
    if (in.n < 1 || in.c < 1 || in.h < 1 || in.w < 1)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "conv: input %s has an empty dimension", s);
    if (in.c % p->groups || p->filters % p->groups)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "conv: groups=%d must divide both the input "
                               "channels (%d, input %s) and filters=%d",
                               p->groups, in.c, s, p->filters);
    long long oh = out_extent(in.h, p->pt, p->pb, p->kh, p->dh, p->sh);
    long long ow = out_extent(in.w, p->pl, p->pr, p->kw, p->dw, p->sw);
    if (oh < 1 || ow < 1)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "conv: input %s is smaller than kernel %dx%d "
                               "(dilation %dx%d) with pad top/bottom/left/right "
                               "%d/%d/%d/%d and stride %dx%d",
                               s, p->kh, p->kw, p->dh, p->dw, p->pt, p->pb,
                               p->pl, p->pr, p->sh, p->sw);
    memset(g, 0, sizeof *g);
    *g = (conv_geom){
        .n = in.n, .c = in.c, .h = in.h, .w = in.w,
        .o = p->filters, .oh = (int)oh, .ow = (int)ow,
        .kh = p->kh, .kw = p->kw, .sh = p->sh, .sw = p->sw,
        .dh = p->dh, .dw = p->dw, .pt = p->pt, .pl = p->pl, .pb = p->pb,
        .pr = p->pr,
        .g = p->groups, .cg = in.c / p->groups, .og = p->filters / p->groups,
        .bias = p->bias,
    };
    g->p = (size_t)oh * (size_t)ow;
    g->kk = (size_t)p->kh * (size_t)p->kw;
    g->path = choose_path(p, g);
    if (g->path == CONV_IMPLICIT && !conv_implicit_fits(p))
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "conv: algo=implicit needs stride 1 and every "
                               "pad at most (kernel-1)*dilation (stride %dx%d, "
                               "pad %d/%d/%d/%d, kernel %dx%d)", p->sh, p->sw,
                               p->pt, p->pb, p->pl, p->pr, p->kh, p->kw);
    size_t per_image = ((size_t)g->c * g->kk + (size_t)g->o) * g->p;
    if (g->path == CONV_IMPLICIT) {
        /* padded x, then the larger of forward's output and backward's
         * padded dy, dy grid and dX output, all about (H+pad)*(W+pad). */
        size_t hp = (size_t)g->h + (size_t)(p->pt > p->pb ? p->pt : p->pb);
        size_t wp = (size_t)g->w + (size_t)(p->pl > p->pr ? p->pl : p->pr);
        size_t ohp = (size_t)g->oh + (size_t)g->kh * g->dh;
        size_t owp = (size_t)g->ow + (size_t)g->kw * g->dw;
        size_t in_px = hp * wp, out_px = ohp * owp;
        per_image = (size_t)g->c * in_px + 2 * (size_t)g->o * out_px +
                    (size_t)g->c * out_px;
    }
    size_t nb = p->batch_chunk ? (size_t)p->batch_chunk : CONV_WORK_LIMIT / per_image;
    g->nb = nb < 1 ? 1 : nb > (size_t)g->n ? g->n : (int)nb;
    if (g->path == CONV_IMPLICIT) {
        conv_implicit_layouts(g);
    } else if (g->path != CONV_DIRECT) {
        size_t np = (size_t)g->nb * g->p;
        g->cols_count = (size_t)g->c * g->kk * np;
        g->tmp_count = (size_t)g->o * np;
        size_t split = g->g == 1 ? np / CONV_DW_SLICE : 1;
        g->dw_split = split < 2 ? 1 : split > CONV_DW_SPLIT_MAX ? CONV_DW_SPLIT_MAX : (int)split;
        if (g->dw_split > 1)
            g->dwpart_count = (size_t)g->dw_split * g->o * g->cg * g->kk;
    }
    g->partial_count = g->bias ? (size_t)g->n * (size_t)g->o : 0;
    /* Kernels index with 32-bit integers. */
    size_t n_in = clnet__shape_count(in), n_out = (size_t)g->n * g->o * g->p;
    size_t n_w = (size_t)g->o * g->cg * g->kk;
    size_t biggest = n_in > n_out ? n_in : n_out;
    biggest = biggest > n_w ? biggest : n_w;
    biggest = biggest > g->cols_count ? biggest : g->cols_count;
    if (g->path == CONV_IMPLICIT) {
        size_t end = conv_implicit_regions_of(g, 0).end;
        biggest = biggest > end ? biggest : end;
    }
    if (biggest > INT32_MAX || per_image > INT32_MAX)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "conv: input %s with filters=%d kernel %dx%d "
                               "needs a tensor of %zu elements (limit 2^31-1)",
                               s, g->o, g->kh, g->kw, biggest);
    return CLNET_OK;
}

static clnet_status conv_plan(const void *params, int n_in,
                              const clnet__shape *in, clnet__op_plan *plan,
                              char *err, size_t errlen)
{
    if (n_in != 1)
        return clnet__op_error(err, errlen, CLNET_EINVAL,
                               "conv: takes 1 input, got %d", n_in);
    const conv_params *p = params;
    conv_geom g;
    clnet_status st = conv_geom_make(p, in[0], &g, err, errlen);
    if (st != CLNET_OK)
        return st;
    plan->out = (clnet__shape){g.n, g.o, g.oh, g.ow};
    plan->n_params = g.bias ? 2 : 1;
    plan->param_name[0] = "weight";
    plan->param[0] = (clnet__dims){4, {g.o, g.cg, g.kh, g.kw}};
    plan->param_init[0] = CLNET__INIT_KAIMING;
    plan->param_decay[0] = 1;
    if (g.bias) {
        plan->param_name[1] = "bias";
        plan->param[1] = (clnet__dims){1, {g.o}};
        plan->param_init[1] = CLNET__INIT_BIAS;
        plan->param_decay[1] = 0;
    }
    plan->fan_in = g.cg * (int)g.kk;
    plan->fan_out = g.og * (int)g.kk;
    plan->work_count = g.path == CONV_IMPLICIT
                           ? conv_implicit_regions_of(&g, 0).end + g.partial_count
                           : g.cols_count + g.tmp_count + g.dwpart_count +
                                 g.partial_count;
    /* fp16-storage: the copies of activations (padded images, im2col
     * columns, the output and dy grids) are stored as half; flipped
     * weights, dW slices and dbias partials stay fp32 (clnet__work_f32). */
    if (g.path == CONV_IMPLICIT) {
        conv_implicit_regions r = conv_implicit_regions_of(&g, 1);
        plan->work_half = r.act;
        plan->work_half_f32 = r.partial + g.partial_count;
    } else if (g.path != CONV_DIRECT) {
        plan->work_half = g.cols_count + g.tmp_count;
        plan->work_half_f32 = g.dwpart_count + g.partial_count;
    }
    double outs = (double)g.n * g.o * (double)g.p;
    plan->flops_forward = 2.0 * outs * g.cg * (double)g.kk + (g.bias ? outs : 0);
    return CLNET_OK;
}

const clnet__op clnet__op_conv = {
    .name = "conv",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(conv_params),
    .defaults = conv_defaults,
    .set = conv_set,
    .plan = conv_plan,
    .forward = conv_forward,
    .backward = conv_backward,
    .ref_forward = conv_ref_forward,
    .ref_backward = conv_ref_backward,
    .writes_din = 1,
};
