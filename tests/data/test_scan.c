/* Dataset folders: class and file order, filters, limits, splits, class
 * matching, structure errors, link loops, unreadable folders, byte names. */
#include "fixture.h"
#include "../support.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


static const char *rel(const clnet_dataset *ds, size_t i, int *label)
{
    const char *p = clnet_dataset_path(ds, i, label);
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(strncmp(p, fx_root, strlen(fx_root)) == 0, "%s not under the root", p);
    return p + strlen(fx_root) + 1;
}

START_TEST(order_and_filters)
{
    fx_img("b/1.png");
    fx_img("a/x.png");
    fx_img("a/s/y.png");
    fx_img("a/s-t/z.png");
    fx_img("a/s/u/w.png");
    fx_img("a/B.PNG");
    fx_img("a/c.JpG");
    fx_img("c/deep/er/f.bmp");
    fx_img("a/.hidden.png");
    fx_img("a/.hid/v.png");
    fx_img(".hiddenclass/h.png");
    fx_mkdirs("%s/a/folder.png", fx_root); /* a folder named like an image */
    char path[4096];
    snprintf(path, sizeof path, "%s/a/readme.txt", fx_root);
    fx_write(path, "hello", 5);
    snprintf(path, sizeof path, "%s/stray.png", fx_root); /* files in the root: ignored */
    fx_png_fill(path, 4, 4, 1, 1);

    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_int_eq(clnet_dataset_classes(ds), 3);
    ck_assert_str_eq(clnet_dataset_class_name(ds, 0), "a");
    ck_assert_str_eq(clnet_dataset_class_name(ds, 1), "b");
    ck_assert_str_eq(clnet_dataset_class_name(ds, 2), "c");
    ck_assert_ptr_null(clnet_dataset_class_name(ds, 3));
    /* ImageFolder's order: folders by path ("a/s-t" before "a/s/u", since
     * '-' < '/'), then names (bytewise: uppercase first). */
    static const char *const want[] = {
        "a/B.PNG", "a/c.JpG", "a/x.png", "a/s/y.png", "a/s-t/z.png", "a/s/u/w.png",
        "b/1.png", "c/deep/er/f.bmp",
    };
    static const int labels[] = {0, 0, 0, 0, 0, 0, 1, 2};
    ck_assert_uint_eq(clnet_dataset_size(ds), 8);
    for (size_t i = 0; i < 8; i++) {
        int label = -1;
        ck_assert_str_eq(rel(ds, i, &label), want[i]);
        ck_assert_int_eq(label, labels[i]);
    }
    ck_assert_ptr_null(clnet_dataset_path(ds, 8, NULL));
    ck_assert_uint_eq(clnet_dataset_class_count(ds, 0), 6);
    ck_assert_uint_eq(clnet_dataset_class_count(ds, 2), 1);
    ck_assert_uint_eq(clnet_dataset_skipped(ds), 0); /* c.JpG holds a PNG: fine */
    clnet_dataset_free(ds);
}
END_TEST

START_TEST(limit_takes_first_readable)
{
    fx_img("a/1.png");
    fx_img("a/3.png");
    fx_img("a/4.png");
    fx_img("b/1.png");
    fx_img("b/2.png");
    char path[4096];
    snprintf(path, sizeof path, "%s/a/2.png", fx_root);
    fx_write(path, "not a png", 9);
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    s.limit_per_class = 2;
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_size(ds), 4);
    ck_assert_str_eq(rel(ds, 0, NULL), "a/1.png");
    ck_assert_str_eq(rel(ds, 1, NULL), "a/3.png"); /* 2.png is skipped */
    ck_assert_str_eq(rel(ds, 2, NULL), "b/1.png");
    ck_assert_uint_eq(clnet_dataset_skipped(ds), 1);
    ck_assert_int_eq(fx_log_count("a/2.png"), 1);
    clnet_dataset_free(ds);
}
END_TEST

