/* The run report (tools/train/report.c) from synthetic runs: the files'
 * structure, escaping, and the edge cases a run goes through (no epoch yet,
 * no validation, one epoch, 1000 classes, NaN). Needs no device. */
#include "html_check.h"
#include "synth.h"
#include "../support.h"
#include "../../tools/train/eval.h"
#include "../../tools/train/report_impl.h"

#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct run {
    char dir[256], img[300];
    synth s;
    char *html, *csv;
} run;

static char *slurp(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    ck_assert(p && fread(p, 1, (size_t)n, f) == (size_t)n);
    p[n] = '\0';
    fclose(f);
    return p;
}

/* Makes the data, writes the report into a fresh temp dir, reads both files
 * back and checks what holds for every report. */
static void run_report(run *r, synth_opts o)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(r->dir, sizeof r->dir, "%s/clnet-report-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert(mkdtemp(r->dir) != NULL);
    snprintf(r->img, sizeof r->img, "%s/img", r->dir);
    ck_assert(mkdir(r->img, 0755) == 0);
    o.img_dir = r->img;
    ck_assert_int_eq(synth_make(&r->s, &o), 0);
    char err[512] = "";
    ck_assert_msg(report_write(r->dir, &r->s.d, err, sizeof err) == 0, "%s", err);
    r->html = slurp(r->dir, "report.html");
    r->csv = slurp(r->dir, "metrics.csv");
    char why[256] = "";
    ck_assert_msg(html_well_formed(r->html, why, sizeof why) == 0, "html: %s", why);
    ck_assert_msg(csv_check(r->csv, r->s.d.n_points + r->s.d.n_epochs, why, sizeof why) == 0,
                  "csv: %s", why);
    ck_assert_int_eq(count_of(r->html, "http://") + count_of(r->html, "https://"), 0);
    /* Two charts, each drawn or saying there is nothing to draw. */
    ck_assert_int_eq(count_of(r->html, "<svg") + count_of(r->html, "No data yet."), 2);
    ck_assert_int_eq(count_of(r->html, "<svg"), count_of(r->html, "</svg>"));
    ck_assert_int_eq(count_of(r->html, "<table"), count_of(r->html, "</table>"));
}

static void run_free(run *r)
{
    synth_free(&r->s);
    free(r->html);
    free(r->csv);
    rmdir(r->img);
    /* Only the two outputs may be left: no temp file. */
    DIR *d = opendir(r->dir);
    ck_assert(d != NULL);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        ck_assert_msg(!strcmp(e->d_name, "report.html") || !strcmp(e->d_name, "metrics.csv"),
                      "left behind: %s", e->d_name);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", r->dir, e->d_name);
        remove(path);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(r->dir), 0);
}

START_TEST(full_report)
{
    run r;
    run_report(&r, (synth_opts){.classes = 10, .epochs = 6, .points_per_epoch = 20,
                                .val = 1, .misses = 24});
    char why[256] = "";
    int imgs = 0;
    ck_assert_msg(html_images(r.html, &imgs, why, sizeof why) == 0, "%s", why);
    /* 24 misses: 22 real images, a text file named .png and a missing file. */
    ck_assert_int_eq(imgs, 22);
    ck_assert_int_eq(count_of(r.html, "class=\"ph\""), 2);
    ck_assert_int_eq(count_of(r.html, "<table"), 2);
    ck_assert_int_eq(count_of(r.html, "<td class=\"bar\">"), 10);
    ck_assert_ptr_nonnull(strstr(r.html, ">T-shirt/top<"));
    ck_assert_ptr_nonnull(strstr(r.html, "true: Sneaker / predicted: "));
    ck_assert_ptr_nonnull(strstr(r.html, "(p=0.45)"));
    ck_assert_ptr_nonnull(strstr(r.html, "best val top-1</dt><dd>89.25% (epoch 6)"));
    /* The hostile name only escaped; invalid UTF-8 as U+FFFD. */
    ck_assert_int_eq(count_of(r.html, "<script"), 0);
    ck_assert_int_ge(count_of(r.html, "&lt;script&gt;&amp;&quot;"), 10);
    ck_assert_ptr_nonnull(strstr(r.html, "bad\xEF\xBF\xBD\xEF\xBF\xBD utf-8"));
    ck_assert_ptr_nonnull(strstr(r.csv, "\nepoch,6,,"));
    run_free(&r);
}
END_TEST

