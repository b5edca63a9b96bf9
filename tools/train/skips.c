#include "skips.h"

#include <stdarg.h>
#include <stdio.h>

void skips_add(clnet_skip_stats *sum, const clnet_skip_stats *s)
{
    for (int c = 0; c < CLNET_SKIP_CAUSES_MAX; c++) {
        sum->at_open[c] += s->at_open[c];
        sum->at_load[c] += s->at_load[c];
    }
    sum->opened += s->opened;
    sum->loaded += s->loaded;
    sum->total += s->total;
    sum->folders += s->folders;
}

typedef struct out {
    char *p;
    size_t cap, len;
} out;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(out *o, const char *fmt, ...)
{
    if (o->len >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap;
}

/* "N what (a cause, b cause)" for one stage; nothing when N is 0. */
static void stage(out *o, size_t n, const size_t *by_cause, const char *what, int *first)
{
    if (!n)
        return;
    put(o, "%s%zu %s (", *first ? "" : ", ", n, what);
    int k = 0;
    for (int c = 0; c < CLNET_SKIP_CAUSES_MAX; c++)
        if (by_cause[c])
            put(o, "%s%zu %s", k++ ? ", " : "", by_cause[c],
                clnet_skip_cause_name((clnet_skip_cause)c));
    put(o, ")");
    *first = 0;
}

const char *skips_describe(const clnet_skip_stats *s, char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    if (!cap)
        return buf;
    buf[0] = '\0';
    if (s->total) {
        int first = 1;
        put(&o, "%zu unusable image%s skipped: ", s->total, s->total == 1 ? "" : "s");
        stage(&o, s->opened, s->at_open, "refused when the folder was opened", &first);
        stage(&o, s->loaded, s->at_load, "failed to load", &first);
    }
    if (s->folders)
        put(&o, "%s%zu unreadable folder%s skipped", s->total ? "; " : "", s->folders,
            s->folders == 1 ? "" : "s");
    return buf;
}
