/* conv2d on the device: direct kernels or im2col + GEMM, chosen per shape in
 * conv_geom_make (strategy and work-buffer layout in conv.h); the implicit
 * path is conv_implicit.c. */
#include "ops/conv.h"
#include "ops/conv_launch.h"
#include "ops/op_util.h"

static size_t pow2_at_least(size_t n, size_t cap)
{
    size_t p = 1;
    while (p < n && p < cap)
        p *= 2;
    return p;
}

clnet_status conv_launch(clnet_ctx *ctx, const char *name, size_t per_group,
                         size_t n0, size_t n1, size_t n2, const arglist *l)
{
    clnet__kernel *k = NULL;
    clnet_status st = clnet__kernel_get(ctx, "conv", l->opts, name, &k);
    if (st != CLNET_OK)
        return st;
    size_t wg = clnet__wg_1d(ctx, k);
    wg = per_group < wg ? per_group : wg;
    size_t global[3] = {n0, n1, n2}, local[3];
    local[0] = pow2_at_least(n0, wg);
    local[1] = pow2_at_least(n1, wg / local[0]);
    local[2] = 1;
    return clnet__launch(ctx, k, n2 ? 3 : 2, global, local, l->n, l->a);
}

clnet_status conv_launch1(clnet_ctx *ctx, const char *name, size_t n,
                          const arglist *l)
{
    clnet__kernel *k = NULL;
    clnet_status st = clnet__kernel_get(ctx, "conv", l->opts, name, &k);
    return st != CLNET_OK ? st : clnet__launch_n(ctx, k, n, l->n, l->a);
}

static clnet_status geom_of(clnet_ctx *ctx, const void *params,
                            const clnet__op_io *io, conv_geom *g)
{
    char err[256];
    clnet_status st = conv_geom_make(params, io->in_shape[0], g, err, sizeof err);
    return st == CLNET_OK ? st : clnet__fail(ctx, st, "%s", err);
}

/* The bias tensor, or any valid buffer when there is none (the kernels take
 * a has_bias flag and never read it then). */
static clnet__tensor bias_or_dummy(const conv_geom *g, const clnet__op_io *io)
{
    return g->bias ? io->param[1] : io->param[0];
}

/* Work-buffer regions: cols (at the start), tmp ([O][nb*P]), dW slices,
 * dbias partials. */
static clnet__tensor tmp_of(const conv_geom *g, const clnet__op_io *io)
{
    return clnet__at(io->work, g->cols_count);
}

static clnet__tensor dwpart_of(const conv_geom *g, const clnet__op_io *io)
{
    return clnet__work_f32(io->work, g->cols_count + g->tmp_count, 0);
}

static clnet__tensor partial_of(const conv_geom *g, const clnet__op_io *io)
{
    if (g->path == CONV_IMPLICIT) {
        conv_implicit_regions r = conv_implicit_regions_of(g, io->work.half);
        return clnet__work_f32(io->work, r.act, r.partial);
    }
    return clnet__work_f32(io->work, g->cols_count + g->tmp_count, g->dwpart_count);
}

static clnet_status im2col(clnet_ctx *ctx, const conv_geom *g,
                           const clnet__op_io *io, int n0, int nb)
{
    arglist l = geom_args(g, nb);
    arg_tn(&l, "x", clnet__at(io->in[0], (size_t)n0 * in_image(g)));
    arg_tn(&l, "cols", io->work);
    return conv_launch(ctx, "conv_im2col", ROWS_PER_GROUP, (size_t)g->oh,
                  (size_t)g->c * g->kk * nb, 0, &l);
}

/* tmp[o][n*P + p] <-> NCHW for images n0..n0+nb: the forward scatter adds
 * the bias, the backward gather copies dout. */
static clnet_status reshuffle(clnet_ctx *ctx, const conv_geom *g,
                              const clnet__op_io *io, int n0, int nb, int fwd)
{
    arglist l = geom_args(g, nb);
    size_t at = (size_t)n0 * out_image(g);
    if (fwd) {
        arg_i(&l, g->bias);
        arg_tn(&l, "tmp", tmp_of(g, io));
        arg_tn(&l, "bias", bias_or_dummy(g, io));
        arg_tn(&l, "y", clnet__at(io->out, at));
    } else {
        arg_tn(&l, "dy", clnet__at(io->dout, at));
        arg_tn(&l, "tmp", tmp_of(g, io));
    }
    return conv_launch(ctx, fwd ? "conv_scatter" : "conv_gather_dout", 64, g->p,
                  (size_t)g->o, (size_t)nb, &l);
}

/* Groups are the batch of the GEMMs below; ld/stride in floats. */
static clnet_status gemm_groups(clnet_ctx *ctx, const conv_geom *g, int ta,
                                int tb, size_t m, size_t n, size_t k,
                                clnet__tensor a, size_t lda, size_t sa,
                                clnet__tensor b, size_t ldb, size_t sb,
                                float beta, clnet__tensor c, size_t ldc, size_t sc)
{
    return clnet__sgemm_batched(ctx, ta, tb, m, n, k, 1.0f, a, lda, sa, b, ldb,
                                sb, beta, c, ldc, sc, (size_t)g->g);
}

