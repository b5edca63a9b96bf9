#include "graph/memplan.h"

#include <stdlib.h>

static size_t round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* qsort has no context argument in C11, hence the file-scope base pointer
 * (the planner is called from one thread per context, so this is set and
 * used within one call; see the thread note in clnet.h). */
static _Thread_local const clnet__interval *sort_base;
static int cmp_index(const void *a, const void *b)
{
    const clnet__interval *x = &sort_base[*(const size_t *)a];
    const clnet__interval *y = &sort_base[*(const size_t *)b];
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    return x->start - y->start;
}

size_t clnet__memplan(clnet__interval *iv, size_t n, size_t align)
{
    if (n == 0)
        return 0;
    if (align == 0)
        align = 1;
    size_t *order = malloc(n * sizeof *order);
    size_t *placed = malloc(n * sizeof *placed);
    if (!order || !placed) {
        /* Out of host memory: fall back to no sharing at all. */
        free(order);
        free(placed);
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            iv[i].offset = off;
            off += round_up(iv[i].bytes, align);
        }
        return off;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_base = iv;
    qsort(order, n, sizeof *order, cmp_index);
    size_t total = 0, np = 0;
    for (size_t k = 0; k < n; k++) {
        clnet__interval *t = &iv[order[k]];
        size_t size = round_up(t->bytes ? t->bytes : 1, align);
        size_t off = 0;
        /* Raise off past every placed, time-overlapping block it collides
         * with, until a full pass finds no collision. */
        for (int moved = 1; moved;) {
            moved = 0;
            for (size_t j = 0; j < np; j++) {
                const clnet__interval *p = &iv[placed[j]];
                if (p->end < t->start || t->end < p->start)
                    continue;
                size_t pe = p->offset + round_up(p->bytes ? p->bytes : 1, align);
                if (off < pe && p->offset < off + size) {
                    off = pe;
                    moved = 1;
                }
            }
        }
        t->offset = off;
        placed[np++] = order[k];
        if (off + size > total)
            total = off + size;
    }
    free(order);
    free(placed);
    return total;
}
