/* batchnorm (2-D, per channel over N, H, W), as PyTorch's BatchNorm2d:
 *   training: y = (x - mean_B) / sqrt(var_B + eps) * gamma + beta with the
 *     batch mean and biased variance; running_mean and running_var move by
 *     momentum towards the batch mean and the UNBIASED batch variance;
 *   eval: the same with the running statistics.
 * Parameters "weight" (gamma, ones) and "bias" (beta, zeros) when affine=1;
 * state "running_mean" (zeros) and "running_var" (ones). Forward saves the
 * batch mean and inverse std for backward; the scratch holds backward's
 * per-channel sums. Kernels: cl/batchnorm.cl. */
#include "ops/all_ops.h"
#include "ops/op_attrs.h"
#include "ops/op_util.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

typedef struct bn_params {
    float eps, momentum;
    int affine;
} bn_params;

/* Runtime flags of the kernels (cl/batchnorm.cl). */
enum { FLAG_EVAL = 1, FLAG_AFFINE = 2, FLAG_DGAMMA = 4, FLAG_DBETA = 8,
       FLAG_OVERWRITE = 16, FLAG_RELU = 32 };

/* Largest work-group for the per-channel reductions. The plan's size check
 * counts on it (a walk may step up to this many planes past the end). */
#define BN_LOCAL_MAX 256

static void bn_defaults(void *p)
{
    *(bn_params *)p = (bn_params){.eps = 1e-5f, .momentum = 0.1f, .affine = 1};
}

float clnet__batchnorm_eps(const void *params)
{
    return ((const bn_params *)params)->eps;
}

static clnet_status bn_set(void *p, const char *key, const char *value,
                           char *err, size_t errlen)
{
    bn_params *b = p;
    if (strcmp(key, "eps") == 0) {
        clnet_status st = clnet__parse_float(key, value, -FLT_MAX, FLT_MAX,
                                             &b->eps, err, errlen);
        if (st == CLNET_OK && !(b->eps > 0.0f))
            return clnet__op_error(err, errlen, CLNET_EPARSE,
                                   "%s=%s: must be greater than 0", key, value);
        return st;
    }
    if (strcmp(key, "momentum") == 0)
        return clnet__parse_float(key, value, 0.0f, 1.0f, &b->momentum, err, errlen);
    if (strcmp(key, "affine") == 0)
        return clnet__parse_bool(key, value, &b->affine, err, errlen);
    return clnet__unknown_key("batchnorm", key, err, errlen);
}

static clnet_status bn_plan(const void *p, int n_in, const clnet__shape *in,
                            clnet__op_plan *plan, char *err, size_t errlen)
{
    const bn_params *b = p;
    (void)n_in;
    char s[64];
    clnet__shape x = in[0];
    if (x.n < 1 || x.c < 1 || x.h < 1 || x.w < 1)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "batchnorm: input %s has a zero or negative size",
                               clnet__shape_str(x, s, sizeof s));
    /* Kernels index with 32-bit unsigned integers. */
    size_t plane = (size_t)x.c * (size_t)x.h * (size_t)x.w;
    if (((size_t)x.n + BN_LOCAL_MAX + 1) * plane > UINT_MAX)
        return clnet__op_error(err, errlen, CLNET_ESHAPE,
                               "batchnorm: input %s is too large",
                               clnet__shape_str(x, s, sizeof s));
    plan->out = x;
    if (b->affine) {
        plan->n_params = 2;
        plan->param_name[0] = "weight";
        plan->param_name[1] = "bias";
        plan->param_init[0] = CLNET__INIT_ONE;
        plan->param_init[1] = CLNET__INIT_ZERO;
        for (int i = 0; i < 2; i++) {
            plan->param[i] = (clnet__dims){1, {x.c}};
            plan->param_decay[i] = 0;
        }
    }
    plan->n_state = 2;
    plan->state_name[0] = "running_mean";
    plan->state_name[1] = "running_var";
    plan->state_init[0] = CLNET__INIT_ZERO;
    plan->state_init[1] = CLNET__INIT_ONE;
    plan->state[0] = plan->state[1] = (clnet__dims){1, {x.c}};
    plan->fan_in = plan->fan_out = x.c;
    plan->n_saved = 2; /* batch mean, inverse std */
    plan->saved_count[0] = plan->saved_count[1] = (size_t)x.c;
    plan->work_count = 2 * (size_t)x.c; /* sum(dy), sum(dy * xhat) */
    /* sum, centred squares, normalise: about 5 operations per value */
    plan->flops_forward = 5.0 * (double)clnet__shape_count(x);
    return CLNET_OK;
}

