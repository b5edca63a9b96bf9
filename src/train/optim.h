/* Optimizers: SGD (momentum, Nesterov), Adam and AdamW with PyTorch's update
 * rules, over ONE flat parameter buffer, ONE flat gradient buffer and one
 * flat buffer per moment, so a whole step is one kernel launch. Gradient
 * clipping adds two before it (partial sums of squares, then one work-item
 * turning them into the scale): the global norm must be complete before any
 * update, and this way it never leaves the device.
 *
 * Update rules (t = step index, 1-based; g = gradient; wd applies only to
 * elements inside the decay ranges):
 *   clipping  g *= min(1, clip_norm / (||g||_2 + 1e-6)) over ALL gradients,
 *             before weight decay (torch.nn.utils.clip_grad_norm_). A NaN
 *             norm makes every gradient NaN, as in PyTorch; the non-finite
 *             flag reports it.
 *   SGD       g += wd * p;  b = momentum * b + g (b starts at 0, so step 1
 *             gives b = g as PyTorch's clone does; dampening 0);
 *             g = nesterov ? g + momentum * b : b;  p -= lr * g
 *   Adam      g += wd * p;  m = lerp(m, g, 1 - beta1);
 *             v = beta2 * v + (1 - beta2) * g * g;
 *             p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *   AdamW     p *= 1 - lr * wd (decoupled), then Adam without the g += wd * p
 *
 * Decay ranges: the caller lists [begin, begin + count) element ranges of the
 * flat buffer that decay (conv/dense weights; not biases or batchnorm
 * parameters). The optimizer turns them into a bit mask on the device, one
 * bit per parameter (1/32 of the parameter buffer's size), read by the same
 * kernel; a float mask would cost as much memory traffic as a moment, and a
 * range list would need a search per element. No ranges or weight_decay 0:
 * no mask and no decay code in the kernel; ranges covering every element:
 * no mask either.
 *
 * Frozen ranges (fine-tuning): clnet__optim_set_frozen takes element ranges
 * out of the update. Their parameters and moments are left as they are (no
 * decay either), and the step launches the update kernel once per range
 * that is still updated, with absolute indices, so frozen elements cost
 * nothing and nothing frozen means the one launch over everything. The
 * non-finite check runs where the update does. Gradient clipping still
 * sums the squares of ALL n gradients: the executor leaves frozen gradients
 * at zero, which makes that the norm over the trained parameters, as
 * PyTorch's clip_grad_norm_ over the parameters that have a gradient.
 *
 * Non-finite gradients: the update kernel sets a float flag to 1.0f when it
 * meets a NaN or Inf gradient (the update still happens, as in PyTorch). The
 * flag stays set until cleared; the trainer reads it with the loss every N
 * steps. Two uint32 words after the flag record where it happened, for the
 * message that names the layer (clnet__nonfinite_decode):
 *   [1] code: 2 * (i + 1) + isnan, for the HIGHEST parameter index i whose
 *       gradient was non-finite in that step (atomic_max; only non-finite
 *       elements pay for it). Backward runs from the loss towards the input
 *       and a bad gradient spreads to every layer before it, so the highest
 *       index is the layer nearest the loss where it began, not conv1.
 *   [2] the step (31 bits) of the first non-finite gradient since the
 *       flag was cleared: later steps (where everything is NaN by then) do
 *       not overwrite the record. Bit 31: the loss float the executor
 *       points the optimizer at (clnet__optim_set_loss) was NaN/Inf then,
 *       i.e. the forward pass overflowed and every gradient followed.
 * By default these live in a buffer of the optimizer; the executor may point
 * them at CLNET__NONFINITE_FLOATS floats of its own (e.g. next to the loss
 * sum) so everything comes back in one read.
 *
 * Determinism: the norm is summed in a fixed order (fixed blocks per group,
 * a fixed tree in local memory, partials summed in index order by one
 * work-item); no atomics. Same device + same inputs = bit-identical results.
 *
 * Ownership: clnet__optim_create allocates the moment buffers, the mask and
 * the partial sums from the context's pool; clnet__optim_free returns them.
 * The parameter and gradient tensors are the caller's, borrowed per call.
 * One thread at a time per optimizer (and per context). */
#ifndef CLNET_TRAIN_OPTIM_H
#define CLNET_TRAIN_OPTIM_H

