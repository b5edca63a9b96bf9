#include "report_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Declarations only: Debian's libstb.so holds the implementations. */
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

/* Same guard as the data loader: a header claiming more pixels than this is
 * refused before decoding (decompression bombs). */
#define MAX_SOURCE_PIXELS (64.0 * 1024 * 1024)
/* Longest thumbnail side: keeps 64 embedded images to a few hundred KB. */
enum { MAX_THUMB = 96, DEFAULT_THUMB = 56, SHOW_PX = 84 };

static void append_png(void *ctx, void *data, int size)
{
    report_buf_put(ctx, data, (size_t)size);
}

/* n pixels of ic channels to ch (both 1-4) as stb_image converts: gray by
 * its luminance weights, gray copied into R, G and B, a missing alpha
 * opaque. NULL when out of memory. */
static unsigned char *convert(const unsigned char *px, size_t n, int ic, int ch)
{
    unsigned char *out = malloc(n * (size_t)ch);
    for (size_t i = 0; out && i < n; i++) {
        const unsigned char *a = px + i * (size_t)ic;
        unsigned char *o = out + i * (size_t)ch, rgb[3];
        for (int k = 0; k < 3; k++)
            rgb[k] = ic >= 3 ? a[k] : a[0];
        unsigned char y = ic >= 3 ? (unsigned char)((a[0] * 77 + a[1] * 150 + a[2] * 29) >> 8)
                                  : a[0];
        unsigned char alpha = ic == 2 || ic == 4 ? a[ic - 1] : 255;
        if (ch <= 2)
            o[0] = y;
        else
            memcpy(o, rgb, 3);
        if (ch == 2 || ch == 4)
            o[ch - 1] = alpha;
    }
    return out;
}

/* Appends a data: URI of the image at path as a w x h PNG with ch channels,
 * or returns -1 (appending nothing) when it cannot be read. The image is
 * read in its own channels and converted here: Debian 12's stb_image 2.27
 * converts a 16-bit PGM/PPM with its 8-bit converter and then reads past
 * the end of its buffer (see src/data/decode.c). */
static int thumb_uri(report_buf *b, const char *path, int ch, int w, int h)
{
    int iw, ih, ic;
    if (!path || !stbi_info(path, &iw, &ih, &ic) || (double)iw * ih > MAX_SOURCE_PIXELS)
        return -1;
    unsigned char *src = stbi_load(path, &iw, &ih, &ic, 0);
    if (!src)
        return -1;
    unsigned char *conv = ic == ch ? src : convert(src, (size_t)iw * (size_t)ih, ic, ch);
    unsigned char *dst = malloc((size_t)w * (size_t)h * (size_t)ch);
    report_buf png = {0};
    int ok = conv && dst && stbir_resize_uint8(conv, iw, ih, 0, dst, w, h, 0, ch) &&
             stbi_write_png_to_func(append_png, &png, w, h, ch, dst, w * ch) && !png.oom;
    if (conv != src)
        free(conv);
    stbi_image_free(src);
    free(dst);
    if (ok) {
        report_buf_puts(b, "data:image/png;base64,");
        report_buf_base64(b, (const unsigned char *)png.p, png.len);
    }
    report_buf_free(&png);
    return ok ? 0 : -1;
}

/* Thumbnail size: the model's input size (what it saw), shrunk to MAX_THUMB
 * on the longest side; 56 x 56 when the caller gave none. */
static void thumb_size(const report_data *d, int *w, int *h)
{
    *w = d->thumb_width > 0 ? d->thumb_width : DEFAULT_THUMB;
    *h = d->thumb_height > 0 ? d->thumb_height : DEFAULT_THUMB;
    int big = *w > *h ? *w : *h;
    if (big > MAX_THUMB) {
        *w = *w * MAX_THUMB / big > 0 ? *w * MAX_THUMB / big : 1;
        *h = *h * MAX_THUMB / big > 0 ? *h * MAX_THUMB / big : 1;
    }
}

static void figure(report_buf *b, const report_data *d, const report_miss *m, int w, int h)
{
    int ch = d->thumb_channels >= 1 && d->thumb_channels <= 4 ? d->thumb_channels : 3;
    /* Small inputs (28 px) are shown enlarged by a whole factor, pixelated. */
    int big = w > h ? w : h, k = big < SHOW_PX ? SHOW_PX / big : 1;
    char tn[32], pn[32];
    report_buf_puts(b, "<figure title=\"");
    report_buf_html(b, m->path ? m->path : "(no path)");
    report_buf_puts(b, "\">");
    size_t mark = b->len;
    report_buf_puts(b, "<img alt=\"\" src=\"");
    if (thumb_uri(b, m->path, ch, w, h) == 0)
        report_buf_printf(b, "\" width=\"%d\" height=\"%d\">", w * k, h * k);
    else if (!b->oom) {
        b->len = mark;
        report_buf_printf(b, "<div class=\"ph\" style=\"width:%dpx;height:%dpx\">image "
                          "unavailable</div>", w * k, h * k);
    }
    report_buf_puts(b, "<figcaption>true: ");
    report_buf_html(b, report_class_name(d, m->truth, tn, sizeof tn));
    report_buf_puts(b, " / predicted: ");
    report_buf_html(b, report_class_name(d, m->pred, pn, sizeof pn));
    if (isfinite(m->prob))
        report_buf_printf(b, " (p=%.2f)", (double)m->prob);
    report_buf_puts(b, "</figcaption></figure>\n");
}

