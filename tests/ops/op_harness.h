/* Checks one op on one case, three ways:
 *   1. gradient check: central finite differences of L = sum(out * dout) on
 *      the plain-C reference, at up to GRAD_POINTS random elements of every
 *      input and parameter, skipping points within eps of a kink (where the
 *      left and right one-sided differences disagree);
 *   2. device forward vs reference forward (outputs poisoned with NaN first,
 *      so an unwritten element fails);
 *   3. device backward vs reference backward, with gradient buffers starting
 *      from random values, so accumulation (+=) is checked too.
 * Tolerances (stated here so a reader sees them):
 *   device vs reference: ||dev - ref||_2 <= OP_TOL_REL * ||ref||_2 + 1e-6 * sqrt(n)
 *   finite differences: |num - ana| <= FD_TOL_ABS + FD_TOL_REL * |ana|
 */
#ifndef CLNET_OP_HARNESS_H
#define CLNET_OP_HARNESS_H

#include "clnet/clnet.h"
#include "ops/op.h"

#define OP_TOL_REL 1e-4
#define FD_EPS 1e-2
#define FD_TOL_ABS 2e-3
#define FD_TOL_REL 2e-2
#define GRAD_POINTS 12

typedef struct op_case {
    const char *op;       /* registry name, e.g. "conv" */
    const char *params;   /* "filters=4 kernel=3 stride=2 pad=1" */
    int n_in;
    clnet__shape in[4];
    int training;         /* 1: train mode (forward, backward, gradients) */
} op_case;

/* Runs all checks for one case with fresh random data from seed. Returns 1 on
 * success; on failure writes what failed into msg. */
int op_case_check(clnet_ctx *ctx, const op_case *c, uint64_t seed, char *msg,
                  size_t cap);

/* Runs every case of a table (stopping at the first failure) and fails the
 * current Check test with the message. */
void op_cases_run(clnet_ctx *ctx, const op_case *cases, size_t n);

/* A case's label, e.g. "conv(filters=4 kernel=3) in=[2,3,7,5] train". */
const char *op_case_label(const op_case *c, char *buf, size_t cap);

/* Seed for fresh random inputs: $CLNET_TEST_SEED if set, else time-based;
 * printed on failure so a run can be repeated. */
uint64_t op_test_seed(void);

#endif
