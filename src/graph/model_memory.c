/* The model's device-memory check: before a model allocates anything, the
 * memory plan says what it will take, and a model that cannot fit is
 * refused with the bytes needed, the bytes the device has and a batch size
 * that would fit, instead of failing in the middle of allocation (or, on
 * drivers that allocate lazily, at the first step). */
#include "graph/model_impl.h"

#include "core/ctx.h"
#include "train/optim.h"

#include <stdio.h>
#include <string.h>

typedef struct need {
    clnet__graph_need g;
    size_t optim;       /* optimizer buffers as the pool allocates them */
    size_t total;       /* everything */
    size_t largest;     /* the largest single buffer */
    const char *largest_what;
    char what[CLNET__NAME_MAX + 64];
} need;

static clnet_status need_of(clnet_ctx *ctx, const clnet__model_desc *d,
                            int training, const clnet_train_settings *r, need *n)
{
    memset(n, 0, sizeof *n);
    size_t cap = ctx->ocl.desc.max_alloc_bytes;
    clnet_status st = clnet__graph_need_of(ctx, d, training, cap, &n->g);
    if (st != CLNET_OK)
        return st;
    size_t params = n->g.params / sizeof(float);
    if (training && params) {
        clnet__optim_settings os = {
            .type = r->optimizer == CLNET_OPTIM_SGD ? CLNET__OPTIM_SGD : CLNET__OPTIM_ADAM,
            .momentum = r->momentum, .weight_decay = r->weight_decay,
            .clip_norm = r->clip_norm, .loss_scale = r->loss_scale,
        };
        size_t bytes[CLNET__OPTIM_MAX_BUFFERS];
        size_t k = clnet__optim_buffers(&os, params, bytes);
        for (size_t i = 0; i < k; i++)
            n->optim += clnet__buf_alloc_bytes(ctx, bytes[i]);
    }
    n->total = n->g.device + n->optim;
    n->largest = n->g.largest;
    n->largest_what = n->g.largest_what;
    const struct { size_t bytes; const char *what; } flat[] = {
        {n->g.params, "the parameters"}, {n->g.io, "the input batches"},
    };
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++)
        if (flat[i].bytes > n->largest) {
            n->largest = flat[i].bytes;
            n->largest_what = flat[i].what;
        }
    return CLNET_OK;
}

static int fits(const clnet_device_desc *dev, size_t avail, const need *n)
{
    return n->largest <= dev->max_alloc_bytes && n->total <= avail;
}

static double mib(size_t b) { return (double)b / (1024.0 * 1024.0); }

static size_t available(const clnet_ctx *ctx)
{
    uint64_t global = ctx->ocl.desc.global_mem_bytes;
    size_t live = ctx->ocl.pool_bytes_live;
    return global > live ? (size_t)(global - live) : 0;
}

int clnet__model_fitting_batch(clnet_ctx *ctx, clnet__model_desc *d, int training,
                               const clnet_train_settings *r, int below)
{
    /* Memory grows with the batch, and so do the shapes that the model
     * parser refuses, so a bisection finds it: lo fits (0: none yet), hi
     * does not. */
    int batch = d->batch, lo = 0, hi = below;
    size_t avail = available(ctx);
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        need n;
        if (clnet__model_replan(ctx, d, mid) == CLNET_OK &&
            need_of(ctx, d, training, r, &n) == CLNET_OK && fits(&ctx->ocl.desc, avail, &n))
            lo = mid;
        else
            hi = mid;
    }
    clnet__model_replan(ctx, d, batch);
    return lo;
}

/* The memory options that make desc fit at its own batch, as text for the
 * refusal: fp16 storage (no extra time, results within half's rounding)
 * and recompute (exact, about a third more compute) each where it fits
 * alone, both together only where neither does; then accumulation, which
 * keeps the math but splits the batch (batchnorm then sees smaller
 * batches). */
static void options_that_fit(clnet_ctx *ctx, clnet__model_desc *d, int training,
                             const clnet_train_settings *r, int ok_batch, char *buf,
                             size_t cap)
{
    buf[0] = '\0';
    size_t len = 0, avail = available(ctx);
    int recompute = d->recompute, precision = d->precision, found = 0;
    /* fp16 (gradients half too) only where the device has cl_khr_fp16 and
     * something trains. */
    static const struct { int fp16, recompute; const char *what; } tries[] = {
        {1, 0, "activations stored as fp16 (--precision fp16-storage)"},
        {0, 1, "recompute on (--recompute)"},
        {1, 1, "fp16 storage and recompute together"},
        {2, 0, "fp16 activations and gradients with loss scaling (--precision fp16)"},
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        if ((tries[i].fp16 && (precision != CLNET_PRECISION_FP32 || !CLNET__FP16_STORAGE)) ||
            (tries[i].recompute && (recompute || !training)) ||
            (tries[i].fp16 && tries[i].recompute && found) ||
            (tries[i].fp16 == 2 && (!training || !ctx->ocl.desc.fp16)))
            continue;
        d->precision = tries[i].fp16 == 2   ? CLNET_PRECISION_FP16
                       : tries[i].fp16 == 1 ? CLNET_PRECISION_FP16_STORAGE
                                            : precision;
        d->recompute = tries[i].recompute ? 1 : recompute;
        need n;
        if (need_of(ctx, d, training, r, &n) == CLNET_OK && fits(&ctx->ocl.desc, avail, &n)) {
            len += (size_t)snprintf(buf + len, cap - len, "%s%s, %.1f MiB",
                                    len ? "; or " : "", tries[i].what, mib(n.total));
            if (len >= cap)
                break;
            found = 1;
        }
    }
    d->recompute = recompute;
    d->precision = precision;
    /* Accumulation: the smallest count whose micro-batch fits. */
    for (int k = 2; training && ok_batch > 0 && k <= d->batch && len < cap; k++)
        if (d->batch % k == 0 && d->batch / k <= ok_batch) {
            snprintf(buf + len, cap - len, "%s%d micro-batches of %d accumulated "
                     "(--batch %d --accumulate %d)", len ? "; or " : "", k, d->batch / k,
                     d->batch / k, k);
            break;
        }
}

