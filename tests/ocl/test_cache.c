/* The program cache: who keeps programs (clnet or a driver that caches by
 * itself), and clnet's on-disk binaries: hits, keys, corrupt entries,
 * concurrent writers, unusable directories, CLNET_CACHE=0. Each test uses a
 * cache directory of its own, and CLNET_CACHE=clnet so that clnet's cache is
 * tested on every driver, PoCL included (the tests of the choice unset it). */
#include "ocl_util.h"
#include "ocl/ocl_private.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define HEADER_BYTES 48 /* cache.c's entry header */

static char *dir;
static void setup(void)
{
    dir = tu_tempdir();
    setenv("CLNET_CACHE", "clnet", 1);
}
static void teardown(void)
{
    tu_rmdir(dir);
    free(dir);
}

/* Builds elementwise.cl in a new context on dir; returns its counters. */
static clnet_cache_stats build_once(void)
{
    clnet_ctx *ctx = tu_ctx(dir);
    clnet_status st = clnet__program_build(ctx, "elementwise", NULL);
    ck_assert_msg(st == CLNET_OK, "%s", clnet_errmsg(ctx));
    ck_assert_msg(tu_axpby_ok(ctx), "axpby computed a wrong result");
    clnet_cache_stats s = tu_stats(ctx);
    clnet_ctx_free(ctx);
    return s;
}

START_TEST(second_build_is_a_hit)
{
    clnet_cache_stats a = build_once();
    ck_assert_uint_eq(a.programs_built, 1);
    ck_assert_uint_eq(a.cache_misses, 1);
    ck_assert_uint_eq(a.cache_hits, 0);
    ck_assert_int_eq(tu_count(dir, ".bin"), 1);
    clnet_cache_stats b = build_once(); /* axpby runs from the cached binary */
    ck_assert_uint_eq(b.programs_built, 0);
    ck_assert_uint_eq(b.cache_hits, 1);
    ck_assert_uint_eq(b.cache_misses + b.cache_rejected, 0);
}
END_TEST

START_TEST(program_and_kernel_made_once_per_context)
{
    clnet_ctx *ctx = tu_ctx(dir);
    clnet__kernel *k1 = NULL, *k2 = NULL;
    ck_assert_int_eq(clnet__kernel_get(ctx, "elementwise", NULL, "axpby", &k1), CLNET_OK);
    ck_assert_int_eq(clnet__kernel_get(ctx, "elementwise", "", "axpby", &k2), CLNET_OK);
    ck_assert_ptr_eq(k1, k2);
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", NULL), CLNET_OK);
    clnet_cache_stats s = tu_stats(ctx);
    ck_assert_uint_eq(s.programs_built + s.cache_hits, 1);
    clnet_ctx_free(ctx);
}
END_TEST

START_TEST(key_covers_source_options_device)
{
    clnet_ctx *ctx = tu_ctx(dir);
    unsigned char k0[16], k1[16];
    clnet__cache_key(ctx, "src", "-DA=1", k0);
    clnet__cache_key(ctx, "src", "-DA=1", k1);
    ck_assert(memcmp(k0, k1, 16) == 0);
    clnet__cache_key(ctx, "src", "-DA=2", k1);
    ck_assert(memcmp(k0, k1, 16) != 0);
    clnet__cache_key(ctx, "src ", "-DA=1", k1);
    ck_assert(memcmp(k0, k1, 16) != 0);
    clnet__cache_key(ctx, "src-DA=1", "", k1); /* fields stay apart */
    ck_assert(memcmp(k0, k1, 16) != 0);
    clnet__ocl *o = clnet__ocl_of(ctx);
    char saved[sizeof o->desc.driver_version];
    memcpy(saved, o->desc.driver_version, sizeof saved);
    clnet__strlcpy(o->desc.driver_version, "other driver", sizeof saved);
    clnet__cache_key(ctx, "src", "-DA=1", k1);
    ck_assert(memcmp(k0, k1, 16) != 0);
    memcpy(o->desc.driver_version, saved, sizeof saved);
    clnet_ctx_free(ctx);
}
END_TEST

/* The binary is on disk when the build returns: nothing is left for later
 * (a later writer once raced PoCL's device thread and aborted it). */
START_TEST(binary_on_disk_when_build_returns)
{
    clnet_ctx *ctx = tu_ctx(dir);
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", NULL), CLNET_OK);
    ck_assert_int_eq(tu_count(dir, ".bin"), 1);
    ck_assert_int_eq(tu_count(dir, ".tmp"), 0);
    const char *where = NULL;
    ck_assert_int_eq(clnet_ctx_program_cache(ctx, &where), CLNET_PROGRAM_CACHE_CLNET);
    ck_assert_str_eq(where, dir);
    clnet_ctx_free(ctx);
    clnet_cache_stats s = build_once();
    ck_assert_uint_eq(s.cache_hits, 1);
}
END_TEST

