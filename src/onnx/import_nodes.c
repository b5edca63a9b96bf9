/* ONNX node types and patterns, one mapping each, onto clnet layers (see
 * onnx__supported in import.c for the list). */
#include "onnx/import_impl.h"

#include "core/core.h"
#include "ops/pool_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *in_name(const onnx__importer *im, int i)
{
    return (size_t)i < im->n->n_input ? im->n->input[i] : "";
}

static onnx__value *in_value(onnx__importer *im, int i)
{
    return onnx__in_value(im, i);
}


/* A second output that is read (BatchNormalization's statistics, MaxPool's
 * indices, Dropout's mask) cannot be given. */
static clnet_status only_first_output(onnx__importer *im)
{
    for (size_t o = 1; o < im->n->n_output; o++)
        if (*im->n->output[o] && onnx__uses(im, im->n->output[o]))
            return onnx__node_fail(im, 0, "output %zu ('%s') is used; only the first "
                                   "output is supported", o, im->n->output[o]);
    return OK;
}

static clnet_status simple_layer(onnx__importer *im, const char *section,
                                 const char *keys)
{
    onnx__lref x, y;
    TRY(onnx__in_layer(im, 0, &x));
    TRY(onnx__add_layer(im, section, NULL, 1, &x, keys, x.rank, &y));
    return onnx__set_out_layer(im, 0, y);
}

/* ---- convolution ---------------------------------------------------------- */

/* auto_pad SAME_UPPER / SAME_LOWER: the output is ceil(in / stride). */
static void same_pads(int in, int k, int s, int d, int lower, int *a, int *b)
{
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + (k - 1) * d + 1 - in;
    if (total < 0)
        total = 0;
    *a = lower ? total - total / 2 : total / 2;
    *b = total - *a;
}

/* kernel, strides, dilations, pads (t, b, l, r) of a 2-D Conv or pool on
 * input x (its zero padding included). */
typedef struct win2d {
    int kh, kw, sh, sw, dh, dw, pad[4];
} win2d;

static clnet_status read_window(onnx__importer *im, onnx__lref x, int kh, int kw,
                                const int *extra_pad, win2d *w)
{
    int64_t v[8];
    int n;
    *w = (win2d){.kh = kh, .kw = kw, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    TRY(onnx__attr_ints(im, "kernel_shape", v, 2, &n));
    if (n >= 0 && (n != 2 || v[0] != kh || v[1] != kw))
        return onnx__node_fail(im, 0, "attribute 'kernel_shape' is not 2-D or does "
                               "not match the weight");
    TRY(onnx__attr_ints(im, "strides", v, 2, &n));
    if (n >= 0 && (n != 2 || v[0] < 1 || v[1] < 1 || v[0] > 4096 || v[1] > 4096))
        return onnx__node_fail(im, 0, "attribute 'strides' must be 2 values >= 1");
    if (n == 2)
        w->sh = (int)v[0], w->sw = (int)v[1];
    TRY(onnx__attr_ints(im, "dilations", v, 2, &n));
    if (n >= 0 && (n != 2 || v[0] < 1 || v[1] < 1 || v[0] > 4096 || v[1] > 4096))
        return onnx__node_fail(im, 0, "attribute 'dilations' must be 2 values >= 1");
    if (n == 2)
        w->dh = (int)v[0], w->dw = (int)v[1];
    char ap[32];
    TRY(onnx__attr_str(im, "auto_pad", ap, sizeof ap));
    TRY(onnx__attr_ints(im, "pads", v, 4, &n));
    if (n >= 0 && (n != 4 || v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 ||
                   v[0] > 4096 || v[1] > 4096 || v[2] > 4096 || v[3] > 4096))
        return onnx__node_fail(im, 0, "attribute 'pads' must be 4 values >= 0 "
                               "(2-D)");
    if (!ap[0] || strcmp(ap, "NOTSET") == 0) {
        if (n == 4) { /* [top, left, bottom, right] */
            w->pad[0] = (int)v[0];
            w->pad[2] = (int)v[1];
            w->pad[1] = (int)v[2];
            w->pad[3] = (int)v[3];
        }
    } else if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
        int lower = ap[5] == 'L';
        same_pads(x.shape.h, kh, w->sh, w->dh, lower, &w->pad[0], &w->pad[1]);
        same_pads(x.shape.w, kw, w->sw, w->dw, lower, &w->pad[2], &w->pad[3]);
    } else if (strcmp(ap, "VALID") != 0) {
        return onnx__node_fail(im, 0, "attribute 'auto_pad'=%s is not supported "
                               "(NOTSET, SAME_UPPER, SAME_LOWER, VALID are)", ap);
    }
    if (extra_pad)
        for (int i = 0; i < 4; i++)
            w->pad[i] += extra_pad[i];
    return OK;
}

/* Input 0 of a conv/pool: a layer output, or a zero Pad of one. */
static clnet_status padded_input(onnx__importer *im, onnx__lref *x, int pad[4],
                                 int *padded)
{
    onnx__value *v = in_value(im, 0);
    *padded = v && v->kind == V_PAD;
    if (*padded) {
        *x = v->x;
        memcpy(pad, v->pad, 4 * sizeof *pad);
        return OK;
    }
    memset(pad, 0, 4 * sizeof *pad);
    return onnx__in_layer(im, 0, x);
}

