/* CLBlast's tuned GEMM parameters for this device: checked, handed to
 * CLBlastOverrideParameters, and kept in the GEMM tuning file (gemm_store.c)
 * so every later context on the device uses them. CLBlast ships tuned
 * parameters for some GPUs only; for any other device (PoCL among them) it
 * falls back to generic defaults, which a short tuning run can beat. The
 * run itself is CLBlast's tuner, driven by tools/bench/gemm-bench
 * --tune-clblast. */
#include "ocl/gemm_tune.h"

#include <clblast_c.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 32

/* Splits params into names and values; the count, or -1 when malformed.
 * names point into buf (a copy of params). */
static int split(const char *params, char *buf, size_t cap, const char **names,
                 size_t *values)
{
    if (strlen(params) >= cap)
        return -1;
    memcpy(buf, params, strlen(params) + 1);
    int n = 0;
    for (char *p = buf; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (n == MAX_PARAMS)
            return -1;
        char *name = p;
        while (isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')
            p++;
        if (p == name || *p != '=')
            return -1;
        *p++ = '\0';
        char *end = NULL;
        if (!isdigit((unsigned char)*p))
            return -1;
        unsigned long long v = strtoull(p, &end, 10);
        if ((*end != ' ' && *end != '\0') || v > 1u << 20)
            return -1;
        p = *end ? end + 1 : end;
        names[n] = name;
        values[n++] = (size_t)v;
    }
    return n > 0 ? n : -1;
}

int clnet__clblast_params_valid(const char *params)
{
    char buf[512];
    const char *names[MAX_PARAMS];
    size_t values[MAX_PARAMS];
    return split(params, buf, sizeof buf, names, values) > 0;
}

clnet_status clnet__clblast_apply(clnet_ctx *ctx, const char *params)
{
    char buf[512];
    const char *names[MAX_PARAMS];
    size_t values[MAX_PARAMS];
    int n = split(params, buf, sizeof buf, names, values);
    if (n <= 0)
        return clnet__fail(ctx, CLNET_EINVAL, "malformed CLBlast parameters '%s'",
                           params);
    CLBlastStatusCode s = CLBlastOverrideParameters(
        ctx->ocl.device, "Xgemm", CLBlastPrecisionSingle, (size_t)n, names, values);
    if (s != CLBlastSuccess)
        return clnet__fail(ctx, CLNET_EBLAS, "CLBlast refused the Xgemm parameters "
                           "'%s' (status %d)", params, (int)s);
    ctx->ocl.clblast_built = 0; /* CLBlast builds its programs again */
    return CLNET_OK;
}

clnet_status clnet__clblast_tuned_set(clnet_ctx *ctx, const char *params)
{
    struct clnet__gemm_state *s = clnet__gemm_state(ctx);
    if (!s)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
    if (strlen(params) >= sizeof s->clblast_xgemm)
        return clnet__fail(ctx, CLNET_EINVAL, "CLBlast parameters too long");
    clnet_status st = clnet__clblast_apply(ctx, params);
    if (st != CLNET_OK)
        return st;
    clnet__strlcpy(s->clblast_xgemm, params, sizeof s->clblast_xgemm);
    s->clblast_in_use = 1;
    clnet__gemm_store_save(ctx, s);
    return CLNET_OK;
}

const char *clnet__clblast_tuned(clnet_ctx *ctx)
{
    struct clnet__gemm_state *s = clnet__gemm_state(ctx);
    return s && s->clblast_in_use ? s->clblast_xgemm : NULL;
}
