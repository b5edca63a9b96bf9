/* Learning-rate schedules: the learning rate of every optimizer step as a
 * pure function of the step number, so training resumed from a checkpoint
 * (which stores the step) continues on exactly the same curve.
 *
 * Steps count from 0 and the schedule is evaluated once per optimizer step;
 * epoch = step / steps_per_epoch; T = steps_per_epoch * total_epochs.
 *   constant  lr = base
 *   step      lr = base * gamma^floor(epoch / step_epochs)   (PyTorch StepLR
 *             stepped once per epoch)
 *   cosine    linear warm-up over W steps, lr = base * (step + 1) / W, so the
 *             first step already moves and step W-1 reaches base (no wasted
 *             zero-lr step); then cosine annealing from base at step W to
 *             min_lr at step T: lr = min + (base - min) * (1 + cos(pi p)) / 2,
 *             p = (step - W) / (T - W)
 *   onecycle  PyTorch OneCycleLR (two phases, cosine annealing, base = max_lr):
 *             from base/div_factor up to base at step pct_start*T - 1, then
 *             down to base/div_factor/final_div_factor at step T - 1.
 *             (OneCycleLR's momentum cycling is not modelled here.)
 * Steps past the end keep the last value. Computed in double (as PyTorch's
 * Python-side schedulers do) and rounded to float once. */
#ifndef CLNET_TRAIN_SCHEDULE_H
#define CLNET_TRAIN_SCHEDULE_H

#include "clnet/clnet.h"
#include <stdint.h>

typedef enum clnet__sched_kind {
    CLNET__SCHED_CONSTANT,
    CLNET__SCHED_STEP,
    CLNET__SCHED_COSINE,
    CLNET__SCHED_ONECYCLE
} clnet__sched_kind;

typedef struct clnet__schedule {
    clnet__sched_kind kind;
    uint32_t step_epochs;    /* step: decay every this many epochs (>= 1) */
    double gamma;            /* step: factor per decay, in (0, 1] */
    uint64_t warmup_steps;   /* cosine: W; when 0, warmup_epochs is used */
    double warmup_epochs;    /* cosine: W = round(warmup_epochs * steps_per_epoch) */
    double min_lr;           /* cosine: lr at the end (eta_min) */
    double pct_start;        /* onecycle: fraction of T spent rising */
    double div_factor;       /* onecycle: initial lr = base / div_factor */
    double final_div_factor; /* onecycle: final lr = initial / final_div_factor */
} clnet__schedule;

/* Defaults for a kind: step_epochs 30, gamma 0.1 (StepLR's usual recipe),
 * no warm-up, min_lr 0, and OneCycleLR's pct_start 0.3, div_factor 25,
 * final_div_factor 1e4. */
void clnet__schedule_defaults(clnet__schedule *s, clnet__sched_kind kind);

/* Checks the settings against the run's length (EINVAL naming the field). */
clnet_status clnet__schedule_check(clnet_ctx *ctx, const clnet__schedule *s,
                                   uint64_t steps_per_epoch,
                                   uint32_t total_epochs);

/* The learning rate for optimizer step `step` (0-based). Deterministic and
 * pure; with unchecked settings it still returns a finite number or base. */
float clnet__lr_at(const clnet__schedule *s, float base_lr, uint64_t step,
                   uint64_t steps_per_epoch, uint32_t total_epochs);

/* "constant", "step", "cosine", "onecycle" <-> kind (for model files and
 * checkpoint metadata). from_name returns 0 on success, -1 if unknown. */
const char *clnet__schedule_name(clnet__sched_kind kind);
int clnet__schedule_from_name(const char *name, clnet__sched_kind *out);

#endif
