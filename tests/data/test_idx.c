/* IDX files: header checks, and clnet-import-idx end to end (IDX, plain and
 * gzip, to PNG folders with the same pixels; idempotent; refusing to mix
 * imports). The tool's path is the first argument. */
#include "fixture.h"
#include "../support.h"

#include "data/idx.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stb_image.h>
#include <zlib.h>

static const char *tool;

enum { COUNT = 25, ROWS = 5, COLS = 4 };
static uint8_t images[16 + COUNT * ROWS * COLS], labels[8 + COUNT];

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

static void setup(void)
{
    fx_setup();
    images[2] = 0x08;
    images[3] = 3;
    be32(images + 4, COUNT);
    be32(images + 8, ROWS);
    be32(images + 12, COLS);
    labels[2] = 0x08;
    labels[3] = 1;
    be32(labels + 4, COUNT);
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 3);
    for (int i = 0; i < COUNT * ROWS * COLS; i++)
        images[16 + i] = (uint8_t)clnet_test_uniform(&r, 0, 255.99f);
    for (int i = 0; i < COUNT; i++)
        labels[8 + i] = (uint8_t)(i * 7 % 3);
    fx_write(fx_at("img.idx"), images, sizeof images);
    fx_write(fx_at("lab.idx"), labels, sizeof labels);
    write_gz(fx_at("img.idx.gz"), images, sizeof images);
    write_gz(fx_at("lab.idx.gz"), labels, sizeof labels);
}

static void teardown(void)
{
    fx_teardown();
}

/* Runs the tool with the arguments given (NULL-terminated); returns its
 * exit status. */