/* ---- reference ----------------------------------------------------------- */

/* Values per channel, and the element offset of (n, c, 0, 0). */
static size_t ref_m(clnet__shape s) { return (size_t)s.n * s.h * s.w; }
static size_t ref_at(clnet__shape s, int n, int c)
{
    return ((size_t)n * s.c + c) * s.h * s.w;
}

/* Batch mean and biased variance of channel c, in double. */
static void ref_batch_stats(const float *x, clnet__shape s, int c, double *mean,
                            double *var)
{
    size_t hw = (size_t)s.h * s.w;
    double sum = 0, sq = 0;
    for (int n = 0; n < s.n; n++)
        for (size_t i = 0; i < hw; i++)
            sum += x[ref_at(s, n, c) + i];
    *mean = sum / (double)ref_m(s);
    for (int n = 0; n < s.n; n++)
        for (size_t i = 0; i < hw; i++) {
            double d = x[ref_at(s, n, c) + i] - *mean;
            sq += d * d;
        }
    *var = sq / (double)ref_m(s);
}

/* The mean and variance that normalise channel c in this mode. */
static void ref_norm(const float *x, clnet__shape s, float *const *state,
                     int training, int c, double *mean, double *var)
{
    if (training) {
        ref_batch_stats(x, s, c, mean, var);
    } else {
        *mean = state[0][c];
        *var = state[1][c];
    }
}

static void bn_ref_forward(const void *p, const clnet__ref_io *io)
{
    const bn_params *b = p;
    clnet__shape s = io->in_shape[0];
    size_t hw = (size_t)s.h * s.w, m = ref_m(s);
    for (int c = 0; c < s.c; c++) {
        double mean, var;
        ref_norm(io->in[0], s, io->state, io->training, c, &mean, &var);
        double istd = 1.0 / sqrt(var + (double)b->eps);
        double g = b->affine ? io->param[0][c] : 1.0;
        double beta = b->affine ? io->param[1][c] : 0.0;
        for (int n = 0; n < s.n; n++)
            for (size_t i = 0; i < hw; i++) {
                size_t k = ref_at(s, n, c) + i;
                io->out[k] = (float)((io->in[0][k] - mean) * istd * g + beta);
            }
        if (!io->training)
            continue;
        if (io->saved[0]) {
            io->saved[0][c] = (float)mean;
            io->saved[1][c] = (float)istd;
        }
        double mom = b->momentum, unbiased = var * (double)m / (double)(m - 1);
        io->state[0][c] = (float)((1 - mom) * io->state[0][c] + mom * mean);
        io->state[1][c] = (float)((1 - mom) * io->state[1][c] + mom * unbiased);
    }
}

static void bn_ref_backward(const void *p, const clnet__ref_io *io)
{
    const bn_params *b = p;
    clnet__shape s = io->in_shape[0];
    size_t hw = (size_t)s.h * s.w, m = ref_m(s);
    const float *x = io->in[0], *dy = io->dout;
    for (int c = 0; c < s.c; c++) {
        double mean, var, sd = 0, sdx = 0;
        ref_norm(x, s, io->state, io->training, c, &mean, &var);
        double istd = 1.0 / sqrt(var + (double)b->eps);
        for (int n = 0; n < s.n; n++)
            for (size_t i = 0; i < hw; i++) {
                size_t k = ref_at(s, n, c) + i;
                sd += dy[k];
                sdx += dy[k] * (x[k] - mean) * istd;
            }
        if (b->affine && io->dparam[0])
            io->dparam[0][c] += (float)sdx;
        if (b->affine && io->dparam[1])
            io->dparam[1][c] += (float)sd;
        if (!io->din[0])
            continue;
        double scale = (b->affine ? io->param[0][c] : 1.0) * istd;
        for (int n = 0; n < s.n; n++)
            for (size_t i = 0; i < hw; i++) {
                size_t k = ref_at(s, n, c) + i;
                double g = dy[k];
                /* Batch statistics depend on x too (training only). */
                if (io->training)
                    g -= (sd + (x[k] - mean) * istd * sdx) / (double)m;
                io->din[0][k] += (float)(scale * g);
            }
    }
}

/* ---- device -------------------------------------------------------------- */

