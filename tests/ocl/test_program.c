/* Program building: compiler errors reach clnet_errmsg, missing programs and
 * kernels are errors, and CLNET_KERNEL_DIR swaps in sources from disk. */
#include "ocl_util.h"
#include "ocl/ocl_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *cl_dir; /* the source tree's cl/, from argv[1] */
static char *dir;
static clnet_ctx *ctx;

static void setup(void)
{
    dir = tu_tempdir();
    ctx = tu_ctx(dir);
}
static void teardown(void)
{
    clnet_ctx_free(ctx);
    tu_rmdir(dir);
    free(dir);
}

START_TEST(broken_kernel_reports_compiler_message)
{
    const char *src = "kernel void broken(global float *x)\n"
                      "{\n"
                      "    x[0] = clnet_undeclared_thing;\n"
                      "}\n";
    for (int round = 0; round < 2; round++) { /* a failure is never cached */
        clnet_status st = clnet__program_build_source(ctx, "broken.cl", src, NULL);
        ck_assert_int_eq(st, CLNET_EBUILD);
        const char *m = clnet_errmsg(ctx);
        ck_assert_msg(strstr(m, "clnet_undeclared_thing"), "message: %s", m);
        ck_assert_msg(strstr(m, "broken.cl"), "message: %s", m);
        ck_assert_msg(strstr(m, clnet_ctx_device_name(ctx)), "message: %s", m);
    }
    ck_assert_uint_eq(tu_stats(ctx).programs_built, 2);
    ck_assert_int_eq(tu_count(dir, ".bin"), 0);
}
END_TEST

START_TEST(bad_option_is_a_build_error)
{
    clnet_status st = clnet__program_build(ctx, "elementwise", "-cl-no-such-option");
    ck_assert_msg(st == CLNET_EBUILD || st == CLNET_EOPENCL, "%s: %s",
                  clnet_status_name(st), clnet_errmsg(ctx));
    ck_assert(strlen(clnet_errmsg(ctx)) > 0);
}
END_TEST

START_TEST(missing_program_and_kernel)
{
    ck_assert_int_eq(clnet__program_build(ctx, "no_such_program", NULL), CLNET_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "no_such_program.cl"));
    clnet__kernel *k = (clnet__kernel *)1;
    ck_assert_int_eq(clnet__kernel_get(ctx, "elementwise", NULL, "no_such_kernel", &k),
                     CLNET_ENOTFOUND);
    ck_assert_ptr_null(k);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "no_such_kernel"));
}
END_TEST

START_TEST(every_program_is_listed_and_has_source)
{
    int n = 0;
    for (const char *const *p = clnet__program_names(); *p; p++, n++) {
        char *src = NULL;
        ck_assert_int_eq(clnet__program_source(ctx, *p, &src), CLNET_OK);
        ck_assert_ptr_null(strstr(src, "\n#include")); /* inlined */
        ck_assert(strncmp(src, "#include", 8) != 0);
        free(src);
    }
    ck_assert_int_ge(n, 1);
}
END_TEST

/* The embedded copy and the file in cl/ give the same text. */
START_TEST(kernel_dir_matches_embedded)
{
    char *embedded = NULL, *disk = NULL;
    ck_assert_int_eq(clnet__program_source(ctx, "elementwise", &embedded), CLNET_OK);
    setenv("CLNET_KERNEL_DIR", cl_dir, 1);
    ck_assert_int_eq(clnet__program_source(ctx, "elementwise", &disk), CLNET_OK);
    ck_assert_str_eq(disk, embedded);
    free(disk);
    free(embedded);
    unsetenv("CLNET_KERNEL_DIR");
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A kernel edited on disk is used without rebuilding clnet; a missing
 * include names the file and line. */
START_TEST(kernel_dir_overrides)
{
    char kdir[2048], path[2100];
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    ck_assert_int_eq(mkdir(kdir, 0700), 0);
    snprintf(path, sizeof path, "%s/elementwise.cl", kdir);
    write_text(path, "#include \"mine.h\"\nkernel void axpby(void) { }\n");
    snprintf(path, sizeof path, "%s/mine.h", kdir);
    write_text(path, "#define MINE 1\n");
    setenv("CLNET_KERNEL_DIR", kdir, 1);
    char *src = NULL;
    ck_assert_int_eq(clnet__program_source(ctx, "elementwise", &src), CLNET_OK);
    ck_assert_ptr_nonnull(strstr(src, "#define MINE 1"));
    free(src);
    unlink(path);
    ck_assert_int_ne(clnet__program_source(ctx, "elementwise", &src), CLNET_OK);
    ck_assert_ptr_null(src);
    const char *m = clnet_errmsg(ctx);
    ck_assert_msg(strstr(m, "elementwise.cl:1") && strstr(m, "mine.h"), "%s", m);
    snprintf(path, sizeof path, "%s/elementwise.cl", kdir);
    unlink(path);
    rmdir(kdir);
    unsetenv("CLNET_KERNEL_DIR");
}
END_TEST

int main(int argc, char **argv)
{
    cl_dir = argc > 1 ? argv[1] : "cl";
    clnet_test_require_device();
    Suite *s = suite_create("program");
    TCase *tc = tcase_create("program");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, broken_kernel_reports_compiler_message);
    tcase_add_test(tc, bad_option_is_a_build_error);
    tcase_add_test(tc, missing_program_and_kernel);
    tcase_add_test(tc, every_program_is_listed_and_has_source);
    tcase_add_test(tc, kernel_dir_matches_embedded);
    tcase_add_test(tc, kernel_dir_overrides);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