void clnet__model_drop_idle_recompute(clnet_ctx *ctx, clnet__model_desc *desc, int training,
                                      const clnet_train_settings *recipe)
{
    if (!desc->recompute || !training)
        return;
    need with, without;
    desc->recompute = 0;
    if (need_of(ctx, desc, training, recipe, &without) != CLNET_OK)
        return; /* the caller's check reports it */
    desc->recompute = 1;
    if (need_of(ctx, desc, training, recipe, &with) != CLNET_OK ||
        with.g.device_arena < without.g.device_arena)
        return;
    desc->recompute = 0;
    clnet__log(ctx, CLNET_LOG_INFO, "%s: recompute would save no memory here (%.1f MiB of "
               "activations either way: the peak is in one segment), so it is off",
               desc->source, mib(without.g.device_arena));
}

clnet_status clnet__model_check_memory(clnet_ctx *ctx, clnet__model_desc *desc,
                                       int training,
                                       const clnet_train_settings *recipe)
{
    const clnet_device_desc *dev = &ctx->ocl.desc;
    size_t live = ctx->ocl.pool_bytes_live;
    need n;
    clnet_status st = need_of(ctx, desc, training, recipe, &n);
    if (st != CLNET_OK || fits(dev, available(ctx), &n))
        return st;
    int batch = desc->batch;
    int ok_batch = clnet__model_fitting_batch(ctx, desc, training, recipe, batch);
    char used[96] = "", per_buffer[256] = "", suggest[96];
    if (live)
        snprintf(used, sizeof used, ", %.1f MiB of it already in use by clnet", mib(live));
    if (n.largest > dev->max_alloc_bytes)
        snprintf(per_buffer, sizeof per_buffer,
                 "; its largest buffer (%s, %.1f MiB) exceeds the device's %.1f MiB "
                 "per buffer",
                 n.largest_what, mib(n.largest), mib(dev->max_alloc_bytes));
    if (ok_batch > 0)
        snprintf(suggest, sizeof suggest, "batch %d would fit", ok_batch);
    else
        snprintf(suggest, sizeof suggest, "it does not fit even at batch 1");
    char options[512], keep[600] = "";
    options_that_fit(ctx, desc, training, recipe, ok_batch, options, sizeof options);
    if (options[0])
        snprintf(keep, sizeof keep, "; to keep batch %d: %s", batch, options);
    return clnet__fail(
        ctx, CLNET_ENOMEM,
        "%s at batch %d%s needs %.1f MiB of device memory (activations %.1f MiB, "
        "parameters%s %.1f MiB, input batches %.1f MiB); device %s has "
        "%.1f MiB%s and allows %.1f MiB per buffer%s: %s%s",
        desc->source, batch, training ? " (training)" : "", mib(n.total),
        mib(n.g.device_arena), training ? ", gradients and optimizer state" : " and state",
        mib(n.total - n.g.device_arena - n.g.device_io), mib(n.g.device_io), dev->name,
        mib((size_t)dev->global_mem_bytes), used, mib((size_t)dev->max_alloc_bytes),
        per_buffer, suggest, keep);
}

clnet_status clnet__model_plan(clnet_ctx *ctx, clnet__model_desc *d, int training,
                               const clnet_train_settings *r, clnet_memory_plan *out)
{
    memset(out, 0, sizeof *out);
    need n;
    clnet_status st = need_of(ctx, d, training, r, &n);
    if (st != CLNET_OK)
        return st;
    out->batch = d->batch;
    out->activations = n.g.device_arena;
    out->inputs = n.g.device_io;
    out->weights = n.total - n.g.device_arena - n.g.device_io;
    out->total = n.total;
    out->fits = fits(&ctx->ocl.desc, available(ctx), &n);
    /* The bisection's upper end: well past any batch a device holds. */
    out->largest_batch = clnet__model_fitting_batch(ctx, d, training, r, 1 << 20);
    return CLNET_OK;
}
