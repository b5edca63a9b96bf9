/* Helpers shared by the Check suites. */
#ifndef CLNET_TEST_SUPPORT_H
#define CLNET_TEST_SUPPORT_H

#include "clnet/clnet.h"
#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Exit status that meson counts as "skipped". */
#define CLNET_TEST_SKIP 77

/* Creates a context on the default (or $CLNET_DEVICE) device with a log
 * callback writing warnings to stderr. When no OpenCL platform exists at all,
 * the whole test program exits 77 (skipped); any other failure fails. */
clnet_ctx *clnet_test_ctx(void);

/* For main() of a device test program, before any OpenCL call: exits 77
 * (skipped) when no OpenCL platform exists. It probes in a child process, so
 * the caller has not started the OpenCL driver when Check forks its tests
 * (tests that fork processes of their own need that). */
void clnet_test_require_device(void);

/* Runs a suite (CK_NORMAL output) and returns the process exit status. */
int clnet_test_run(Suite *s);
/* The same with each test in a process of its own (a fresh driver and
 * environment; a crash fails one test). Only for programs whose main()
 * makes no OpenCL call: the driver's threads would not survive the fork. */
int clnet_test_run_forked(Suite *s);

/* Deterministic pseudo-random numbers for test data (xorshift64*). */
typedef struct clnet_test_rng { uint64_t s; } clnet_test_rng;
void clnet_test_rng_seed(clnet_test_rng *r, uint64_t seed);
float clnet_test_uniform(clnet_test_rng *r, float lo, float hi);
/* Uniform in [lo,hi] but never within 0.05 of zero. */
float clnet_test_nonzero(clnet_test_rng *r, float lo, float hi);
/* 1 when both files exist and hold the same bytes. */
int clnet_test_files_equal(const char *a, const char *b);

/* A small CNN on 3x8x8 inputs with 5 classes and no batchnorm or dropout:
 * its gradient is the same however a batch is split (accumulation,
 * replicas), up to summation order. Tests append their [train] section. */
#define CLNET_TEST_SMALL_CNN                                                 \
    "[net]\nchannels=3\nheight=8\nwidth=8\nclasses=5\n"                       \
    "[conv]\nfilters=6\nkernel=3\npad=1\n"                                    \
    "[relu]\n"                                                               \
    "[maxpool]\nkernel=2\nstride=2\n"                                         \
    "[conv]\nfilters=8\nkernel=3\npad=1\nactivation=tanh\n"                   \
    "[flatten]\n"                                                            \
    "[dense]\noutputs=5\n"

#endif
