/* Checks one op on one case against its plain-C reference, three ways:
 *   1. gradient check (optional): central finite differences of
 *      L = sum(out * dout) on the reference, at up to GRAD_POINTS random
 *      elements of every input and parameter, skipping points within eps of
 *      a kink (where the left and right one-sided differences disagree);
 *   2. device forward vs reference forward (outputs poisoned with NaN first,
 *      so an unwritten element fails; tensors at odd offsets);
 *   3. device backward vs reference backward, with gradient buffers starting
 *      from random values, so accumulation (+=) is checked too.
 * Tolerances:
 *   device vs reference: ||dev - ref||_2 <= OP_TOL_REL * ||ref||_2 + 1e-6 * sqrt(n)
 *   finite differences: |num - ana| <= FD_TOL_ABS + FD_TOL_REL * |ana|
 * Used by the op test suites (tests/ops) and clnet-info --self-test. */
#ifndef CLNET_OP_CHECK_H
#define CLNET_OP_CHECK_H

#include "clnet/clnet.h"
#include "ops/op.h"

#define OP_TOL_REL 1e-4
#define FD_EPS 1e-2
#define FD_TOL_ABS 2e-3
#define FD_TOL_REL 2e-2
#define GRAD_POINTS 12

typedef struct clnet__op_case {
    const char *op;       /* registry name, e.g. "conv" */
    const char *params;   /* "filters=4 kernel=3 stride=2 pad=1" */
    int n_in;
    clnet__shape in[4];
    int training;         /* 1: train mode (forward, backward, gradients) */
    float in_range;       /* inputs uniform in [-in_range, in_range]; 0 = 1
                             (wider for ops whose kinks lie beyond 1, as
                             relu6 at 6) */
} clnet__op_case;

/* Runs the checks for one case with fresh random data from seed (the
 * gradient check, and the check of an op's first-write backward (op.h,
 * din_write), only when grad_check). Returns 1 on success; on failure
 * writes what failed into msg. */
int clnet__op_case_check(clnet_ctx *ctx, const clnet__op_case *c, uint64_t seed,
                         int grad_check, char *msg, size_t cap);

/* The device checks (2, 3) with the op's activations stored as half and
 * their gradients fp32, as under fp16-storage: `halves` says which
 * (CLNET__HALF_IN: the inputs; CLNET__HALF_OUT: the output; both: a layer
 * inside the network; one alone: the first layer, which reads the fp32
 * network input, or the last, whose fp32 logits feed the loss), and the
 * scratch is in its fp16-storage layout. Half inputs are rounded on the
 * host first, so the reference sees the values the device stores, and
 * device results (rounded to half once more when stored) are compared
 * within OP_TOL_HALF: a few roundings of 2^-11. */
#define OP_TOL_HALF 3e-3
/* CLNET__HALF_DIN and CLNET__HALF_DOUT: the input and output gradients
 * stored as half too, as under precision fp16 (the output gradient and
 * the input gradients' starting values rounded on the host first). */
enum { CLNET__HALF_IN = 1, CLNET__HALF_OUT = 2, CLNET__HALF_DIN = 4, CLNET__HALF_DOUT = 8 };
int clnet__op_case_check_half(clnet_ctx *ctx, const clnet__op_case *c,
                              uint64_t seed, int halves, char *msg, size_t cap);

/* A case's label, e.g. "conv(filters=4 kernel=3) in=[2,3,7,5] train". */
const char *clnet__op_case_label(const clnet__op_case *c, char *buf, size_t cap);

#endif