static int run_tool(const char *first, ...)
{
    const char *argv[16] = {tool};
    int n = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 15; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Each image i is OUT/<name of its label>/<i, 5 digits>.png with the same
 * pixels, unless a limit left it out. */
static void check_output(const char *out, const char *const names[3], int limit)
{
    int per[3] = {0};
    char path[4096];
    for (int i = 0; i < COUNT; i++) {
        int l = labels[8 + i];
        snprintf(path, sizeof path, "%s/%s/%05d.png", out, names[l], i);
        if (limit && per[l] >= limit) {
            ck_assert_msg(!exists(path), "%s beyond the limit", path);
            continue;
        }
        per[l]++;
        int w, h, c;
        uint8_t *px = stbi_load(path, &w, &h, &c, 0);
        ck_assert_msg(px != NULL, "%s: %s", path, stbi_failure_reason());
        ck_assert_int_eq(w, COLS);
        ck_assert_int_eq(h, ROWS);
        ck_assert_int_eq(c, 1);
        ck_assert(memcmp(px, images + 16 + i * ROWS * COLS, ROWS * COLS) == 0);
        stbi_image_free(px);
    }
    clnet_dataset_settings s = fx_settings(1, ROWS, COLS);
    clnet_dataset *ds = NULL;
    ck_assert_int_eq(clnet_dataset_open(fx_c, out, &s, &ds), CLNET_OK);
    ck_assert_uint_eq(clnet_dataset_size(ds), (size_t)(per[0] + per[1] + per[2]));
    ck_assert_uint_eq(clnet_dataset_skipped(ds), 0); /* the marker is hidden */
    clnet_dataset_free(ds);
}

START_TEST(parse_errors)
{
    clnet__idx x;
    char err[256];
    ck_assert_int_eq(clnet__idx_parse(images, sizeof images, &x, err, sizeof err), 0);
    ck_assert_uint_eq(x.count, COUNT);
    ck_assert_uint_eq(x.item, ROWS * COLS);
    ck_assert_ptr_eq(x.data, images + 16);
    ck_assert_int_eq(clnet__idx_parse(images, 3, &x, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "too short"));
    ck_assert_int_eq(clnet__idx_parse(images, 10, &x, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "truncated IDX header"));
    ck_assert_int_eq(clnet__idx_parse(images, sizeof images - 1, &x, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    uint8_t bad[sizeof images + 1];
    memcpy(bad, images, sizeof images);
    ck_assert_int_eq(clnet__idx_parse(bad, sizeof bad, &x, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "extra bytes"));
    bad[2] = 0x0D; /* float */
    ck_assert_int_eq(clnet__idx_parse(bad, sizeof images, &x, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "0x0d is not supported"));
    bad[0] = 0x89;
    ck_assert_int_eq(clnet__idx_parse(bad, sizeof images, &x, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not an IDX file"));
}
END_TEST

START_TEST(round_trip)
{
    static const char *const digits[3] = {"0", "1", "2"};
    char out[4096];
    snprintf(out, sizeof out, "%s", fx_at("out"));
    ck_assert_int_eq(run_tool(fx_at("img.idx"), fx_at("lab.idx"), out, NULL), 0);
    check_output(out, digits, 0);
    ck_assert(exists(fx_at("out/.clnet-import")));
    ck_assert(!exists(fx_at("out.clnet-tmp")));
    /* Again: complete, nothing to do. A different import is refused. */
    ck_assert_int_eq(run_tool(fx_at("img.idx.gz"), fx_at("lab.idx.gz"), out, NULL), 0);
    ck_assert_int_eq(run_tool("--limit", "2", fx_at("img.idx"), fx_at("lab.idx"), out, NULL), 1);
    check_output(out, digits, 0);
}
END_TEST

START_TEST(gzip_names_limit)
{
    static const char *const names[3] = {"cat", "dog", "emu"};
    /* A temporary folder left by an interrupted run is replaced. */
    fx_mkdirs("%s/out2.clnet-tmp/cat", fx_root);
    fx_write(fx_at("out2.clnet-tmp/cat/junk.png"), "x", 1);
    ck_assert_int_eq(run_tool("--names", "cat,dog,emu", fx_at("img.idx.gz"),
                              fx_at("lab.idx.gz"), NULL), 2); /* no OUT_DIR: usage */
    char argv_out[4096];
    snprintf(argv_out, sizeof argv_out, "%s", fx_at("out2"));
    ck_assert_int_eq(run_tool("--names", "cat,dog,emu", "--limit", "3", "-q",
                              fx_at("img.idx.gz"), fx_at("lab.idx.gz"), argv_out, NULL), 0);
    check_output(argv_out, names, 3);
    ck_assert(!exists(fx_at("out2/cat/junk.png")));
}
END_TEST

START_TEST(bad_inputs)
{
    /* Too few names, swapped files, counts that differ, a cut gzip file. */
    ck_assert_int_eq(run_tool("--names", "a,b", fx_at("img.idx"), fx_at("lab.idx"), fx_at("o1"),
                              NULL), 1);
    ck_assert_int_eq(run_tool(fx_at("lab.idx"), fx_at("img.idx"), fx_at("o2"), NULL), 1);
    uint8_t lab2[sizeof labels - 1];
    memcpy(lab2, labels, sizeof lab2);
    be32(lab2 + 4, COUNT - 1);
    fx_write(fx_at("lab2.idx"), lab2, sizeof lab2);
    ck_assert_int_eq(run_tool(fx_at("img.idx"), fx_at("lab2.idx"), fx_at("o3"), NULL), 1);
    fx_truncate_copy(fx_at("img.idx.gz"), fx_at("cut.gz"), fx_file_size(fx_at("img.idx.gz")) / 2);
    ck_assert_int_eq(run_tool(fx_at("cut.gz"), fx_at("lab.idx"), fx_at("o4"), NULL), 1);
    ck_assert_int_eq(run_tool(fx_at("missing.idx"), fx_at("lab.idx"), fx_at("o5"), NULL), 1);
    for (int i = 1; i <= 5; i++) {
        char o[16];
        snprintf(o, sizeof o, "o%d", i);
        ck_assert(!exists(fx_at(o)));
    }
    /* A folder of something else is never written into. */
    fx_mkdirs("%s/mine", fx_root);
    fx_write(fx_at("mine/keep.txt"), "x", 1);
    ck_assert_int_eq(run_tool(fx_at("img.idx"), fx_at("lab.idx"), fx_at("mine"), NULL), 1);
    ck_assert(exists(fx_at("mine/keep.txt")));
    ck_assert(!exists(fx_at("mine/0")));
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-clnet-import-idx\n", argv[0]);
        return 2;
    }
    tool = argv[1];
    Suite *s = suite_create("data_idx");
    TCase *tc = tcase_create("idx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, gzip_names_limit);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
