/* Skipped files (issue 13): a folder with twelve unusable files of several
 * kinds among good images. Each is warned about once and counted once, at
 * the stage that refused it (the scan, the header check at open, or the
 * first loader that reads it), however many loaders and views meet it; the
 * total equals the bad files and the warnings, and the causes sum to it. */
#define _DEFAULT_SOURCE 1 /* mkfifo, symlink */
#include "fixture.h"
#include "../support.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD_FILES 12
#define BAD_AT_OPEN 8

/* Three classes of six good 4x4 images, and the twelve bad files. */
static void make_fixture(void)
{
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 6; i++) {
            char rel[32];
            snprintf(rel, sizeof rel, "%c/good%d.png", 'a' + c, i);
            fx_img(rel);
        }
    uint8_t px[32 * 32 * 3];
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 7);
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)clnet_test_uniform(&r, 0, 255.99f);
    char src[4096];
    /* Refused when the folder is opened: */
    fx_write(fx_at("a/bad_empty.png"), "", 0);
    fx_write(fx_at("a/bad_empty.jpg"), "", 0);
    fx_write(fx_at("a/bad_text.png"), "hello, world\n", 13);
    fx_write(fx_at("b/bad_random.png"), px, 700);
    fx_write(fx_at("c/bad_junk.bmp"), "BM this is not a bitmap header at all", 37);
    fx_png_header_only(fx_at("b/bad_huge.png"), 100000, 100000);
    ck_assert_int_eq(mkfifo(fx_at("b/bad_fifo.png"), 0600), 0);
    ck_assert_int_eq(symlink("missing.png", fx_at("c/bad_dangling.png")), 0);
    /* Headers fine, data not: these fail in the loader. */
    fx_png(fx_at("tmp.png"), 32, 32, 1, px);
    snprintf(src, sizeof src, "%s", fx_at("tmp.png"));
    fx_truncate_copy(src, fx_at("a/bad_trunc.png"), fx_file_size(src) * 6 / 10);
    fx_truncate_copy(src, fx_at("c/bad_trunc.png"), fx_file_size(src) / 2);
    fx_jpg(fx_at("tmp.jpg"), 32, 32, 3, px);
    snprintf(src, sizeof src, "%s", fx_at("tmp.jpg"));
    fx_truncate_copy(src, fx_at("b/bad_trunc.jpg"), fx_file_size(src) * 6 / 10);
    fx_png_header_only(fx_at("c/bad_no_data.png"), 4, 4);
    remove(fx_at("tmp.png"));
    remove(fx_at("tmp.jpg"));
}

static size_t sum(const size_t *v)
{
    size_t s = 0;
    for (int c = 0; c < CLNET_SKIP_CAUSES_MAX; c++)
        s += v[c];
    return s;
}

/* What holds at any time: the sums are the sums, the total their sum. */
static clnet_skip_stats skips_of(const clnet_dataset *ds)
{
    clnet_skip_stats sk;
    clnet_dataset_get_skips(ds, &sk);
    ck_assert_uint_eq(sum(sk.at_open), sk.opened);
    ck_assert_uint_eq(sum(sk.at_load), sk.loaded);
    ck_assert_uint_eq(sk.opened + sk.loaded, sk.total);
    for (int c = CLNET_SKIP_CAUSES; c < CLNET_SKIP_CAUSES_MAX; c++)
        ck_assert_uint_eq(sk.at_open[c] + sk.at_load[c], 0);
    return sk;
}

/* Every batch of `epochs` epochs of a fresh loader over ds (no image is
 * left out: drop_last off), then frees it, which logs the last warnings. */
static size_t run_loader(const clnet_dataset *ds, int epochs, clnet_cache_mode cache)
{
    clnet_loader_settings ls;
    clnet_loader_default_settings(&ls);
    ls.batch = 5;
    ls.threads = 3;
    ls.cache = cache;
    clnet_loader *ld = NULL;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    for (int e = 0; e < epochs; e++) {
        ck_assert_int_eq(clnet_loader_start_epoch(ld, (uint32_t)e, 0), CLNET_OK);
        const clnet_batch *b = NULL;
        size_t images = 0;
        while (clnet_loader_next(ld, &b) == CLNET_OK && b)
            images += (size_t)b->n;
        ck_assert_uint_eq(images, clnet_dataset_size(ds));
    }
    size_t skipped = clnet_loader_skipped(ld);
    clnet_loader_free(ld);
    return skipped;
}

