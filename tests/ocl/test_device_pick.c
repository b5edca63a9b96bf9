/* Device selection and build options on made-up device lists: no device
 * needed. */
#include "../support.h"
#include "ocl/ocl_private.h"

#include <string.h>

static clnet_device_desc devs[3];

static void set(clnet_device_desc *d, int index, const char *plat,
                const char *name, const char *type)
{
    memset(d, 0, sizeof *d);
    d->index = index;
    clnet__strlcpy(d->platform_name, plat, sizeof d->platform_name);
    clnet__strlcpy(d->name, name, sizeof d->name);
    d->type = type;
}

static void setup(void)
{
    set(&devs[0], 0, "Portable Computing Language", "pthread-haswell", "CPU");
    set(&devs[1], 1, "NVIDIA CUDA", "NVIDIA GeForce RTX 3080", "GPU");
    set(&devs[2], 2, "Intel(R) OpenCL Graphics", "Intel(R) UHD Graphics 630", "GPU");
}

static size_t pick(const char *sel)
{
    size_t p = 99;
    char err[1024];
    clnet_status st = clnet__device_pick(devs, 3, sel, &p, err, sizeof err);
    ck_assert_msg(st == CLNET_OK, "'%s': %s", sel ? sel : "(null)", err);
    return p;
}

START_TEST(default_is_first_gpu)
{
    ck_assert_uint_eq(pick(NULL), 1);
    ck_assert_uint_eq(pick(""), 1);
    ck_assert_uint_eq(pick("  "), 1);
    ck_assert_uint_eq(clnet__device_default(devs, 3), 1);
    devs[1].type = devs[2].type = "accelerator";
    ck_assert_uint_eq(pick(NULL), 0); /* no GPU: the first device */
    ck_assert_uint_eq(clnet__device_default(devs + 1, 2), 0);
}
END_TEST

START_TEST(by_index)
{
    ck_assert_uint_eq(pick("0"), 0);
    ck_assert_uint_eq(pick("2"), 2);
    ck_assert_uint_eq(pick(" 1"), 1);
}
END_TEST

START_TEST(by_substring_any_case)
{
    ck_assert_uint_eq(pick("geforce"), 1);
    ck_assert_uint_eq(pick("GEFORCE rtx"), 1);
    ck_assert_uint_eq(pick("uhd"), 2);
    ck_assert_uint_eq(pick("Pthread"), 0);
    ck_assert_uint_eq(pick("portable computing"), 0); /* platform name */
    ck_assert_uint_eq(pick("cuda / nvidia"), 1);      /* "platform / name" */
    ck_assert_uint_eq(pick("intel"), 2);
}
END_TEST

START_TEST(by_type)
{
    ck_assert_uint_eq(pick("gpu"), 1);
    ck_assert_uint_eq(pick("GPU"), 1);
    ck_assert_uint_eq(pick("cpu"), 0);
    devs[2].type = "accelerator";
    ck_assert_uint_eq(pick("Accelerator"), 2);
}
END_TEST

static void expect_nodev(const char *sel)
{
    size_t p = 99;
    char err[1024];
    ck_assert_int_eq(clnet__device_pick(devs, 3, sel, &p, err, sizeof err),
                     CLNET_ENODEV);
    ck_assert_uint_eq(p, 99);
    ck_assert_msg(strstr(err, sel), "selector missing from: %s", err);
    const char *want[] = {"[0] Portable Computing Language / pthread-haswell (CPU)",
                          "[1] NVIDIA CUDA / NVIDIA GeForce RTX 3080 (GPU)",
                          "[2] Intel(R) OpenCL Graphics / Intel(R) UHD Graphics 630"};
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(err, want[i]), "'%s' missing from: %s", want[i], err);
}

START_TEST(no_match_lists_devices)
{
    expect_nodev("3");
    expect_nodev("-1");
    expect_nodev("radeon");
    expect_nodev("accelerator");
}
END_TEST

START_TEST(error_edges)
{
    size_t p = 0;
    char err[16];
    /* A short buffer is cut, never overrun. */
    ck_assert_int_eq(clnet__device_pick(devs, 3, "radeon", &p, err, sizeof err),
                     CLNET_ENODEV);
    ck_assert_uint_eq(strlen(err), sizeof err - 1);
    ck_assert_int_eq(clnet__device_pick(devs, 3, "radeon", &p, NULL, 0),
                     CLNET_ENODEV);
    ck_assert_int_eq(clnet__device_pick(devs, 0, NULL, &p, err, sizeof err),
                     CLNET_ENODEV);
}
END_TEST

START_TEST(cl_version_parsing)
{
    int ma, mi;
    clnet__parse_cl_version("OpenCL C 1.2 PoCL", &ma, &mi);
    ck_assert(ma == 1 && mi == 2);
    clnet__parse_cl_version("OpenCL 3.0 CUDA 12.2", &ma, &mi);
    ck_assert(ma == 3 && mi == 0);
    clnet__parse_cl_version("garbage", &ma, &mi);
    ck_assert(ma == 0 && mi == 0);
}
END_TEST

START_TEST(build_options_from_caps)
{
    char buf[512];
    clnet__device_caps c = {.opencl_c_major = 1, .opencl_c_minor = 2, .fp64 = 1,
                            .vec_float = 8, .max_wg = 256, .is_cpu = 1};
    clnet__build_options(&c, buf, sizeof buf);
    ck_assert_ptr_nonnull(strstr(buf, "-cl-std=CL1.2"));
    ck_assert_ptr_nonnull(strstr(buf, "-DCLNET_HAS_FP16=0"));
    ck_assert_ptr_nonnull(strstr(buf, "-DCLNET_HAS_FP64=1"));
    ck_assert_ptr_nonnull(strstr(buf, "-DCLNET_VEC_FLOAT=8"));
    ck_assert_ptr_nonnull(strstr(buf, "-DCLNET_MAX_WG=256"));
    ck_assert_ptr_nonnull(strstr(buf, "-DCLNET_IS_CPU=1"));
    ck_assert_ptr_null(strstr(buf, "fast-relaxed-math"));
    clnet__device_caps zero = {0};
    clnet__build_options(&zero, buf, sizeof buf);
    ck_assert_ptr_nonnull(strstr(buf, "-DCLNET_VEC_FLOAT=1"));
    ck_assert_ptr_nonnull(strstr(buf, "-DCLNET_MAX_WG=64"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("device_pick");
    TCase *tc = tcase_create("selector");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, default_is_first_gpu);
    tcase_add_test(tc, by_index);
    tcase_add_test(tc, by_substring_any_case);
    tcase_add_test(tc, by_type);
    tcase_add_test(tc, no_match_lists_devices);
    tcase_add_test(tc, error_edges);
    tcase_add_test(tc, cl_version_parsing);
    tcase_add_test(tc, build_options_from_caps);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