/* Work-group size of the per-channel reductions, fixed per device (so
 * results are reproducible run to run) within the kernel's and device's
 * limits and local memory (one float per work-item). On a CPU one work-item
 * per channel is fastest (measured on PoCL, 2 cores: L = 1 beat L = 4..256
 * at every shape tried, by up to 25x for [64,128,1,1] where a wide group
 * mostly idles): its float8 walk is already SIMD, and cores are few. A GPU
 * needs the whole group to hide memory latency. CLNET_FORCE_LOCAL (a test
 * switch) replaces the choice; the kernels take any group size. */
static size_t reduce_local(clnet_ctx *ctx, const clnet__kernel *k)
{
    const clnet__device_caps *caps = &clnet__ocl_of(ctx)->caps;
    size_t l = clnet__forced_local(ctx);
    if (!l)
        l = caps->is_cpu ? 1 : BN_LOCAL_MAX;
    if (k->max_wg && l > k->max_wg)
        l = k->max_wg;
    if (caps->max_wg && l > caps->max_wg)
        l = caps->max_wg;
    while (l > 1 && caps->local_mem && l * sizeof(float) > caps->local_mem / 2)
        l /= 2;
    return l;
}

/* The reduction kernel `name` with its 1-D launch: one group per channel. */
static clnet_status reduce_kernel(clnet_ctx *ctx, const char *name,
                                  const char *opt, unsigned channels,
                                  clnet__kernel **k, size_t *global,
                                  size_t *local)
{
    clnet_status st = clnet__kernel_get(ctx, "batchnorm", opt, name, k);
    if (st == CLNET_OK) {
        *local = reduce_local(ctx, *k);
        *global = *local * channels;
    }
    return st;
}

/* Geometry shared by the launches. The elementwise kernels take one chunk of
 * BN_CHUNK floats of an H*W row per work-item (cl/batchnorm.cl, CHUNK). */
#define BN_CHUNK 8
typedef struct bn_geom {
    unsigned hw, plane, end, channels;
    size_t m, rows, chunks;
} bn_geom;

static bn_geom geom_of(clnet__shape s)
{
    bn_geom g;
    g.hw = (unsigned)s.h * (unsigned)s.w;
    g.plane = (unsigned)s.c * g.hw;
    g.end = (unsigned)s.n * g.plane;
    g.channels = (unsigned)s.c;
    g.m = (size_t)s.n * g.hw;
    g.rows = (size_t)s.n * (size_t)s.c;
    g.chunks = (g.hw + BN_CHUNK - 1) / BN_CHUNK;
    return g;
}

/* Sync batchnorm's statistics: bn_stats' two passes with the replicas'
 * per-channel partials summed after each (in io->work: sum(x) in [0, C),
 * the centred squares in [C, 2C)), then bn_finish. */
static clnet_status bn_sync_stats(clnet_ctx *ctx, const bn_params *b, const bn_geom *g,
                                  const clnet__op_io *io, clnet__tensor mean,
                                  clnet__tensor istd,
                                  const char *opt)
{
    const clnet__sync *sy = io->sync;
    size_t m = g->m * (size_t)sy->replicas;
    clnet__tensor sums = io->work, part[2] = {io->work, io->work};
    part[1].off += g->channels;
    clnet__kernel *k = NULL;
    size_t global, l;
    clnet_status st = reduce_kernel(ctx, "bn_part", opt, g->channels, &k, &global, &l);
    for (unsigned pass = 0; pass < 2 && st == CLNET_OK; pass++) {
        st = CLNET__LAUNCH(ctx, k, 1, &global, &l, CLNET_ARG_U32(g->hw),
                           CLNET_ARG_U32(g->plane), CLNET_ARG_U32(g->end),
                           CLNET_ARG_U32(pass), CLNET_ARG_F32(1.0 / (double)m),
                           CLNET_ARG_T(io->in[0]), CLNET_ARG_T(sums),
                           CLNET_ARG_T(part[pass]), CLNET_ARG_LOCAL(l * sizeof(float)));
        if (st == CLNET_OK)
            st = sy->sum(sy->user, part[pass], g->channels);
    }
    clnet__kernel *fk = NULL;
    if (st == CLNET_OK)
        st = clnet__kernel_get(ctx, "batchnorm", NULL, "bn_finish", &fk);
    if (st != CLNET_OK)
        return st;
    size_t n = g->channels;
    return CLNET__LAUNCH(ctx, fk, 1, &n, NULL, CLNET_ARG_U32(g->channels),
                         CLNET_ARG_F32(1.0 / (double)m),
                         CLNET_ARG_F32((double)m / (double)(m - 1)),
                         CLNET_ARG_F32(b->momentum), CLNET_ARG_F32(b->eps),
                         CLNET_ARG_T(sums), CLNET_ARG_T(mean), CLNET_ARG_T(istd),
                         CLNET_ARG_T(io->state[0]), CLNET_ARG_T(io->state[1]));
}

