/* The self-test runner, its table of checks, and helpers for checks. */
#include "selftest.h"

#include "core/core.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Every check the self-test runs, in order. Append new checks here. */
static const selftest_check selftest_checks[] = {
    {"axpby", selftest_axpby},
    {"axpby beta=0 ignores NaN in y", selftest_axpby_beta0},
    {"sgemm 67x45x33 (CLBlast)", selftest_sgemm},
};

uint64_t selftest_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float selftest_uniform(uint64_t *state, float lo, float hi)
{
    float u = (float)(selftest_next(state) >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
}

void selftest_fill(uint64_t *state, float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = selftest_uniform(state, lo, hi);
}

double selftest_max_err(const float *got, const float *want, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) && isfinite(want[i]))
            return INFINITY;
        double e = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (e > worst)
            worst = e;
    }
    return worst;
}

clnet_status selftest_upload(clnet_ctx *ctx, const float *host, size_t n,
                             clnet__buf **out)
{
    clnet_status st = clnet__buf_create(ctx, n * sizeof(float), out);
    if (st == CLNET_OK)
        st = clnet__buf_write(ctx, *out, 0, n * sizeof(float), host);
    return st;
}

typedef struct build_totals {
    unsigned programs, hits, failed;
    double seconds;
} build_totals;

/* Whether the build just done came from a cache: clnet's counts its hits;
 * a driver's own cache (PoCL's) gains an entry for each program it had to
 * compile, so an unchanged count is a hit. */
static int was_cached(clnet_ctx *ctx, const clnet_cache_stats *before,
                      long driver_before)
{
    clnet_cache_stats after;
    clnet_ctx_cache_stats(ctx, &after);
    if (clnet_ctx_program_cache(ctx, NULL) == CLNET_PROGRAM_CACHE_DRIVER)
        return driver_before >= 0 && clnet__driver_cache_entries(ctx) == driver_before;
    return after.cache_hits > before->cache_hits;
}

/* Builds every program in cl/ on ctx, one line each. */
static void build_all(clnet_ctx *ctx, const char *phase, int verbosity,
                      build_totals *t)
{
    memset(t, 0, sizeof *t);
    for (const char *const *name = clnet__program_names(); *name; name++) {
        clnet_cache_stats before;
        clnet_ctx_cache_stats(ctx, &before);
        long driver_before = clnet__driver_cache_entries(ctx);
        double t0 = clnet__now();
        clnet_status st = clnet__program_build(ctx, *name, NULL);
        double dt = clnet__now() - t0;
        int hit = st == CLNET_OK && was_cached(ctx, &before, driver_before);
        t->programs++;
        t->hits += (unsigned)hit;
        t->seconds += dt;
        if (st != CLNET_OK) {
            t->failed++;
            printf("FAIL  build cl/%s.cl (%s): %s: %s\n", *name, phase,
                   clnet_status_name(st), clnet_errmsg(ctx));
        } else if (verbosity >= 1) {
            char file[128];
            snprintf(file, sizeof file, "cl/%s.cl", *name);
            printf("      build %-28s %-5s %7.3f s  %s\n", file, phase, dt,
                   hit ? "cache hit" : "compiled");
        }
    }
}

static int run_checks(clnet_ctx *ctx, const clnet_ctx_settings *settings,
                      uint64_t seed, int verbosity)
{
    int failed = 0;
    size_t n = sizeof selftest_checks / sizeof selftest_checks[0];
    for (size_t i = 0; i < n; i++) {
        const selftest_check *c = &selftest_checks[i];
        selftest_env env = {ctx, settings, seed ^ (0x9E3779B97F4A7C15ull * (i + 1))};
        selftest_result r = {0.0, 0.0, ""};
        clnet__clear_error(ctx);
        double t0 = clnet__now();
        clnet_status st = c->fn(&env, &r);
        double dt = clnet__now() - t0;
        int pass = st == CLNET_OK && r.max_err <= r.tol;
        failed += !pass;
        if (st != CLNET_OK)
            printf("FAIL  %-34s %s: %s\n", c->name, clnet_status_name(st),
                   clnet_errmsg(ctx));
        else if (!pass || verbosity >= 1)
            printf("%s  %-34s max err %.2e (tol %.0e) %7.3f s  %s\n",
                   pass ? "PASS" : "FAIL", c->name, r.max_err, r.tol, dt,
                   r.detail);
    }
    for (size_t i = 0; i < selftest_op_count(); i++)
        failed += selftest_op_run(ctx, i, seed + i, verbosity);
    return failed;
}