static clnet_status forward_gemm(clnet_ctx *ctx, const conv_geom *g,
                                 const clnet__op_io *io)
{
    size_t ck = (size_t)g->cg * g->kk; /* GEMM inner size per group */
    clnet_status st = CLNET_OK;
    for (int n0 = 0; n0 < g->n && st == CLNET_OK; n0 += g->nb) {
        int nb = g->n - n0 < g->nb ? g->n - n0 : g->nb;
        size_t np = (size_t)nb * g->p;
        st = im2col(ctx, g, io, n0, nb);
        if (st == CLNET_OK)
            st = gemm_groups(ctx, g, 0, 0, (size_t)g->og, np, ck, io->param[0],
                             ck, (size_t)g->og * ck, io->work, np, ck * np,
                             0.0f, tmp_of(g, io), np, (size_t)g->og * np);
        if (st == CLNET_OK)
            st = reshuffle(ctx, g, io, n0, nb, 1);
    }
    return st;
}

/* 1x1, stride 1, no padding, one group: out_n = W*x_n for every image n,
 * reading and writing NCHW directly. */
static clnet_status forward_1x1(clnet_ctx *ctx, const conv_geom *g,
                                const clnet__op_io *io)
{
    clnet_status st = clnet__sgemm_batched(
        ctx, 0, 0, (size_t)g->o, g->p, (size_t)g->c, 1.0f, io->param[0],
        (size_t)g->c, 0, io->in[0], g->p, in_image(g), 0.0f, io->out, g->p,
        out_image(g), (size_t)g->n);
    if (st != CLNET_OK || !g->bias)
        return st;
    arglist l = geom_args(g, g->n);
    arg_tn(&l, "bias", io->param[1]);
    arg_tn(&l, "y", io->out);
    return conv_launch(ctx, "conv_bias_add", 64, g->p, (size_t)g->o, (size_t)g->n, &l);
}

static clnet_status forward_direct(clnet_ctx *ctx, const conv_geom *g,
                                   const clnet__op_io *io)
{
    arglist l = geom_args(g, g->n);
    arg_i(&l, g->bias);
    arg_tn(&l, "x", io->in[0]);
    arg_tn(&l, "w", io->param[0]);
    arg_tn(&l, "bias", bias_or_dummy(g, io));
    arg_tn(&l, "y", io->out);
    return conv_launch(ctx, "conv_direct_forward", ROWS_PER_GROUP, (size_t)g->oh,
                  (size_t)g->n * g->o, 0, &l);
}

clnet_status conv_forward(clnet_ctx *ctx, const void *params,
                          const clnet__op_io *io)
{
    conv_geom g;
    clnet_status st = geom_of(ctx, params, io, &g);
    if (st != CLNET_OK)
        return st;
    switch (g.path) {
    case CONV_DIRECT: return forward_direct(ctx, &g, io);
    case CONV_GEMM_1X1: return forward_1x1(ctx, &g, io);
    case CONV_IMPLICIT: return conv_implicit_forward(ctx, &g, io);
    default: return forward_gemm(ctx, &g, io);
    }
}

/* dbias += sum of dout over images and positions, in two deterministic
 * levels: per (image, channel), then per channel. */
static clnet_status backward_bias(clnet_ctx *ctx, const conv_geom *g,
                                  const clnet__op_io *io)
{
    arglist l = geom_args(g, g->n);
    arg_tn(&l, "dy", io->dout);
    arg_tn(&l, "part", partial_of(g, io));
    clnet_status st = conv_launch1(ctx, "conv_dbias_partial", (size_t)g->n * g->o, &l);
    if (st != CLNET_OK)
        return st;
    l = geom_args(g, g->n);
    arg_tn(&l, "part", partial_of(g, io));
    arg_tn(&l, "db", io->dparam[1]);
    return conv_launch1(ctx, "conv_dbias_reduce", (size_t)g->o, &l);
}

/* dW += tmp * cols^T for one chunk (inner size np). Split into S slices of
 * the inner dimension (conv.h), each GEMM writing its own partial dW; the
 * np % S leftover columns go into slice 0 with a second GEMM (beta 1). */
static clnet_status backward_weight(clnet_ctx *ctx, const conv_geom *g,
                                    const clnet__op_io *io, size_t np)
{
    size_t ck = (size_t)g->cg * g->kk, og = (size_t)g->og;
    size_t S = (size_t)g->dw_split < np ? (size_t)g->dw_split : np;
    if (S <= 1)
        return gemm_groups(ctx, g, 0, 1, og, ck, np, tmp_of(g, io), np, og * np,
                           io->work, np, ck * np, 1.0f, io->dparam[0], ck, og * ck);
    /* One group here: og == O and ck is the whole weight row. */
    size_t ks = np / S, rest = np - S * ks, len = og * ck;
    clnet__tensor part = dwpart_of(g, io);
    clnet_status st = clnet__sgemm_batched(ctx, 0, 1, og, ck, ks, 1.0f,
                                           tmp_of(g, io), np, ks, io->work, np,
                                           ks, 0.0f, part, ck, len, S);
    if (st == CLNET_OK && rest)
        st = clnet__sgemm(ctx, 0, 1, og, ck, rest, 1.0f,
                          clnet__at(tmp_of(g, io), S * ks), np,
                          clnet__at(io->work, S * ks), np, 1.0f, part, ck);
    if (st != CLNET_OK)
        return st;
    arglist l = {.n = 0};
    l.a[l.n++] = CLNET_ARG_U32(len);
    arg_i(&l, (int)S);
    arg_tn(&l, "part", part);
    arg_tn(&l, "dw", io->dparam[0]);
    return conv_launch1(ctx, "conv_sum_slices", len, &l);
}

