/* Kernel launches of the conv op shared by conv_device.c (direct and
 * im2col paths) and conv_implicit.c: argument lists that start with the
 * GEOM arguments of cl/conv.cl, and the launch shapes. */
#ifndef CLNET_OPS_CONV_LAUNCH_H
#define CLNET_OPS_CONV_LAUNCH_H

#include "ops/conv.h"

#define MAX_ARGS 32

/* A kernel argument list built up piece by piece: the geometry every conv
 * kernel starts with, then kernel-specific values and tensors. */
typedef struct arglist {
    clnet__arg a[MAX_ARGS];
    size_t n;
    char opts[256];  /* build options: the storage of the tensors added */
} arglist;

static inline void arg_i(arglist *l, int v)
{
    l->a[l->n++] = CLNET_ARG_I32(v);
}

/* Tensor argument `name` of the kernel (its TENSOR(name) in cl/conv.cl):
 * a half tensor adds -DHALF_name=1 to the launch's build options. */
static inline void arg_tn(arglist *l, const char *name, clnet__tensor t)
{
    l->a[l->n++] = CLNET_ARG_BUF(t.buf);
    l->a[l->n++] = CLNET_ARG_U32(t.off);
    clnet__half_opt(l->opts, sizeof l->opts, name, t);
}

/* The GEOM argument list of cl/conv.cl, then nb (images in this launch). */
static inline arglist geom_args(const conv_geom *g, int nb)
{
    arglist l = {.n = 0, .opts = ""};
    const int v[] = {g->c, g->h,  g->w,  g->o,  g->oh, g->ow, g->kh, g->kw, g->sh,
                     g->sw, g->pt, g->pl, g->dh, g->dw, g->cg, g->og, nb};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        arg_i(&l, v[i]);
    return l;
}

/* Items per work-group for the row kernels: enough rows to amortise a
 * group's start on PoCL (measured best at 16 there), few local-size variants
 * for PoCL to build. */
#define ROWS_PER_GROUP 16

/* Launches cl/conv.cl's `name` over n0 x n1 (x n2) items; dim 0 is the
 * fastest-moving. The local size fills dim 0 first, then dim 1, up to
 * `per_group` items (power-of-two sizes). n2 == 0: 2-D. */
clnet_status conv_launch(clnet_ctx *ctx, const char *name, size_t per_group,
                         size_t n0, size_t n1, size_t n2, const arglist *l);
/* The same over n items in one dimension, local size the driver's. */
clnet_status conv_launch1(clnet_ctx *ctx, const char *name, size_t n,
                          const arglist *l);

#endif
