/* The profiler (src/ocl/profile.h): off without a profiling queue; with
 * one, launches and fills are recorded with their region, markers bound the
 * regions, and nothing is recorded outside start..collect. */
#include "ocl_util.h"

#include "ocl/profile.h"

#include <stdlib.h>
#include <string.h>

START_TEST(off_without_a_profiling_queue)
{
    unsetenv("CLNET_PROFILE");
    clnet_ctx *ctx = tu_ctx(NULL);
    ck_assert_int_eq(clnet__prof_available(ctx), 0);
    ck_assert_int_eq(clnet__prof_start(ctx, CLNET__PROF_EVENTS), CLNET_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(clnet_errmsg(ctx), "CLNET_PROFILE"));
    ck_assert_ptr_null(clnet__prof_event(ctx, "x"));
    clnet__prof_mark(ctx, CLNET__PROF_FORWARD, 0); /* no-op */
    ck_assert_int_eq(clnet__prof_recording(ctx), 0);
    ck_assert(tu_axpby_ok(ctx));
    clnet_ctx_free(ctx);
}
END_TEST

/* Records of one axpby and one fill between two marks, in mode `mode`. */
static void record_one_region(clnet__prof_mode mode)
{
    setenv("CLNET_PROFILE", "1", 1);
    clnet_ctx *ctx = tu_ctx(NULL);
    unsetenv("CLNET_PROFILE");
    ck_assert_int_eq(clnet__prof_available(ctx), 1);
    ck_assert(tu_axpby_ok(ctx)); /* builds the kernel: not recorded */
    ck_assert_int_eq(clnet__prof_start(ctx, mode), CLNET_OK);
    ck_assert_int_eq(clnet__prof_recording(ctx), 1);
    clnet__prof_mark(ctx, CLNET__PROF_BACKWARD, 3);
    ck_assert(tu_axpby_ok(ctx));
    clnet__buf *b = NULL;
    ck_assert_int_eq(clnet__buf_create(ctx, 4096, &b), CLNET_OK);
    ck_assert_int_eq(clnet__fill(ctx, (clnet__tensor){b, 0, 0}, 1024, 1.0f), CLNET_OK);
    clnet__prof_mark(ctx, CLNET__PROF_UPDATE, -1);
    const clnet__prof_record *r = NULL;
    size_t n = 0, lost = 99;
    ck_assert_int_eq(clnet__prof_collect(ctx, &r, &n, &lost), CLNET_OK);
    ck_assert_int_eq(clnet__prof_recording(ctx), 0);
    ck_assert_uint_eq(lost, 0);
    /* mark, axpby, fill, mark, and the closing mark */
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(r[0].kind, CLNET__PROF_MARK);
    ck_assert_int_eq(r[0].phase, CLNET__PROF_BACKWARD);
    ck_assert_int_eq(r[0].layer, 3);
    ck_assert_int_eq(r[1].kind, CLNET__PROF_LAUNCH);
    ck_assert_str_eq(r[1].name, "axpby");
    ck_assert_int_eq(r[1].phase, CLNET__PROF_BACKWARD);
    ck_assert_int_eq(r[1].layer, 3);
    ck_assert_str_eq(r[2].name, "fill");
    ck_assert_int_eq(r[3].kind, CLNET__PROF_MARK);
    ck_assert_int_eq(r[3].phase, CLNET__PROF_UPDATE);
    ck_assert_int_eq(r[4].phase, CLNET__PROF_OTHER);
    for (size_t i = 1; i < 3; i++)
        ck_assert(r[i].start > 0 && r[i].end >= r[i].start);
    ck_assert(r[3].end >= r[0].end && r[4].end >= r[3].end);
    if (mode == CLNET__PROF_EVENTS) /* same clock: the region holds its work */
        ck_assert(r[3].end >= r[2].end);
    /* Nothing is recorded after collect. */
    ck_assert_ptr_null(clnet__prof_event(ctx, "late"));
    clnet__buf_release(ctx, b);
    clnet__prof_stop(ctx);
    clnet__prof_stop(ctx);
    clnet_ctx_free(ctx);
}

START_TEST(records_launches_between_markers) { record_one_region(CLNET__PROF_EVENTS); }
END_TEST

START_TEST(sync_mode_uses_host_time) { record_one_region(CLNET__PROF_SYNC); }
END_TEST

int main(void)
{
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, off_without_a_profiling_queue);
    tcase_add_test(tc, records_launches_between_markers);
    tcase_add_test(tc, sync_mode_uses_host_time);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
