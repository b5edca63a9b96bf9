/* The op suites' runner over the library's op checker (src/ops/op_check.h,
 * where the checks and their tolerances are described). */
#ifndef CLNET_OP_HARNESS_H
#define CLNET_OP_HARNESS_H

#include "ops/op_check.h"

typedef clnet__op_case op_case;

/* Runs every case of a table twice, with a fixed seed (reproducible) and a
 * fresh one ($CLNET_TEST_SEED repeats it), each with the gradient check, and
 * fails the current Check test at the first failure. Quick mode (below):
 * only cases of at most OP_QUICK_ELEMS input elements (at least the
 * smallest case of the table), once, with the fixed seed, and no gradient
 * check (that checks the reference, not the device). */
#define OP_QUICK_ELEMS 2048
void op_cases_run(clnet_ctx *ctx, const op_case *cases, size_t n);

/* The same cases with activations stored as half (fp16-storage;
 * clnet__op_case_check_half): all of them with the fixed seed, and with
 * a fresh one the two mixes the first and last layers of a network see
 * (quick mode: the smallest case, fixed seed). */
void op_cases_run_half(clnet_ctx *ctx, const op_case *cases, size_t n);

/* $CLNET_TEST_QUICK set and not "0": a reduced run for slow devices and
 * checkers (oclgrind, unusual local sizes). */
int op_test_quick(void);

/* Seed for fresh random inputs: $CLNET_TEST_SEED if set, else time-based. */
uint64_t op_test_seed(void);

#endif
