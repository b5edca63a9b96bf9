#include "graph/memplan.h"

#include <stdint.h>
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

static size_t block(const clnet__interval *t, size_t align)
{
    return round_up(t->bytes ? t->bytes : 1, align);
}

/* The lowest offset of chunk c where t collides with no placed,
 * time-overlapping block of that chunk. */
static size_t lowest_free(const clnet__interval *iv, const size_t *placed,
                          size_t np, const clnet__interval *t, size_t c,
                          size_t size, size_t align)
{
    size_t off = 0;
    /* Raise off past every colliding block until a full pass finds none. */
    for (int moved = 1; moved;) {
        moved = 0;
        for (size_t j = 0; j < np; j++) {
            const clnet__interval *p = &iv[placed[j]];
            if (p->chunk != c || p->end < t->start || t->end < p->start)
                continue;
            size_t pe = p->offset + block(p, align);
            if (off < pe && p->offset < off + size) {
                off = pe;
                moved = 1;
            }
        }
    }
    return off;
}

size_t clnet__memplan(clnet__interval *iv, size_t n, size_t align, size_t cap,
                      size_t *chunk_bytes)
{
    if (n == 0)
        return 0;
    if (align == 0)
        align = 1;
    size_t *order = malloc(n * sizeof *order);
    size_t *placed = malloc(n * sizeof *placed);
    if (!order || !placed) {
        free(order);
        free(placed);
        return (size_t)-1;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_base = iv;
    qsort(order, n, sizeof *order, cmp_index);
    size_t nchunks = 0, np = 0;
    for (size_t k = 0; k < n; k++) {
        clnet__interval *t = &iv[order[k]];
        size_t size = block(t, align), c = 0, off = 0;
        for (; c < nchunks; c++) {
            off = lowest_free(iv, placed, np, t, c, size, align);
            if (off <= cap && size <= cap - off)
                break;
        }
        if (c == nchunks) {
            chunk_bytes[nchunks++] = 0;
            off = 0;
        }
        t->chunk = c;
        t->offset = off;
        placed[np++] = order[k];
        if (off + size > chunk_bytes[c])
            chunk_bytes[c] = off + size;
    }
    free(order);
    free(placed);
    return nchunks;
}