static clnet_status bn_forward(clnet_ctx *ctx, const void *p,
                               const clnet__op_io *io)
{
    const bn_params *b = p;
    bn_geom g = geom_of(io->in_shape[0]);
    char s[64];
    if (io->training && g.m < 2)
        return clnet__fail(ctx, CLNET_ESHAPE,
                           "batchnorm: training needs more than one value per "
                           "channel, got input %s",
                           clnet__shape_str(io->in_shape[0], s, sizeof s));
    if (io->training && (!io->saved[0].buf || !io->saved[1].buf))
        return clnet__fail(ctx, CLNET_EINTERNAL,
                           "batchnorm: training forward without saved tensors");
    clnet__kernel *k = NULL;
    clnet_status st = CLNET_OK;
    clnet__tensor mean = io->state[0], stat = io->state[1];
    unsigned flags = (b->affine ? FLAG_AFFINE : 0) | (io->relu_after ? FLAG_RELU : 0);
    if (io->training) {
        mean = io->saved[0];
        stat = io->saved[1];
    }
    /* A replay (recompute) normalises with the batch statistics the first
     * forward saved, and must not move the running ones twice. */
    /* Storage of the activations (cl/common.h); statistics stay fp32. */
    char opt[64] = "";
    clnet__half_opt(opt, sizeof opt, "x", io->in[0]);
    if (io->training && !io->replay && io->sync) {
        if (!io->work.buf)
            return clnet__fail(ctx, CLNET_EINTERNAL, "batchnorm: sync without scratch");
        st = bn_sync_stats(ctx, b, &g, io, mean, stat, opt);
    } else if (io->training && !io->replay) {
        size_t global, l;
        st = reduce_kernel(ctx, "bn_stats", opt, g.channels, &k, &global, &l);
        if (st != CLNET_OK)
            return st;
        st = CLNET__LAUNCH(ctx, k, 1, &global, &l, CLNET_ARG_U32(g.hw),
                           CLNET_ARG_U32(g.plane), CLNET_ARG_U32(g.end),
                           CLNET_ARG_F32(1.0 / (double)g.m),
                           CLNET_ARG_F32((double)g.m / (double)(g.m - 1)),
                           CLNET_ARG_F32(b->momentum), CLNET_ARG_F32(b->eps),
                           CLNET_ARG_T(io->in[0]), CLNET_ARG_T(mean),
                           CLNET_ARG_T(stat), CLNET_ARG_T(io->state[0]),
                           CLNET_ARG_T(io->state[1]),
                           CLNET_ARG_LOCAL(l * sizeof(float)));
    }
    if (!io->training)
        flags |= FLAG_EVAL;
    clnet__half_opt(opt, sizeof opt, "y", io->out);
    if (st == CLNET_OK)
        st = clnet__kernel_get(ctx, "batchnorm", opt, "bn_apply", &k);
    if (st != CLNET_OK)
        return st;
    /* Without affine, gamma and beta are unused: any buffer will do. */
    clnet__tensor gamma = b->affine ? io->param[0] : io->in[0];
    clnet__tensor beta = b->affine ? io->param[1] : io->in[0];
    size_t global[2] = {g.chunks, g.rows};
    return CLNET__LAUNCH(ctx, k, 2, global, NULL, CLNET_ARG_U32(g.hw),
                         CLNET_ARG_U32(g.channels), CLNET_ARG_U32(flags),
                         CLNET_ARG_F32(b->eps), CLNET_ARG_T(io->in[0]),
                         CLNET_ARG_T(mean), CLNET_ARG_T(stat), CLNET_ARG_T(gamma),
                         CLNET_ARG_T(beta), CLNET_ARG_T(io->out));
}

/* Training backward uses the saved batch statistics; eval backward (the
 * statistics are then constants) the running ones. */
