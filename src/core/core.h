/* Internal helpers shared by every part of the library: error reporting into
 * the context and logging through the user's callback. */
#ifndef CLNET_CORE_H
#define CLNET_CORE_H

#include "clnet/clnet.h"
#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define CLNET__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLNET__PRINTF(fmt, args)
#endif

#define CLNET__ERRMSG_MAX 16384

/* Records msg as the context's last error and returns st, so callers can
 * write `return clnet__fail(ctx, CLNET_EINVAL, "batch %d < 1", n);`.
 * ctx may be NULL (the message is then dropped). */
clnet_status clnet__fail(clnet_ctx *ctx, clnet_status st, const char *fmt, ...)
    CLNET__PRINTF(3, 4);
clnet_status clnet__vfail(clnet_ctx *ctx, clnet_status st, const char *fmt,
                          va_list ap);
/* Prepends "prefix: " to the context's current error message (for adding the
 * file or layer name as an error travels up). Returns st. */
clnet_status clnet__fail_prefix(clnet_ctx *ctx, clnet_status st,
                                const char *fmt, ...) CLNET__PRINTF(3, 4);
void clnet__clear_error(clnet_ctx *ctx);

/* Sends one line to the log callback when level is enabled. */
void clnet__log(clnet_ctx *ctx, clnet_log_level level, const char *fmt, ...)
    CLNET__PRINTF(3, 4);

/* Checked argument validation that returns CLNET_EINVAL with the condition. */
#define CLNET__CHECK_ARG(ctx, cond)                                        \
    do {                                                                   \
        if (!(cond))                                                       \
            return clnet__fail((ctx), CLNET_EINVAL,                        \
                               "%s: invalid argument: %s", __func__, #cond); \
    } while (0)

/* snprintf into a fixed buffer that never overflows and always terminates. */
void clnet__strlcpy(char *dst, const char *src, size_t cap);

/* Reads an entire file into a NUL-terminated malloc'd buffer. */
clnet_status clnet__read_file(clnet_ctx *ctx, const char *path, char **out,
                              size_t *len);

/* Monotonic wall time in seconds. */
double clnet__now(void);

#endif
