/* CLNET_FAULT parsing and counting (see fault.h). */
#include "core/fault.h"

#include "core/ctx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A decimal count >= 1, with an optional K/M/G (binary) suffix when
 * sized; the whole [p, end) must be consumed. */
static int parse_count(const char *p, const char *end, int sized, uint64_t *out)
{
    if (p == end || *p < '0' || *p > '9')
        return -1;
    errno = 0;
    char *stop = NULL;
    unsigned long long v = strtoull(p, &stop, 10);
    if (errno || stop > end)
        return -1;
    unsigned shift = 0;
    if (sized && stop < end) {
        switch (*stop) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        stop++;
    }
    if (stop != end || v == 0 || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int clnet__fault_parse(const char *spec, clnet__fault *out)
{
    memset(out, 0, sizeof *out);
    if (!spec)
        return 0;
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon)
            return -1;
        size_t klen = (size_t)(colon - p);
        int bad;
        if (klen == 5 && memcmp(p, "alloc", 5) == 0)
            bad = parse_count(colon + 1, end, 0, &out->alloc_at);
        else if (klen == 5 && memcmp(p, "build", 5) == 0)
            bad = parse_count(colon + 1, end, 0, &out->build_at);
        else if (klen == 6 && memcmp(p, "devmem", 6) == 0)
            bad = parse_count(colon + 1, end, 1, &out->devmem);
        else if (klen == 8 && memcmp(p, "maxalloc", 8) == 0)
            bad = parse_count(colon + 1, end, 1, &out->maxalloc);
        else
            bad = -1;
        if (bad || (*end == ',' && !end[1]))
            return -1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int clnet__fault_alloc(clnet_ctx *ctx)
{
    clnet__fault *f = &ctx->fault;
    if (++f->allocs != f->alloc_at)
        return 0;
    clnet__log(ctx, CLNET_LOG_WARN, "CLNET_FAULT: failing device allocation %" PRIu64,
               f->allocs);
    return 1;
}

int clnet__fault_build(clnet_ctx *ctx)
{
    clnet__fault *f = &ctx->fault;
    if (++f->builds != f->build_at)
        return 0;
    clnet__log(ctx, CLNET_LOG_WARN, "CLNET_FAULT: failing program build %" PRIu64,
               f->builds);
    return 1;
}
