#include "report_impl.h"

#include <stdlib.h>

#define CM(d, t, p) ((d)->confusion[(size_t)(t) * (size_t)(d)->n_classes + (size_t)(p)])

static uint64_t row_total(const report_data *d, int t)
{
    uint64_t n = 0;
    for (int p = 0; p < d->n_classes; p++)
        n += CM(d, t, p);
    return n;
}

/* Cell shading: blue on the diagonal (right), red elsewhere (wrong), with the
 * opacity the share of the true class's images that landed in the cell. */
static void cell(report_buf *b, const report_data *d, int t, int p, uint64_t total)
{
    uint64_t n = CM(d, t, p);
    double f = total ? (double)n / (double)total : 0;
    char tn[32], pn[32];
    report_buf_printf(b, "<td style=\"background:rgba(%s,%.3f)%s\" title=\"true: ",
                      t == p ? "37,99,235" : "220,38,38", f, f > 0.5 ? ";color:#fff" : "");
    report_buf_html(b, report_class_name(d, t, tn, sizeof tn));
    report_buf_puts(b, " / predicted: ");
    report_buf_html(b, report_class_name(d, p, pn, sizeof pn));
    report_buf_printf(b, " (%.1f%% of row)\"%s>%llu</td>", 100 * f, n ? "" : " class=\"z\"",
                      (unsigned long long)n);
}

void report_confusion(report_buf *b, const report_data *d)
{
    if (!d->confusion || d->n_classes <= 0)
        return;
    report_buf_puts(b, "<section><h2>Confusion matrix</h2>\n");
    if (d->n_classes > REPORT_MATRIX_MAX_CLASSES) {
        report_buf_printf(b, "<p class=\"note\">Not drawn for %d classes (more than %d); "
                          "see the most confused pairs and the per-class accuracy below.</p>"
                          "</section>\n", d->n_classes, REPORT_MATRIX_MAX_CLASSES);
        return;
    }
    char name[32];
    report_buf_puts(b, "<p class=\"note\">Rows: true class; columns: predicted class. "
                    "Counts of validation images; shading is the share of the row.</p>\n"
                    "<div class=\"scroll\"><table class=\"confusion\"><thead><tr>"
                    "<th class=\"corner\">true \\ predicted</th>");
    for (int p = 0; p < d->n_classes; p++) {
        report_buf_puts(b, "<th class=\"col\"><span>");
        report_buf_html(b, report_class_name(d, p, name, sizeof name));
        report_buf_puts(b, "</span></th>");
    }
    report_buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (int t = 0; t < d->n_classes; t++) {
        uint64_t total = row_total(d, t);
        report_buf_puts(b, "<tr><th>");
        report_buf_html(b, report_class_name(d, t, name, sizeof name));
        report_buf_puts(b, "</th>");
        for (int p = 0; p < d->n_classes; p++)
            cell(b, d, t, p, total);
        report_buf_puts(b, "</tr>\n");
    }
    report_buf_puts(b, "</tbody></table></div></section>\n");
}

typedef struct class_acc {
    int c;
    double acc;
} class_acc;

static int by_acc(const void *a, const void *b)
{
    const class_acc *x = a, *y = b;
    if (x->acc != y->acc)
        return x->acc < y->acc ? -1 : 1;
    return x->c - y->c;
}

static void class_row(report_buf *b, const report_data *d, int c)
{
    uint64_t total = row_total(d, c), right = CM(d, c, c);
    char name[32];
    report_buf_puts(b, "<tr><th>");
    report_buf_html(b, report_class_name(d, c, name, sizeof name));
    if (!total) {
        report_buf_puts(b, "</th><td colspan=\"2\" class=\"z\">no validation images</td></tr>\n");
        return;
    }
    double f = (double)right / (double)total;
    report_buf_printf(b, "</th><td class=\"bar\"><div class=\"track\"><div style=\"width:%.1f%%\"></div></div></td>"
                      "<td class=\"num\">%.1f%% (%llu / %llu)</td></tr>\n", 100 * f, 100 * f,
                      (unsigned long long)right, (unsigned long long)total);
}

void report_per_class(report_buf *b, const report_data *d)
{
    if (!d->confusion || d->n_classes <= 0)
        return;
    report_buf_puts(b, "<section><h2>Per-class accuracy</h2>\n");
    int shown = d->n_classes;
    class_acc *order = NULL;
    if (d->n_classes > REPORT_WORST_CLASSES) {
        order = malloc((size_t)d->n_classes * sizeof *order);
        if (!order) {
            b->oom = 1;
            return;
        }
        int k = 0;
        for (int c = 0; c < d->n_classes; c++) {
            uint64_t total = row_total(d, c);
            if (total)
                order[k++] = (class_acc){c, (double)CM(d, c, c) / (double)total};
        }
        qsort(order, (size_t)k, sizeof *order, by_acc);
        shown = k < REPORT_WORST_CLASSES ? k : REPORT_WORST_CLASSES;
        report_buf_printf(b, "<p class=\"note\">The %d classes with the lowest accuracy, of %d "
                          "(classes without validation images left out).</p>\n",
                          shown, d->n_classes);
    }
    report_buf_puts(b, "<table class=\"perclass\"><thead><tr><th>class</th><th>accuracy</th>"
                    "<th>correct / images</th></tr></thead><tbody>\n");
    for (int i = 0; i < shown; i++)
        class_row(b, d, order ? order[i].c : i);
    report_buf_puts(b, "</tbody></table></section>\n");
    free(order);
}

typedef struct pair {
    int t, p;
    uint64_t n;
} pair;

/* Only for class counts too large for the matrix: its biggest off-diagonal
 * cells, found in one pass keeping a small sorted list. */
void report_confused_pairs(report_buf *b, const report_data *d)
{
    if (!d->confusion || d->n_classes <= REPORT_MATRIX_MAX_CLASSES)
        return;
    pair top[REPORT_CONFUSED_PAIRS];
    int k = 0;
    for (int t = 0; t < d->n_classes; t++)
        for (int p = 0; p < d->n_classes; p++) {
            uint64_t n = CM(d, t, p);
            if (t == p || n == 0 || (k == REPORT_CONFUSED_PAIRS && n <= top[k - 1].n))
                continue;
            int i = k < REPORT_CONFUSED_PAIRS ? k++ : k - 1;
            for (; i > 0 && top[i - 1].n < n; i--)
                top[i] = top[i - 1];
            top[i] = (pair){t, p, n};
        }
    report_buf_puts(b, "<section><h2>Most confused pairs</h2>\n");
    if (!k)
        report_buf_puts(b, "<p class=\"note\">No validation image was misclassified.</p>\n");
    else
        report_buf_puts(b, "<table class=\"pairs\"><thead><tr><th>true</th><th>predicted</th>"
                        "<th>images</th></tr></thead><tbody>\n");
    char tn[32], pn[32];
    for (int i = 0; i < k; i++) {
        report_buf_puts(b, "<tr><td>");
        report_buf_html(b, report_class_name(d, top[i].t, tn, sizeof tn));
        report_buf_puts(b, "</td><td>");
        report_buf_html(b, report_class_name(d, top[i].p, pn, sizeof pn));
        uint64_t total = row_total(d, top[i].t);
        report_buf_printf(b, "</td><td class=\"num\">%llu (%.1f%% of the true class)</td>"
                          "</tr>\n", (unsigned long long)top[i].n,
                          100.0 * (double)top[i].n / (double)total);
    }
    report_buf_puts(b, k ? "</tbody></table></section>\n" : "</section>\n");
}