START_TEST(zero_epochs)
{
    run r;
    run_report(&r, (synth_opts){.classes = 10, .epochs = 0, .points_per_epoch = 3});
    ck_assert_int_eq(count_of(r.html, "<table"), 0);
    ck_assert_int_eq(count_of(r.html, "<img"), 0);
    ck_assert_ptr_nonnull(strstr(r.html, "No validation results"));
    ck_assert_ptr_nonnull(strstr(r.html, "best val top-1</dt><dd>no validation<"));
    run_free(&r);
    /* Nothing at all yet: empty charts, a header-only CSV. */
    run_report(&r, (synth_opts){.classes = 3});
    ck_assert_int_eq(count_of(r.html, "No data yet."), 2);
    run_free(&r);
}
END_TEST

START_TEST(no_validation)
{
    run r;
    run_report(&r, (synth_opts){.classes = 10, .epochs = 3, .points_per_epoch = 4});
    /* Epoch rows: val_loss, val_top1, val_top5 empty; seconds and rate set. */
    const char *row = strstr(r.csv, "\nepoch,3,,");
    ck_assert_ptr_nonnull(row);
    ck_assert_ptr_nonnull(strstr(row, ",,,,43.5,1470\n"));
    ck_assert_int_eq(count_of(r.html, ">val top-1<"), 0);
    ck_assert_int_eq(count_of(r.html, "<table"), 0);
    run_free(&r);
}
END_TEST

START_TEST(one_epoch)
{
    run r;
    run_report(&r, (synth_opts){.classes = 4, .epochs = 1, .points_per_epoch = 1,
                                .val = 1, .misses = 3});
    /* Single points: markers, and no line through one point. */
    ck_assert_int_eq(count_of(r.html, "<polyline"), 0);
    ck_assert_int_ge(count_of(r.html, "<circle"), 5);
    run_free(&r);
}
END_TEST

START_TEST(many_classes)
{
    run r;
    run_report(&r, (synth_opts){.classes = 1000, .epochs = 2, .points_per_epoch = 5,
                                .val = 1, .misses = 80});
    ck_assert_int_eq(count_of(r.html, "class=\"confusion\""), 0);
    ck_assert_ptr_nonnull(strstr(r.html, "Not drawn for 1000 classes"));
    ck_assert_int_eq(count_of(r.html, "<td class=\"bar\">"), REPORT_WORST_CLASSES);
    ck_assert_ptr_nonnull(strstr(r.html, "Most confused pairs"));
    ck_assert_int_eq(count_of(r.html, "<figure"), REPORT_MAX_MISSES);
    ck_assert_ptr_nonnull(strstr(r.html, "64 of 80, taken from each true class in turn"));
    run_free(&r);
}
END_TEST

START_TEST(nan_values)
{
    run r;
    run_report(&r, (synth_opts){.classes = 5, .epochs = 4, .points_per_epoch = 6,
                                .val = 1, .misses = 3, .nan_loss = 1});
    ck_assert_ptr_nonnull(strstr(r.csv, "\nepoch,1,,nan,"));
    for (const char *s = r.html; (s = strstr(s, "<svg")); s++) {
        size_t len = (size_t)(strstr(s, "</svg>") - s);
        char *svg = strndup(s, len);
        ck_assert_msg(!strstr(svg, "nan") && !strstr(svg, "inf"), "NaN reached a chart");
        free(svg);
    }
    run_free(&r);
}
END_TEST

