/* Device side of the optimizers: settings checks, the decay bit mask, the
 * moment buffers and the step launches (update rules in optim.h). */
#include "train/optim.h"
#include "core/core.h"
#include "ops/op_util.h"
#include "train/loss_scale.h"
#include "train/names.h"
#include "train/optim_coef.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The norm reduction gives each work-group a block of NORM_BLOCK elements
 * (32 KiB: a work-item's sweep through it stays in a CPU's cache), with at
 * most NORM_MAX_GROUPS partials for the one work-item that sums them. */
#define NORM_BLOCK 8192
#define NORM_MAX_GROUPS 4096

enum { DECAY_NONE, DECAY_MASK, DECAY_ALL };

struct clnet__optim {
    clnet__optim_settings s;
    size_t n;
    clnet__buf *m1, *m2;   /* moments (NULL when the type has none) */
    clnet__buf *mask;      /* decay bits, DECAY_MASK only */
    clnet__buf *partials;  /* norm partials + the clip scale after them */
    size_t norm_groups, norm_block;
    clnet__buf *own_flag;  /* CLNET__NONFINITE_FLOATS floats, then a 0 that
                            * stands in for the loss when none is set */
    clnet__tensor flag;    /* where the kernel writes the non-finite flag */
    clnet__tensor loss;    /* the float it checks when it records (or none) */
    clnet__buf *lscale;    /* loss scaling state (train/loss_scale.h) */
    clnet__kernel *k_step, *k_norm, *k_scale;
    clnet__kernel *k_found, *k_ls_update, *k_ls_grad; /* loss scaling */
    size_t wg_step, wg_norm;
    /* The element ranges that are updated, in order and disjoint: all of
     * them ({0, n}) unless clnet__optim_set_frozen took some out. */
    clnet__optim_range *active;
    size_t n_active;
};

static const char *const names[] = {
    [CLNET__OPTIM_SGD] = "sgd",
    [CLNET__OPTIM_ADAM] = "adam",
    [CLNET__OPTIM_ADAMW] = "adamw",
};
#define N_TYPES (sizeof names / sizeof names[0])

const char *clnet__optim_name(clnet__optim_type type)
{
    return clnet__table_name(names, N_TYPES, (unsigned)type);
}

int clnet__optim_from_name(const char *name, clnet__optim_type *out)
{
    int i = clnet__table_find(names, N_TYPES, name);
    if (i >= 0)
        *out = (clnet__optim_type)i;
    return i < 0 ? -1 : 0;
}

void clnet__optim_default_settings(clnet__optim_settings *s,
                                   clnet__optim_type type)
{
    int adam = type != CLNET__OPTIM_SGD;
    *s = (clnet__optim_settings){
        .type = type,
        .lr = adam ? 1e-3f : 0.01f,
        .weight_decay = type == CLNET__OPTIM_ADAMW ? 1e-2f : 0.0f,
        .beta1 = 0.9f,
        .beta2 = 0.999f,
        .eps = 1e-8f,
    };
}

static int in01(float x) { return x >= 0.0f && x < 1.0f; }

static clnet_status check_settings(clnet_ctx *ctx, const clnet__optim_settings *s)
{
    if ((unsigned)s->type >= N_TYPES)
        return clnet__fail(ctx, CLNET_EINVAL, "optimizer: unknown type %d",
                           (int)s->type);
    const char *what = NULL;
    if (!(s->lr >= 0.0f) || !isfinite(s->lr))
        what = "lr must be finite and >= 0";
    else if (!(s->weight_decay >= 0.0f) || !isfinite(s->weight_decay))
        what = "weight_decay must be finite and >= 0";
    else if (!(s->clip_norm >= 0.0f) || !isfinite(s->clip_norm))
        what = "clip_norm must be finite and >= 0 (0 = off)";
    else if (s->type == CLNET__OPTIM_SGD && !in01(s->momentum))
        what = "momentum must be in [0, 1)";
    else if (s->type == CLNET__OPTIM_SGD && s->nesterov && s->momentum == 0.0f)
        what = "nesterov needs momentum > 0";
    else if (s->type != CLNET__OPTIM_SGD && (!in01(s->beta1) || !in01(s->beta2)))
        what = "beta1 and beta2 must be in [0, 1)";
    else if (s->type != CLNET__OPTIM_SGD && !(s->eps > 0.0f && isfinite(s->eps)))
        what = "eps must be finite and > 0";
    else if (s->loss_scale != 0.0f &&
             !clnet__loss_scale_valid(s->loss_scale, s->loss_scale_interval
                                                         ? s->loss_scale_interval
                                                         : CLNET__LSCALE_INTERVAL))
        what = "loss scale must be 0 (off) or in [2^-24, 2^24], its interval "
               "1..1000000";
    if (what)
        return clnet__fail(ctx, CLNET_EINVAL, "optimizer %s: %s",
                           names[s->type], what);
    return CLNET_OK;
}

