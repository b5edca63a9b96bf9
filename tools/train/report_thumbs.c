#include "report_impl.h"

#include <math.h>
#include <stdlib.h>

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

/* Appends a data: URI of the image at path as a w x h PNG with ch channels,
 * or returns -1 (appending nothing) when it cannot be read. */
static int thumb_uri(report_buf *b, const char *path, int ch, int w, int h)
{
    int iw, ih, ic;
    if (!path || !stbi_info(path, &iw, &ih, &ic) || (double)iw * ih > MAX_SOURCE_PIXELS)
        return -1;
    unsigned char *src = stbi_load(path, &iw, &ih, &ic, ch);
    if (!src)
        return -1;
    unsigned char *dst = malloc((size_t)w * (size_t)h * (size_t)ch);
    report_buf png = {0};
    int ok = dst && stbir_resize_uint8(src, iw, ih, 0, dst, w, h, 0, ch) &&
             stbi_write_png_to_func(append_png, &png, w, h, ch, dst, w * ch) && !png.oom;
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

void report_thumbs(report_buf *b, const report_data *d)
{
    if (!d->misses || !d->n_misses)
        return;
    size_t n = d->n_misses < REPORT_MAX_MISSES ? d->n_misses : REPORT_MAX_MISSES;
    int w, h;
    thumb_size(d, &w, &h);
    report_buf_puts(b, "<section><h2>Misclassified validation images</h2>\n");
    if (n < d->n_misses)
        report_buf_printf(b, "<p class=\"note\">The first %zu of %zu.</p>\n", n, d->n_misses);
    report_buf_puts(b, "<div class=\"grid\">\n");
    for (size_t i = 0; i < n; i++)
        figure(b, d, &d->misses[i], w, h);
    report_buf_puts(b, "</div></section>\n");
}