START_TEST(errors_are_returned)
{
    synth s;
    ck_assert_int_eq(synth_make(&s, &(synth_opts){.classes = 3, .epochs = 1,
                                                  .points_per_epoch = 2}), 0);
    char err[256] = "";
    ck_assert_int_eq(report_write("/nonexistent-clnet-dir", &s.d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-clnet-dir/"));
    ck_assert_int_eq(report_write("/nonexistent-clnet-dir", &s.d, NULL, 0), -1);
    ck_assert_int_eq(report_write(NULL, &s.d, err, sizeof err), -1);
    ck_assert_int_eq(report_write("/tmp", NULL, err, sizeof err), -1);
    synth_free(&s);
}
END_TEST

/* Three classes with misses listed in class order, as an evaluation in
 * dataset order collects them. Errors from the confusion matrix: class 2
 * has 20 (12 as class 0), class 0 has 13 (9 as class 2), class 1 has 5 (3
 * as class 2). Paths are numbered out of list order. */
enum { ORDER_N = 25 };
static const uint64_t ORDER_CONFUSION[9] = {50, 4, 9, 2, 60, 3, 12, 8, 40};

static void order_misses(report_miss *m, char (*paths)[32])
{
    static const int truth[3] = {0, 1, 2}, count[3] = {10, 5, 10};
    static const int preds[3][2] = {{1, 2}, {0, 2}, {0, 1}};
    size_t i = 0;
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < count[c]; j++, i++) {
            snprintf(paths[i], sizeof paths[i], "img-%02zu.png", (i * 7) % ORDER_N);
            m[i] = (report_miss){paths[i], truth[c], preds[c][j % 2], 0.5f};
        }
}

/* Checks what the order promises for m (n misses, 3 classes) with the
 * error counts cls[t] and pair[t][p]. */
static void check_order(const report_miss *m, size_t n, const size_t *order,
                        const uint64_t *cls, const uint64_t (*pair)[3])
{
    int seen[ORDER_N] = {0};
    size_t rank[3] = {0}, last_round = 0;
    const report_miss *prev[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(order[i], n);
        ck_assert_int_eq(seen[order[i]]++, 0);
        const report_miss *x = &m[order[i]];
        /* Round-robin: the r-th miss of a class before any class's r+1-th,
         * and in a round, the class with more errors first. */
        size_t round = rank[x->truth]++;
        ck_assert_uint_ge(round, last_round);
        if (round == last_round && i > 0) {
            const report_miss *w = &m[order[i - 1]];
            ck_assert_msg(cls[w->truth] > cls[x->truth] ||
                          (cls[w->truth] == cls[x->truth] && w->truth < x->truth),
                          "cell %zu: class %d after class %d", i, x->truth, w->truth);
        }
        last_round = round;
        /* In a class: the most frequent wrong prediction first, then path. */
        const report_miss *p = prev[x->truth];
        if (p) {
            uint64_t a = pair[p->truth][p->pred], b = pair[x->truth][x->pred];
            ck_assert_msg(a > b || (a == b && p->pred < x->pred) ||
                          (p->pred == x->pred && strcmp(p->path, x->path) < 0),
                          "cell %zu: %s after %s", i, x->path, p->path);
        }
        prev[x->truth] = x;
    }
}

START_TEST(miss_order_spreads_classes)
{
    report_miss m[ORDER_N];
    char paths[ORDER_N][32];
    order_misses(m, paths);
    size_t order[ORDER_N], again[ORDER_N];
    ck_assert_int_eq(report_miss_order(m, ORDER_N, 3, ORDER_CONFUSION, order), 0);
    /* The first three cells: one of each class, most errors first, each
     * with its class's most frequent wrong prediction. */
    static const int first_truth[3] = {2, 0, 1}, first_pred[3] = {0, 2, 2};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(m[order[i]].truth, first_truth[i]);
        ck_assert_int_eq(m[order[i]].pred, first_pred[i]);
    }
    uint64_t cls[3], pair[3][3];
    for (int t = 0; t < 3; t++) {
        cls[t] = 0;
        for (int p = 0; p < 3; p++) {
            pair[t][p] = ORDER_CONFUSION[t * 3 + p];
            cls[t] += p != t ? pair[t][p] : 0;
        }
    }
    check_order(m, ORDER_N, order, cls, (const uint64_t(*)[3])pair);
    /* Deterministic: the same again, and the same misses listed in
     * another order come out in the same order. */
    ck_assert_int_eq(report_miss_order(m, ORDER_N, 3, ORDER_CONFUSION, again), 0);
    ck_assert_mem_eq(order, again, sizeof order);
    report_miss shuffled[ORDER_N];
    for (size_t i = 0; i < ORDER_N; i++)
        shuffled[i] = m[(i * 11 + 3) % ORDER_N];
    ck_assert_int_eq(report_miss_order(shuffled, ORDER_N, 3, ORDER_CONFUSION, again), 0);
    for (size_t i = 0; i < ORDER_N; i++)
        ck_assert_str_eq(shuffled[again[i]].path, m[order[i]].path);

    /* Without a confusion matrix the list's own counts decide: classes 0
     * and 2 have 10 each (tie: class 0 first), class 1 has 5. */
    ck_assert_int_eq(report_miss_order(m, ORDER_N, 3, NULL, order), 0);
    ck_assert_int_eq(m[order[0]].truth, 0);
    ck_assert_int_eq(m[order[1]].truth, 2);
    ck_assert_int_eq(m[order[2]].truth, 1);
    uint64_t lcls[3] = {10, 5, 10}, lpair[3][3] = {{0, 5, 5}, {3, 0, 2}, {5, 5, 0}};
    check_order(m, ORDER_N, order, lcls, (const uint64_t(*)[3])lpair);
    /* Nothing and one miss. */
    ck_assert_int_eq(report_miss_order(m, 0, 3, NULL, order), 0);
    order[0] = 7;
    ck_assert_int_eq(report_miss_order(m, 1, 3, ORDER_CONFUSION, order), 0);
    ck_assert_uint_eq(order[0], 0);
}
END_TEST