#include "clnet/clnet.h"
#include "ocl/ocl.h"
#include <stddef.h>
#include <stdint.h>

typedef enum clnet__optim_type {
    CLNET__OPTIM_SGD,
    CLNET__OPTIM_ADAM,
    CLNET__OPTIM_ADAMW
} clnet__optim_type;

typedef struct clnet__optim_settings {
    clnet__optim_type type;
    float lr;           /* base learning rate (the schedule scales it) */
    float momentum;     /* SGD: in [0, 1); 0 = no momentum buffer */
    int nesterov;       /* SGD: needs momentum > 0 */
    float weight_decay; /* >= 0: L2 for SGD/Adam, decoupled for AdamW */
    float beta1, beta2; /* Adam/AdamW: in [0, 1) */
    float eps;          /* Adam/AdamW: > 0 */
    float clip_norm;    /* > 0: clip gradients to this global L2 norm; 0 off */
    /* > 0: dynamic loss scaling (train/loss_scale.h) starting at this
     * scale; 0 off. The interval: good updates before it doubles (0:
     * CLNET__LSCALE_INTERVAL). */
    float loss_scale;
    int loss_scale_interval;
} clnet__optim_settings;

/* PyTorch's defaults for the type: SGD lr 0.01 (clnet's benchmark recipe;
 * PyTorch has none), momentum 0; Adam lr 1e-3, betas 0.9/0.999, eps 1e-8,
 * wd 0; AdamW the same with wd 1e-2. No clipping. */
void clnet__optim_default_settings(clnet__optim_settings *s,
                                   clnet__optim_type type);

/* "sgd", "adam", "adamw" <-> type; from_name returns 0, or -1 if unknown. */
const char *clnet__optim_name(clnet__optim_type type);
int clnet__optim_from_name(const char *name, clnet__optim_type *out);

/* An element range of the flat parameter buffer: [begin, begin + count). */
typedef struct clnet__optim_range {
    size_t begin, count;
} clnet__optim_range;

typedef struct clnet__optim clnet__optim;

/* Creates an optimizer for n_params parameters (n_params < 2^31). decay
 * lists the ranges that weight decay applies to (may overlap; NULL when
 * n_decay is 0). Moments start at zero. Builds its kernels now, so a build
 * error surfaces here rather than at the first step. */
clnet_status clnet__optim_create(clnet_ctx *ctx,
                                 const clnet__optim_settings *settings,
                                 size_t n_params,
                                 const clnet__optim_range *decay,
                                 size_t n_decay, clnet__optim **out);
void clnet__optim_free(clnet_ctx *ctx, clnet__optim *opt); /* NULL ok */

/* One optimizer step over n_params elements of params and grads (views of
 * the caller's flat buffers), enqueued on the compute queue; nothing is read
 * back. lr is this step's learning rate (clnet__lr_at), step the 1-based
 * count of steps taken including this one (Adam's bias correction). */
clnet_status clnet__optim_step(clnet_ctx *ctx, clnet__optim *opt,
                               clnet__tensor params, clnet__tensor grads,
                               float lr, uint64_t step);

/* Freezes the elements of the listed ranges (any order, may overlap; none:
 * everything is updated again), replacing the previous list; takes effect
 * from the next step. Moments of frozen elements are kept, so a range
 * unfrozen later resumes from them. */
clnet_status clnet__optim_set_frozen(clnet_ctx *ctx, clnet__optim *opt,
                                     const clnet__optim_range *frozen,
                                     size_t n_frozen);
/* Elements a step updates (n_params less the frozen ones). */
size_t clnet__optim_updated(const clnet__optim *opt);

/* Dynamic loss scaling (settings.loss_scale > 0; train/loss_scale.h).
 * scale_loss_grad multiplies n floats of the loss gradient by the current
 * scale, before backward. The step then checks every gradient for NaN/Inf,
 * divides the scale out (before clipping), skips the update when one was
 * found and moves the scale; all on the device. get/set copy the
 * CLNET__LSCALE_FLOATS state (blocking); without scaling, get returns
 * {1, 0, 0, 0} and set does nothing. */
clnet_status clnet__optim_scale_loss_grad(clnet_ctx *ctx, clnet__optim *opt,
                                          clnet__tensor dloss, size_t n);