static size_t *dims_of(const onnx__const *c, size_t *shape)
{
    for (int d = 0; d < c->ndim; d++)
        shape[d] = (size_t)c->dims[d];
    return shape;
}

static clnet_status map_conv(onnx__importer *im)
{
    static const char *const allowed[] = {"auto_pad", "dilations", "group",
                                          "kernel_shape", "pads", "strides", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    onnx__lref x, y;
    int extra[4], padded;
    TRY(padded_input(im, &x, extra, &padded));
    const onnx__const *w, *b;
    TRY(onnx__in_const(im, 1, 0, &w));
    TRY(onnx__in_const(im, 2, 1, &b));
    if (w->ndim != 4)
        return onnx__node_fail(im, 0, "weight of rank %d: only 2-D convolutions "
                               "(weight [O, C/groups, kH, kW]) are supported", w->ndim);
    if (x.rank != 4)
        return onnx__node_fail(im, 0, "input of rank %d (2-D convolutions take NCHW)",
                               x.rank);
    int64_t group;
    TRY(onnx__attr_int(im, "group", 1, &group));
    if (group < 1 || group > x.shape.c)
        return onnx__node_fail(im, 0, "attribute 'group'=%lld is out of range",
                               (long long)group);
    if (b && (b->count != (size_t)w->dims[0]))
        return onnx__node_fail(im, 0, "bias of %zu values for %lld filters", b->count,
                               (long long)w->dims[0]);
    win2d g;
    TRY(read_window(im, x, (int)w->dims[2], (int)w->dims[3], extra, &g));
    char keys[512];
    snprintf(keys, sizeof keys,
             "filters=%lld\nkernel=%d,%d\nstride=%d,%d\ndilation=%d,%d\n"
             "pad_top=%d\npad_bottom=%d\npad_left=%d\npad_right=%d\ngroups=%lld\n"
             "bias=%d\n",
             (long long)w->dims[0], g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pad[0],
             g.pad[1], g.pad[2], g.pad[3], (long long)group, b ? 1 : 0);
    TRY(onnx__add_layer(im, "conv", in_name(im, 1), 1, &x, keys, 4, &y));
    size_t shape[ONNX__MAX_DIMS];
    TRY(onnx__add_weight(im, y.layer, "weight", 4, dims_of(w, shape), w->f));
    if (b) {
        size_t n = b->count;
        TRY(onnx__add_weight(im, y.layer, "bias", 1, &n, b->f));
    }
    return onnx__set_out_layer(im, 0, y);
}

/* ---- pooling ---------------------------------------------------------------- */

static clnet_status map_pool(onnx__importer *im, int avg)
{
    static const char *const allowed_max[] = {"auto_pad", "ceil_mode", "dilations",
                                              "kernel_shape", "pads", "storage_order",
                                              "strides", NULL};
    static const char *const allowed_avg[] = {"auto_pad", "ceil_mode",
                                              "count_include_pad", "kernel_shape",
                                              "pads", "strides", NULL};
    TRY(onnx__attrs_allowed(im, avg ? allowed_avg : allowed_max));
    TRY(only_first_output(im));
    onnx__lref x, y;
    int extra[4], padded;
    TRY(padded_input(im, &x, extra, &padded));
    if (x.rank != 4)
        return onnx__node_fail(im, 0, "input of rank %d: only 2-D pooling (NCHW) is "
                               "supported", x.rank);
    int64_t k[2], ceil_mode = 0, cip = 0, order = 0;
    int nk, cip_end_only = 0;
    TRY(onnx__attr_ints(im, "kernel_shape", k, 2, &nk));
    if (nk != 2 || k[0] < 1 || k[1] < 1 || k[0] > 64 || k[1] > 64)
        return onnx__node_fail(im, 0, "attribute 'kernel_shape' must be 2 values "
                               "from 1 to 64");
    TRY(onnx__attr_int(im, "ceil_mode", 0, &ceil_mode));
    TRY(onnx__attr_int(im, "count_include_pad", 0, &cip));
    TRY(onnx__attr_int(im, "storage_order", 0, &order));
    if (order != 0)
        return onnx__node_fail(im, 0, "attribute 'storage_order'=%lld is not "
                               "supported (0 is)", (long long)order);
    if (padded && !avg)
        return onnx__node_fail(im, 0, "a zero Pad before a MaxPool cannot be folded "
                               "(MaxPool pads with -inf)");
    win2d g;
    TRY(read_window(im, x, (int)k[0], (int)k[1], NULL, &g));
    if (g.dh != 1 || g.dw != 1)
        return onnx__node_fail(im, 0, "attribute 'dilations'=%d,%d is not supported "
                               "(1,1 is)", g.dh, g.dw);
    int own_start = g.pad[0] || g.pad[2];
    int own_end = g.pad[1] || g.pad[3];
    if (padded) {
        /* Zeros of a Pad are counted like elements: only with no padding of the
         * pool's own, or with count_include_pad=1, is that clnet's avgpool. The
         * one exception is end padding that only makes room for a last window
         * (what clnet's own export writes for a ceil_mode pool): uncounted, it
         * is clnet's ceil_mode over the padded input, checked below. */
        if ((own_start || own_end) && !cip && (own_start || ceil_mode))
            return onnx__node_fail(im, 0, "a zero Pad before an AveragePool with its "
                                   "own pads and count_include_pad=0 cannot be folded");
        if (own_end && !cip)
            cip_end_only = 1;
        for (int i = 0; i < 4; i++)
            g.pad[i] += extra[i];
        cip = 1;
    }
    if (g.pad[0] > g.pad[1] || g.pad[2] > g.pad[3])
        return onnx__node_fail(im, 0, "asymmetric pads (top %d, bottom %d, left %d, "
                               "right %d) are not supported for pooling", g.pad[0],
                               g.pad[1], g.pad[2], g.pad[3]);
    if (g.pad[0] != g.pad[1] || g.pad[2] != g.pad[3] || cip_end_only) {
        /* More padding at the end than at the start: clnet's ceil_mode when that
         * padding only adds the last window ceil_mode would add (same output
         * size on both axes) and is never averaged in (MaxPool pads with -inf;
         * an AveragePool must not count it). */
        if (ceil_mode || (avg && cip && !cip_end_only) ||
            clnet__pool_out_size(x.shape.h, g.kh, g.sh, g.pad[0], 1) !=
                (x.shape.h + g.pad[0] + g.pad[1] - g.kh) / g.sh + 1 ||
            clnet__pool_out_size(x.shape.w, g.kw, g.sw, g.pad[2], 1) !=
                (x.shape.w + g.pad[2] + g.pad[3] - g.kw) / g.sw + 1)
            return onnx__node_fail(im, 0, "asymmetric pads (top %d, bottom %d, left %d, "
                                   "right %d) are not supported for pooling unless "
                                   "they are a ceil_mode last window", g.pad[0],
                                   g.pad[1], g.pad[2], g.pad[3]);
        g.pad[1] = g.pad[0];
        g.pad[3] = g.pad[2];
        ceil_mode = 1;
    }
    if (g.pad[0] > g.kh / 2 || g.pad[2] > g.kw / 2)
        return onnx__node_fail(im, 0, "pads %d,%d larger than half the kernel %dx%d "
                               "are not supported", g.pad[0], g.pad[2], g.kh, g.kw);
    char keys[256];
    int n = snprintf(keys, sizeof keys, "kernel=%d,%d\nstride=%d,%d\npad=%d,%d\n"
                     "ceil_mode=%d\n", g.kh, g.kw, g.sh, g.sw, g.pad[0], g.pad[2],
                     ceil_mode ? 1 : 0);
    if (avg)
        snprintf(keys + n, sizeof keys - (size_t)n, "count_include_pad=%d\n",
                 cip ? 1 : 0);
    TRY(onnx__add_layer(im, avg ? "avgpool" : "maxpool", NULL, 1, &x, keys, 4, &y));
    return onnx__set_out_layer(im, 0, y);
}

static clnet_status map_global_avg(onnx__importer *im, int keepdims)
{
    onnx__lref x, y;
    TRY(onnx__in_layer(im, 0, &x));
    if (x.rank != 4)
        return onnx__node_fail(im, 0, "input of rank %d (NCHW expected)", x.rank);
    TRY(onnx__add_layer(im, "globalavgpool", NULL, 1, &x, "", keepdims ? 4 : 2, &y));
    return onnx__set_out_layer(im, 0, y);
}

static clnet_status map_reduce_mean(onnx__importer *im)
{
    static const char *const allowed[] = {"axes", "keepdims", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    int64_t axes[8], keep;
    int n;
    TRY(onnx__attr_ints(im, "axes", axes, 8, &n));
    if (n < 0 && im->n->n_input > 1) {
        const onnx__const *c;
        TRY(onnx__in_const(im, 1, 0, &c));
        n = c->count <= 8 ? (int)c->count : 9;
        for (int i = 0; i < n && i < 8; i++)
            axes[i] = c->i ? c->i[i] : (int64_t)c->f[i];
    }
    TRY(onnx__attr_int(im, "keepdims", 1, &keep));
    int got = 0;
    for (int i = 0; i < n && i < 8; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + x.rank : axes[i];
        got |= a == 2 ? 1 : a == 3 ? 2 : 4;
    }
    if (x.rank != 4 || n != 2 || got != 3)
        return onnx__node_fail(im, 0, "only ReduceMean over the spatial axes (2,3) of "
                               "an NCHW tensor (a global average pool) is supported");
    return map_global_avg(im, keep != 0);
}

/* ---- dense ------------------------------------------------------------------- */

static clnet_status dense_layer(onnx__importer *im, onnx__lref x, const float *wt,
                                int out, int in, const float *bias, int matmul)
{
    onnx__lref y;
    char keys[128];
    snprintf(keys, sizeof keys, "outputs=%d\nbias=%d\n", out, bias ? 1 : 0);
    TRY(onnx__add_layer(im, "dense", in_name(im, 1), 1, &x, keys, 2, &y));
    im->l[y.layer].matmul = matmul;
    size_t shape[2] = {(size_t)out, (size_t)in}, n = (size_t)out;
    TRY(onnx__add_weight(im, y.layer, "weight", 2, shape, wt));
    if (bias)
        TRY(onnx__add_weight(im, y.layer, "bias", 1, &n, bias));
    return onnx__set_out_layer(im, 0, y);
}

/* out x in weight from B: transposed unless transB; times alpha. */
static float *weight_from(const onnx__const *b, int trans_b, float alpha, int *out,
                          int *in)
{
    int r = (int)b->dims[0], c = (int)b->dims[1];
    *out = trans_b ? r : c;
    *in = trans_b ? c : r;
    float *w = malloc((b->count ? b->count : 1) * sizeof *w);
    if (!w)
        return NULL;
    for (int i = 0; i < *out; i++)
        for (int j = 0; j < *in; j++)
            w[(size_t)i * *in + j] = alpha * (trans_b ? b->f[(size_t)i * c + j]
                                                      : b->f[(size_t)j * c + i]);
    return w;
}

static clnet_status map_gemm(onnx__importer *im)
{
    static const char *const allowed[] = {"alpha", "beta", "transA", "transB", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    const onnx__const *b, *c;
    TRY(onnx__in_const(im, 1, 0, &b));
    TRY(onnx__in_const(im, 2, 1, &c));
    int64_t ta, tb;
    float alpha, beta;
    TRY(onnx__attr_int(im, "transA", 0, &ta));
    TRY(onnx__attr_int(im, "transB", 0, &tb));
    TRY(onnx__attr_float(im, "alpha", 1.0f, &alpha));
    TRY(onnx__attr_float(im, "beta", 1.0f, &beta));
    if (ta)
        return onnx__node_fail(im, 0, "attribute 'transA'=1 is not supported");
    if (x.rank != 2 || b->ndim != 2)
        return onnx__node_fail(im, 0, "Gemm of a rank-%d input and a rank-%d weight "
                               "(2 and 2 are supported)", x.rank, b->ndim);
    int out, in;
    float *w = weight_from(b, tb != 0, alpha, &out, &in);
    float *bias = c ? malloc((size_t)out * sizeof *bias) : NULL;
    if (!w || (c && !bias)) {
        free(w);
        free(bias);
        return clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
    }
    clnet_status st = OK;
    if (c) {
        /* C broadcast over rows: [out], [1,out], [1] or a scalar. */
        int per_col = c->count == (size_t)out &&
                      (c->ndim == 1 || (c->ndim == 2 && c->dims[0] == 1));
        if (!per_col && c->count != 1)
            st = onnx__node_fail(im, 0, "bias C of %zu values with %d dims (one per "
                                 "output, or one in all, is supported)", c->count,
                                 c->ndim);
        for (int i = 0; i < out && st == OK; i++)
            bias[i] = beta * c->f[per_col ? i : 0];
    }
    if (st == OK)
        st = dense_layer(im, x, w, out, in, bias, 0);
    free(w);
    free(bias);
    return st;
}

static clnet_status map_matmul(onnx__importer *im)
{
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    const onnx__const *b;
    TRY(onnx__in_const(im, 1, 0, &b));
    if (x.rank != 2 || b->ndim != 2)
        return onnx__node_fail(im, 0, "MatMul of a rank-%d input and a rank-%d "
                               "constant (2 and 2 are supported)", x.rank, b->ndim);
    int out, in;
    float *w = weight_from(b, 0, 1.0f, &out, &in);
    if (!w)
        return clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
    clnet_status st = dense_layer(im, x, w, out, in, NULL, 1);
    free(w);
    return st;
}

/* ---- batchnorm ---------------------------------------------------------------- */

static clnet_status map_batchnorm(onnx__importer *im)
{
    static const char *const allowed[] = {"epsilon", "momentum", "training_mode",
                                          "spatial", "is_test", "consumed_inputs", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    TRY(only_first_output(im));
    onnx__lref x, y;
    TRY(onnx__in_layer(im, 0, &x));
    const onnx__const *c[4];
    for (int i = 0; i < 4; i++)
        TRY(onnx__in_const(im, i + 1, 0, &c[i]));
    int64_t tm, spatial;
    float eps, mom;
    TRY(onnx__attr_int(im, "training_mode", 0, &tm));
    TRY(onnx__attr_int(im, "spatial", 1, &spatial));
    TRY(onnx__attr_float(im, "epsilon", 1e-5f, &eps));
    TRY(onnx__attr_float(im, "momentum", 0.9f, &mom));
    if (tm)
        return onnx__node_fail(im, 0, "attribute 'training_mode'=1 is not supported "
                               "(inference graphs only)");
    if (!spatial)
        return onnx__node_fail(im, 0, "attribute 'spatial'=0 is not supported");
    if (x.rank < 2)
        return onnx__node_fail(im, 0, "input of rank %d", x.rank);
    if (!(eps > 0) || !(mom >= 0 && mom <= 1))
        return onnx__node_fail(im, 0, "epsilon=%g, momentum=%g out of range", eps, mom);
    for (int i = 0; i < 4; i++)
        if (c[i]->count != (size_t)x.shape.c)
            return onnx__node_fail(im, 0, "input %d has %zu values for %d channels",
                                   i + 1, c[i]->count, x.shape.c);
    /* ONNX: running = running * momentum + batch * (1 - momentum); clnet
     * (PyTorch): running moves by momentum towards the batch. */
    char keys[128];
    snprintf(keys, sizeof keys, "eps=%.9g\nmomentum=%.9g\n", eps, 1.0 - mom);
    TRY(onnx__add_layer(im, "batchnorm", in_name(im, 1), 1, &x, keys, x.rank, &y));
    static const char *const names[4] = {"weight", "bias", "running_mean",
                                         "running_var"};
    size_t n = (size_t)x.shape.c;
    for (int i = 0; i < 4; i++)
        TRY(onnx__add_weight(im, y.layer, names[i], 1, &n, c[i]->f));
    return onnx__set_out_layer(im, 0, y);
}

/* ---- activations ------------------------------------------------------------- */

static clnet_status map_clip(onnx__importer *im)
{
    static const char *const allowed[] = {"min", "max", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    float lo = -INFINITY, hi = INFINITY;
    if (im->opset < 11) {
        TRY(onnx__attr_float(im, "min", -INFINITY, &lo));
        TRY(onnx__attr_float(im, "max", INFINITY, &hi));
    } else {
        const onnx__const *a, *b;
        TRY(onnx__in_const(im, 1, 1, &a));
        TRY(onnx__in_const(im, 2, 1, &b));
        if ((a && a->count != 1) || (b && b->count != 1))
            return onnx__node_fail(im, 0, "min and max must be scalars");
        lo = a ? onnx__scalar(a) : -INFINITY;
        hi = b ? onnx__scalar(b) : INFINITY;
    }
    if (lo == 0 && hi == 6)
        return simple_layer(im, "relu6", "");
    /* PyTorch before opset 11: relu6 as Relu then Clip(max=6). */
    onnx__value *x = in_value(im, 0);
    if (x && x->kind == V_LAYER && x->x.layer >= 0 && isinf(lo) && lo < 0 && hi == 6 &&
        im->l[x->x.layer].op == clnet__op_get(CLNET_OP_RELU) &&
        onnx__uses(im, x->name) == 1) {
        im->l[x->x.layer].op = clnet__op_get(CLNET_OP_RELU6);
        return onnx__set_out_layer(im, 0, x->x);
    }
    if (lo == 0 && isinf(hi) && hi > 0)
        return simple_layer(im, "relu", "");
    return onnx__node_fail(im, 0, "Clip to [%g, %g] is not supported (0..6 as "
                           "relu6 and 0..inf as relu are)", lo, hi);
}

static clnet_status map_leaky(onnx__importer *im)
{
    float alpha;
    static const char *const allowed[] = {"alpha", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    TRY(onnx__attr_float(im, "alpha", 0.01f, &alpha));
    char keys[64];
    snprintf(keys, sizeof keys, "slope=%.9g\n", alpha);
    return simple_layer(im, "leakyrelu", keys);
}

static clnet_status map_hardsigmoid(onnx__importer *im)
{
    float alpha, beta;
    static const char *const allowed[] = {"alpha", "beta", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    TRY(onnx__attr_float(im, "alpha", 0.2f, &alpha));
    TRY(onnx__attr_float(im, "beta", 0.5f, &beta));
    char keys[96];
    snprintf(keys, sizeof keys, "alpha=%.9g\nbeta=%.9g\n", alpha, beta);
    return simple_layer(im, "hardsigmoid", keys);
}

/* ---- shapes ------------------------------------------------------------------ */

/* Sum of two to eight computed tensors of one shape: clnet's add layer. */
static clnet_status map_sum(onnx__importer *im)
{
    int n = (int)im->n->n_input;
    if (n < 1 || n > CLNET__MAX_IN)
        return onnx__node_fail(im, 0, "%d inputs (1 to %d are supported)", n,
                               CLNET__MAX_IN);
    onnx__lref in[CLNET__MAX_IN], y;
    for (int i = 0; i < n; i++) {
        TRY(onnx__in_layer(im, i, &in[i]));
        if (in[i].rank != in[0].rank || in[i].shape.n != in[0].shape.n ||
            in[i].shape.c != in[0].shape.c || in[i].shape.h != in[0].shape.h ||
            in[i].shape.w != in[0].shape.w)
            return onnx__node_fail(im, 0, "Sum with broadcasting is not supported "
                                   "(all inputs must have one shape)");
    }
    if (n == 1)
        return onnx__set_out_layer(im, 0, in[0]);
    TRY(onnx__add_layer(im, "add", NULL, n, in, "", in[0].rank, &y));
    return onnx__set_out_layer(im, 0, y);
}

static clnet_status map_concat(onnx__importer *im)
{
    static const char *const allowed[] = {"axis", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    int handled;
    TRY(onnx__const_concat(im, &handled));
    if (handled)
        return OK;
    int n = (int)im->n->n_input;
    if (n < 1 || n > CLNET__MAX_IN)
        return onnx__node_fail(im, 0, "%d inputs (1 to %d are supported)", n,
                               CLNET__MAX_IN);
    onnx__lref in[CLNET__MAX_IN], y;
    for (int i = 0; i < n; i++)
        TRY(onnx__in_layer(im, i, &in[i]));
    int64_t axis;
    TRY(onnx__attr_int(im, "axis", 1, &axis));
    if (axis < 0)
        axis += in[0].rank;
    if (axis != 1)
        return onnx__node_fail(im, 0, "attribute 'axis'=%lld: only the channel axis "
                               "(1) is supported", (long long)axis);
    for (int i = 1; i < n; i++)
        if (in[i].rank != in[0].rank)
            return onnx__node_fail(im, 0, "inputs of different ranks");
    if (n == 1)
        return onnx__set_out_layer(im, 0, in[0]);
    TRY(onnx__add_layer(im, "concat", NULL, n, in, "", in[0].rank, &y));
    return onnx__set_out_layer(im, 0, y);
}

/* x as [N, rest]: nothing to do when it is already flat. */
static clnet_status flatten_to_2d(onnx__importer *im, onnx__lref x)
{
    onnx__lref y;
    if (x.shape.h == 1 && x.shape.w == 1) {
        x.rank = 2;
        return onnx__set_out_layer(im, 0, x);
    }
    TRY(onnx__add_layer(im, "flatten", NULL, 1, &x, "", 2, &y));
    return onnx__set_out_layer(im, 0, y);
}

/* Unsqueeze/Squeeze of axes 2 and 3: [N, C] <-> [N, C, 1, 1], the same data.
 * Opset 13 moved the axes from an attribute to a constant input. */
static clnet_status map_squeeze(onnx__importer *im, int unsqueeze)
{
    static const char *const allowed[] = {"axes", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    int64_t axes[8];
    int n;
    TRY(onnx__attr_ints(im, "axes", axes, 8, &n));
    if (n < 0 && im->n->n_input > 1) {
        const onnx__const *c;
        TRY(onnx__in_const(im, 1, 0, &c));
        if (!c->is_int || c->count > 8)
            return onnx__node_fail(im, 0, "the axes must be at most 8 integers");
        n = (int)c->count;
        for (int i = 0; i < n; i++)
            axes[i] = c->i[i];
    }
    onnx__value *in0 = in_value(im, 0);
    if (unsqueeze && in0 && in0->kind == V_CONST && n > 0)
        return onnx__const_unsqueeze(im, axes, n);
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    int out_rank = unsqueeze ? x.rank + (n > 0 ? n : 0) : x.rank - (n > 0 ? n : 0);
    int ok = n == 2 && (unsqueeze ? x.rank == 2 : x.rank == 4 && x.shape.h == 1 &&
                                                      x.shape.w == 1);
    for (int i = 0; ok && i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + (unsqueeze ? out_rank : x.rank) : axes[i];
        ok = a == 2 || a == 3;
    }
    if (!ok || (n == 2 && axes[0] == axes[1]))
        return onnx__node_fail(im, 0, "only %s (axes 2 and 3) is supported",
                               unsqueeze ? "[N,C] to [N,C,1,1]" : "[N,C,1,1] to [N,C]");
    x.rank = unsqueeze ? 4 : 2;
    return onnx__set_out_layer(im, 0, x);
}

static clnet_status map_flatten(onnx__importer *im)
{
    static const char *const allowed[] = {"axis", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    int64_t axis;
    TRY(onnx__attr_int(im, "axis", 1, &axis));
    if (axis < 0)
        axis += x.rank;
    if (axis != 1)
        return onnx__node_fail(im, 0, "attribute 'axis'=%lld: only axis 1 (to "
                               "[N, C*H*W]) is supported", (long long)axis);
    return flatten_to_2d(im, x);
}

static clnet_status map_reshape(onnx__importer *im)
{
    static const char *const allowed[] = {"allowzero", "shape", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    int64_t t[8], allowzero;
    int n;
    TRY(onnx__attr_int(im, "allowzero", 0, &allowzero));
    TRY(onnx__attr_ints(im, "shape", t, 8, &n));
    if (n < 0) {
        const onnx__const *c;
        TRY(onnx__in_const(im, 1, 0, &c));
        if (!c->is_int || c->count > 8)
            return onnx__node_fail(im, 0, "the shape must be at most 8 integers");
        n = (int)c->count;
        for (int i = 0; i < n; i++)
            t[i] = c->i[i];
    }
    long long rest = (long long)x.shape.c * x.shape.h * x.shape.w;
    int first_ok = t[0] == x.shape.n || (t[0] == 0 && !allowzero) ||
                   (t[0] == -1 && n == 2 && t[1] == rest);
    if (n == 2 && first_ok && (t[1] == -1 || t[1] == rest))
        return flatten_to_2d(im, x);
    return onnx__node_fail(im, 0, "Reshape to a shape of %d dims is not supported "
                           "(only to [N, -1], a flatten)", n);
}

static clnet_status map_pad(onnx__importer *im)
{
    static const char *const allowed[] = {"mode", "pads", "value", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    char mode[32];
    TRY(onnx__attr_str(im, "mode", mode, sizeof mode));
    if (mode[0] && strcmp(mode, "constant") != 0)
        return onnx__node_fail(im, 0, "attribute 'mode'=%s is not supported "
                               "(constant zeros are)", mode);
    int64_t p[16];
    int n;
    float value = 0;
    if (im->opset < 11) {
        TRY(onnx__attr_ints(im, "pads", p, 16, &n));
        TRY(onnx__attr_float(im, "value", 0.0f, &value));
    } else {
        const onnx__const *c, *v, *axes;
        TRY(onnx__in_const(im, 1, 0, &c));
        TRY(onnx__in_const(im, 2, 1, &v));
        TRY(onnx__in_const(im, 3, 1, &axes));
        if (axes)
            return onnx__node_fail(im, 0, "the axes input is not supported");
        if (!c->is_int || c->count > 16)
            return onnx__node_fail(im, 0, "pads must be integers");
        n = (int)c->count;
        for (int i = 0; i < n; i++)
            p[i] = c->i[i];
        value = v ? onnx__scalar(v) : 0.0f;
    }
    if (value != 0)
        return onnx__node_fail(im, 0, "padding with %g is not supported (zeros are)",
                               value);
    if (x.rank != 4 || n != 8 || p[0] || p[1] || p[4] || p[5])
        return onnx__node_fail(im, 0, "only zero padding of H and W of an NCHW "
                               "tensor is supported");
    for (int i = 0; i < 8; i++)
        if (p[i] < 0 || p[i] > 4096)
            return onnx__node_fail(im, 0, "negative or huge pads are not supported");
    onnx__value *out = onnx__new_value(im, im->n->output[0], V_PAD);
    if (!out)
        return CLNET_ENOMEM;
    out->x = x;
    out->pad[0] = (int)p[2];
    out->pad[1] = (int)p[6];
    out->pad[2] = (int)p[3];
    out->pad[3] = (int)p[7];
    return OK;
}

static clnet_status map_dropout(onnx__importer *im)
{
    static const char *const allowed[] = {"ratio", "seed", "is_test", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    TRY(only_first_output(im));
    onnx__lref x, y;
    TRY(onnx__in_layer(im, 0, &x));
    float ratio;
    TRY(onnx__attr_float(im, "ratio", 0.5f, &ratio));
    const onnx__const *r, *tm;
    TRY(onnx__in_const(im, 1, 1, &r));
    TRY(onnx__in_const(im, 2, 1, &tm));
    if (r)
        ratio = onnx__scalar(r);
    if (tm && onnx__scalar(tm) != 0)
        return onnx__node_fail(im, 0, "training_mode=true is not supported");
    if (!(ratio >= 0 && ratio < 1))
        return onnx__node_fail(im, 0, "ratio %g is not in [0, 1)", ratio);
    if (ratio == 0)
        return onnx__set_out_layer(im, 0, x);
    char keys[64];
    snprintf(keys, sizeof keys, "p=%.9g\n", ratio);
    TRY(onnx__add_layer(im, "dropout", NULL, 1, &x, keys, x.rank, &y));
    return onnx__set_out_layer(im, 0, y);
}

static clnet_status map_softmax(onnx__importer *im)
{
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    int64_t axis;
    TRY(onnx__attr_int(im, "axis", im->opset >= 13 ? -1 : 1, &axis));
    if (axis < 0)
        axis += x.rank;
    if (im->node_test || !onnx__is_graph_output(im, im->n->output[0]) ||
        onnx__uses(im, im->n->output[0]) != 1 || x.rank != 2 || axis != 1)
        return onnx__node_fail(im, 0, "Softmax/LogSoftmax is supported only as the "
                               "graph's final node over the classes of [N, classes] "
                               "logits (clnet drops it and adds its own)");
    return onnx__set_out_layer(im, 0, x);
}

static clnet_status map_constant(onnx__importer *im)
{
    onnx__value *v = onnx__new_value(im, im->n->output[0], V_CONST);
    if (!v)
        return CLNET_ENOMEM;
    size_t idx = (size_t)(v - im->v);
    const Onnx__AttributeProto *a = im->n->n_attribute == 1 ? im->n->attribute[0] : NULL;
    clnet_status st = OK;
    onnx__const c = {0};
    if (a && strcmp(a->name, "value") == 0 && a->t) {
        char what[256];
        snprintf(what, sizeof what, "node %d '%s' (Constant)", im->node,
                 im->n->name ? im->n->name : "");
        st = onnx__const_read(im->ctx, a->t, what, &c);
    } else if (a && (strcmp(a->name, "value_float") == 0 ||
                     strcmp(a->name, "value_int") == 0 ||
                     strcmp(a->name, "value_floats") == 0 ||
                     strcmp(a->name, "value_ints") == 0)) {
        int is_int = strstr(a->name, "int") != NULL, many = a->name[strlen(a->name) - 1] == 's';
        c.count = many ? (is_int ? a->n_ints : a->n_floats) : 1;
        c.ndim = many;
        c.dims[0] = (int64_t)c.count;
        c.is_int = is_int;
        c.f = malloc((c.count + 1) * sizeof *c.f);
        c.i = is_int ? malloc((c.count + 1) * sizeof *c.i) : NULL;
        if (!c.f || (is_int && !c.i))
            st = clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
        for (size_t k = 0; k < c.count && st == OK; k++) {
            if (is_int) {
                c.i[k] = many ? a->ints[k] : a->i;
                c.f[k] = (float)c.i[k];
            } else {
                c.f[k] = many ? a->floats[k] : a->f;
            }
        }
    } else {
        st = onnx__node_fail(im, 0, "only a 'value' tensor, value_float(s) or "
                             "value_int(s) is supported");
    }
    if (st != OK) {
        onnx__const_free(&c);
        im->nv--;
        return st;
    }
    im->v[idx].c = c;
    im->v[idx].owned = 1;
    return OK;
}

static clnet_status map_identity(onnx__importer *im)
{
    onnx__value *v = in_value(im, 0);
    if (!v)
        return onnx__node_fail(im, CLNET_EFORMAT, "input '%s' is produced by no "
                               "earlier node", in_name(im, 0));
    return onnx__set_out_alias(im, 0, v);
}

clnet_status onnx__map_node(onnx__importer *im)
{
    const Onnx__NodeProto *n = im->n;
    const char *op = n->op_type ? n->op_type : "";
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0)
        return onnx__node_fail(im, 0, "operator domain '%s' is not supported",
                               n->domain);
    if (n->n_output < 1 || !*n->output[0])
        return onnx__node_fail(im, CLNET_EFORMAT, "the node has no output");
    /* Nodes that take pattern values only where they expect them. */
    int pattern_ok = !strcmp(op, "Mul") || !strcmp(op, "Add") || !strcmp(op, "Erf") ||
                     !strcmp(op, "Conv") || !strcmp(op, "AveragePool") ||
                     !strcmp(op, "MaxPool") || !strcmp(op, "Identity");
    if (!pattern_ok)
        for (size_t i = 0; i < n->n_input; i++) {
            onnx__value *v = *n->input[i] ? onnx__find(im, n->input[i]) : NULL;
            if (v && v->kind != V_LAYER && v->kind != V_CONST)
                return onnx__node_fail(im, 0, "input %zu '%s' is %s", i, n->input[i],
                                       v->kind == V_PAD ? "a Pad that only a Conv or "
                                       "an AveragePool can absorb" : "part of an "
                                       "unfinished GELU pattern");
        }
    static const char *const none[] = {NULL};
    if (!strcmp(op, "Conv"))
        return map_conv(im);
    if (!strcmp(op, "Gemm"))
        return map_gemm(im);
    if (!strcmp(op, "MatMul"))
        return map_matmul(im);
    if (!strcmp(op, "BatchNormalization"))
        return map_batchnorm(im);
    if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool"))
        return map_pool(im, op[0] == 'A');
    if (!strcmp(op, "GlobalAveragePool")) {
        TRY(onnx__attrs_allowed(im, none));
        return map_global_avg(im, 1);
    }
    if (!strcmp(op, "ReduceMean"))
        return map_reduce_mean(im);
    static const struct { const char *onnx, *clnet; } plain[] = {
        {"Relu", "relu"}, {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"},
        {"HardSwish", "hardswish"}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (!strcmp(op, plain[i].onnx)) {
            TRY(onnx__attrs_allowed(im, none));
            return simple_layer(im, plain[i].clnet, "");
        }
    if (!strcmp(op, "LeakyRelu"))
        return map_leaky(im);
    if (!strcmp(op, "HardSigmoid"))
        return map_hardsigmoid(im);
    if (!strcmp(op, "Clip"))
        return map_clip(im);
    if (!strcmp(op, "Mul"))
        return onnx__map_mul(im);
    if (!strcmp(op, "Div"))
        return onnx__map_div(im);
    if (!strcmp(op, "Sub"))
        return onnx__map_sub(im);
    if (!strcmp(op, "Shape"))
        return onnx__map_shape(im);
    if (!strcmp(op, "Gather"))
        return onnx__map_gather(im);
    if (!strcmp(op, "Erf"))
        return onnx__map_erf(im);
    if (!strcmp(op, "Add"))
        return onnx__map_add(im);
    if (!strcmp(op, "Sum"))
        return map_sum(im);
    if (!strcmp(op, "Concat"))
        return map_concat(im);
    if (!strcmp(op, "Flatten"))
        return map_flatten(im);
    if (!strcmp(op, "Unsqueeze") || !strcmp(op, "Squeeze"))
        return map_squeeze(im, op[0] == 'U');
    if (!strcmp(op, "Reshape"))
        return map_reshape(im);
    if (!strcmp(op, "Pad"))
        return map_pad(im);
    if (!strcmp(op, "Dropout"))
        return map_dropout(im);
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax"))
        return map_softmax(im);
    if (!strcmp(op, "Constant"))
        return map_constant(im);
    if (!strcmp(op, "Identity"))
        return map_identity(im);
    return onnx__node_fail(im, 0, "op type %s is not supported", op);
}