/* Completes a user event after a delay, from another thread. */
static void *release_later(void *arg)
{
    struct timespec ts = {3, 0};
    nanosleep(&ts, NULL);
    clSetUserEventStatus((cl_event)arg, CL_COMPLETE);
    return NULL;
}

/* The driver is asked for a binary only once the context's queues are idle:
 * work queued before a build (here held back by a user event that another
 * thread completes 3 s later) has run by the time the build returns. */
START_TEST(binary_asked_for_with_queues_idle)
{
    clnet_ctx *ctx = tu_ctx(dir);
    clnet__ocl *o = clnet__ocl_of(ctx);
    cl_int e = CL_SUCCESS;
    cl_event gate = clCreateUserEvent(o->context, &e);
    ck_assert_int_eq(e, CL_SUCCESS);
    cl_event comp = NULL, up = NULL;
    ck_assert_int_eq(clEnqueueMarkerWithWaitList(o->queue, 1, &gate, &comp), CL_SUCCESS);
    ck_assert_int_eq(clEnqueueMarkerWithWaitList(o->upload_queue, 1, &gate, &up),
                     CL_SUCCESS);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, release_later, gate), 0);
    const char *src = "kernel void idle_check(global float *x) { x[0] = 3.0f; }";
    ck_assert_int_eq(clnet__program_build_source(ctx, "idle_check", src, NULL), CLNET_OK);
    cl_int s1 = -1, s2 = -1;
    clGetEventInfo(comp, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s1, &s1, NULL);
    clGetEventInfo(up, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s2, &s2, NULL);
    ck_assert_int_eq(s1, CL_COMPLETE);
    ck_assert_int_eq(s2, CL_COMPLETE);
    ck_assert_int_eq(tu_count(dir, ".bin"), 1);
    pthread_join(t, NULL);
    clReleaseEvent(up);
    clReleaseEvent(comp);
    clReleaseEvent(gate);
    clnet_ctx_free(ctx);
}
END_TEST

/* AUTO: a driver that keeps its own cache of programs (PoCL's kcache) is left
 * to it, and clnet writes no binaries; any other driver gets clnet's. */
START_TEST(auto_leaves_a_caching_driver_to_its_cache)
{
    unsetenv("CLNET_CACHE");
    char pocl[2100];
    snprintf(pocl, sizeof pocl, "%s/pocl", dir);
    setenv("POCL_CACHE_DIR", pocl, 1); /* this forked test's own driver cache */
    clnet_ctx *ctx = tu_ctx(dir);
    int is_pocl = strcmp(clnet__ocl_of(ctx)->desc.platform_name,
                         "Portable Computing Language") == 0;
    const char *where = NULL;
    clnet_program_cache kind = clnet_ctx_program_cache(ctx, &where);
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", NULL), CLNET_OK);
    ck_assert(tu_axpby_ok(ctx));
    if (is_pocl) {
        ck_assert_int_eq(kind, CLNET_PROGRAM_CACHE_DRIVER);
        ck_assert_str_eq(where, pocl);
        ck_assert_int_eq(tu_count(dir, ".bin"), 0);
        long n1 = clnet__driver_cache_entries(ctx);
        ck_assert_int_ge(n1, 1); /* the driver kept the build */
        clnet_ctx_free(ctx);
        ctx = tu_ctx(dir);       /* the same program again: no new entry */
        ck_assert_int_eq(clnet__program_build(ctx, "elementwise", NULL), CLNET_OK);
        ck_assert_int_eq(clnet__driver_cache_entries(ctx), n1);
        ck_assert_uint_eq(tu_stats(ctx).cache_hits, 0);
    } else {
        ck_assert_int_eq(kind, CLNET_PROGRAM_CACHE_CLNET);
        ck_assert_int_eq(tu_count(dir, ".bin"), 1);
    }
    clnet_ctx_free(ctx);
    /* The driver's cache turned off: clnet's own is used instead. */
    setenv("POCL_KERNEL_CACHE", "0", 1);
    ctx = tu_ctx(dir);
    ck_assert_int_eq(clnet_ctx_program_cache(ctx, NULL), CLNET_PROGRAM_CACHE_CLNET);
    clnet_ctx_free(ctx);
    unsetenv("POCL_KERNEL_CACHE");
}
END_TEST

