/* clnet-info --self-test: builds every kernel program (reporting build time
 * and program-cache hits), then runs a table of checks, each comparing device
 * results with a plain-C reference on fresh random data.
 *
 * Adding a check: write a selftest_fn (see selftest_checks.c for examples)
 * and append {name, fn} to the table `selftest_checks` in selftest.c. */
#ifndef CLNET_TOOLS_SELFTEST_H
#define CLNET_TOOLS_SELFTEST_H

#include "clnet/clnet.h"
#include "ocl/ocl.h"

#include <stddef.h>
#include <stdint.h>

typedef struct selftest_env {
    clnet_ctx *ctx;                     /* the context under test */
    const clnet_ctx_settings *settings; /* to open more contexts like it */
    uint64_t seed;                      /* differs per check and per run */
} selftest_env;

typedef struct selftest_result {
    double max_err; /* largest error against the reference; inf on a
                       poisoned or clobbered element */
    double tol;     /* the check passes when max_err <= tol */
    char detail[256]; /* optional: shape, counts */
} selftest_result;

/* Runs one check. Returns CLNET_OK when it ran (pass/fail then follows from
 * max_err and tol), or an error status with clnet_errmsg(env->ctx) set. */
typedef clnet_status (*selftest_fn)(const selftest_env *env,
                                    selftest_result *r);

typedef struct selftest_check {
    const char *name;
    selftest_fn fn;
} selftest_check;

/* ---- helpers for checks (selftest.c) ----------------------------------- */
/* splitmix64: the next pseudo-random 64-bit value of *state. */
uint64_t selftest_next(uint64_t *state);
/* Uniform in [lo, hi). */
float selftest_uniform(uint64_t *state, float lo, float hi);
/* Fills p[0..n) with uniform values in [lo, hi). */
void selftest_fill(uint64_t *state, float *p, size_t n, float lo, float hi);
/* max over i of |got-want| / (1 + |want|); inf when any got is not finite
 * while want is. */
double selftest_max_err(const float *got, const float *want, size_t n);
/* A device buffer holding host[0..n). */
clnet_status selftest_upload(clnet_ctx *ctx, const float *host, size_t n,
                             clnet__buf **out);

/* ---- checks (selftest_checks.c) ---------------------------------------- */
clnet_status selftest_axpby(const selftest_env *env, selftest_result *r);
clnet_status selftest_axpby_beta0(const selftest_env *env, selftest_result *r);
clnet_status selftest_sgemm(const selftest_env *env, selftest_result *r);

/* ---- op checks (selftest_ops.c): one case per op, through the library's
 * op checker (device vs reference forward/backward, gradient check). ---- */
size_t selftest_op_count(void);
/* Runs op case i; prints a line; returns 1 on failure. */
int selftest_op_run(clnet_ctx *ctx, size_t i, uint64_t seed, int verbosity);

/* ---- runner (selftest.c) ----------------------------------------------- */
typedef struct selftest_options {
    const clnet_ctx_settings *settings; /* device, logging, cache */
    uint64_t seed;                      /* 0: from the clock */
    int verbosity;                      /* 0 prints failures and totals only */
} selftest_options;

/* Runs everything and prints a report on stdout. Returns the process exit
 * status: 0 when every build and check passed, 1 otherwise. */
int selftest_run(const selftest_options *opt);

#endif