/* Which of the three synth class names a figure caption names, or -1. */
static int caption_class(const char *caption)
{
    static const char *const names[3] = {"T-shirt/top", "&lt;script&gt;&amp;&quot;",
                                         "bad\xEF\xBF\xBD\xEF\xBF\xBD utf-8"};
    for (int c = 0; c < 3; c++)
        if (!strncmp(caption, names[c], strlen(names[c])) &&
            !strncmp(caption + strlen(names[c]), " / ", 3))
            return c;
    return -1;
}

/* The grid is capped (REPORT_MAX_MISSES): 90 misses in class order show
 * every class from the first cells on, in even shares. */
START_TEST(grid_spreads_classes)
{
    synth s;
    ck_assert_int_eq(synth_make(&s, &(synth_opts){.classes = 3, .epochs = 1,
                                                  .points_per_epoch = 2}), 0);
    enum { N = 90 };
    report_miss m[N];
    for (int i = 0; i < N; i++)
        m[i] = (report_miss){NULL, i / 30, (i / 30 + 1 + i % 2) % 3, 0.5f};
    uint64_t confusion[9] = {70, 10, 20, 15, 80, 15, 5, 25, 70};
    s.d.misses = m;
    s.d.n_misses = N;
    s.d.confusion = confusion;
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/clnet-report-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    char err[512] = "";
    ck_assert_msg(report_write(dir, &s.d, err, sizeof err) == 0, "%s", err);
    char *html = slurp(dir, "report.html");
    int shown[3] = {0, 0, 0}, cells = 0;
    for (const char *p = html; (p = strstr(p, "<figcaption>true: ")); cells++) {
        p += strlen("<figcaption>true: ");
        int c = caption_class(p);
        ck_assert_msg(c >= 0, "caption %.40s", p);
        shown[c]++;
        if (cells == 2)
            for (int k = 0; k < 3; k++)
                ck_assert_msg(shown[k] == 1, "first three cells: %d %d %d", shown[0],
                              shown[1], shown[2]);
    }
    ck_assert_int_eq(cells, REPORT_MAX_MISSES);
    for (int k = 0; k < 3; k++)
        ck_assert_int_ge(shown[k], REPORT_MAX_MISSES / 3);
    ck_assert_ptr_nonnull(strstr(html, "64 of 90, taken from each true class in turn"));
    free(html);
    char path[512];
    snprintf(path, sizeof path, "%s/report.html", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    remove(path);
    ck_assert_int_eq(rmdir(dir), 0);
    s.d.misses = NULL;
    synth_free(&s);
}
END_TEST

/* A 16-bit PGM shown as an RGB thumbnail: stb_image 2.27 converting its
 * channels reads past its buffer, so the thumbnail is converted after. The
 * samples' two bytes are equal (0xC8C8), so byte order does not matter. */
START_TEST(thumb_of_16bit_pgm)
{
    synth s;
    ck_assert_int_eq(synth_make(&s, &(synth_opts){.classes = 3, .epochs = 1,
                                                  .points_per_epoch = 2}), 0);
    char dir[256], img[300];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/clnet-report-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(img, sizeof img, "%s/gray16.pgm", dir);
    FILE *f = fopen(img, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("P5\n16 16\n65535\n", f);
    for (int i = 0; i < 2 * 16 * 16; i++)
        fputc(0xC8, f);
    ck_assert_int_eq(fclose(f), 0);
    report_miss m = {img, 0, 1, 0.5f};
    s.d.misses = &m;
    s.d.n_misses = 1;
    s.d.thumb_channels = 3;
    s.d.thumb_height = s.d.thumb_width = 16;
    char err[512] = "";
    ck_assert_msg(report_write(dir, &s.d, err, sizeof err) == 0, "%s", err);
    char *html = slurp(dir, "report.html");
    int w = 0, h = 0, c = 0;
    unsigned char *px = html_image_pixels(html, 0, &w, &h, &c);
    ck_assert_ptr_nonnull(px);
    ck_assert_int_eq(w, 16);
    ck_assert_int_eq(h, 16);
    ck_assert_int_eq(c, 3);
    for (int i = 0; i < w * h * c; i++)
        ck_assert_msg(px[i] == 200, "value %d: %d", i, px[i]);
    free(px);
    free(html);
    static const char *const files[] = {"gray16.pgm", "report.html", "metrics.csv"};
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    ck_assert_int_eq(rmdir(dir), 0);
    s.d.misses = NULL;
    synth_free(&s);
}
END_TEST

/* An evaluation in class order keeps misses of every class, not the first
 * max_misses (all of class 0), and each class's first ones. */
START_TEST(eval_keeps_misses_of_every_class)
{
    eval_result r;
    ck_assert_int_eq(eval_result_init(&r, 3, 6), 0);
    float probs[30 * 3];
    int32_t labels[30];
    uint32_t idx[30];
    for (int i = 0; i < 30; i++) {
        labels[i] = i / 10;
        idx[i] = (uint32_t)i;
        for (int c = 0; c < 3; c++)
            probs[i * 3 + c] = c == (labels[i] + 1) % 3 ? 0.7f : 0.15f;
    }
    eval_add(&r, probs, labels, idx, 17);
    eval_add(&r, probs + 17 * 3, labels + 17, idx + 17, 13);
    ck_assert_uint_eq(r.n, 30);
    ck_assert_uint_eq(r.top1, 0);
    ck_assert_uint_eq(r.confusion[1 * 3 + 2], 10);
    ck_assert_uint_eq(r.n_misses, 6);
    static const uint32_t want[6] = {0, 1, 10, 11, 20, 21};
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(r.misses[i].index, want[i]);
        ck_assert_int_eq(r.misses[i].truth, (int)want[i] / 10);
        ck_assert_int_eq(r.misses[i].pred, ((int)want[i] / 10 + 1) % 3);
    }
    eval_result_free(&r);
    /* Room for none: none kept, the counts still made. */
    ck_assert_int_eq(eval_result_init(&r, 3, 0), 0);
    eval_add(&r, probs, labels, idx, 30);
    ck_assert_uint_eq(r.n_misses, 0);
    ck_assert_uint_eq(r.confusion[2 * 3 + 0], 10);
    eval_result_free(&r);
}
END_TEST

static void expect_html(const char *in, const char *want)
{
    report_buf b = {0};
    report_buf_html(&b, in);
    ck_assert_msg(b.p && !strcmp(b.p, want), "escaped %s as %s", in, b.p ? b.p : "nothing");
    report_buf_free(&b);
}

START_TEST(escaping)
{
    expect_html("a<b>&\"'", "a&lt;b&gt;&amp;&quot;&#39;");
    expect_html("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    /* Overlong '/', a surrogate, a cut sequence, a control: each byte U+FFFD. */
    expect_html("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");
    expect_html("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    expect_html("x\xE2\x82", "x\xEF\xBF\xBD\xEF\xBF\xBD");
    expect_html("\x01", "\xEF\xBF\xBD");
    report_buf b = {0};
    report_buf_base64(&b, (const unsigned char *)"any carnal pleas", 16);
    ck_assert_str_eq(b.p, "YW55IGNhcm5hbCBwbGVhcw==");
    report_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, full_report);
    tcase_add_test(tc, zero_epochs);
    tcase_add_test(tc, no_validation);
    tcase_add_test(tc, one_epoch);
    tcase_add_test(tc, many_classes);
    tcase_add_test(tc, nan_values);
    tcase_add_test(tc, errors_are_returned);
    tcase_add_test(tc, escaping);
    tcase_add_test(tc, miss_order_spreads_classes);
    tcase_add_test(tc, grid_spreads_classes);
    tcase_add_test(tc, eval_keeps_misses_of_every_class);
    tcase_add_test(tc, thumb_of_16bit_pgm);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