START_TEST(other_option_or_source_misses)
{
    clnet_ctx *ctx = tu_ctx(dir);
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", NULL), CLNET_OK);
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", "-DCLNET_TEST_OPT=1"), CLNET_OK);
    clnet_cache_stats s = tu_stats(ctx);
    ck_assert_uint_eq(s.programs_built, 2);
    ck_assert_uint_eq(s.cache_hits, 0);
    ck_assert_int_eq(tu_count(dir, ".bin"), 2);

    const char *src = "kernel void k(global float *x) { x[0] = 1.0f; }";
    const char *src2 = "kernel void k(global float *x) { x[0] = 2.0f; }";
    ck_assert_int_eq(clnet__program_build_source(ctx, "k", src, NULL), CLNET_OK);
    ck_assert_int_eq(clnet__program_build_source(ctx, "k", src2, NULL), CLNET_OK);
    ck_assert_int_eq(clnet__program_build_source(ctx, "k", src, NULL), CLNET_OK);
    s = tu_stats(ctx);
    ck_assert_uint_eq(s.programs_built, 4);
    ck_assert_uint_eq(s.cache_hits, 1);
    ck_assert_int_eq(tu_count(dir, ".bin"), 4);
    clnet_ctx_free(ctx);
}
END_TEST

static unsigned char *slurp(const char *path, size_t *n)
{
    char *text = NULL;
    ck_assert_int_eq(clnet__read_file(NULL, path, &text, n), CLNET_OK);
    return (unsigned char *)text;
}

static void spit(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

enum { TRUNC_HEADER, TRUNC_BINARY, FLIP_BINARY, BAD_MAGIC, BAD_VERSION,
       BAD_KEY, TRAILING, GARBAGE_BINARY, N_CORRUPTIONS };
static const char *const corruption_names[] = {
    "truncated header", "truncated binary", "flipped byte in binary",
    "wrong magic", "other format version", "key of another entry",
    "trailing bytes", "valid checksum over a garbage binary"};

/* Each kind of damage is noticed, the program is rebuilt from source and
 * still computes the right answer, and the entry is rewritten whole. */
START_TEST(corrupt_entry_is_rebuilt)
{
    build_once();
    char *path = tu_only_entry(dir);
    size_t n = 0;
    unsigned char *good = slurp(path, &n);
    unsigned char *bad = malloc(n + 16);
    ck_assert_ptr_nonnull(bad);
    memcpy(bad, good, n);
    size_t bad_n = n;
    switch (_i) {
    case TRUNC_HEADER: bad_n = 30; break;
    case TRUNC_BINARY: bad_n = HEADER_BYTES + (n - HEADER_BYTES) / 2; break;
    case FLIP_BINARY: bad[HEADER_BYTES + (n - HEADER_BYTES) / 3] ^= 0x10; break;
    case BAD_MAGIC: bad[0] ^= 0xff; break;
    case BAD_VERSION: bad[8] = 99; break;
    case BAD_KEY: bad[20] ^= 0x01; break;
    case TRAILING: memcpy(bad + n, "0123456789abcdef", 16); bad_n = n + 16; break;
    case GARBAGE_BINARY: {
        for (size_t i = HEADER_BYTES; i < n; i++)
            bad[i] = (unsigned char)(i * 131u + 7u);
        uint64_t h = XXH3_64bits(bad + HEADER_BYTES, n - HEADER_BYTES);
        for (int i = 0; i < 8; i++)
            bad[40 + i] = (unsigned char)(h >> (8 * i));
        break;
    }
    }
    spit(path, bad, bad_n);
    tu_log_text[0] = '\0';
    clnet_cache_stats s = build_once();
    ck_assert_msg(s.cache_rejected >= 1, "%s was not rejected", corruption_names[_i]);
    ck_assert_uint_eq(s.cache_hits, 0);
    ck_assert_uint_eq(s.programs_built, 1);
    ck_assert_ptr_nonnull(strstr(tu_log_text, "cache entry"));
    size_t n2 = 0;
    unsigned char *now = slurp(path, &n2); /* rewritten whole */
    ck_assert(n2 == n && memcmp(now, good, n) == 0);
    s = build_once();
    ck_assert_uint_eq(s.cache_hits, 1);
    ck_assert_int_eq(tu_count(dir, ".tmp"), 0);
    free(now);
    free(bad);
    free(good);
    free(path);
}
END_TEST

/* Several processes building the same program at once all succeed and leave
 * exactly one valid entry and no temp files. The test process itself never
 * opens OpenCL before forking (see clnet_test_require_device). */
START_TEST(concurrent_builders_leave_one_entry)
{
    enum { PROCS = 3 };
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            close(go[1]);
            clnet_ctx *ctx = tu_ctx(dir);
            char c;
            if (read(go[0], &c, 1) != 0) /* wait for the start (EOF) */
                _exit(3);
            int ok = clnet__program_build(ctx, "elementwise", NULL) == CLNET_OK &&
                     tu_axpby_ok(ctx);
            clnet_ctx_free(ctx);
            _exit(ok ? 0 : 1);
        }
    }
    close(go[0]);
    close(go[1]); /* every child starts building now */
    for (int i = 0; i < PROCS; i++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "builder %d failed (status %d)", i, status);
    }
    ck_assert_int_eq(tu_count(dir, ".bin"), 1);
    ck_assert_int_eq(tu_count(dir, ".tmp"), 0);
    clnet_cache_stats s = build_once();
    ck_assert_uint_eq(s.cache_hits, 1);
    ck_assert_uint_eq(s.programs_built, 0);
}
END_TEST