/* Largest power of two <= x (the norm's local tree needs one). */
static size_t pow2_floor(size_t x)
{
    size_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

/* Builds the decay bits; sets *mode. Ranges were checked by the caller. */
static clnet_status build_mask(clnet_ctx *ctx, clnet__optim *o,
                               const clnet__optim_range *r, size_t nr, int *mode)
{
    *mode = DECAY_NONE;
    if (o->s.weight_decay == 0.0f || nr == 0)
        return CLNET_OK;
    size_t words = (o->n + 31) / 32;
    uint32_t *bits = calloc(words ? words : 1, sizeof *bits);
    if (!bits)
        return clnet__fail(ctx, CLNET_ENOMEM, "optimizer: decay mask of %zu words",
                           words);
    size_t set = 0;
    for (size_t k = 0; k < nr; k++)
        for (size_t i = r[k].begin; i < r[k].begin + r[k].count; i++) {
            uint32_t bit = 1u << (i & 31);
            set += !(bits[i >> 5] & bit);
            bits[i >> 5] |= bit;
        }
    clnet_status st = CLNET_OK;
    if (set == o->n) {
        *mode = DECAY_ALL;
    } else if (set > 0) {
        *mode = DECAY_MASK;
        st = clnet__buf_create(ctx, words * 4, &o->mask);
        if (st == CLNET_OK)
            st = clnet__buf_write(ctx, o->mask, 0, words * 4, bits);
    }
    free(bits);
    return st;
}

static clnet_status zeroed(clnet_ctx *ctx, size_t n, clnet__buf **out)
{
    clnet_status st = clnet__buf_create(ctx, n * 4, out);
    if (st == CLNET_OK)
        st = clnet__fill(ctx, (clnet__tensor){*out, 0, 0}, n, 0.0f);
    return st;
}

static clnet_status get_kernels(clnet_ctx *ctx, clnet__optim *o, int decay)
{
    const clnet__optim_settings *s = &o->s;
    char opt[128];
    int ls = s->loss_scale > 0.0f;
    snprintf(opt, sizeof opt, "-DOPT=%d -DMOMENTUM=%d -DNESTEROV=%d -DDECAY=%d -DCLIP=%d%s",
             (int)s->type, s->momentum != 0.0f, s->nesterov != 0, decay,
             s->clip_norm > 0.0f, ls ? " -DLSCALE=1" : "");
    clnet_status st = clnet__kernel_get(ctx, "optim", opt, "optim_step", &o->k_step);
    if (st == CLNET_OK && s->clip_norm > 0.0f)
        st = clnet__kernel_get(ctx, "optim", opt, "optim_sqnorm", &o->k_norm);
    if (st == CLNET_OK && s->clip_norm > 0.0f)
        st = clnet__kernel_get(ctx, "optim", opt, "optim_clip_scale", &o->k_scale);
    if (st == CLNET_OK && ls)
        st = clnet__kernel_get(ctx, "optim", opt, "optim_found_inf", &o->k_found);
    if (st == CLNET_OK && ls)
        st = clnet__kernel_get(ctx, "optim", opt, "optim_scale_update", &o->k_ls_update);
    if (st == CLNET_OK && ls)
        st = clnet__kernel_get(ctx, "optim", opt, "optim_scale_grad", &o->k_ls_grad);
    if (st != CLNET_OK)
        return st;
    o->wg_step = clnet__wg_1d(ctx, o->k_step);
    o->wg_norm = o->k_norm ? pow2_floor(clnet__wg_1d(ctx, o->k_norm)) : 1;
    return CLNET_OK;
}

clnet_status clnet__optim_create(clnet_ctx *ctx,
                                 const clnet__optim_settings *settings,
                                 size_t n_params,
                                 const clnet__optim_range *decay,
                                 size_t n_decay, clnet__optim **out)
{
    CLNET__CHECK_ARG(ctx, settings && out);
    *out = NULL;
    CLNET__CHECK_ARG(ctx, n_params >= 1 && n_params < ((size_t)1 << 31));
    CLNET__CHECK_ARG(ctx, decay || n_decay == 0);
    clnet_status st = check_settings(ctx, settings);
    if (st != CLNET_OK)
        return st;
    for (size_t k = 0; k < n_decay; k++)
        if (decay[k].begin > n_params || decay[k].count > n_params - decay[k].begin)
            return clnet__fail(ctx, CLNET_EINVAL,
                               "optimizer: decay range %zu [%zu, +%zu) exceeds "
                               "the %zu parameters",
                               k, decay[k].begin, decay[k].count, n_params);
    clnet__optim *o = calloc(1, sizeof *o);
    if (!o)
        return clnet__fail(ctx, CLNET_ENOMEM, "optimizer: out of host memory");
    o->s = *settings;
    if (o->s.type != CLNET__OPTIM_SGD)
        o->s.momentum = 0.0f, o->s.nesterov = 0;
    o->n = n_params;
    int mode = DECAY_NONE;
    st = build_mask(ctx, o, decay, n_decay, &mode);
    if (st == CLNET_OK && (o->s.type != CLNET__OPTIM_SGD || o->s.momentum != 0.0f))
        st = zeroed(ctx, n_params, &o->m1);
    if (st == CLNET_OK && o->s.type != CLNET__OPTIM_SGD)
        st = zeroed(ctx, n_params, &o->m2);
    if (st == CLNET_OK && o->s.clip_norm > 0.0f) {
        o->norm_groups = (n_params + NORM_BLOCK - 1) / NORM_BLOCK;
        if (o->norm_groups > NORM_MAX_GROUPS)
            o->norm_groups = NORM_MAX_GROUPS;
        o->norm_block = (n_params + o->norm_groups - 1) / o->norm_groups;
        st = clnet__buf_create(ctx, (o->norm_groups + 1) * 4, &o->partials);
    }
    if (st == CLNET_OK)
        st = zeroed(ctx, CLNET__NONFINITE_FLOATS + 1, &o->own_flag);
    if (st == CLNET_OK && o->s.loss_scale > 0.0f) {
        if (!o->s.loss_scale_interval)
            o->s.loss_scale_interval = CLNET__LSCALE_INTERVAL;
        float ls[CLNET__LSCALE_FLOATS];
        clnet__loss_scale_init(ls, o->s.loss_scale);
        st = clnet__buf_create(ctx, sizeof ls, &o->lscale);
        if (st == CLNET_OK)
            st = clnet__buf_write(ctx, o->lscale, 0, sizeof ls, ls);
    }
    if (st == CLNET_OK)
        st = get_kernels(ctx, o, mode);
    if (st == CLNET_OK && !(o->active = malloc(sizeof *o->active)))
        st = clnet__fail(ctx, CLNET_ENOMEM, "optimizer: out of host memory");
    if (st == CLNET_OK) {
        o->active[0] = (clnet__optim_range){0, n_params};
        o->n_active = 1;
    }
    if (st != CLNET_OK) {
        clnet__optim_free(ctx, o);
        return st;
    }
    o->flag = (clnet__tensor){o->own_flag, 0, 0};
    *out = o;
    return CLNET_OK;
}

size_t clnet__optim_buffers(const clnet__optim_settings *s, size_t n_params,
                            size_t bytes[CLNET__OPTIM_MAX_BUFFERS])
{
    size_t k = 0;
    if (s->type != CLNET__OPTIM_SGD || s->momentum != 0.0f)
        bytes[k++] = n_params * 4;
    if (s->type != CLNET__OPTIM_SGD)
        bytes[k++] = n_params * 4;
    if (s->weight_decay > 0.0f)
        bytes[k++] = (n_params + 31) / 32 * 4;
    if (s->clip_norm > 0.0f) {
        size_t groups = (n_params + NORM_BLOCK - 1) / NORM_BLOCK;
        bytes[k++] = ((groups > NORM_MAX_GROUPS ? NORM_MAX_GROUPS : groups) + 1) * 4;
    }
    bytes[k++] = CLNET__NONFINITE_FLOATS * 4;
    if (s->loss_scale > 0.0f)
        bytes[k++] = CLNET__LSCALE_FLOATS * 4;
    return k;
}

void clnet__optim_free(clnet_ctx *ctx, clnet__optim *opt)
{
    if (!opt)
        return;
    clnet__buf_release(ctx, opt->m1);
    clnet__buf_release(ctx, opt->m2);
    clnet__buf_release(ctx, opt->mask);
    clnet__buf_release(ctx, opt->partials);
    clnet__buf_release(ctx, opt->own_flag);
    clnet__buf_release(ctx, opt->lscale);
    free(opt->active);
    free(opt);
}

static int by_begin(const void *a, const void *b)
{
    const clnet__optim_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

clnet_status clnet__optim_set_frozen(clnet_ctx *ctx, clnet__optim *opt,
                                     const clnet__optim_range *frozen,
                                     size_t n_frozen)
{
    CLNET__CHECK_ARG(ctx, opt && (frozen || n_frozen == 0));
    for (size_t k = 0; k < n_frozen; k++)
        if (frozen[k].begin > opt->n || frozen[k].count > opt->n - frozen[k].begin)
            return clnet__fail(ctx, CLNET_EINVAL,
                               "optimizer: frozen range %zu [%zu, +%zu) exceeds "
                               "the %zu parameters",
                               k, frozen[k].begin, frozen[k].count, opt->n);
    /* The complement of the frozen ranges: sort them, then sweep. Between
     * n_frozen frozen ranges lie at most n_frozen + 1 active ones. */
    clnet__optim_range *f = malloc((n_frozen + 1) * sizeof *f);
    clnet__optim_range *a = malloc((n_frozen + 1) * sizeof *a);
    if (!f || !a) {
        free(f);
        free(a);
        return clnet__fail(ctx, CLNET_ENOMEM, "optimizer: out of host memory");
    }
    if (n_frozen)
        memcpy(f, frozen, n_frozen * sizeof *f);
    qsort(f, n_frozen, sizeof *f, by_begin);
    size_t pos = 0, na = 0;
    for (size_t k = 0; k < n_frozen; k++) {
        if (f[k].begin > pos)
            a[na++] = (clnet__optim_range){pos, f[k].begin - pos};
        if (f[k].begin + f[k].count > pos)
            pos = f[k].begin + f[k].count;
    }
    if (pos < opt->n)
        a[na++] = (clnet__optim_range){pos, opt->n - pos};
    free(f);
    free(opt->active);
    opt->active = a;
    opt->n_active = na;
    return CLNET_OK;
}

size_t clnet__optim_updated(const clnet__optim *opt)
{
    size_t n = 0;
    for (size_t k = 0; opt && k < opt->n_active; k++)
        n += opt->active[k].count;
    return n;
}

static clnet_status check_view(clnet_ctx *ctx, clnet__tensor t, size_t n,
                               const char *what)
{
    if (!t.buf || t.off > t.buf->bytes / 4 || n > t.buf->bytes / 4 - t.off)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "optimizer: %s view (offset %zu) holds fewer than "
                           "the %zu parameters",
                           what, t.off, n);
    return CLNET_OK;
}

/* The clip factor into partials[norm_groups]: partial sums of squares, then
 * one work-item sums them in order. */
static clnet_status launch_clip(clnet_ctx *ctx, clnet__optim *o, clnet__tensor g)
{
    size_t global = o->norm_groups * o->wg_norm, one = 1;
    clnet_status st = CLNET__LAUNCH(ctx, o->k_norm, 1, &global, &o->wg_norm,
                                    CLNET_ARG_U32(o->n), CLNET_ARG_U32(o->norm_block),
                                    CLNET_ARG_T(g), CLNET_ARG_BUF(o->partials),
                                    CLNET_ARG_LOCAL(o->wg_norm * sizeof(float)),
                                    CLNET_ARG_BUF(o->lscale ? o->lscale : g.buf), CLNET_ARG_U32(0));
    if (st != CLNET_OK)
        return st;
    return CLNET__LAUNCH(ctx, o->k_scale, 1, &one, &one,
                         CLNET_ARG_U32(o->norm_groups), CLNET_ARG_F32(o->s.clip_norm),
                         CLNET_ARG_BUF(o->partials));
}

clnet_status clnet__optim_step(clnet_ctx *ctx, clnet__optim *opt,
                               clnet__tensor params, clnet__tensor grads,
                               float lr, uint64_t step)
{
    CLNET__CHECK_ARG(ctx, opt);
    CLNET__CHECK_ARG(ctx, isfinite(lr) && lr >= 0.0f);
    CLNET__CHECK_ARG(ctx, step >= 1 || opt->s.type == CLNET__OPTIM_SGD);
    clnet_status st = check_view(ctx, params, opt->n, "parameter");
    if (st == CLNET_OK)
        st = check_view(ctx, grads, opt->n, "gradient");
    if (st != CLNET_OK || opt->n_active == 0) /* everything frozen */
        return st;
    /* Loss scaling: the overflow check over every gradient first (frozen
     * ones are zero), as the skip must be decided before any update. */
    size_t n_all = opt->n;
    if (opt->k_found)
        st = CLNET__LAUNCH(ctx, opt->k_found, 1, &n_all, &opt->wg_step,
                           CLNET_ARG_U32(opt->n), CLNET_ARG_T(grads),
                           CLNET_ARG_BUF(opt->lscale), CLNET_ARG_U32(0));
    if (st == CLNET_OK && opt->k_norm)
        st = launch_clip(ctx, opt, grads);
    if (st != CLNET_OK)
        return st;
    clnet__optim_coef c = clnet__optim_coef_of(&opt->s, lr, step);
    /* The step in the non-finite record: 31 bits, and 0 means "none". */
    uint32_t step_tag = (uint32_t)(step & 0x7fffffffu);
    if (!step_tag)
        step_tag = 1;
    /* Unused buffers still need a valid argument: the gradient buffer is one. */
    const clnet__buf *any = grads.buf;
    /* Without a loss the record reads a finite 0 that nothing writes (not
     * the flag itself: other work-items may be writing it). */
    clnet__tensor loss = opt->loss.buf ? opt->loss
                                       : (clnet__tensor){opt->own_flag, CLNET__NONFINITE_FLOATS, 0};
    /* One launch per active range (one over everything when nothing is
     * frozen): the kernel takes absolute indices, so the decay mask, the
     * moments and the non-finite record need no offsets. */
    for (size_t k = 0; k < opt->n_active && st == CLNET_OK; k++) {
        const clnet__optim_range *r = &opt->active[k];
        st = CLNET__LAUNCH(
            ctx, opt->k_step, 1, &r->count, &opt->wg_step,
            CLNET_ARG_U32(r->begin), CLNET_ARG_U32(r->begin + r->count),
            CLNET_ARG_F32(c.lr), CLNET_ARG_F32(c.wd), CLNET_ARG_F32(c.momentum),
            CLNET_ARG_F32(c.beta1), CLNET_ARG_F32(c.one_minus_beta1),
            CLNET_ARG_F32(c.beta2), CLNET_ARG_F32(c.one_minus_beta2),
            CLNET_ARG_F32(c.eps), CLNET_ARG_F32(c.step_size),
            CLNET_ARG_F32(c.bc2_sqrt), CLNET_ARG_F32(c.decoupled),
            CLNET_ARG_BUF(opt->partials ? opt->partials : any),
            CLNET_ARG_U32(opt->norm_groups), CLNET_ARG_T(params), CLNET_ARG_T(grads),
            CLNET_ARG_BUF(opt->m1 ? opt->m1 : any), CLNET_ARG_BUF(opt->m2 ? opt->m2 : any),
            CLNET_ARG_BUF(opt->mask ? opt->mask : any), CLNET_ARG_T(opt->flag),
            CLNET_ARG_T(loss), CLNET_ARG_U32(step_tag),
            CLNET_ARG_BUF(opt->lscale ? opt->lscale : any), CLNET_ARG_U32(0));
    }
    if (st == CLNET_OK && opt->k_ls_update) {
        size_t one = 1;
        st = CLNET__LAUNCH(ctx, opt->k_ls_update, 1, &one, &one,
                           CLNET_ARG_U32((uint32_t)opt->s.loss_scale_interval),
                           CLNET_ARG_F32(CLNET__LSCALE_MAX), CLNET_ARG_F32(CLNET__LSCALE_MIN),
                           CLNET_ARG_BUF(opt->lscale), CLNET_ARG_U32(0));
    }
    return st;
}

clnet_status clnet__optim_scale_loss_grad(clnet_ctx *ctx, clnet__optim *opt,
                                          clnet__tensor dloss, size_t n)
{
    CLNET__CHECK_ARG(ctx, opt);
    if (!opt->k_ls_grad || n == 0)
        return CLNET_OK;
    return CLNET__LAUNCH(ctx, opt->k_ls_grad, 1, &n, NULL, CLNET_ARG_U32((uint32_t)n),
                         CLNET_ARG_T(dloss), CLNET_ARG_BUF(opt->lscale), CLNET_ARG_U32(0));
}

int clnet__optim_loss_scaled(const clnet__optim *opt) { return opt && opt->lscale; }

clnet_status clnet__optim_loss_scale_get(clnet_ctx *ctx, const clnet__optim *opt,
                                         float *state)
{
    CLNET__CHECK_ARG(ctx, state);
    if (!opt || !opt->lscale) {
        clnet__loss_scale_init(state, 1.0f);
        return CLNET_OK;
    }
    return clnet__buf_read(ctx, opt->lscale, 0, CLNET__LSCALE_FLOATS * 4, state);
}

clnet_status clnet__optim_loss_scale_set(clnet_ctx *ctx, clnet__optim *opt,
                                         const float *state)
{
    CLNET__CHECK_ARG(ctx, state);
    if (!opt || !opt->lscale)
        return CLNET_OK;
    return clnet__buf_write(ctx, opt->lscale, 0, CLNET__LSCALE_FLOATS * 4, state);
}

clnet_status clnet__optim_zero_grad(clnet_ctx *ctx, const clnet__optim *opt,
                                    clnet__tensor grads)
{
    CLNET__CHECK_ARG(ctx, opt);
    return clnet__fill(ctx, grads, opt->n, 0.0f);
}

void clnet__optim_set_flag(clnet__optim *opt, clnet__tensor flag)
{
    if (opt)
        opt->flag = flag.buf ? flag : (clnet__tensor){opt->own_flag, 0, 0};
}

void clnet__optim_set_loss(clnet__optim *opt, clnet__tensor loss)
{
    if (opt)
        opt->loss = loss;
}

clnet_status clnet__optim_read_flag(clnet_ctx *ctx, clnet__optim *opt,
                                    int *nonfinite, int clear)
{
    CLNET__CHECK_ARG(ctx, opt && nonfinite);
    float v = 0.0f;
    clnet_status st = clnet__buf_read(ctx, opt->flag.buf, opt->flag.off * 4,
                                      sizeof v, &v);
    if (st == CLNET_OK && clear)
        st = clnet__fill(ctx, opt->flag, CLNET__NONFINITE_FLOATS, 0.0f);
    *nonfinite = v != 0.0f;
    return st;
}

int clnet__nonfinite_decode(const float rec[CLNET__NONFINITE_FLOATS],
                            clnet__nonfinite *out)
{
    uint32_t code, at;
    memcpy(&code, &rec[1], 4);
    memcpy(&at, &rec[2], 4);
    memset(out, 0, sizeof *out);
    if (rec[0] == 0.0f || code < 2)
        return 0;
    out->index = code / 2 - 1;
    out->is_nan = (int)(code & 1u);
    out->step = at & 0x7fffffffu;
    out->loss_bad = (int)(at >> 31);
    return 1;
}

size_t clnet__optim_states(const clnet__optim *opt,
                           clnet__optim_state out[CLNET__OPTIM_MAX_STATES])
{
    if (!opt)
        return 0;
    if (opt->s.type == CLNET__OPTIM_SGD) {
        if (!opt->m1)
            return 0;
        out[0] = (clnet__optim_state){"optim.momentum", opt->m1, opt->n};
        return 1;
    }
    out[0] = (clnet__optim_state){"optim.exp_avg", opt->m1, opt->n};
    out[1] = (clnet__optim_state){"optim.exp_avg_sq", opt->m2, opt->n};
    return 2;
}

clnet_status clnet__optim_reset(clnet_ctx *ctx, clnet__optim *opt)
{
    CLNET__CHECK_ARG(ctx, opt);
    clnet_status st = CLNET_OK;
    if (opt->m1)
        st = clnet__fill(ctx, (clnet__tensor){opt->m1, 0, 0}, opt->n, 0.0f);
    if (st == CLNET_OK && opt->m2)
        st = clnet__fill(ctx, (clnet__tensor){opt->m2, 0, 0}, opt->n, 0.0f);
    return st;
}
