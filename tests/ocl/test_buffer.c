/* The buffer pool: limits become CLNET_ENOMEM naming the size, buffers are
 * reused by size class, and copies outside a buffer are CLNET_EINVAL. */
#include "ocl_util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static clnet_ctx *ctx;
static void setup(void) { ctx = tu_ctx(NULL); }
static void teardown(void) { clnet_ctx_free(ctx); }

static void expect_enomem(size_t bytes)
{
    clnet__buf *b = (clnet__buf *)1;
    ck_assert_int_eq(clnet__buf_create(ctx, bytes, &b), CLNET_ENOMEM);
    ck_assert_ptr_null(b);
    char want[64];
    snprintf(want, sizeof want, "%zu bytes", bytes);
    ck_assert_msg(strstr(clnet_errmsg(ctx), want), "'%s' missing from: %s", want,
                  clnet_errmsg(ctx));
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), clnet_ctx_device_name(ctx)));
}

START_TEST(over_device_limit_is_enomem)
{
    uint64_t max = clnet__ocl_of(ctx)->desc.max_alloc_bytes;
    if (max < SIZE_MAX)
        expect_enomem((size_t)max + 1);
    expect_enomem(SIZE_MAX);
    expect_enomem(SIZE_MAX / 2 + 1);
    clnet__buf *b = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, 0, &b), CLNET_EINVAL);
}
END_TEST

START_TEST(released_buffers_are_reused)
{
    clnet__buf *a = NULL, *b = NULL, *c = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, 1000, &a), CLNET_OK);
    cl_mem mem = a->mem;
    clnet__buf_release(ctx, a);
    ck_assert_int_eq(clnet__buf_create(ctx, 900, &b), CLNET_OK);
    ck_assert_ptr_eq(b, a); /* same size class: recycled */
    ck_assert_ptr_eq(b->mem, mem);
    ck_assert_uint_eq(b->bytes, 900);
    ck_assert_int_eq(clnet__buf_create(ctx, 1000, &c), CLNET_OK);
    ck_assert_ptr_ne(c, b); /* b is in use */
    clnet__buf_release(ctx, c);
    ck_assert_int_eq(clnet__buf_create(ctx, 3000, &c), CLNET_OK);
    ck_assert_ptr_ne(c->mem, mem); /* another class */
    ck_assert_uint_ge(c->class_bytes, 3000);
    clnet__buf_release(ctx, b);
    clnet__buf_release(ctx, c);
    clnet__buf_release(ctx, NULL);
}
END_TEST

START_TEST(ranges_are_checked)
{
    clnet__buf *b = NULL;
    float host[256] = {0};
    ck_assert_int_eq(clnet__buf_create(ctx, 1000, &b), CLNET_OK);
    /* Past the size asked for, even though the class is larger. */
    ck_assert_int_eq(clnet__buf_write(ctx, b, 992, 16, host), CLNET_EINVAL);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "1000 bytes"));
    ck_assert_int_eq(clnet__buf_read(ctx, b, 1001, 0, host), CLNET_EINVAL);
    ck_assert_int_eq(clnet__buf_read(ctx, b, 8, SIZE_MAX, host), CLNET_EINVAL);
    ck_assert_int_eq(clnet__buf_read(ctx, NULL, 0, 4, host), CLNET_EINVAL);
    ck_assert_int_eq(clnet__buf_write(ctx, b, 984, 16, host), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, b, 1000, 0, host), CLNET_OK);
    clnet__tensor t = {b, 200, 0};
    ck_assert_int_eq(clnet__fill(ctx, t, 51, 1.0f), CLNET_EINVAL);
    ck_assert_int_eq(clnet__fill(ctx, t, SIZE_MAX / 4 + 2, 1.0f), CLNET_EINVAL);
    ck_assert_int_eq(clnet__fill(ctx, (clnet__tensor){b, SIZE_MAX / 2, 0}, 1, 1.0f),
                     CLNET_EINVAL);
    ck_assert_int_eq(clnet__copy(ctx, (clnet__tensor){b, 0, 0}, t, 51), CLNET_EINVAL);
    ck_assert_int_eq(clnet__fill(ctx, t, 50, 2.5f), CLNET_OK);
    ck_assert_int_eq(clnet__copy(ctx, (clnet__tensor){b, 0, 0}, t, 50), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, b, 0, 1000, host), CLNET_OK);
    ck_assert(host[0] == 2.5f && host[49] == 2.5f && host[249] == 2.5f);
    clnet__buf_release(ctx, b);
}
END_TEST

