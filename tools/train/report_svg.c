#include "report_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Chart geometry in SVG user units; the page scales the whole viewBox. */
enum { W = 900, H = 360, ML = 64, MR = 20, MT = 40, MB = 50 };
/* Polylines longer than this are thinned (every k-th point): more would not
 * show at this width and only grows the file. */
enum { MAX_LINE_POINTS = 2000 };

typedef struct axis {
    double lo, hi, step;
    int decimals;
} axis;

/* Widens [lo,hi] to multiples of a 1-2-5 step giving about five ticks. */
static void nice_axis(axis *a, double lo, double hi)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 0.5;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), n = raw / mag;
    a->step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
    a->lo = floor(lo / a->step + 1e-9) * a->step;
    a->hi = ceil(hi / a->step - 1e-9) * a->step;
}

static void set_decimals(axis *a, double scale)
{
    double e = floor(log10(a->step * scale) + 1e-9);
    a->decimals = e < 0 ? (int)-e : 0;
}

static double px(const axis *a, double v) { return ML + (v - a->lo) / (a->hi - a->lo) * (W - ML - MR); }
static double py(const axis *a, double v) { return H - MB - (v - a->lo) / (a->hi - a->lo) * (H - MT - MB); }

static size_t finite_points(const report_series *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += isfinite(r->x[i]) && isfinite(r->y[i]);
    return n;
}

/* Data bounds over all finite points; returns 0 when there is none. */
static int bounds(const report_chart *c, double *x0, double *x1, double *y0, double *y1)
{
    int any = 0;
    for (size_t s = 0; s < c->n_series; s++) {
        const report_series *r = &c->series[s];
        for (size_t i = 0; i < r->n; i++) {
            if (!isfinite(r->x[i]) || !isfinite(r->y[i]))
                continue;
            if (!any || r->x[i] < *x0) *x0 = r->x[i];
            if (!any || r->x[i] > *x1) *x1 = r->x[i];
            if (!any || r->y[i] < *y0) *y0 = r->y[i];
            if (!any || r->y[i] > *y1) *y1 = r->y[i];
            any = 1;
        }
    }
    return any;
}

/* Fixed decimals from the step, so ticks read 0.5 1.0 1.5; a diverging
 * loss (1e12) gets short exponent labels instead of 13 digits. */
static const char *tick_label(const axis *a, double v, char *buf, size_t cap)
{
    if (fabs(a->lo) >= 1e6 || fabs(a->hi) >= 1e6)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.*f", a->decimals, v);
    return buf;
}

static void axes(report_buf *b, const report_chart *c, const axis *ax, const axis *ay)
{
    double scale = c->percent ? 100 : 1;
    char t[32];
    for (int i = 0; ay->lo + i * ay->step <= ay->hi + ay->step * 1e-6; i++) {
        double v = ay->lo + i * ay->step, y = py(ay, v);
        report_buf_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                          "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s%s</text>\n",
                          ML, y, W - MR, y, ML - 6, y + 4, tick_label(ay, v * scale, t, sizeof t),
                          c->percent ? "%" : "");
    }
    for (int i = 0; ax->lo + i * ax->step <= ax->hi + ax->step * 1e-6; i++) {
        double v = ax->lo + i * ax->step, x = px(ax, v);
        report_buf_printf(b, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                          "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                          x, H - MB, x, H - MB + 5, x, H - MB + 18, tick_label(ax, v, t, sizeof t));
    }
    report_buf_printf(b, "<path class=\"axis\" d=\"M%d %d V%d H%d\"/>\n", ML, MT, H - MB, W - MR);
    report_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (ML + W - MR) / 2, H - 10);
    report_buf_html(b, c->xlabel);
    report_buf_printf(b, "</text>\n<text transform=\"translate(16 %d) rotate(-90)\" "
                      "text-anchor=\"middle\">", (MT + H - MB) / 2);
    report_buf_html(b, c->ylabel);
    report_buf_puts(b, "</text>\n");
}

static void series(report_buf *b, const report_series *r, const axis *ax, const axis *ay,
                   double scale)
{
    size_t finite = finite_points(r), stride;
    stride = finite > MAX_LINE_POINTS ? (finite + MAX_LINE_POINTS - 1) / MAX_LINE_POINTS : 1;
    if (finite > 1) {
        report_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"",
                          r->color, r->markers ? "2" : "1.2",
                          r->dashed ? " stroke-dasharray=\"6 4\"" : "");
        size_t k = 0;
        for (size_t i = 0; i < r->n; i++) {
            if (!isfinite(r->x[i]) || !isfinite(r->y[i]))
                continue;
            if (k++ % stride == 0 || k == finite)
                report_buf_printf(b, "%.1f,%.1f ", px(ax, r->x[i]), py(ay, r->y[i]));
        }
        report_buf_puts(b, "\"/>\n");
    }
    if (!r->markers && finite != 1)
        return;
    for (size_t i = 0; i < r->n; i++) {
        if (!isfinite(r->x[i]) || !isfinite(r->y[i]))
            continue;
        report_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>",
                          px(ax, r->x[i]), py(ay, r->y[i]), r->color);
        report_buf_html(b, r->name);
        report_buf_printf(b, " at epoch %.4g: %.4g%s</title></circle>\n", r->x[i],
                          r->y[i] * scale, scale == 100 ? "%" : "");
    }
}

/* Series without a single point (no validation yet) stay out of it. */
static void legend(report_buf *b, const report_chart *c)
{
    double x = ML;
    for (size_t s = 0; s < c->n_series; s++) {
        const report_series *r = &c->series[s];
        if (!finite_points(r))
            continue;
        report_buf_printf(b, "<line x1=\"%.0f\" y1=\"16\" x2=\"%.0f\" y2=\"16\" stroke=\"%s\" "
                          "stroke-width=\"3\"%s/><text x=\"%.0f\" y=\"20\">", x, x + 22, r->color,
                          r->dashed ? " stroke-dasharray=\"6 4\"" : "", x + 28);
        report_buf_html(b, r->name);
        report_buf_puts(b, "</text>\n");
        /* No text metrics in C: 7.5 units a character is close for 13px sans. */
        x += 28 + 7.5 * (double)strlen(r->name) + 24;
    }
}

void report_svg_chart(report_buf *b, const report_chart *c)
{
    double x0 = 0, x1 = 0, y0 = 0, y1 = 0;
    if (!bounds(c, &x0, &x1, &y0, &y1)) {
        report_buf_puts(b, "<p class=\"empty\">No data yet.</p>\n");
        return;
    }
    axis ax, ay;
    nice_axis(&ax, x0 < 0 ? x0 : 0, x1);
    if (c->from_zero && y0 > 0)
        y0 = 0;
    nice_axis(&ay, y0, y1);
    if (c->percent) {
        ay.lo = ay.lo < 0 ? 0 : ay.lo;
        ay.hi = ay.hi > 1 ? 1 : ay.hi;
    }
    set_decimals(&ax, 1);
    set_decimals(&ay, c->percent ? 100 : 1);
    report_buf_printf(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\">\n", W, H);
    axes(b, c, &ax, &ay);
    for (size_t s = 0; s < c->n_series; s++)
        series(b, &c->series[s], &ax, &ay, c->percent ? 100 : 1);
    legend(b, c);
    report_buf_puts(b, "</svg>\n");
}
