/* report_write: metrics.csv and the page around the charts and tables. */
#include "report_impl.h"

#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *report_class_name(const report_data *d, int c, char *buf, size_t cap)
{
    if (c >= 0 && c < d->n_classes && d->class_names && d->class_names[c])
        return d->class_names[c];
    snprintf(buf, cap, "class %d", c);
    return buf;
}

/* Temp file next to the target (same filesystem, so rename is atomic), then
 * fsync and rename: a crash leaves the old file or the new, never half. */
static int write_atomic(const char *dir, const char *name, const report_buf *b, char *err,
                        size_t cap)
{
    char path[4096], tmp[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid()) >=
            sizeof tmp)
        return fail(err, cap, "path too long: %s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return fail(err, cap, "cannot create %s: %s", tmp, strerror(errno));
    size_t off = 0;
    errno = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->p + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int e = off < b->len ? (errno ? errno : EIO) : fsync(fd) != 0 ? errno : 0;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return fail(err, cap, "cannot write %s: %s", path, strerror(e));
    }
    /* Make the rename itself durable; a failure here loses nothing written. */
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* A CSV number; na: the field does not apply (empty). */
static void csv_num(report_buf *b, double v, int na)
{
    if (na)
        report_buf_puts(b, ",");
    else if (isnan(v))
        report_buf_puts(b, ",nan");
    else if (isinf(v))
        report_buf_puts(b, v > 0 ? ",inf" : ",-inf");
    else
        report_buf_printf(b, ",%.6g", v);
}

static void csv_point(report_buf *b, const report_point *p)
{
    report_buf_puts(b, "step");
    csv_num(b, p->epoch_f, 0);
    report_buf_printf(b, ",%llu", (unsigned long long)p->step);
    csv_num(b, p->loss, 0);
    csv_num(b, p->acc, p->acc < 0);
    csv_num(b, p->lr, p->lr < 0);
    report_buf_puts(b, ",,,,,\n");
}

static void csv_epoch(report_buf *b, const report_epoch *e)
{
    report_buf_printf(b, "epoch,%d,", e->epoch);
    csv_num(b, e->train_loss, 0);
    csv_num(b, e->train_acc, e->train_acc < 0);
    csv_num(b, e->lr, e->lr < 0);
    csv_num(b, e->val_loss, e->val_loss < 0);
    csv_num(b, e->val_top1, e->val_top1 < 0);
    csv_num(b, e->val_top5, e->val_top5 < 0);
    csv_num(b, e->seconds, e->seconds < 0);
    csv_num(b, e->images_per_s, e->images_per_s < 0);
    report_buf_puts(b, "\n");
}

static const char CSV_HEADER[] =
    "kind,epoch,step,loss,acc,lr,val_loss,val_top1,val_top5,seconds,images_per_s\n";

static int csv_copy(char *buf, size_t cap, report_buf *b)
{
    int n = !b->oom && b->len < cap ? (int)b->len : -1;
    if (n >= 0) {
        memcpy(buf, b->p, b->len);
        buf[b->len] = '\0';
    }
    report_buf_free(b);
    return n;
}

int report_csv_header(char *buf, size_t cap)
{
    report_buf b = {0};
    report_buf_puts(&b, CSV_HEADER);
    return csv_copy(buf, cap, &b);
}

int report_csv_row(char *buf, size_t cap, const report_point *p, const report_epoch *e)
{
    report_buf b = {0};
    if (p)
        csv_point(&b, p);
    else if (e)
        csv_epoch(&b, e);
    return csv_copy(buf, cap, &b);
}

/* Rows in the order they happened: an epoch's step points, then its row. */
static void metrics_csv(report_buf *b, const report_data *d)
{
    report_buf_puts(b, CSV_HEADER);
    size_t p = 0;
    for (size_t e = 0; e < d->n_epochs; e++) {
        for (; p < d->n_points && !(d->points[p].epoch_f > d->epochs[e].epoch); p++)
            csv_point(b, &d->points[p]);
        csv_epoch(b, &d->epochs[e]);
    }
    for (; p < d->n_points; p++)
        csv_point(b, &d->points[p]);
}

