/* The buffer pool: limits become CLNET_ENOMEM naming the size, buffers are
 * reused by size class, and copies outside a buffer are CLNET_EINVAL. */
#include "ocl_util.h"

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
    clnet__tensor t = {b, 200};
    ck_assert_int_eq(clnet__fill(ctx, t, 51, 1.0f), CLNET_EINVAL);
    ck_assert_int_eq(clnet__fill(ctx, t, SIZE_MAX / 4 + 2, 1.0f), CLNET_EINVAL);
    ck_assert_int_eq(clnet__fill(ctx, (clnet__tensor){b, SIZE_MAX / 2}, 1, 1.0f),
                     CLNET_EINVAL);
    ck_assert_int_eq(clnet__copy(ctx, (clnet__tensor){b, 0}, t, 51), CLNET_EINVAL);
    ck_assert_int_eq(clnet__fill(ctx, t, 50, 2.5f), CLNET_OK);
    ck_assert_int_eq(clnet__copy(ctx, (clnet__tensor){b, 0}, t, 50), CLNET_OK);
    ck_assert_int_eq(clnet__buf_read(ctx, b, 0, 1000, host), CLNET_OK);
    ck_assert(host[0] == 2.5f && host[49] == 2.5f && host[249] == 2.5f);
    clnet__buf_release(ctx, b);
}
END_TEST

/* The upload queue's copy is ordered before later compute work. */
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
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