/* The upload queue's copy is ordered before later compute work. */
/* fp16-storage's conversions: the host's clnet__half_from_float rounds as
 * the device's vstore_half_rte does (clnet__copy from fp32 to a half
 * tensor), including halfway cases, subnormals, overflow to infinity and
 * signed zero, and half -> fp32 on the device is exact. */
START_TEST(half_conversion_matches_device)
{
    enum { N = 4096 };
    static float x[N], back[N];
    static uint16_t dev[N];
    const float special[] = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.0f, 65520.0f,
                             -1e6f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 6.1e-5f,
                             1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 3.0e-6f};
    size_t ns = sizeof special / sizeof special[0];
    uint32_t r = 12345u;
    for (size_t i = 0; i < N; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = i < ns ? special[i]
                      : ldexpf((float)(r >> 8) / (float)(1u << 24) - 0.5f,
                               (int)(r % 48) - 30);
    }
    clnet__buf *bf = NULL, *bh = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, sizeof x, &bf), CLNET_OK);
    ck_assert_int_eq(clnet__buf_create(ctx, sizeof dev, &bh), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, bf, 0, sizeof x, x), CLNET_OK);
    clnet__tensor tf = {bf, 0, 0}, th = {bh, 0, 1};
    ck_assert_int_eq(clnet__copy(ctx, th, tf, N), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bh, 0, sizeof dev, dev), CLNET_OK);
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(dev[i] == clnet__half_from_float(x[i]),
                      "%.9g: device 0x%04x, host 0x%04x", (double)x[i], dev[i],
                      clnet__half_from_float(x[i]));
    ck_assert_int_eq(clnet__fill(ctx, tf, N, 7.0f), CLNET_OK);
    ck_assert_int_eq(clnet__copy(ctx, tf, th, N), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, bf, 0, sizeof back, back), CLNET_OK);
    for (size_t i = 0; i < N; i++) {
        float h = clnet__half_to_float(dev[i]);
        ck_assert_msg(memcmp(&back[i], &h, sizeof h) == 0, "0x%04x: device %.9g, host %.9g",
                      dev[i], (double)back[i], (double)h);
    }
    clnet__buf_release(ctx, bf);
    clnet__buf_release(ctx, bh);
}
END_TEST

START_TEST(upload_then_compute)
{
    enum { N = 4096 };
    static float src[N], back[N];
    for (int i = 0; i < N; i++)
        src[i] = (float)i * 0.5f;
    clnet__buf *b = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, sizeof src, &b), CLNET_OK);
    clnet__upload up;
    ck_assert_int_eq(clnet__upload_start(ctx, b, 0, sizeof src, src, &up), CLNET_OK);
    ck_assert_int_eq(clnet__compute_after_upload(ctx, &up), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, b, 0, sizeof back, back), CLNET_OK);
    ck_assert_int_eq(clnet__upload_wait(ctx, &up), CLNET_OK);
    ck_assert(memcmp(src, back, sizeof src) == 0);
    ck_assert_int_eq(clnet__upload_start(ctx, b, 8, sizeof src, src, &up), CLNET_EINVAL);
    clnet__buf_release(ctx, b);
}
END_TEST

int main(void)
{
    clnet_test_require_device();
    Suite *s = suite_create("buffer");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, over_device_limit_is_enomem);
    tcase_add_test(tc, released_buffers_are_reused);
    tcase_add_test(tc, ranges_are_checked);
    tcase_add_test(tc, upload_then_compute);
    tcase_add_test(tc, half_conversion_matches_device);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