/* Builds everything again in a fresh context: with a program cache, every
 * program must now come from it (clnet's binaries are on disk as soon as a
 * build returns; a driver's cache is written by the build itself). Returns 1
 * on failure. */
static int check_warm(clnet_ctx *ctx, const clnet_ctx_settings *settings,
                      int verbosity, build_totals *warm)
{
    clnet_ctx_settings s = *settings;
    char index[32];
    snprintf(index, sizeof index, "%d", clnet__ocl_of(ctx)->desc.index);
    s.device = index;
    clnet_ctx *ctx2 = NULL;
    clnet_status st = clnet_ctx_create(&ctx2, &s);
    if (st != CLNET_OK) {
        printf("FAIL  second context: %s: %s\n", clnet_status_name(st),
               ctx2 ? clnet_errmsg(ctx2) : "");
        clnet_ctx_free(ctx2);
        return 1;
    }
    build_all(ctx2, "warm", verbosity, warm);
    const char *where = NULL;
    clnet_program_cache kind = clnet_ctx_program_cache(ctx2, &where);
    long countable = clnet__driver_cache_entries(ctx2);
    int warned = clnet__ocl_of(ctx)->cache_warned || clnet__ocl_of(ctx2)->cache_warned;
    clnet_ctx_free(ctx2);
    if (warm->failed)
        return 1;
    if (kind == CLNET_PROGRAM_CACHE_OFF || warned) {
        printf("NOTE  program cache off (CLNET_CACHE=0, or the cache directory "
               "is not writable: see the warning above): warm builds compile "
               "again\n");
        return 0;
    }
    if (kind == CLNET_PROGRAM_CACHE_DRIVER && countable < 0) {
        printf("NOTE  program cache: the driver's own, at a place clnet cannot "
               "see: not checked\n");
        return 0;
    }
    int pass = warm->hits == warm->programs;
    const char *from = kind == CLNET_PROGRAM_CACHE_DRIVER ? "from the driver's cache"
                                                          : "from clnet's cache";
    if (!pass || verbosity >= 1)
        printf("%s  %-34s %u of %u warm builds %s\n", pass ? "PASS" : "FAIL",
               "program cache", warm->hits, warm->programs, from);
    if (!pass)
        printf("      (%s: did another process build in the same cache at the "
               "same time?)\n", where);
    return !pass;
}

int selftest_run(const selftest_options *opt)
{
    uint64_t seed = opt->seed;
    if (!seed)
        seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    clnet_ctx *ctx = NULL;
    clnet_status st = clnet_ctx_create(&ctx, opt->settings);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-info: cannot open a device: %s: %s\n",
                clnet_status_name(st), ctx ? clnet_errmsg(ctx) : clnet_strerror(st));
        clnet_ctx_free(ctx);
        return 1;
    }
    const clnet__ocl *o = clnet__ocl_of(ctx);
    printf("self-test on [%d] %s / %s (%s)\n", o->desc.index,
           o->desc.platform_name, o->desc.name, o->desc.type);
    const char *where = NULL;
    switch (clnet_ctx_program_cache(ctx, &where)) {
    case CLNET_PROGRAM_CACHE_CLNET:
        printf("program cache: clnet's, %s\n", where);
        break;
    case CLNET_PROGRAM_CACHE_DRIVER:
        printf("program cache: the driver's own, %s (clnet stores no binaries "
               "for this driver; CLNET_CACHE=clnet to use clnet's)\n",
               *where ? where : "at its default place");
        break;
    default:
        printf("program cache: off\n");
    }
    printf("seed: %" PRIu64 " (repeat with --seed %" PRIu64 ")\n", seed, seed);

    build_totals cold, warm = {0, 0, 0, 0.0};
    build_all(ctx, "cold", opt->verbosity, &cold);
    int failed = (int)cold.failed;
    if (!cold.failed)
        failed += check_warm(ctx, opt->settings, opt->verbosity, &warm);
    failed += run_checks(ctx, opt->settings, seed, opt->verbosity);
    clnet_ctx_free(ctx);

    size_t nchecks = sizeof selftest_checks / sizeof selftest_checks[0] + selftest_op_count();
    printf("builds: cold %u program(s) in %.3f s, %u from cache; warm %u in "
           "%.3f s, %u from cache\n",
           cold.programs, cold.seconds, cold.hits, warm.programs, warm.seconds,
           warm.hits);
    printf("self-test: %s (%d failure(s), %zu checks)\n",
           failed ? "FAILED" : "passed", failed, nchecks);
    return failed ? 1 : 0;
}
