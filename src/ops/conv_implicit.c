/* The implicit-GEMM convolution (strategy in conv.h): no im2col buffer; the
 * GEMM kernels read each output position's patch as shifted windows of a
 * padded copy of the input (clnet__sgemm_taps). Stride 1 only: with a
 * stride the windows would not be contiguous. */
#include "ops/conv.h"
#include "ops/conv_launch.h"
#include "ops/op_util.h"

static int max_i(int a, int b) { return a > b ? a : b; }

int conv_implicit_fits(const conv_params *p)
{
    int eh = (p->kh - 1) * p->dh, ew = (p->kw - 1) * p->dw;
    return p->sh == 1 && p->sw == 1 && p->pt <= eh && p->pb <= eh &&
           p->pl <= ew && p->pr <= ew;
}

/* nb images of hh x ww with the given pads, for a stride-1 convolution
 * whose output has out_rows rows (conv.h, conv_layout). Padding rows and
 * columns are shared between neighbouring images and rows; two spare zero
 * rows at the end keep the farthest tap of the last position inside. */
static conv_layout layout_make(int hh, int ww, int pt, int pb, int pl, int pr,
                               int out_rows, int nb)
{
    conv_layout l;
    l.row0 = pt;
    l.col0 = pl;
    l.hs = hh + max_i(pt, pb);
    l.wp = ww + max_i(pl, pr);
    l.rows = pt + (nb - 1) * l.hs + hh + pb + 2;
    l.plane = (size_t)l.rows * (size_t)l.wp;
    l.nq = ((size_t)(nb - 1) * (size_t)l.hs + (size_t)out_rows) * (size_t)l.wp;
    return l;
}

/* x for forward and dW: the conv's own pads. */
static conv_layout fx_of(const conv_geom *g, int nb)
{
    return layout_make(g->h, g->w, g->pt, g->pb, g->pl, g->pr, g->oh, nb);
}

/* dy for dX: the full correlation pads (kernel extent minus the conv's). */
static conv_layout bx_of(const conv_geom *g, int nb)
{
    int eh = (g->kh - 1) * g->dh, ew = (g->kw - 1) * g->dw;
    return layout_make(g->oh, g->ow, eh - g->pt, eh - g->pb, ew - g->pl,
                       ew - g->pr, g->h, nb);
}

/* dy on the forward's output grid (dW's A), when it is not a view of bx. */
static conv_layout dyq_of(const conv_layout *fx)
{
    conv_layout l = *fx;
    l.row0 = l.col0 = 0;
    l.rows = (int)(fx->nq / (size_t)fx->wp) + 1;
    l.plane = (size_t)l.rows * (size_t)l.wp;
    return l;
}

void conv_implicit_layouts(conv_geom *g)
{
    g->fx = fx_of(g, g->nb);
    g->bx = bx_of(g, g->nb);
    g->dyq_shared = g->bx.hs == g->fx.hs && g->bx.wp == g->fx.wp;
}

conv_implicit_regions conv_implicit_regions_of(const conv_geom *g, int half)
{
    conv_implicit_regions r;
    r.xpad = 0;
    r.tmp = r.dypad = (size_t)g->c * g->fx.plane;
    r.dyq = r.dypad + (size_t)g->o * g->bx.plane;
    size_t dyq = g->dyq_shared ? 0 : (size_t)g->o * dyq_of(&g->fx).plane;
    size_t wsize = (size_t)g->o * g->cg * g->kk;
    r.wflip = half ? 0 : r.dyq + dyq;
    r.dxt = half ? r.dyq + dyq : r.wflip + wsize;
    size_t fwd_end = r.tmp + (size_t)g->o * g->fx.nq;
    size_t bwd_end = r.dxt + (size_t)g->c * g->bx.nq;
    r.end = fwd_end > bwd_end ? fwd_end : bwd_end;
    r.act = half ? r.end : 0;
    r.partial = half ? wsize : r.end;
    return r;
}