enum { UNDER_FILE, UNDER_PROC, DIR_REPLACED, N_UNUSABLE };

/* A cache directory that cannot be used only turns the cache off (with a
 * warning); kernels still build and compute. Tests run as root, so a mode
 * 0500 directory would still be writable: use paths nothing can create. */
START_TEST(unusable_cache_dir_still_builds)
{
    char path[2200], file[2048];
    snprintf(file, sizeof file, "%s/a-file", dir);
    spit(file, (const unsigned char *)"x", 1);
    if (_i == UNDER_FILE)
        snprintf(path, sizeof path, "%s/sub", file);
    else if (_i == UNDER_PROC)
        snprintf(path, sizeof path, "/proc/clnet-no-such-dir/cache");
    else
        snprintf(path, sizeof path, "%s/cache", dir);
    tu_log_text[0] = '\0';
    clnet_ctx *ctx = tu_ctx(path);
    if (_i == DIR_REPLACED) { /* usable at start, gone when storing */
        ck_assert_int_eq(rmdir(path), 0);
        spit(path, (const unsigned char *)"x", 1);
    }
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", NULL), CLNET_OK);
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", "-DX=1"), CLNET_OK);
    ck_assert(tu_axpby_ok(ctx));
    clnet_cache_stats s = tu_stats(ctx);
    ck_assert_uint_eq(s.programs_built, 2);
    ck_assert_uint_eq(s.cache_hits, 0);
    /* Warned about once, not per program. */
    const char *w = strstr(tu_log_text, path);
    ck_assert_msg(w, "no warning naming %s in: %s", path, tu_log_text);
    ck_assert_ptr_null(strstr(w + 1, path));
    clnet_ctx_free(ctx);
    unlink(path);
    unlink(file);
}
END_TEST

START_TEST(cache_off_by_env)
{
    setenv("CLNET_CACHE", "0", 1);
    for (int round = 0; round < 2; round++) {
        clnet_cache_stats s = build_once();
        ck_assert_uint_eq(s.programs_built, 1);
        ck_assert_uint_eq(s.cache_hits + s.cache_misses, 0);
    }
    ck_assert_int_eq(tu_count(dir, ""), 0);
}
END_TEST

START_TEST(cache_off_by_setting)
{
    unsetenv("CLNET_CACHE"); /* it would override the setting */
    clnet_ctx_settings s;
    clnet_ctx_default_settings(&s);
    s.cache_dir = dir;
    s.cache_enabled = 0;
    clnet_ctx *ctx = NULL;
    ck_assert_int_eq(clnet_ctx_create(&ctx, &s), CLNET_OK);
    ck_assert_int_eq(clnet__program_build(ctx, "elementwise", NULL), CLNET_OK);
    ck_assert_uint_eq(tu_stats(ctx).programs_built, 1);
    ck_assert_int_eq(tu_count(dir, ""), 0);
    clnet_ctx_free(ctx);
}
END_TEST

int main(void)
{
    clnet_test_require_device();
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("cache");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, second_build_is_a_hit);
    tcase_add_test(tc, program_and_kernel_made_once_per_context);
    tcase_add_test(tc, key_covers_source_options_device);
    tcase_add_test(tc, other_option_or_source_misses);
    tcase_add_loop_test(tc, corrupt_entry_is_rebuilt, 0, N_CORRUPTIONS);
    tcase_add_test(tc, concurrent_builders_leave_one_entry);
    tcase_add_loop_test(tc, unusable_cache_dir_still_builds, 0, N_UNUSABLE);
    tcase_add_test(tc, binary_on_disk_when_build_returns);
    tcase_add_test(tc, binary_asked_for_with_queues_idle);
    tcase_add_test(tc, auto_leaves_a_caching_driver_to_its_cache);
    tcase_add_test(tc, cache_off_by_env);
    tcase_add_test(tc, cache_off_by_setting);
    suite_add_tcase(s, tc);
    return clnet_test_run_forked(s);
}
