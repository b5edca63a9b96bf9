/* Dynamic loss scaling, for training whose activation gradients are half
 * precision (precision fp16): small gradients would flush to zero there, so
 * the loss gradient is multiplied by a scale S before backward and every
 * parameter gradient divided by S before the update (an exact power of two,
 * so in fp32 the result is bit-identical to no scaling). S adapts as
 * PyTorch's GradScaler does:
 *   - an update whose gradients hold a NaN or Inf is skipped (parameters
 *     and optimizer moments stay as they were) and S halves;
 *   - after `interval` updates in a row without one, S doubles.
 * S stays within [CLNET__LSCALE_MIN, CLNET__LSCALE_MAX] (PyTorch has no
 * bounds; these keep 1/S finite and S * gradient away from fp32's range).
 *
 * The state lives on the device, next to the optimizer, and the kernels
 * decide there (cl/optim.cl, LSCALE): a step needs no read-back, as every
 * other step of clnet. Layout, CLNET__LSCALE_FLOATS floats:
 *   [0] S   [1] good updates since S last changed   [2] this update found
 *   a NaN/Inf (cleared by the update kernel)   [3] updates skipped so far
 * Checkpoints save [0], [1] and [3] (src/train/checkpoint.c), so a resumed
 * run continues with the scale it had. */
#ifndef CLNET_TRAIN_LOSS_SCALE_H
#define CLNET_TRAIN_LOSS_SCALE_H

#define CLNET__LSCALE_FLOATS 4
#define CLNET__LSCALE_INIT 65536.0f    /* PyTorch's init_scale, 2^16 */
#define CLNET__LSCALE_INTERVAL 2000    /* PyTorch's growth_interval */
#define CLNET__LSCALE_MAX 16777216.0f  /* 2^24 */
#define CLNET__LSCALE_MIN (1.0f / 16777216.0f)
#define CLNET__LSCALE_MAX_INTERVAL 1000000 /* [1] counts in a float */

/* The state a run starts with: S = init, nothing counted. */
void clnet__loss_scale_init(float ls[CLNET__LSCALE_FLOATS], float init);

/* The plain-C reference of one update's effect on the state (the device's
 * optim_scale_update, after optim_found_inf set ls[2] = found). */
void clnet__loss_scale_ref_update(float ls[CLNET__LSCALE_FLOATS], int found,
                                  unsigned interval);

/* 1 when init and interval are usable (init a finite number in
 * [CLNET__LSCALE_MIN, CLNET__LSCALE_MAX], interval 1..MAX_INTERVAL). */
int clnet__loss_scale_valid(float init, int interval);

#endif