static const char CSS[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2937;"
    "max-width:1100px;margin:0 auto;padding:16px 24px;background:#fff}"
    "h1{font-size:22px;margin:8px 0;overflow-wrap:anywhere}h2{font-size:17px;margin:28px 0 8px;"
    "border-bottom:1px solid #e5e7eb;padding-bottom:4px}"
    "pre.cmd{background:#f3f4f6;padding:8px 10px;border-radius:4px;white-space:pre-wrap;"
    "overflow-wrap:anywhere;font-size:12px}"
    "dl.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));"
    "gap:8px;margin:12px 0}dl.summary div{background:#f9fafb;border:1px solid #e5e7eb;"
    "border-radius:4px;padding:6px 10px}dt{font-size:12px;color:#6b7280}"
    "dd{margin:0;font-size:16px;font-weight:600;overflow-wrap:anywhere}"
    "svg.chart{width:100%;height:auto;font-size:13px;fill:#374151}"
    ".chart .grid{stroke:#e5e7eb}.chart .tick,.chart .axis{stroke:#6b7280;fill:none}"
    ".note,.empty{color:#6b7280}.scroll{overflow-x:auto}"
    "table{border-collapse:collapse;font-size:12px}th,td{padding:3px 6px}"
    "table.confusion td{text-align:right;border:1px solid #f3f4f6;min-width:28px}"
    "table.confusion td.z{color:#d1d5db}table.confusion tbody th{text-align:right}"
    "th.col{vertical-align:bottom}th.col span{writing-mode:vertical-rl;transform:rotate(180deg);"
    "white-space:nowrap}th.corner{font-weight:400;color:#6b7280;vertical-align:bottom}"
    "table.perclass th,table.pairs th,table.pairs td{text-align:left}td.num{text-align:right;"
    "font-variant-numeric:tabular-nums}td.bar{width:320px}td.bar .track{"
    "background:#e5e7eb;border-radius:2px}td.bar div{height:12px;background:#2563eb;"
    "border-radius:2px}td.z{color:#9ca3af}"
    ".grid{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;width:130px;font-size:11px}"
    "figure img{image-rendering:pixelated;display:block;border:1px solid #e5e7eb}"
    ".ph{display:flex;align-items:center;justify-content:center;background:#f3f4f6;"
    "color:#9ca3af;border:1px dashed #d1d5db;text-align:center;font-size:10px}"
    "figcaption{margin-top:3px;overflow-wrap:anywhere}"
    "footer{margin:32px 0 8px;color:#9ca3af;font-size:12px}";

static void summary_item(report_buf *b, const char *term, const char *value)
{
    report_buf_puts(b, "<div><dt>");
    report_buf_html(b, term);
    report_buf_puts(b, "</dt><dd>");
    report_buf_html(b, value);
    report_buf_puts(b, "</dd></div>\n");
}

static void summary(report_buf *b, const report_data *d)
{
    const report_epoch *best = NULL, *last = d->n_epochs ? &d->epochs[d->n_epochs - 1] : NULL;
    double secs = 0;
    for (size_t i = 0; i < d->n_epochs; i++) {
        const report_epoch *e = &d->epochs[i];
        if (isfinite(e->val_top1) && e->val_top1 >= 0 && (!best || e->val_top1 > best->val_top1))
            best = e;
        if (isfinite(e->seconds) && e->seconds > 0)
            secs += e->seconds;
    }
    char v[96];
    report_buf_puts(b, "<dl class=\"summary\">\n");
    summary_item(b, "device", d->device ? d->device : "unknown");
    snprintf(v, sizeof v, "%zu", d->n_epochs);
    summary_item(b, "epochs done", v);
    if (best)
        snprintf(v, sizeof v, "%.2f%% (epoch %d)", 100 * best->val_top1, best->epoch);
    summary_item(b, "best val top-1", best ? v : "no validation");
    if (last)
        snprintf(v, sizeof v, "%.4g", last->train_loss);
    else if (d->n_points)
        snprintf(v, sizeof v, "%.4g (step %llu)", d->points[d->n_points - 1].loss,
                 (unsigned long long)d->points[d->n_points - 1].step);
    summary_item(b, "final train loss", last || d->n_points ? v : "none yet");
    summary_item(b, "total time", progress_duration(d->n_epochs ? secs : -1, v, sizeof v));
    snprintf(v, sizeof v, "%d", d->n_classes);
    summary_item(b, "classes", v);
    report_buf_puts(b, "</dl>\n");
    if (d->skipped && *d->skipped) {
        report_buf_puts(b, "<p class=\"note\">");
        report_buf_html(b, d->skipped);
        report_buf_puts(b, ". The run's warnings name each file.</p>\n");
    }
}

/* Negative validation values mean "none"; the charts skip NaN. */
static double or_nan(double v) { return v < 0 ? NAN : v; }

static void charts(report_buf *b, const report_data *d, double *x)
{
    size_t ne = d->n_epochs, np = d->n_points;
    double *tl = x + ne, *vl = tl + ne, *ta = vl + ne, *v1 = ta + ne, *v5 = v1 + ne;
    double *px = v5 + ne, *pl = px + np, *pa = pl + np;
    for (size_t i = 0; i < ne; i++) {
        const report_epoch *e = &d->epochs[i];
        x[i] = e->epoch;
        tl[i] = e->train_loss;
        vl[i] = or_nan(e->val_loss);
        ta[i] = or_nan(e->train_acc);
        v1[i] = or_nan(e->val_top1);
        v5[i] = or_nan(e->val_top5);
    }
    for (size_t i = 0; i < np; i++) {
        px[i] = d->points[i].epoch_f;
        pl[i] = d->points[i].loss;
        pa[i] = or_nan(d->points[i].acc);
    }
    const report_series loss[] = {
        {"train loss (steps)", "#94a3b8", px, pl, np, 0, 0},
        {"train loss (epoch)", "#2563eb", x, tl, ne, 0, 1},
        {"val loss", "#dc2626", x, vl, ne, 0, 1},
    };
    const report_series acc[] = {
        {"train acc (steps)", "#94a3b8", px, pa, np, 0, 0},
        {"train acc (epoch)", "#2563eb", x, ta, ne, 0, 1},
        {"val top-1", "#dc2626", x, v1, ne, 0, 1},
        {"val top-5", "#d97706", x, v5, ne, 1, 1},
    };
    report_buf_puts(b, "<section><h2>Loss</h2>\n");
    report_svg_chart(b, &(report_chart){"epoch", "loss", 0, 1, loss, 3});
    report_buf_puts(b, "</section>\n<section><h2>Accuracy</h2>\n");
    report_svg_chart(b, &(report_chart){"epoch", "accuracy", 1, 0, acc, 4});
    report_buf_puts(b, "</section>\n");
}

static int report_html(report_buf *b, const report_data *d)
{
    double *x = malloc((6 * d->n_epochs + 3 * d->n_points + 1) * sizeof *x);
    if (!x)
        return -1;
    const char *title = d->title ? d->title : "clnet training run";
    report_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                       "<title>");
    report_buf_html(b, title);
    report_buf_printf(b, " - clnet report</title>\n<style>%s</style></head><body>\n<h1>", CSS);
    report_buf_html(b, title);
    report_buf_puts(b, "</h1>\n<pre class=\"cmd\">");
    report_buf_html(b, d->command ? d->command : "");
    report_buf_puts(b, "</pre>\n");
    summary(b, d);
    charts(b, d, x);
    free(x);
    report_confusion(b, d);
    report_confused_pairs(b, d);
    report_per_class(b, d);
    report_thumbs(b, d);
    if (!d->confusion)
        report_buf_puts(b, "<p class=\"note\">No validation results: no confusion matrix, "
                           "per-class accuracy or misclassified images.</p>\n");
    report_buf_puts(b, "<footer>Written by clnet-train; metrics.csv next to this file has "
                       "the numbers.</footer>\n</body></html>\n");
    return b->oom ? -1 : 0;
}

int report_write(const char *dir, const report_data *d, char *err, size_t cap)
{
    if (!dir || !d || d->n_classes < 0 || (d->n_epochs && !d->epochs) ||
        (d->n_points && !d->points) || (d->n_misses && !d->misses))
        return fail(err, cap, "invalid arguments");
    report_buf b = {0};
    int rc = 0;
    if (!d->no_csv) {
        metrics_csv(&b, d);
        rc = b.oom ? fail(err, cap, "out of memory")
                   : write_atomic(dir, "metrics.csv", &b, err, cap);
    }
    b.len = 0;
    if (rc == 0)
        rc = report_html(&b, d) != 0 ? fail(err, cap, "out of memory")
                                     : write_atomic(dir, "report.html", &b, err, cap);
    report_buf_free(&b);
    return rc;
}
