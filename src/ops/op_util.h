/* Small helpers shared by op implementations: parsing parameter values with
 * clear messages, formatting shapes, and 1-D launches. */
#ifndef CLNET_OP_UTIL_H
#define CLNET_OP_UTIL_H

#include "core/core.h"
#include "ops/op.h"

/* Integer in [min, max]. */
clnet_status clnet__parse_int(const char *key, const char *value, int min,
                              int max, int *out, char *err, size_t errlen);
/* Finite float in [min, max]. */
clnet_status clnet__parse_float(const char *key, const char *value, float min,
                                float max, float *out, char *err, size_t errlen);
/* 0/1, true/false, yes/no, on/off. */
clnet_status clnet__parse_bool(const char *key, const char *value, int *out,
                               char *err, size_t errlen);
/* "A" (both = A) or "A,B" (e.g. height,width), each in [min, max]. */
clnet_status clnet__parse_pair(const char *key, const char *value, int min,
                               int max, int *a, int *b, char *err,
                               size_t errlen);
/* The usual message for a key the op does not know. */
clnet_status clnet__unknown_key(const char *op, const char *key, char *err,
                                size_t errlen);

/* "[n,c,h,w]" into buf (at least 64 bytes); returns buf. */
const char *clnet__shape_str(clnet__shape s, char *buf, size_t cap);
int clnet__shape_eq(clnet__shape a, clnet__shape b);

/* Formats an error into err and returns st. */
clnet_status clnet__op_error(char *err, size_t errlen, clnet_status st,
                             const char *fmt, ...) CLNET__PRINTF(4, 5);

/* Launches k over n work-items in 1-D with the device's preferred group. */
clnet_status clnet__launch_n(clnet_ctx *ctx, const clnet__kernel *k, size_t n,
                             size_t nargs, const clnet__arg *args);
#define CLNET__LAUNCH_N(ctx, k, n, ...)                                     \
    clnet__launch_n((ctx), (k), (n),                                        \
                    sizeof((clnet__arg[]){__VA_ARGS__}) / sizeof(clnet__arg), \
                    (clnet__arg[]){__VA_ARGS__})

/* Tensor view at an element offset from t. */
static inline clnet__tensor clnet__at(clnet__tensor t, size_t elems)
{
    t.off += elems;
    return t;
}

#endif
