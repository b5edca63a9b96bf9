/* Last-error message and logging for a context. */
#include "core/ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

clnet_status clnet__vfail(clnet_ctx *ctx, clnet_status st, const char *fmt,
                          va_list ap)
{
    if (ctx) {
        vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
        clnet__log(ctx, CLNET_LOG_DEBUG, "%s: %s", clnet_status_name(st),
                   ctx->errmsg);
    }
    return st;
}

clnet_status clnet__fail(clnet_ctx *ctx, clnet_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clnet__vfail(ctx, st, fmt, ap);
    va_end(ap);
    return st;
}

clnet_status clnet__fail_prefix(clnet_ctx *ctx, clnet_status st,
                                const char *fmt, ...)
{
    if (!ctx)
        return st;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix) + 2;
    size_t mlen = strlen(ctx->errmsg);
    if (plen + mlen + 1 > sizeof ctx->errmsg)
        mlen = sizeof ctx->errmsg - plen - 1;
    memmove(ctx->errmsg + plen, ctx->errmsg, mlen);
    ctx->errmsg[plen + mlen] = '\0';
    memcpy(ctx->errmsg, prefix, plen - 2);
    memcpy(ctx->errmsg + plen - 2, ": ", 2);
    return st;
}

void clnet__clear_error(clnet_ctx *ctx)
{
    if (ctx)
        ctx->errmsg[0] = '\0';
}

const char *clnet_errmsg(const clnet_ctx *ctx)
{
    return ctx ? ctx->errmsg : "no context";
}

void clnet__log(clnet_ctx *ctx, clnet_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log || level > ctx->log_level)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, line);
}

void clnet__strlcpy(char *dst, const char *src, size_t cap)
{
    if (!cap)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

clnet_status clnet__read_file(clnet_ctx *ctx, const char *path, char **out,
                              size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return clnet__fail(ctx, CLNET_EIO, "%s: cannot open: %s", path,
                           strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return clnet__fail(ctx, CLNET_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return CLNET_OK;
}

double clnet__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