clnet_status clnet__optim_loss_scale_get(clnet_ctx *ctx, const clnet__optim *opt,
                                         float *state);
clnet_status clnet__optim_loss_scale_set(clnet_ctx *ctx, clnet__optim *opt,
                                         const float *state);
int clnet__optim_loss_scaled(const clnet__optim *opt);

/* Sets the n_params gradients to zero (one fill). */
clnet_status clnet__optim_zero_grad(clnet_ctx *ctx, const clnet__optim *opt,
                                    clnet__tensor grads);

/* The flag and its record: flag float, code, step (see above). */
#define CLNET__NONFINITE_FLOATS 3

/* Points the non-finite flag at CLNET__NONFINITE_FLOATS floats of the
 * caller's (borrowed until the optimizer is freed or the flag is pointed
 * elsewhere). The caller clears them (writes 0) when it reads them. */
void clnet__optim_set_flag(clnet__optim *opt, clnet__tensor flag);
/* Points the record's loss check at one float (borrowed like the flag). */
void clnet__optim_set_loss(clnet__optim *opt, clnet__tensor loss);

/* The flag and record decoded (CLNET__NONFINITE_FLOATS floats as read
 * back): the element index in the flat buffer, NaN (else Inf), the 1-based
 * step, and whether the loss was non-finite in that step. */
typedef struct clnet__nonfinite {
    size_t index;
    int is_nan;
    uint32_t step;
    int loss_bad;
} clnet__nonfinite;
/* Returns 1 when a gradient was recorded (and fills out), else 0. */
int clnet__nonfinite_decode(const float rec[CLNET__NONFINITE_FLOATS],
                            clnet__nonfinite *out);
/* Reads the flag (blocking): *nonfinite = 1 if a non-finite gradient was
 * seen since the flag was last cleared; clears it when clear is set. */
clnet_status clnet__optim_read_flag(clnet_ctx *ctx, clnet__optim *opt,
                                    int *nonfinite, int clear);

/* The moment buffers, for checkpoints: SGD with momentum has
 * "optim.momentum"; Adam/AdamW have "optim.exp_avg" and "optim.exp_avg_sq";
 * plain SGD has none. Each holds n floats laid out like the parameters.
 * The buffers are owned by the optimizer (read/write them, do not free). */
#define CLNET__OPTIM_MAX_STATES 2
typedef struct clnet__optim_state {
    const char *name;
    clnet__buf *buf;
    size_t n;
} clnet__optim_state;
size_t clnet__optim_states(const clnet__optim *opt,
                           clnet__optim_state out[CLNET__OPTIM_MAX_STATES]);
/* The device buffers clnet__optim_create would take for these settings
 * and n_params, in bytes (an upper bound: the decay mask is counted
 * whenever weight_decay > 0). Returns how many were written. */
#define CLNET__OPTIM_MAX_BUFFERS 6
size_t clnet__optim_buffers(const clnet__optim_settings *s, size_t n_params,
                            size_t bytes[CLNET__OPTIM_MAX_BUFFERS]);

/* Zeroes the moments (a fresh start without re-creating). */
clnet_status clnet__optim_reset(clnet_ctx *ctx, clnet__optim *opt);

/* Plain-C reference of one step (tests): the same arithmetic in float, in
 * the same order, over host arrays; m1/m2 are the moments as in the states
 * above (unused ones may be NULL); decay_mask has one byte per parameter
 * (NULL: none decay); *nonfinite is set to 1 when a gradient is NaN/Inf. */
void clnet__optim_ref_step(const clnet__optim_settings *s, size_t n,
                           float *params, const float *grads, float *m1,
                           float *m2, const unsigned char *decay_mask,
                           float lr, uint64_t step, int *nonfinite);
/* The same with frozen elements (frozen_mask: one byte per parameter, NULL:
 * none): those keep their parameter and moments and are not checked for
 * non-finite gradients; clipping's norm still covers all n gradients. */
void clnet__optim_ref_step_frozen(const clnet__optim_settings *s, size_t n,
                                  float *params, const float *grads, float *m1,
                                  float *m2, const unsigned char *decay_mask,
                                  const unsigned char *frozen_mask, float lr,
                                  uint64_t step, int *nonfinite);

#endif
