/* Dataset faults (issue 7): files that are not regular files, link loops,
 * files replaced or removed between the scan and the load, and a dataset
 * that vanishes mid-epoch end in a warning or a clear error, never a hang:
 * each test runs under a short Check timeout. (Unreadable files and
 * folders, link loops between folders and byte names are in test_scan.c.) */
#define _DEFAULT_SOURCE 1 /* mkfifo, symlink */
#include "fixture.h"
#include "../support.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *path_of(const char *rel)
{
    return fx_at(rel);
}

static clnet_loader_settings loader_settings(int batch)
{
    clnet_loader_settings ls;
    clnet_loader_default_settings(&ls);
    ls.batch = batch;
    ls.shuffle = 0;
    ls.threads = 2;
    ls.cache = CLNET_CACHE_OFF; /* every epoch reads the files again */
    return ls;
}

/* Runs one epoch; returns the status of the first failing call (or OK),
 * the images seen and the message. */
static clnet_status epoch(clnet_loader *ld, uint32_t e, int *images)
{
    *images = 0;
    clnet_status st = clnet_loader_start_epoch(ld, e, 0);
    const clnet_batch *b = NULL;
    while (st == CLNET_OK && (st = clnet_loader_next(ld, &b)) == CLNET_OK && b)
        *images += b->n;
    return st;
}

START_TEST(special_files_named_like_images)
{
    fx_img("a/1.png");
    fx_img("a/2.png");
    fx_img("b/1.png");
    ck_assert_int_eq(mkfifo(path_of("a/fifo.png"), 0600), 0);
    ck_assert_int_eq(symlink("fifo.png", path_of("a/to-fifo.png")), 0);
    ck_assert_int_eq(symlink("/dev/zero", path_of("a/zero.png")), 0);
    ck_assert_int_eq(symlink("self.png", path_of("b/self.png")), 0);  /* ELOOP */
    ck_assert_int_eq(symlink("ping.png", path_of("b/pong.png")), 0);
    ck_assert_int_eq(symlink("pong.png", path_of("b/ping.png")), 0);
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_class_count(ds, 0), 2);
    ck_assert_uint_eq(clnet_dataset_class_count(ds, 1), 1);
    /* The fifo, the link to it and /dev/zero are not regular files: a
     * warning each from the scan. The looping links are listed, then
     * refused by the header check with the system's reason. All six are
     * counted, each once, by cause. */
    ck_assert_int_eq(fx_log_count("not a regular file"), 3);
    ck_assert_int_eq(fx_log_count("Too many levels of symbolic links"), 3);
    ck_assert_uint_eq(clnet_dataset_skipped(ds), 6);
    clnet_skip_stats sk;
    clnet_dataset_get_skips(ds, &sk);
    ck_assert_uint_eq(sk.at_open[CLNET_SKIP_NOT_REGULAR], 3);
    ck_assert_uint_eq(sk.at_open[CLNET_SKIP_UNREADABLE], 3);
    ck_assert_uint_eq(sk.opened, 6);
    ck_assert_uint_eq(sk.total, 6);
    clnet_dataset_free(ds);
}
END_TEST

/* Files turned into a fifo, a folder or nothing after the header check:
 * the loader skips them with a warning and fills their places. */
START_TEST(files_replaced_after_open)
{
    for (int i = 0; i < 6; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "a/%d.png", i);
        fx_img(rel);
        snprintf(rel, sizeof rel, "b/%d.png", i);
        fx_img(rel);
    }
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_size(ds), 12);
    ck_assert_int_eq(unlink(path_of("a/1.png")), 0);
    ck_assert_int_eq(mkfifo(path_of("a/1.png"), 0600), 0);
    ck_assert_int_eq(unlink(path_of("a/2.png")), 0);
    ck_assert_int_eq(mkdir(path_of("a/2.png"), 0700), 0);
    ck_assert_int_eq(unlink(path_of("a/3.png")), 0);
    ck_assert_int_eq(unlink(path_of("b/4.png")), 0);
    ck_assert_int_eq(symlink("/dev/zero", path_of("b/4.png")), 0);
    clnet_loader_settings ls = loader_settings(4);
    clnet_loader *ld = NULL;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    fx_log_reset();
    int images = 0;
    for (uint32_t e = 0; e < 2; e++) {
        ck_assert_msg(epoch(ld, e, &images) == CLNET_OK, "%s", clnet_errmsg(fx_c));
        ck_assert_int_eq(images, 12); /* full batches: substitutes */
    }
    ck_assert_uint_eq(clnet_loader_skipped(ld), 4);
    clnet_skip_stats sk;
    clnet_dataset_get_skips(ds, &sk);
    ck_assert_uint_eq(sk.at_load[CLNET_SKIP_NOT_REGULAR], 3);
    ck_assert_uint_eq(sk.at_load[CLNET_SKIP_UNREADABLE], 1);
    ck_assert_uint_eq(sk.loaded, 4);
    ck_assert_uint_eq(sk.total, 4);
    ck_assert_int_eq(fx_log_count("1.png': not a regular file"), 1);
    ck_assert_int_eq(fx_log_count("2.png': not a regular file"), 1);
    ck_assert_int_eq(fx_log_count("3.png': cannot open: No such file"), 1);
    ck_assert_int_eq(fx_log_count("4.png': not a regular file"), 1);
    clnet_loader_free(ld);
    clnet_dataset_free(ds);
}
END_TEST

/* Every file gone in the middle of an epoch: a clear error, and the next
 * epoch says the same. */
START_TEST(dataset_vanishes_mid_epoch)
{
    for (int i = 0; i < 8; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "%c/%d.png", 'a' + i % 2, i);
        fx_img(rel);
    }
    clnet_dataset_settings s = fx_settings(1, 4, 4);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, fx_root, &s, &ds), CLNET_OK);
    clnet_loader_settings ls = loader_settings(2);
    ls.prefetch = 1;
    clnet_loader *ld = NULL;
    ck_assert_int_eq(clnet_loader_create(fx_c, ds, &ls, &ld), CLNET_OK);
    ck_assert_int_eq(clnet_loader_start_epoch(ld, 0, 0), CLNET_OK);
    const clnet_batch *b = NULL;
    ck_assert_int_eq(clnet_loader_next(ld, &b), CLNET_OK);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < clnet_dataset_size(ds); i++)
        ck_assert_int_eq(unlink(clnet_dataset_path(ds, i, NULL)), 0);
    clnet_status st;
    while ((st = clnet_loader_next(ld, &b)) == CLNET_OK && b)
        ;
    ck_assert_int_eq(st, CLNET_EFORMAT);
    ck_assert_msg(strstr(clnet_errmsg(fx_c), "no readable image left"), "%s",
                  clnet_errmsg(fx_c));
    int images = 0;
    ck_assert_int_eq(epoch(ld, 1, &images), CLNET_EFORMAT);
    ck_assert_uint_eq(clnet_loader_skipped(ld), 8);
    clnet_loader_free(ld);
    clnet_dataset_free(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_faults");
    TCase *tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
    tcase_set_timeout(tc, 20); /* a hang fails, it does not stall the suite */
    tcase_add_test(tc, special_files_named_like_images);
    tcase_add_test(tc, files_replaced_after_open);
    tcase_add_test(tc, dataset_vanishes_mid_epoch);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