/* Copies nb images of src (cc channels of hh x ww) into layout l at dst. */
static clnet_status pad(clnet_ctx *ctx, const conv_layout *l, int cc, int hh,
                        int ww, int nb, clnet__tensor src, clnet__tensor dst)
{
    arglist a = {.n = 0, .opts = ""};
    const int v[] = {cc, hh, ww, nb, l->row0, l->col0, l->hs, l->wp, l->rows};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        arg_i(&a, v[i]);
    arg_tn(&a, "src", src);
    arg_tn(&a, "dst", dst);
    return conv_launch(ctx, "conv_pad", ROWS_PER_GROUP, (size_t)l->rows,
                       (size_t)cc, 0, &a);
}

/* dst (NCHW, cc x hh x ww per image) = or += the GEMM output tmp laid out
 * on l's grid, plus bias when given. */
static clnet_status crop(clnet_ctx *ctx, const conv_layout *l, int cc, int hh,
                         int ww, int nb, int accumulate, clnet__tensor tmp,
                         const clnet__tensor *bias, clnet__tensor dst)
{
    arglist a = {.n = 0, .opts = ""};
    const int v[] = {cc, hh, ww, nb, l->hs, l->wp};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        arg_i(&a, v[i]);
    a.a[a.n++] = CLNET_ARG_U32(l->nq);
    arg_i(&a, bias != NULL);
    arg_i(&a, accumulate);
    arg_tn(&a, "tmp", tmp);
    arg_tn(&a, "bias", bias ? *bias : clnet__work_f32(tmp, 0, 0)); /* unread */
    arg_tn(&a, "dst", dst);
    return conv_launch(ctx, "conv_crop", ROWS_PER_GROUP, (size_t)hh,
                       (size_t)nb * cc, 0, &a);
}

static clnet__gemm_taps taps_of(const conv_geom *g, const conv_layout *l)
{
    return (clnet__gemm_taps){(int)g->kk, g->kw, (size_t)g->dh * l->wp,
                              (size_t)g->dw};
}

clnet_status conv_implicit_forward(clnet_ctx *ctx, const conv_geom *g,
                                   const clnet__op_io *io)
{
    conv_implicit_regions r = conv_implicit_regions_of(g, io->work.half);
    clnet__tensor xpad = clnet__at(io->work, r.xpad);
    clnet__tensor tmp = clnet__at(io->work, r.tmp);
    size_t ck = (size_t)g->cg * g->kk, og = (size_t)g->og;
    clnet_status st = CLNET_OK;
    for (int n0 = 0; n0 < g->n && st == CLNET_OK; n0 += g->nb) {
        int nb = g->n - n0 < g->nb ? g->n - n0 : g->nb;
        conv_layout l = fx_of(g, nb);
        st = pad(ctx, &l, g->c, g->h, g->w, nb,
                 clnet__at(io->in[0], (size_t)n0 * in_image(g)), xpad);
        if (st == CLNET_OK)
            st = clnet__sgemm_taps(ctx, 0, 0, og, l.nq, ck, 1.0f, io->param[0],
                                   ck, og * ck, xpad, l.plane, taps_of(g, &l),
                                   (size_t)g->cg * l.plane, 0.0f, tmp, l.nq,
                                   og * l.nq, (size_t)g->g);
        if (st == CLNET_OK)
            st = crop(ctx, &l, g->o, g->oh, g->ow, nb, 0, tmp,
                      g->bias ? &io->param[1] : NULL,
                      clnet__at(io->out, (size_t)n0 * out_image(g)));
    }
    return st;
}

/* dW += dyq * taps(xpad)^T for one chunk; dyq is dy on the forward's output
 * grid, at dyq with `ld` floats per channel. With the whole batch in one
 * chunk, xpad is still there from forward (the work buffer lives from a
 * layer's forward to its backward, and backward writes after xpad). */
