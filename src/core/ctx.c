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
    s->cache_enabled = 1;
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

    const char *sel = s->device;
    if (!sel || !*sel)
        sel = getenv("CLNET_DEVICE");
    ctx->ocl.profiling = s->profile != 0;
    clnet_status st = clnet__ocl_open(ctx, sel);
    if (st != CLNET_OK)
        return st;
    const char *env_cache = getenv("CLNET_CACHE");
    int enabled = s->cache_enabled && !(env_cache && strcmp(env_cache, "0") == 0);
    clnet__cache_init(ctx, s->cache_dir, enabled);
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
