#include "ops/op_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

clnet_status clnet__op_error(char *err, size_t errlen, clnet_status st,
                             const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

static int parse_long(const char *value, long *out)
{
    if (!value)
        return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || errno)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return 0;
    *out = v;
    return 1;
}

clnet_status clnet__parse_int(const char *key, const char *value, int min,
                              int max, int *out, char *err, size_t errlen)
{
    long v = 0;
    if (!parse_long(value, &v))
        return clnet__op_error(err, errlen, CLNET_EPARSE,
                               "%s=%s: expected an integer", key, value ? value : "");
    if (v < min || v > max)
        return clnet__op_error(err, errlen, CLNET_EPARSE,
                               "%s=%s: must be between %d and %d", key, value,
                               min, max);
    *out = (int)v;
    return CLNET_OK;
}

clnet_status clnet__parse_float(const char *key, const char *value, float min,
                                float max, float *out, char *err, size_t errlen)
{
    char *end = NULL;
    errno = 0;
    double v = value ? strtod(value, &end) : 0;
    if (!value || end == value || errno || !isfinite(v))
        return clnet__op_error(err, errlen, CLNET_EPARSE,
                               "%s=%s: expected a finite number", key,
                               value ? value : "");
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return clnet__op_error(err, errlen, CLNET_EPARSE,
                               "%s=%s: expected a number", key, value);
    if (v < min || v > max)
        return clnet__op_error(err, errlen, CLNET_EPARSE,
                               "%s=%s: must be between %g and %g", key, value,
                               (double)min, (double)max);
    *out = (float)v;
    return CLNET_OK;
}

clnet_status clnet__parse_bool(const char *key, const char *value, int *out,
                               char *err, size_t errlen)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; value && i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = 1;
            return CLNET_OK;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = 0;
            return CLNET_OK;
        }
    }
    return clnet__op_error(err, errlen, CLNET_EPARSE,
                           "%s=%s: expected 0/1, true/false, yes/no", key,
                           value ? value : "");
}

clnet_status clnet__parse_pair(const char *key, const char *value, int min,
                               int max, int *a, int *b, char *err,
                               size_t errlen)
{
    if (!value)
        value = "";
    const char *comma = strchr(value, ',');
    if (!comma) {
        clnet_status st = clnet__parse_int(key, value, min, max, a, err, errlen);
        if (st == CLNET_OK)
            *b = *a;
        return st;
    }
    char first[64];
    size_t n = (size_t)(comma - value);
    if (n >= sizeof first)
        return clnet__op_error(err, errlen, CLNET_EPARSE, "%s=%s: too long", key,
                               value);
    memcpy(first, value, n);
    first[n] = '\0';
    clnet_status st = clnet__parse_int(key, first, min, max, a, err, errlen);
    if (st == CLNET_OK)
        st = clnet__parse_int(key, comma + 1, min, max, b, err, errlen);
    return st;
}

clnet_status clnet__unknown_key(const char *op, const char *key, char *err,
                                size_t errlen)
{
    return clnet__op_error(err, errlen, CLNET_ENOTFOUND,
                           "unknown key '%s' for [%s]", key, op);
}

const char *clnet__shape_str(clnet__shape s, char *buf, size_t cap)
{
    snprintf(buf, cap, "[%d,%d,%d,%d]", s.n, s.c, s.h, s.w);
    return buf;
}

int clnet__shape_eq(clnet__shape a, clnet__shape b)
{
    return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
}

clnet_status clnet__launch_n(clnet_ctx *ctx, const clnet__kernel *k, size_t n,
                             size_t nargs, const clnet__arg *args)
{
    size_t local = clnet__wg_1d(ctx, k);
    return clnet__launch(ctx, k, 1, &n, &local, nargs, args);
}
