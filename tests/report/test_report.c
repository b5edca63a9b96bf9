/* The run report (tools/train/report.c) from synthetic runs: the files'
 * structure, escaping, and the edge cases a run goes through (no epoch yet,
 * no validation, one epoch, 1000 classes, NaN). Needs no device. */
#include "html_check.h"
#include "synth.h"
#include "../support.h"
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
    ck_assert_ptr_nonnull(strstr(r.html, "The first 64 of 80."));
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
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
