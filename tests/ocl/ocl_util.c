#include "ocl_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char tu_log_text[8192];

char *tu_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[1024];
    snprintf(tmpl, sizeof tmpl, "%s/clnet-test-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char *p = malloc(strlen(tmpl) + 1);
    ck_assert_ptr_nonnull(p);
    return strcpy(p, tmpl);
}

void tu_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int tu_count(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && strstr(e->d_name, needle))
            n++;
    closedir(d);
    return n;
}

char *tu_only_entry(const char *dir)
{
    ck_assert_int_eq(tu_count(dir, ".bin"), 1);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char *path = NULL;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".bin")) {
            path = malloc(strlen(dir) + strlen(e->d_name) + 2);
            ck_assert_ptr_nonnull(path);
            sprintf(path, "%s/%s", dir, e->d_name);
        }
    closedir(d);
    return path;
}

static void keep_log(void *user, clnet_log_level level, const char *msg)
{
    (void)user;
    size_t used = strlen(tu_log_text);
    snprintf(tu_log_text + used, sizeof tu_log_text - used, "%s\n", msg);
    fprintf(stderr, "clnet: %s\n", msg);
    (void)level;
}

clnet_ctx *tu_ctx(const char *cache_dir)
{
    clnet_ctx_settings s;
    clnet_ctx_default_settings(&s);
    s.cache_dir = cache_dir;
    s.log = keep_log;
    s.log_level = CLNET_LOG_WARN;
    clnet_ctx *ctx = NULL;
    clnet_status st = clnet_ctx_create(&ctx, &s);
    ck_assert_msg(st == CLNET_OK, "clnet_ctx_create: %s: %s",
                  clnet_status_name(st), ctx ? clnet_errmsg(ctx) : "");
    return ctx;
}

clnet_cache_stats tu_stats(const clnet_ctx *ctx)
{
    clnet_cache_stats s;
    clnet_ctx_cache_stats(ctx, &s);
    return s;
}

int tu_axpby_ok(clnet_ctx *ctx)
{
    enum { N = 1037 };
    float x[N], y[N], want[N];
    clnet_test_rng r;
    clnet_test_rng_seed(&r, 42);
    for (int i = 0; i < N; i++) {
        x[i] = clnet_test_nonzero(&r, -1.0f, 1.0f);
        y[i] = clnet_test_nonzero(&r, -1.0f, 1.0f);
        want[i] = 1.5f * x[i] - 0.5f * y[i];
    }
    clnet__kernel *k = NULL;
    clnet__buf *dx = NULL, *dy = NULL;
    clnet_status st = clnet__kernel_get(ctx, "elementwise", NULL, "axpby", &k);
    if (st == CLNET_OK)
        st = clnet__buf_create(ctx, sizeof x, &dx);
    if (st == CLNET_OK)
        st = clnet__buf_create(ctx, sizeof y, &dy);
    if (st == CLNET_OK)
        st = clnet__buf_write(ctx, dx, 0, sizeof x, x);
    if (st == CLNET_OK)
        st = clnet__buf_write(ctx, dy, 0, sizeof y, y);
    size_t global = N, local = clnet__wg_1d(ctx, k);
    clnet__tensor tx = {dx, 0, 0}, ty = {dy, 0, 0};
    if (st == CLNET_OK)
        st = CLNET__LAUNCH(ctx, k, 1, &global, &local, CLNET_ARG_U32(N),
                           CLNET_ARG_F32(1.5f), CLNET_ARG_T(tx),
                           CLNET_ARG_F32(-0.5f), CLNET_ARG_T(ty));
    memset(y, 0, sizeof y);
    if (st == CLNET_OK)
        st = clnet__buf_read(ctx, dy, 0, sizeof y, y);
    clnet__buf_release(ctx, dx);
    clnet__buf_release(ctx, dy);
    if (st != CLNET_OK) {
        fprintf(stderr, "axpby: %s: %s\n", clnet_status_name(st), clnet_errmsg(ctx));
        return 0;
    }
    for (int i = 0; i < N; i++)
        if (fabsf(y[i] - want[i]) > 1e-6f * (1.0f + fabsf(want[i]))) {
            fprintf(stderr, "axpby: y[%d] = %g, want %g\n", i, y[i], want[i]);
            return 0;
        }
    return 1;
}