START_TEST(split_stratified)
{
    char name[64];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "a/%02d.png", i);
        fx_img(name);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "b/%02d.png", i);
        fx_img(name);
    }
    fx_img("c/0.png");
    fx_img("c/1.png");
    fx_img("d/only.png");
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL, *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_int_eq(clnet_dataset_split(fx_c, ds, 0.2, 7, &tr, &va), CLNET_OK);
    /* round(0.2 n): 2 of 10, 1 of 5, and at least one of 2; none of 1. */
    ck_assert_uint_eq(clnet_dataset_class_count(va, 0), 2);
    ck_assert_uint_eq(clnet_dataset_class_count(va, 1), 1);
    ck_assert_uint_eq(clnet_dataset_class_count(va, 2), 1);
    ck_assert_uint_eq(clnet_dataset_class_count(va, 3), 0);
    ck_assert_uint_eq(clnet_dataset_class_count(tr, 0), 8);
    ck_assert_uint_eq(clnet_dataset_class_count(tr, 2), 1);
    ck_assert_uint_eq(clnet_dataset_class_count(tr, 3), 1);
    ck_assert_uint_eq(clnet_dataset_size(tr) + clnet_dataset_size(va), 18);
    ck_assert_int_eq(clnet_dataset_classes(va), 4);
    ck_assert_str_eq(clnet_dataset_class_name(va, 3), "d");
    /* Disjoint, and in the parent's order. */
    for (size_t i = 0; i < clnet_dataset_size(va); i++)
        for (size_t j = 0; j < clnet_dataset_size(tr); j++)
            ck_assert_str_ne(clnet_dataset_path(va, i, NULL),
                             clnet_dataset_path(tr, j, NULL));
    for (size_t i = 1; i < clnet_dataset_size(tr); i++)
        ck_assert_int_lt(strcmp(rel(tr, i - 1, NULL), rel(tr, i, NULL)), 0);
    /* The same seed gives the same split. */
    ck_assert_int_eq(clnet_dataset_split(fx_c, ds, 0.2, 7, &tr2, &va2), CLNET_OK);
    for (size_t i = 0; i < clnet_dataset_size(va); i++)
        ck_assert_str_eq(clnet_dataset_path(va, i, NULL), clnet_dataset_path(va2, i, NULL));
    clnet_dataset_free(tr2);
    clnet_dataset_free(va2);
    /* Other seeds choose other files (some of 20 seeds differ). */
    int differs = 0;
    for (uint64_t seed = 100; seed < 120 && !differs; seed++) {
        ck_assert_int_eq(clnet_dataset_split(fx_c, ds, 0.2, seed, &tr2, &va2), CLNET_OK);
        for (size_t i = 0; i < clnet_dataset_size(va); i++)
            differs |= strcmp(clnet_dataset_path(va, i, NULL),
                              clnet_dataset_path(va2, i, NULL)) != 0;
        clnet_dataset_free(tr2);
        clnet_dataset_free(va2);
    }
    ck_assert(differs);
    ck_assert_int_eq(clnet_dataset_split(fx_c, ds, 1.0, 7, &tr2, &va2), CLNET_EINVAL);
    ck_assert_ptr_null(tr2);
    clnet_dataset_free(tr);
    clnet_dataset_free(va);
    clnet_dataset_free(ds);
}
END_TEST

START_TEST(open_like_mismatch)
{
    fx_img("train/cat/1.png");
    fx_img("train/dog/1.png");
    fx_img("train/emu/1.png");
    fx_img("val/cat/1.png");
    fx_img("val/dog/1.png");
    fx_img("val/fox/1.png");
    fx_img("val2/cat/2.png");
    fx_img("val2/dog/2.png");
    fx_img("val2/emu/2.png");
    char t[4096], v[4096], v2[4096];
    snprintf(t, sizeof t, "%s/train", fx_root);
    snprintf(v, sizeof v, "%s/val", fx_root);
    snprintf(v2, sizeof v2, "%s/val2", fx_root);
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *tr = NULL, *va = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, t, &s, &tr), CLNET_OK);
    ck_assert_int_eq(clnet_dataset_open_like(fx_c, v, tr, &va), CLNET_EFORMAT);
    ck_assert_ptr_null(va);
    const char *msg = clnet_errmsg(fx_c);
    ck_assert_msg(strstr(msg, "missing: 'emu'") && strstr(msg, "'fox'"), "%s", msg);
    ck_assert_int_eq(clnet_dataset_open_like(fx_c, v2, tr, &va), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_size(va), 3);
    clnet_dataset_free(va);
    clnet_dataset_free(tr);
}
END_TEST

static void expect_error(clnet_status want, const char *needle)
{
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = (clnet_dataset *)1;
    clnet_status st = clnet_dataset_open(fx_c, fx_root, &s, &ds);
    ck_assert_msg(st == want, "status %s, want %s: %s", clnet_status_name(st),
                  clnet_status_name(want), clnet_errmsg(fx_c));
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(clnet_errmsg(fx_c), needle), "'%s' not in: %s", needle,
                  clnet_errmsg(fx_c));
}

START_TEST(structure_errors)
{
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/nope", fx_root);
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, missing, &s, &ds), CLNET_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(fx_c), "nope"));

    expect_error(CLNET_EFORMAT, "0 class folders");
    fx_img("only/1.png");
    expect_error(CLNET_EFORMAT, "1 class folder (only)");
    fx_mkdirs("%s/empty/sub", fx_root);
    char path[4096];
    snprintf(path, sizeof path, "%s/empty/sub/notes.txt", fx_root);
    fx_write(path, "x", 1);
    expect_error(CLNET_EFORMAT, "empty' has no image files");
    snprintf(path, sizeof path, "%s/empty/sub/bad.png", fx_root);
    fx_write(path, "", 0);
    expect_error(CLNET_EFORMAT, "empty': none of its image files is readable");
    ck_assert_int_eq(fx_log_count("empty file"), 1);

    snprintf(path, sizeof path, "%s/only/1.png", fx_root);
    ck_assert_int_eq(clnet_dataset_open(fx_c, path, &s, &ds), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(fx_c), "is not a folder"));
    s.height = 0;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_EINVAL);
    s = fx_settings(5, 4, 4);
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_EINVAL);
    ck_assert_int_eq(clnet_dataset_open(fx_c, NULL, &s, &ds), CLNET_EINVAL);
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, NULL), CLNET_EINVAL);
    clnet_dataset_free(NULL);
}
END_TEST

