/* Learning-rate schedules (see schedule.h for the formulas). */
#include "train/schedule.h"
#include "core/core.h"
#include "train/names.h"

#include <math.h>

static const char *const names[] = {
    [CLNET__SCHED_CONSTANT] = "constant",
    [CLNET__SCHED_STEP] = "step",
    [CLNET__SCHED_COSINE] = "cosine",
    [CLNET__SCHED_ONECYCLE] = "onecycle",
};
#define N_KINDS (sizeof names / sizeof names[0])

const char *clnet__schedule_name(clnet__sched_kind kind)
{
    return clnet__table_name(names, N_KINDS, (unsigned)kind);
}

int clnet__schedule_from_name(const char *name, clnet__sched_kind *out)
{
    int i = clnet__table_find(names, N_KINDS, name);
    if (i >= 0)
        *out = (clnet__sched_kind)i;
    return i < 0 ? -1 : 0;
}

void clnet__schedule_defaults(clnet__schedule *s, clnet__sched_kind kind)
{
    *s = (clnet__schedule){
        .kind = kind,
        .step_epochs = 30,
        .gamma = 0.1,
        .pct_start = 0.3,
        .div_factor = 25.0,
        .final_div_factor = 1e4,
    };
}

static uint64_t warmup_of(const clnet__schedule *s, uint64_t steps_per_epoch)
{
    if (s->warmup_steps)
        return s->warmup_steps;
    double w = s->warmup_epochs * (double)steps_per_epoch;
    return w > 0 && w < 1e18 ? (uint64_t)llround(w) : 0;
}

clnet_status clnet__schedule_check(clnet_ctx *ctx, const clnet__schedule *s,
                                   uint64_t steps_per_epoch,
                                   uint32_t total_epochs)
{
    CLNET__CHECK_ARG(ctx, s && (unsigned)s->kind < N_KINDS);
    CLNET__CHECK_ARG(ctx, steps_per_epoch >= 1 && total_epochs >= 1);
    uint64_t total = steps_per_epoch * total_epochs;
    switch (s->kind) {
    case CLNET__SCHED_STEP:
        if (s->step_epochs < 1 || !(s->gamma > 0 && s->gamma <= 1))
            return clnet__fail(ctx, CLNET_EINVAL,
                               "step schedule: need step_epochs >= 1 and gamma "
                               "in (0, 1] (got %u and %g)",
                               s->step_epochs, s->gamma);
        break;
    case CLNET__SCHED_COSINE:
        if (!(s->warmup_epochs >= 0) || !(s->min_lr >= 0) || !isfinite(s->min_lr))
            return clnet__fail(ctx, CLNET_EINVAL,
                               "cosine schedule: warmup_epochs and min_lr must "
                               "be >= 0 (got %g and %g)",
                               s->warmup_epochs, s->min_lr);
        if (warmup_of(s, steps_per_epoch) >= total)
            return clnet__fail(ctx, CLNET_EINVAL,
                               "cosine schedule: warm-up of %llu steps leaves "
                               "no room in %llu steps",
                               (unsigned long long)warmup_of(s, steps_per_epoch),
                               (unsigned long long)total);
        break;
    case CLNET__SCHED_ONECYCLE:
        if (!(s->pct_start > 0 && s->pct_start < 1) || !(s->div_factor >= 1) ||
            !(s->final_div_factor >= 1) || !isfinite(s->div_factor) ||
            !isfinite(s->final_div_factor))
            return clnet__fail(ctx, CLNET_EINVAL,
                               "onecycle schedule: need pct_start in (0, 1) and "
                               "div factors >= 1 (got %g, %g, %g)",
                               s->pct_start, s->div_factor, s->final_div_factor);
        /* OneCycleLR divides by (phase end - phase start) for both phases. */
        if (s->pct_start * (double)total - 1 <= 0 ||
            s->pct_start * (double)total - 1 >= (double)total - 1)
            return clnet__fail(ctx, CLNET_EINVAL,
                               "onecycle schedule: %llu steps are too few for "
                               "pct_start %g",
                               (unsigned long long)total, s->pct_start);
        break;
    case CLNET__SCHED_CONSTANT:
        break;
    }
    return CLNET_OK;
}

/* M_PI is not part of C11. */
#define PI 3.14159265358979323846

static double cos_anneal(double start, double end, double pct)
{
    return end + (start - end) / 2.0 * (cos(PI * pct) + 1.0);
}

/* PyTorch OneCycleLR.get_lr (three_phase=False, anneal_strategy='cos'). */
static double onecycle(const clnet__schedule *s, double base, uint64_t step,
                       uint64_t total)
{
    double initial = base / s->div_factor;
    double final = initial / s->final_div_factor;
    double end1 = s->pct_start * (double)total - 1.0;
    double end2 = (double)total - 1.0;
    double t = (double)(step < total ? step : total - 1);
    if (t <= end1)
        return end1 > 0 ? cos_anneal(initial, base, t / end1) : base;
    return end2 > end1 ? cos_anneal(base, final, (t - end1) / (end2 - end1)) : final;
}

float clnet__lr_at(const clnet__schedule *s, float base_lr, uint64_t step,
                   uint64_t steps_per_epoch, uint32_t total_epochs)
{
    double base = base_lr;
    if (!s || steps_per_epoch == 0)
        return base_lr;
    uint64_t total = steps_per_epoch * (total_epochs ? total_epochs : 1);
    double lr = base;
    switch (s->kind) {
    case CLNET__SCHED_STEP:
        if (s->step_epochs)
            lr = base * pow(s->gamma, (double)(step / steps_per_epoch / s->step_epochs));
        break;
    case CLNET__SCHED_COSINE: {
        uint64_t w = warmup_of(s, steps_per_epoch);
        if (step < w) {
            lr = base * (double)(step + 1) / (double)w;
        } else if (total > w) {
            double p = (double)(step - w) / (double)(total - w);
            lr = cos_anneal(base, s->min_lr, p < 1 ? p : 1);
        }
        break;
    }
    case CLNET__SCHED_ONECYCLE:
        lr = onecycle(s, base, step, total);
        break;
    case CLNET__SCHED_CONSTANT:
        break;
    }
    return isfinite(lr) ? (float)lr : base_lr;
}