static clnet_status bn_backward(clnet_ctx *ctx, const void *p,
                                const clnet__op_io *io)
{
    const bn_params *b = p;
    bn_geom g = geom_of(io->in_shape[0]);
    clnet__tensor mean = io->training ? io->saved[0] : io->state[0];
    clnet__tensor stat = io->training ? io->saved[1] : io->state[1];
    unsigned flags = (b->affine ? FLAG_AFFINE : 0) | (io->training ? 0 : FLAG_EVAL) |
                     (io->din_write & 1u ? FLAG_OVERWRITE : 0) |
                     (io->relu_after ? FLAG_RELU : 0);
    if (b->affine && io->dparam[0].buf)
        flags |= FLAG_DGAMMA;
    if (b->affine && io->dparam[1].buf)
        flags |= FLAG_DBETA;
    int want_dx = io->din[0].buf != NULL;
    int want_sums = (io->training && want_dx) || (flags & (FLAG_DGAMMA | FLAG_DBETA));
    if (!mean.buf || !stat.buf || (want_sums && !io->work.buf))
        return clnet__fail(ctx, CLNET_EINTERNAL,
                           "batchnorm: backward without its statistics or scratch");
    /* Unused tensor arguments (per flags) get any valid buffer. */
    clnet__tensor any = io->in[0];
    clnet__tensor sums = io->work.buf ? io->work : any;
    clnet__tensor gamma = b->affine ? io->param[0] : any;
    clnet__tensor relu_out = io->relu_after ? io->out : any; /* its mask */
    clnet__kernel *k = NULL;
    clnet_status st = CLNET_OK;
    char opt[96] = "";
    clnet__half_opt(opt, sizeof opt, "x", io->in[0]);
    clnet__half_opt(opt, sizeof opt, "dy", io->dout);
    clnet__half_opt(opt, sizeof opt, "y", relu_out);
    if (want_sums) {
        size_t global, l;
        st = reduce_kernel(ctx, "bn_grad_sums", opt, g.channels, &k, &global, &l);
        if (st != CLNET_OK)
            return st;
        st = CLNET__LAUNCH(ctx, k, 1, &global, &l, CLNET_ARG_U32(g.hw),
                           CLNET_ARG_U32(g.plane), CLNET_ARG_U32(g.end),
                           CLNET_ARG_U32(flags), CLNET_ARG_F32(b->eps),
                           CLNET_ARG_T(io->in[0]), CLNET_ARG_T(io->dout),
                           CLNET_ARG_T(relu_out), CLNET_ARG_T(mean),
                           CLNET_ARG_T(stat), CLNET_ARG_T(sums),
                           CLNET_ARG_T(flags & FLAG_DGAMMA ? io->dparam[0] : sums),
                           CLNET_ARG_T(flags & FLAG_DBETA ? io->dparam[1] : sums),
                           CLNET_ARG_LOCAL(l * sizeof(float)));
    }
    if (st != CLNET_OK || !want_dx)
        return st;
    /* Sync batchnorm: dx needs the sums over every replica's batch (dgamma
     * and dbeta took this replica's share: the gradient sum adds the rest). */
    size_t m = g.m;
    if (io->training && io->sync) {
        st = io->sync->sum(io->sync->user, sums, 2 * (size_t)g.channels);
        m *= (size_t)io->sync->replicas;
    }
    clnet__half_opt(opt, sizeof opt, "dx", io->din[0]);
    if (st == CLNET_OK)
        st = clnet__kernel_get(ctx, "batchnorm", opt, "bn_dx", &k);
    if (st != CLNET_OK)
        return st;
    size_t global[2] = {g.chunks, g.rows};
    return CLNET__LAUNCH(ctx, k, 2, global, NULL, CLNET_ARG_U32(g.hw),
                         CLNET_ARG_U32(g.channels), CLNET_ARG_U32(flags),
                         CLNET_ARG_F32(b->eps), CLNET_ARG_F32(1.0 / (double)m),
                         CLNET_ARG_T(io->in[0]), CLNET_ARG_T(io->dout),
                         CLNET_ARG_T(relu_out), CLNET_ARG_T(mean),
                         CLNET_ARG_T(stat), CLNET_ARG_T(gamma), CLNET_ARG_T(sums),
                         CLNET_ARG_T(io->din[0]));
}

const clnet__op clnet__op_batchnorm = {
    .name = "batchnorm",
    .min_inputs = 1,
    .max_inputs = 1,
    .params_size = sizeof(bn_params),
    .defaults = bn_defaults,
    .set = bn_set,
    .plan = bn_plan,
    .forward = bn_forward,
    .backward = bn_backward,
    .ref_forward = bn_ref_forward,
    .ref_backward = bn_ref_backward,
    .writes_din = 1,
    .fuses_relu = 1,
    .replay_reads_saved = 1,
};
