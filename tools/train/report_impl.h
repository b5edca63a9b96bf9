/* Internals of the run report, shared by its files:
 *   report.c        report_write: atomic files, metrics.csv, page layout
 *   report_buf.c    a growing byte buffer, HTML escaping, base64
 *   report_svg.c    inline SVG line charts
 *   report_tables.c confusion matrix, per-class accuracy, confused pairs
 *   report_thumbs.c misclassified images as embedded PNG thumbnails */
#ifndef CLNET_TOOLS_REPORT_IMPL_H
#define CLNET_TOOLS_REPORT_IMPL_H

#include "report.h"

#include <stddef.h>
#include <stdint.h>

/* The page is built in memory and written in one go, so a failed allocation
 * only sets `oom` and later appends do nothing; the writer checks it once. */
typedef struct report_buf {
    char *p;
    size_t len, cap;
    int oom;
} report_buf;

void report_buf_put(report_buf *b, const void *s, size_t n);
void report_buf_puts(report_buf *b, const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void report_buf_printf(report_buf *b, const char *fmt, ...);
/* Text for HTML content or a quoted attribute: & < > " ' escaped, invalid
 * UTF-8 and control characters replaced by U+FFFD. NULL writes nothing. */
void report_buf_html(report_buf *b, const char *s);
void report_buf_base64(report_buf *b, const unsigned char *p, size_t n);
void report_buf_free(report_buf *b);

/* A class name for display: the given one, or "class N" when there is none
 * (buf holds the latter). Borrowed, valid while buf and d live. */
const char *report_class_name(const report_data *d, int c, char *buf, size_t cap);

typedef struct report_series {
    const char *name, *color;
    const double *x, *y;      /* n points; non-finite ones are skipped */
    size_t n;
    int dashed, markers;
} report_series;

typedef struct report_chart {
    const char *xlabel, *ylabel;
    int percent;              /* y in [0,1], labelled as % */
    int from_zero;            /* y axis starts at 0 */
    const report_series *series;
    size_t n_series;
} report_chart;

void report_svg_chart(report_buf *b, const report_chart *c);

/* Sections that need validation data; each writes nothing without it. */
void report_confusion(report_buf *b, const report_data *d);
void report_per_class(report_buf *b, const report_data *d);
void report_confused_pairs(report_buf *b, const report_data *d);
void report_thumbs(report_buf *b, const report_data *d);

/* The order the misclassified grid shows the n misses in, so that its first
 * cells cover many classes: round-robin over the true classes, those with
 * the most errors first in each round (ties: lower class index), and within
 * a class the examples of its most frequent wrong prediction first (ties:
 * lower predicted index, then path, then position in m). Error counts come
 * from confusion (n_classes x n_classes, [truth][pred]) or, when NULL, from
 * m itself. The same misses give the same order whatever order m lists
 * them in, when their paths differ. order receives a permutation of 0..n-1;
 * returns 0, or -1 when out of memory (order is then 0..n-1). Pure. */
int report_miss_order(const report_miss *m, size_t n, int n_classes,
                      const uint64_t *confusion, size_t *order);

#endif