static clnet_status chunk_dw(clnet_ctx *ctx, const conv_geom *g,
                             const clnet__op_io *io, int n0, int nb,
                             clnet__tensor xpad, clnet__tensor dyq, size_t ld)
{
    conv_layout l = fx_of(g, nb);
    clnet_status st = CLNET_OK;
    if (g->nb < g->n)
        st = pad(ctx, &l, g->c, g->h, g->w, nb,
                 clnet__at(io->in[0], (size_t)n0 * in_image(g)), xpad);
    size_t ck = (size_t)g->cg * g->kk, og = (size_t)g->og;
    if (st == CLNET_OK)
        st = clnet__sgemm_taps(ctx, 0, 1, og, ck, l.nq, 1.0f, dyq, ld,
                               og * ld, xpad, l.plane, taps_of(g, &l),
                               (size_t)g->cg * l.plane, 1.0f, io->dparam[0], ck,
                               og * ck, (size_t)g->g);
    return st;
}

static clnet_status backward_chunk(clnet_ctx *ctx, const conv_geom *g,
                                   const clnet__op_io *io,
                                   const conv_implicit_regions *r, int n0,
                                   int nb, int want_dw, int want_dx)
{
    conv_layout b = bx_of(g, nb), f = fx_of(g, nb);
    clnet__tensor dy = clnet__at(io->dout, (size_t)n0 * out_image(g));
    clnet__tensor dypad = clnet__at(io->work, r->dypad);
    clnet_status st = CLNET_OK;
    if (want_dx || (want_dw && g->dyq_shared))
        st = pad(ctx, &b, g->o, g->oh, g->ow, nb, dy, dypad);
    if (st == CLNET_OK && want_dw) {
        clnet__tensor dyq = clnet__at(dypad, (size_t)b.row0 * b.wp + b.col0);
        size_t ld = b.plane;
        if (!g->dyq_shared) {
            conv_layout q = dyq_of(&f);
            dyq = clnet__at(io->work, r->dyq);
            ld = q.plane;
            st = pad(ctx, &q, g->o, g->oh, g->ow, nb, dy, dyq);
        }
        if (st == CLNET_OK)
            st = chunk_dw(ctx, g, io, n0, nb, clnet__at(io->work, r->xpad), dyq,
                          ld);
    }
    if (st != CLNET_OK || !want_dx)
        return st;
    size_t cg = (size_t)g->cg, ok = (size_t)g->og * g->kk;
    clnet__tensor dxt = clnet__at(io->work, r->dxt);
    st = clnet__sgemm_taps(ctx, 0, 0, cg, b.nq, ok, 1.0f,
                           clnet__work_f32(io->work, r->act, r->wflip), ok,
                           cg * ok, dypad,
                           b.plane, taps_of(g, &b), (size_t)g->og * b.plane,
                           0.0f, dxt, b.nq, cg * b.nq, (size_t)g->g);
    if (st == CLNET_OK)
        st = crop(ctx, &b, g->c, g->h, g->w, nb, !(io->din_write & 1u), dxt, NULL,
                  clnet__at(io->din[0], (size_t)n0 * in_image(g)));
    return st;
}

clnet_status conv_implicit_backward(clnet_ctx *ctx, const conv_geom *g,
                                    const clnet__op_io *io, int want_dw,
                                    int want_dx)
{
    conv_implicit_regions r = conv_implicit_regions_of(g, io->work.half);
    clnet_status st = CLNET_OK;
    if (want_dx) {
        arglist a = geom_args(g, g->n);
        arg_tn(&a, "w", io->param[0]);
        arg_tn(&a, "wt", clnet__work_f32(io->work, r.act, r.wflip));
        st = conv_launch1(ctx, "conv_flip", (size_t)g->o * g->cg * g->kk, &a);
    }
    for (int n0 = 0; n0 < g->n && st == CLNET_OK && (want_dw || want_dx);
         n0 += g->nb) {
        int nb = g->n - n0 < g->nb ? g->n - n0 : g->nb;
        st = backward_chunk(ctx, g, io, &r, n0, nb, want_dw, want_dx);
    }
    return st;
}