START_TEST(link_loops_end)
{
    fx_img("a/1.png");
    fx_img("a/sub/2.png");
    fx_img("b/1.png");
    char path[4096], target[4096];
    snprintf(path, sizeof path, "%s/a/sub/loop", fx_root);
    ck_assert_int_eq(symlink("..", path), 0);          /* back to a */
    snprintf(path, sizeof path, "%s/a/sub/up", fx_root);
    ck_assert_int_eq(symlink(fx_root, path), 0);          /* back to the root */
    snprintf(path, sizeof path, "%s/b/self", fx_root);
    ck_assert_int_eq(symlink(".", path), 0);
    snprintf(path, sizeof path, "%s/b/link.png", fx_root);
    snprintf(target, sizeof target, "%s/a/1.png", fx_root);
    ck_assert_int_eq(symlink(target, path), 0);        /* files may be links */
    snprintf(path, sizeof path, "%s/b/dangling.png", fx_root);
    ck_assert_int_eq(symlink("/nonexistent/x.png", path), 0);
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_class_count(ds, 0), 2);
    ck_assert_uint_eq(clnet_dataset_class_count(ds, 1), 2);
    ck_assert_uint_eq(clnet_dataset_skipped(ds), 1);
    ck_assert_int_eq(fx_log_count("dangling.png"), 1);
    clnet_dataset_free(ds);
}
END_TEST


static int open_skips_locked(void)
{
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    if (clnet_dataset_open(fx_c, fx_root, &s, &ds) != CLNET_OK)
        return 1;
    int bad = clnet_dataset_class_count(ds, 0) != 1 || clnet_dataset_skipped(ds) != 1 ||
              fx_log_count("skipping folder") != 1 ||
              fx_log_count("Permission denied") != 2;
    clnet_dataset_free(ds);
    return bad ? 2 : 0;
}

static int open_fails_on_class(void)
{
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    return clnet_dataset_open(fx_c, fx_root, &s, &ds) != CLNET_EIO ||
           !strstr(clnet_errmsg(fx_c), "cannot read class folder");
}

static int open_fails_on_root(void)
{
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    return clnet_dataset_open(fx_c, fx_root, &s, &ds) != CLNET_EIO ||
           !strstr(clnet_errmsg(fx_c), "cannot read dataset folder");
}

START_TEST(unreadable_folders)
{
    fx_img("a/1.png");
    fx_img("a/locked/2.png");
    fx_img("a/3.png");
    fx_img("b/1.png");
    char locked[4096], file[4096], b[4096];
    snprintf(locked, sizeof locked, "%s/a/locked", fx_root);
    snprintf(file, sizeof file, "%s/a/3.png", fx_root);
    snprintf(b, sizeof b, "%s/b", fx_root);
    ck_assert_int_eq(chmod(locked, 0), 0);
    ck_assert_int_eq(chmod(file, 0), 0);
    ck_assert_int_eq(chmod(fx_root, 0755), 0); /* mkdtemp made it 0700 */
    int r = fx_as_user(open_skips_locked);
    if (r == 100) {
        fprintf(stderr, "unreadable_folders: cannot become nobody; not checked\n");
        return;
    }
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(chmod(b, 0), 0);
    ck_assert_int_eq(fx_as_user(open_fails_on_class), 0);
    ck_assert_int_eq(chmod(b, 0755), 0);
    ck_assert_int_eq(chmod(fx_root, 0), 0);
    ck_assert_int_eq(fx_as_user(open_fails_on_root), 0);
    ck_assert_int_eq(chmod(fx_root, 0700), 0);
}
END_TEST

START_TEST(byte_names)
{
    /* Latin-1 and invalid UTF-8 names are just bytes. */
    fx_img("\xe9t\xe9/\xff\xfe.png");
    fx_img("hiver/caf\xe9.PNG");
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_str_eq(clnet_dataset_class_name(ds, 0), "hiver");
    ck_assert_str_eq(clnet_dataset_class_name(ds, 1), "\xe9t\xe9");
    ck_assert_str_eq(rel(ds, 1, NULL), "\xe9t\xe9/\xff\xfe.png");
    float px[16];
    ck_assert_int_eq(clnet_image_load(fx_c, clnet_dataset_path(ds, 1, NULL), &s, px),
                     CLNET_OK);
    ck_assert_float_eq_tol(px[0], 100 / 255.0f, 1e-6);
    clnet_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_scan");
    TCase *tc = tcase_create("scan");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_add_test(tc, order_and_filters);
    tcase_add_test(tc, limit_takes_first_readable);
    tcase_add_test(tc, split_stratified);
    tcase_add_test(tc, open_like_mismatch);
    tcase_add_test(tc, structure_errors);
    tcase_add_test(tc, link_loops_end);
    tcase_add_test(tc, unreadable_folders);
    tcase_add_test(tc, byte_names);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
