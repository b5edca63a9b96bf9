/* conv2d reference in plain C for the tests: the definition written out as
 * loops, sums in double. Only called after plan() accepted the shapes. */
#include "ops/conv.h"

#include <stdlib.h>

/* What each (output element, kernel tap) pair does with the flat indices of
 * the output (oi), weight (wi) and input (xi) elements it joins. */
typedef struct ref_sums {
    const float *x, *w, *dy;
    double *y, *dx, *dw; /* accumulators; NULL when not wanted */
} ref_sums;

typedef void (*tap_fn)(ref_sums *s, size_t oi, size_t wi, size_t xi);

/* Input row/column read by output position q through kernel tap k, or -1
 * when it falls in the padding. */
static int in_pos(int q, int k, int stride, int dil, int pad, int extent)
{
    int i = q * stride + k * dil - pad;
    return i >= 0 && i < extent ? i : -1;
}

/* Calls fn for every output element and every kernel tap that reads a real
 * (not padding) input element: y[n][o][oh][ow] sums w[o][ci][kh][kw] *
 * x[n][group(o)*cg + ci][ih][iw]. */
static void each_tap(const conv_geom *g, tap_fn fn, ref_sums *s)
{
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->o; o++)
            for (int oh = 0; oh < g->oh; oh++)
                for (int ow = 0; ow < g->ow; ow++) {
                    size_t oi = (((size_t)n * g->o + o) * g->oh + oh) * g->ow + ow;
                    int c0 = (o / g->og) * g->cg;
                    for (int ci = 0; ci < g->cg; ci++)
                        for (int kh = 0; kh < g->kh; kh++) {
                            int ih = in_pos(oh, kh, g->sh, g->dh, g->pt, g->h);
                            for (int kw = 0; kw < g->kw && ih >= 0; kw++) {
                                int iw = in_pos(ow, kw, g->sw, g->dw, g->pl, g->w);
                                if (iw < 0)
                                    continue;
                                size_t wi = (((size_t)o * g->cg + ci) * g->kh + kh) * g->kw + kw;
                                size_t xi = (((size_t)n * g->c + c0 + ci) * g->h + ih) * g->w + iw;
                                fn(s, oi, wi, xi);
                            }
                        }
                }
}

static void tap_forward(ref_sums *s, size_t oi, size_t wi, size_t xi)
{
    s->y[oi] += (double)s->w[wi] * s->x[xi];
}

static void tap_backward(ref_sums *s, size_t oi, size_t wi, size_t xi)
{
    if (s->dx)
        s->dx[xi] += (double)s->dy[oi] * s->w[wi];
    if (s->dw)
        s->dw[wi] += (double)s->dy[oi] * s->x[xi];
}

static size_t out_count(const conv_geom *g)
{
    return (size_t)g->n * g->o * g->p;
}

void conv_ref_forward(const void *params, const clnet__ref_io *io)
{
    conv_geom g;
    if (conv_geom_make(params, io->in_shape[0], &g, NULL, 0) != CLNET_OK)
        return;
    size_t ny = out_count(&g);
    ref_sums s = {.x = io->in[0], .w = io->param[0], .y = calloc(ny, sizeof(double))};
    if (!s.y)
        return;
    for (size_t i = 0; g.bias && i < ny; i++)
        s.y[i] = io->param[1][(i / g.p) % (size_t)g.o];
    each_tap(&g, tap_forward, &s);
    for (size_t i = 0; i < ny; i++)
        io->out[i] = (float)s.y[i];
    free(s.y);
}

/* dst += acc, then frees acc. */
static void add_into(float *dst, double *acc, size_t n)
{
    for (size_t i = 0; dst && acc && i < n; i++)
        dst[i] += (float)acc[i];
    free(acc);
}

void conv_ref_backward(const void *params, const clnet__ref_io *io)
{
    conv_geom g;
    if (conv_geom_make(params, io->in_shape[0], &g, NULL, 0) != CLNET_OK)
        return;
    size_t nx = (size_t)g.n * g.c * g.h * g.w, nw = (size_t)g.o * g.cg * g.kk;
    ref_sums s = {.x = io->in[0], .w = io->param[0], .dy = io->dout};
    s.dx = io->din[0] ? calloc(nx, sizeof(double)) : NULL;
    s.dw = io->dparam[0] ? calloc(nw, sizeof(double)) : NULL;
    each_tap(&g, tap_backward, &s);
    add_into(io->din[0], s.dx, nx);
    add_into(io->dparam[0], s.dw, nw);
    if (!g.bias || !io->dparam[1])
        return;
    double *db = calloc((size_t)g.o, sizeof *db);
    for (size_t i = 0; db && i < out_count(&g); i++)
        db[(i / g.p) % (size_t)g.o] += io->dout[i];
    add_into(io->dparam[1], db, (size_t)g.o);
}