/* One chunk of the GEMM backward: dW += dOut*cols^T, then (want_dx) cols =
 * W^T*dOut and col2im into din. */
static clnet_status backward_chunk(clnet_ctx *ctx, const conv_geom *g,
                                   const clnet__op_io *io, int n0, int nb,
                                   int want_dw, int want_dx)
{
    size_t ck = (size_t)g->cg * g->kk, np = (size_t)nb * g->p;
    size_t og = (size_t)g->og;
    clnet_status st = reshuffle(ctx, g, io, n0, nb, 0);
    if (st == CLNET_OK && want_dw) {
        st = im2col(ctx, g, io, n0, nb);
        if (st == CLNET_OK)
            st = backward_weight(ctx, g, io, np);
    }
    if (st != CLNET_OK || !want_dx)
        return st;
    st = gemm_groups(ctx, g, 1, 0, ck, np, og, io->param[0], ck, og * ck,
                     tmp_of(g, io), np, og * np, 0.0f, io->work, np, ck * np);
    if (st != CLNET_OK)
        return st;
    arglist l = geom_args(g, nb);
    arg_tn(&l, "cols", io->work);
    arg_tn(&l, "dx", clnet__at(io->din[0], (size_t)n0 * in_image(g)));
    arg_i(&l, (int)(io->din_write & 1u));
    return conv_launch(ctx, "conv_col2im", ROWS_PER_GROUP, (size_t)g->h,
                  (size_t)nb * g->c, 0, &l);
}

/* 1x1 dX without col2im: din_n += W^T*dout_n for every image n. */
static clnet_status backward_1x1_data(clnet_ctx *ctx, const conv_geom *g,
                                      const clnet__op_io *io)
{
    return clnet__sgemm_batched(ctx, 1, 0, (size_t)g->c, g->p, (size_t)g->o,
                                1.0f, io->param[0], (size_t)g->c, 0, io->dout,
                                g->p, out_image(g),
                                io->din_write & 1u ? 0.0f : 1.0f, io->din[0],
                                g->p, in_image(g), (size_t)g->n);
}

static clnet_status backward_direct(clnet_ctx *ctx, const conv_geom *g,
                                    const clnet__op_io *io, int want_dw,
                                    int want_dx)
{
    clnet_status st = CLNET_OK;
    if (want_dx) {
        arglist l = geom_args(g, g->n);
        arg_tn(&l, "dy", io->dout);
        arg_tn(&l, "w", io->param[0]);
        arg_tn(&l, "dx", io->din[0]);
        arg_i(&l, (int)(io->din_write & 1u));
        st = conv_launch(ctx, "conv_direct_backward_data", ROWS_PER_GROUP,
                    (size_t)g->h, (size_t)g->n * g->c, 0, &l);
    }
    if (st == CLNET_OK && want_dw) {
        arglist l = geom_args(g, g->n);
        arg_tn(&l, "x", io->in[0]);
        arg_tn(&l, "dy", io->dout);
        arg_tn(&l, "dw", io->dparam[0]);
        st = conv_launch1(ctx, "conv_direct_backward_weight",
                     (size_t)g->o * g->cg * g->kk, &l);
    }
    return st;
}

clnet_status conv_backward(clnet_ctx *ctx, const void *params,
                           const clnet__op_io *io)
{
    conv_geom g;
    clnet_status st = geom_of(ctx, params, io, &g);
    if (st != CLNET_OK)
        return st;
    int want_dx = io->din[0].buf != NULL, want_dw = io->dparam[0].buf != NULL;
    if (g.bias && io->dparam[1].buf)
        st = backward_bias(ctx, &g, io);
    if (st != CLNET_OK)
        return st;
    if (g.path == CONV_DIRECT)
        return backward_direct(ctx, &g, io, want_dw, want_dx);
    if (g.path == CONV_IMPLICIT)
        return conv_implicit_backward(ctx, &g, io, want_dw, want_dx);
    if (g.path == CONV_GEMM_1X1 && want_dx) {
        st = backward_1x1_data(ctx, &g, io);
        want_dx = 0;
    }
    for (int n0 = 0; n0 < g.n && st == CLNET_OK && (want_dw || want_dx); n0 += g.nb) {
        int nb = g.n - n0 < g.nb ? g.n - n0 : g.nb;
        st = backward_chunk(ctx, &g, io, n0, nb, want_dw, want_dx);
    }
    return st;
}
