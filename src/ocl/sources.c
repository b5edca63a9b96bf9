/* Kernel sources: embedded copies, or files from $CLNET_KERNEL_DIR, with
 * `#include "x.h"` lines replaced by the header's text. Inlining here (rather
 * than passing -I to the compiler) makes the cache key cover the headers and
 * keeps embedded and on-disk sources identical in behaviour. */
#include "ocl/ocl_private.h"
#include "ocl/sources_embedded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_status load_raw(clnet_ctx *ctx, const char *file, char **out)
{
    const char *dir = getenv("CLNET_KERNEL_DIR");
    if (dir && *dir) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        return clnet__read_file(ctx, path, out, NULL);
    }
    for (const clnet__embedded_source *s = clnet__embedded_sources; s->name; s++)
        if (strcmp(s->name, file) == 0) {
            *out = malloc(s->len + 1);
            if (!*out)
                return clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
            memcpy(*out, s->text, s->len + 1);
            return CLNET_OK;
        }
    return clnet__fail(ctx, CLNET_ENOTFOUND, "no kernel source named %s", file);
}

/* Appends text to a growing buffer. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->n + n + 1) * 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 1;
}

static clnet_status inline_includes(clnet_ctx *ctx, const char *file,
                                    const char *text, sbuf *out, int depth)
{
    if (depth > 8)
        return clnet__fail(ctx, CLNET_EPARSE, "%s: includes nested too deep", file);
    int line = 1;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        char inc[256];
        if (sscanf(q, "#include \"%255[^\"]\"", inc) == 1) {
            char *sub = NULL;
            clnet_status st = load_raw(ctx, inc, &sub);
            if (st != CLNET_OK)
                return clnet__fail_prefix(ctx, st, "%s:%d", file, line);
            st = inline_includes(ctx, inc, sub, out, depth + 1);
            free(sub);
            if (st != CLNET_OK)
                return st;
            char marker[300];
            int m = snprintf(marker, sizeof marker, "\n#line %d\n", line + 1);
            if (!sbuf_add(out, marker, (size_t)m))
                return clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
        } else if (!sbuf_add(out, p, len)) {
            return clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
        }
        p += len;
        line++;
    }
    return CLNET_OK;
}

clnet_status clnet__program_source(clnet_ctx *ctx, const char *name, char **out)
{
    *out = NULL;
    char file[256];
    snprintf(file, sizeof file, "%s.cl", name);
    char *raw = NULL;
    clnet_status st = load_raw(ctx, file, &raw);
    if (st != CLNET_OK)
        return st;
    sbuf b = {0};
    st = inline_includes(ctx, file, raw, &b, 0);
    free(raw);
    if (st != CLNET_OK) {
        free(b.p);
        return st;
    }
    *out = b.p ? b.p : calloc(1, 1);
    return *out ? CLNET_OK : clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
}

const char *const *clnet__program_names(void)
{
    return clnet__embedded_programs;
}
