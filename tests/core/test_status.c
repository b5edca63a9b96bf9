/* The status table, error messages and NULL-handle behaviour of src/core.
 * Needs no device (context creation may fail; that is one of the cases). */
#include "../support.h"
#include "core/ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    clnet_status st;
    const char *name;
} all_codes[] = {
#define ROW(name, value, desc) {CLNET_##name, "CLNET_" #name},
    CLNET_STATUS_MAP(ROW)
#undef ROW
};
#define N_CODES (sizeof all_codes / sizeof all_codes[0])

START_TEST(table_is_complete)
{
    ck_assert_int_eq(CLNET_OK, 0);
    for (size_t i = 0; i < N_CODES; i++) {
        clnet_status st = all_codes[i].st;
        ck_assert_str_eq(clnet_status_name(st), all_codes[i].name);
        ck_assert(strncmp(clnet_status_name(st), "CLNET_", 6) == 0);
        ck_assert(strlen(clnet_strerror(st)) > 0);
        ck_assert_str_ne(clnet_strerror(st), clnet_strerror((clnet_status)-9999));
        if (i > 0)
            ck_assert_int_lt(st, 0);
        for (size_t j = 0; j < i; j++) {
            ck_assert_int_ne(st, all_codes[j].st);
            ck_assert_str_ne(clnet_status_name(st), clnet_status_name(all_codes[j].st));
            ck_assert_str_ne(clnet_strerror(st), clnet_strerror(all_codes[j].st));
        }
    }
}
END_TEST

START_TEST(unknown_code)
{
    ck_assert_str_eq(clnet_status_name((clnet_status)-9999), "CLNET_UNKNOWN");
    ck_assert_str_eq(clnet_status_name((clnet_status)7), "CLNET_UNKNOWN");
    ck_assert(strlen(clnet_strerror((clnet_status)7)) > 0);
}
END_TEST

START_TEST(version)
{
    ck_assert_str_eq(clnet_version(), CLNET_VERSION_STRING);
}
END_TEST

START_TEST(null_handles)
{
    clnet_ctx_free(NULL);
    clnet_ctx_default_settings(NULL);
    ck_assert_int_eq(clnet_ctx_create(NULL, NULL), CLNET_EINVAL);
    ck_assert_str_eq(clnet_ctx_device_name(NULL), "");
    ck_assert(clnet_errmsg(NULL) != NULL);
    clnet_cache_stats cs;
    memset(&cs, 0xff, sizeof cs);
    clnet_ctx_cache_stats(NULL, &cs);
    ck_assert_uint_eq(cs.programs_built + cs.cache_hits + cs.cache_misses, 0);
    clnet_devices_free(NULL);
    ck_assert_int_eq(clnet_devices_list(NULL, NULL, NULL, 0), CLNET_EINVAL);
}
END_TEST

/* A selector that matches nothing (or no platform at all) fails with
 * CLNET_ENODEV and leaves a context holding the reason. */
START_TEST(errmsg_after_failed_create)
{
    clnet_ctx_settings s;
    clnet_ctx_default_settings(&s);
    s.device = "no-such-device-zq9";
    clnet_ctx *ctx = NULL;
    ck_assert_int_eq(clnet_ctx_create(&ctx, &s), CLNET_ENODEV);
    ck_assert_ptr_nonnull(ctx);
    const char *m = clnet_errmsg(ctx);
    ck_assert_msg(strstr(m, "no-such-device-zq9") || strstr(m, "no OpenCL device"),
                  "message: %s", m);
    clnet_ctx_free(ctx);
}
END_TEST

static char logged[4096];
static clnet_log_level logged_level;
static void capture_log(void *user, clnet_log_level level, const char *msg)
{
    (void)user;
    logged_level = level;
    snprintf(logged, sizeof logged, "%s", msg);
}

/* clnet__fail and clnet__fail_prefix on a bare context (no device needed). */
START_TEST(fail_and_prefix)
{
    clnet_ctx *ctx = calloc(1, sizeof *ctx);
    ck_assert_ptr_nonnull(ctx);
    ctx->log = capture_log;
    ctx->log_level = CLNET_LOG_DEBUG;
    ck_assert_str_eq(clnet_errmsg(ctx), "");
    ck_assert_int_eq(clnet__fail(ctx, CLNET_ESHAPE, "shape %d != %d", 3, 4),
                     CLNET_ESHAPE);
    ck_assert_str_eq(clnet_errmsg(ctx), "shape 3 != 4");
    ck_assert_int_eq(logged_level, CLNET_LOG_DEBUG);
    ck_assert_ptr_nonnull(strstr(logged, "CLNET_ESHAPE"));
    ck_assert_int_eq(clnet__fail_prefix(ctx, CLNET_EPARSE, "net.cfg:%d", 12),
                     CLNET_EPARSE);
    ck_assert_str_eq(clnet_errmsg(ctx), "net.cfg:12: shape 3 != 4");
    clnet__clear_error(ctx);
    ck_assert_str_eq(clnet_errmsg(ctx), "");

    /* A message longer than the buffer is cut, and a prefix still fits. */
    size_t big = CLNET__ERRMSG_MAX * 2;
    char *longmsg = malloc(big);
    ck_assert_ptr_nonnull(longmsg);
    memset(longmsg, 'x', big - 1);
    longmsg[big - 1] = '\0';
    clnet__fail(ctx, CLNET_EBUILD, "%s", longmsg);
    ck_assert_uint_eq(strlen(clnet_errmsg(ctx)), CLNET__ERRMSG_MAX - 1);
    clnet__fail_prefix(ctx, CLNET_EBUILD, "cl/x.cl");
    ck_assert_uint_eq(strlen(clnet_errmsg(ctx)), CLNET__ERRMSG_MAX - 1);
    ck_assert(strncmp(clnet_errmsg(ctx), "cl/x.cl: xxx", 12) == 0);
    free(longmsg);

    /* Lines above the context's level are not produced. */
    ctx->log_level = CLNET_LOG_WARN;
    logged[0] = '\0';
    clnet__log(ctx, CLNET_LOG_INFO, "hidden");
    ck_assert_str_eq(logged, "");
    clnet__log(ctx, CLNET_LOG_WARN, "shown %d", 1);
    ck_assert_str_eq(logged, "shown 1");
    clnet__fail(NULL, CLNET_EINVAL, "dropped"); /* NULL context: no crash */
    free(ctx);
}
END_TEST

START_TEST(helpers)
{
    char buf[4];
    clnet__strlcpy(buf, "abcdef", sizeof buf);
    ck_assert_str_eq(buf, "abc");
    clnet__strlcpy(buf, NULL, sizeof buf);
    ck_assert_str_eq(buf, "");
    char *text = NULL;
    ck_assert_int_eq(clnet__read_file(NULL, "/nonexistent/clnet/x", &text, NULL),
                     CLNET_EIO);
    ck_assert_ptr_null(text);
    double t0 = clnet__now(), t1 = clnet__now();
    ck_assert(t1 >= t0 && t0 > 0.0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, table_is_complete);
    tcase_add_test(tc, unknown_code);
    tcase_add_test(tc, version);
    tcase_add_test(tc, null_handles);
    tcase_add_test(tc, errmsg_after_failed_create);
    tcase_add_test(tc, fail_and_prefix);
    tcase_add_test(tc, helpers);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