/* A miss with its sort keys. */
typedef struct miss_key {
    const report_miss *m;
    size_t index;                  /* in the caller's array */
    uint64_t class_errors, pair_errors;
    size_t round;                  /* its place among its true class's misses */
} miss_key;

static int cmp_int(int a, int b)
{
    return (a > b) - (a < b);
}

static int cmp_more(uint64_t a, uint64_t b)
{
    return (a < b) - (a > b);
}

/* Paths by bytes, NULL last; then the caller's order. */
static int cmp_path(const miss_key *a, const miss_key *b)
{
    const char *p = a->m->path, *q = b->m->path;
    int c = p && q ? strcmp(p, q) : (p == NULL) - (q == NULL);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static int by_pair(const void *x, const void *y)
{
    const miss_key *a = x, *b = y;
    int c = cmp_int(a->m->truth, b->m->truth);
    c = c ? c : cmp_int(a->m->pred, b->m->pred);
    return c ? c : cmp_path(a, b);
}

static int by_pair_errors(const void *x, const void *y)
{
    const miss_key *a = x, *b = y;
    int c = cmp_int(a->m->truth, b->m->truth);
    c = c ? c : cmp_more(a->pair_errors, b->pair_errors);
    c = c ? c : cmp_int(a->m->pred, b->m->pred);
    return c ? c : cmp_path(a, b);
}

static int by_round(const void *x, const void *y)
{
    const miss_key *a = x, *b = y;
    int c = (a->round > b->round) - (a->round < b->round);
    c = c ? c : cmp_more(a->class_errors, b->class_errors);
    c = c ? c : cmp_int(a->m->truth, b->m->truth);
    return c ? c : cmp_path(a, b);
}

/* Counts the errors of each miss's true class and of its (true, predicted)
 * pair: the confusion matrix's when there is one (the whole validation
 * set), else those of the list. e is sorted by pair. */
static void count_errors(miss_key *e, size_t n, int k, const uint64_t *confusion)
{
    for (size_t a = 0, b; a < n; a = b) {
        int t = e[a].m->truth;
        for (b = a; b < n && e[b].m->truth == t; b++)
            ;
        int known = confusion && t >= 0 && t < k;
        uint64_t cls = b - a;
        if (known) {
            cls = 0;
            for (int p = 0; p < k; p++)
                cls += p != t ? confusion[(size_t)t * k + p] : 0;
        }
        for (size_t c = a, z; c < b; c = z) {
            int p = e[c].m->pred;
            for (z = c; z < b && e[z].m->pred == p; z++)
                ;
            uint64_t pair = known && p >= 0 && p < k && p != t ? confusion[(size_t)t * k + p]
                                                                : z - c;
            for (size_t j = c; j < z; j++) {
                e[j].class_errors = cls;
                e[j].pair_errors = pair;
            }
        }
    }
}

int report_miss_order(const report_miss *m, size_t n, int n_classes,
                      const uint64_t *confusion, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (n < 2)
        return 0;
    miss_key *e = malloc(n * sizeof *e);
    if (!e)
        return -1;
    for (size_t i = 0; i < n; i++)
        e[i] = (miss_key){.m = &m[i], .index = i};
    qsort(e, n, sizeof *e, by_pair);
    count_errors(e, n, n_classes, confusion);
    qsort(e, n, sizeof *e, by_pair_errors);
    for (size_t i = 0; i < n; i++)
        e[i].round = i > 0 && e[i - 1].m->truth == e[i].m->truth ? e[i - 1].round + 1 : 0;
    qsort(e, n, sizeof *e, by_round);
    for (size_t i = 0; i < n; i++)
        order[i] = e[i].index;
    free(e);
    return 0;
}

void report_thumbs(report_buf *b, const report_data *d)
{
    if (!d->misses || !d->n_misses)
        return;
    size_t n = d->n_misses < REPORT_MAX_MISSES ? d->n_misses : REPORT_MAX_MISSES;
    size_t *order = malloc(d->n_misses * sizeof *order);
    if (!order || report_miss_order(d->misses, d->n_misses, d->n_classes, d->confusion,
                                    order) != 0) {
        free(order);
        b->oom = 1;
        return;
    }
    int w, h;
    thumb_size(d, &w, &h);
    report_buf_puts(b, "<section><h2>Misclassified validation images</h2>\n");
    report_buf_printf(b, "<p class=\"note\">%zu of %zu, taken from each true class in "
                      "turn, the most confused first.</p>\n", n, d->n_misses);
    report_buf_puts(b, "<div class=\"grid\">\n");
    for (size_t i = 0; i < n; i++)
        figure(b, d, &d->misses[order[i]], w, h);
    report_buf_puts(b, "</div></section>\n");
    free(order);
}
