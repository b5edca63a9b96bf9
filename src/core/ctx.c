/* Public context creation and queries. */
#include "core/ctx.h"
#include "ocl/ocl_private.h"

#include <stdlib.h>
#include <string.h>

void clnet_ctx_default_settings(clnet_ctx_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->log_level = CLNET_LOG_INFO;
    s->cache_enabled = CLNET_PROGRAM_CACHE_AUTO;
}

clnet_status clnet_ctx_create(clnet_ctx **out, const clnet_ctx_settings *s)
{
    if (!out)
        return CLNET_EINVAL;
    *out = NULL;
    clnet_ctx_settings defaults;
    if (!s) {
        clnet_ctx_default_settings(&defaults);
        s = &defaults;
    }
    clnet_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return CLNET_ENOMEM;
    *out = ctx;
    ctx->log = s->log;
    ctx->log_user = s->log_user;
    ctx->log_level = s->log_level;

    const char *spec = getenv("CLNET_FAULT");
    if (clnet__fault_parse(spec, &ctx->fault) != 0)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "CLNET_FAULT='%s': expected comma-separated alloc:N, "
                           "build:N, devmem:BYTES or maxalloc:BYTES (N >= 1)", spec);
    const char *sel = s->device;
    if (!sel || !*sel)
        sel = getenv("CLNET_DEVICE");
    ctx->ocl.profiling = s->profile != 0;
    ctx->ocl.partition = s->partition;
    ctx->ocl.partition_index = s->partition_index;
    clnet_status st = clnet__ocl_open(ctx, sel);
    if (st != CLNET_OK)
        return st;
    const clnet__fault *f = &ctx->fault;
    clnet_device_desc *d = &ctx->ocl.desc;
    if (f->devmem && d->global_mem_bytes > f->devmem)
        d->global_mem_bytes = f->devmem;
    if (f->devmem && d->max_alloc_bytes > f->devmem)
        d->max_alloc_bytes = f->devmem;
    if (f->maxalloc && d->max_alloc_bytes > f->maxalloc)
        d->max_alloc_bytes = f->maxalloc;
    if (f->devmem || f->maxalloc)
        clnet__log(ctx, CLNET_LOG_WARN, "CLNET_FAULT: device memory %llu bytes, at "
                   "most %llu per buffer", (unsigned long long)d->global_mem_bytes,
                   (unsigned long long)d->max_alloc_bytes);
    int setting = s->cache_enabled;
    const char *env_cache = getenv("CLNET_CACHE");
    if (env_cache && strcmp(env_cache, "0") == 0)
        setting = CLNET_PROGRAM_CACHE_OFF;
    else if (env_cache && strcmp(env_cache, "clnet") == 0)
        setting = CLNET_PROGRAM_CACHE_CLNET;
    if (setting != CLNET_PROGRAM_CACHE_OFF && setting != CLNET_PROGRAM_CACHE_CLNET)
        setting = CLNET_PROGRAM_CACHE_AUTO; /* 1, the old "on", is AUTO */
    clnet__cache_init(ctx, s->cache_dir, setting != CLNET_PROGRAM_CACHE_OFF);
    clnet__cache_choose(ctx, setting);
    return CLNET_OK;
}

void clnet_ctx_free(clnet_ctx *ctx)
{
    if (!ctx)
        return;
    clnet__ocl_close(ctx);
    free(ctx);
}

const char *clnet_ctx_device_name(const clnet_ctx *ctx)
{
    return ctx ? ctx->ocl.desc.name : "";
}

const struct clnet_device_desc *clnet_ctx_device(const clnet_ctx *ctx)
{
    return ctx ? &ctx->ocl.desc : NULL;
}

void clnet_ctx_cache_stats(const clnet_ctx *ctx, clnet_cache_stats *out)
{
    if (!out)
        return;
    if (!ctx) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = ctx->cache_stats;
}