START_TEST(each_bad_file_counted_once_by_cause)
{
    make_fixture();
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_size(ds), 18 + BAD_FILES - BAD_AT_OPEN);

    /* At open: the scan refuses the fifo, the header check the rest. */
    clnet_skip_stats sk = skips_of(ds);
    ck_assert_int_eq(fx_log_count("skipping '"), BAD_AT_OPEN);
    ck_assert_uint_eq(sk.total, BAD_AT_OPEN);
    ck_assert_uint_eq(clnet_dataset_skipped(ds), BAD_AT_OPEN);
    ck_assert_uint_eq(sk.at_open[CLNET_SKIP_NOT_REGULAR], 1);
    ck_assert_uint_eq(sk.at_open[CLNET_SKIP_UNREADABLE], 1);
    ck_assert_uint_eq(sk.at_open[CLNET_SKIP_EMPTY], 2);
    ck_assert_uint_eq(sk.at_open[CLNET_SKIP_NOT_IMAGE], 3);
    ck_assert_uint_eq(sk.at_open[CLNET_SKIP_TOO_LARGE], 1);
    ck_assert_uint_eq(sk.loaded, 0);

    /* The first loader meets the other four, in every epoch, but reports
     * and counts them once. */
    ck_assert_uint_eq(run_loader(ds, 2, CLNET_CACHE_OFF), BAD_FILES - BAD_AT_OPEN);
    sk = skips_of(ds);
    ck_assert_int_eq(fx_log_count("skipping '"), BAD_FILES);
    ck_assert_uint_eq(sk.total, BAD_FILES);
    ck_assert_uint_eq(sk.at_load[CLNET_SKIP_CORRUPT], BAD_FILES - BAD_AT_OPEN);
    ck_assert_uint_eq(sk.opened, BAD_AT_OPEN);
    ck_assert_int_eq(fx_log_count("bad_trunc.jpg': truncated JPEG"), 1);

    /* A second loader of the same dataset (clnet-train makes one per
     * validation) skips them too, silently: nothing new to count. */
    ck_assert_uint_eq(run_loader(ds, 1, CLNET_CACHE_ON), BAD_FILES - BAD_AT_OPEN);
    sk = skips_of(ds);
    ck_assert_int_eq(fx_log_count("skipping '"), BAD_FILES);
    ck_assert_uint_eq(sk.total, BAD_FILES);
    ck_assert_uint_eq(sk.folders, 0);
    clnet_dataset_free(ds);
}
END_TEST

/* A train/validation split: both views and their parent share one record,
 * so loaders of either side add each file once, to one total. */
START_TEST(views_share_one_record)
{
    make_fixture();
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL, *train = NULL, *val = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_int_eq(clnet_dataset_split(fx_c, ds, 0.4, 3, &train, &val), CLNET_OK);
    run_loader(train, 2, CLNET_CACHE_AUTO);
    for (int e = 0; e < 3; e++) /* a fresh validation loader per epoch */
        run_loader(val, 1, CLNET_CACHE_AUTO);
    run_loader(ds, 1, CLNET_CACHE_OFF); /* the parent: all known already */
    clnet_skip_stats sk = skips_of(ds), st = skips_of(train), sv = skips_of(val);
    ck_assert_int_eq(fx_log_count("skipping '"), BAD_FILES);
    ck_assert_uint_eq(sk.total, BAD_FILES);
    ck_assert_uint_eq(sk.loaded, BAD_FILES - BAD_AT_OPEN);
    ck_assert_int_eq(memcmp(&sk, &st, sizeof sk), 0);
    ck_assert_int_eq(memcmp(&sk, &sv, sizeof sk), 0);
    ck_assert_uint_eq(clnet_dataset_skipped(val), 0); /* as documented: ask the parent */
    clnet_dataset_free(train);
    clnet_dataset_free(val);
    clnet_dataset_free(ds);
}
END_TEST


static int locked_counts(void)
{
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    if (clnet_dataset_open(fx_c, fx_root, &s, &ds) != CLNET_OK)
        return 1;
    clnet_skip_stats sk;
    clnet_dataset_get_skips(ds, &sk);
    int bad = sk.folders != 1 || sk.total != 1 || sk.at_open[CLNET_SKIP_UNREADABLE] != 1 ||
              fx_log_count("skipping folder") != 1 ||
              fx_log_count("3.png': cannot open: Permission denied") != 1;
    clnet_dataset_free(ds);
    return bad;
}

/* An unreadable sub-folder is a warning of its own, counted apart from the
 * files; an unreadable file is one of them. */
START_TEST(unreadable_folder_counted_apart)
{
    fx_img("a/1.png");
    fx_img("a/locked/2.png");
    fx_img("a/3.png");
    fx_img("b/1.png");
    ck_assert_int_eq(chmod(fx_at("a/locked"), 0), 0);
    ck_assert_int_eq(chmod(fx_at("a/3.png"), 0), 0);
    ck_assert_int_eq(chmod(fx_root, 0755), 0); /* mkdtemp made it 0700 */
    int r = fx_as_user(locked_counts);
    if (r == 100) {
        fprintf(stderr, "unreadable_folder_counted_apart: cannot become nobody; not checked\n");
        return;
    }
    ck_assert_int_eq(r, 0);
}
END_TEST

START_TEST(cause_names)
{
    ck_assert_str_eq(clnet_skip_cause_name(CLNET_SKIP_EMPTY), "empty");
    ck_assert_str_eq(clnet_skip_cause_name(CLNET_SKIP_NOT_IMAGE), "not an image");
    ck_assert_str_eq(clnet_skip_cause_name(CLNET_SKIP_CORRUPT), "corrupt");
    for (int c = 0; c < CLNET_SKIP_CAUSES; c++)
        ck_assert_str_ne(clnet_skip_cause_name((clnet_skip_cause)c), "unknown");
    ck_assert_str_eq(clnet_skip_cause_name(CLNET_SKIP_CAUSES), "unknown");
    ck_assert_str_eq(clnet_skip_cause_name((clnet_skip_cause)-1), "unknown");
    ck_assert_int_le(CLNET_SKIP_CAUSES, CLNET_SKIP_CAUSES_MAX);
    clnet_skip_stats sk;
    memset(&sk, 0xff, sizeof sk);
    clnet_dataset_get_skips(NULL, &sk);
    ck_assert_uint_eq(sk.total, 0);
    clnet_dataset_get_skips(NULL, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_skips");
    TCase *tc = tcase_create("skips");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, each_bad_file_counted_once_by_cause);
    tcase_add_test(tc, views_share_one_record);
    tcase_add_test(tc, unreadable_folder_counted_apart);
    tcase_add_test(tc, cause_names);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
