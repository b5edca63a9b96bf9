/* Which SGEMM variant runs a problem.
 *
 * Order of authority: CLNET_GEMM=<variant> (when it applies), then the
 * context's table of decided shape classes (loaded from the tuning file at
 * the first GEMM), then, for a class not in the table, a timed run of the
 * candidates when CLNET_GEMM_TUNE=1 (the result joins the table and the
 * file), else a fixed heuristic. Nothing in the table changes once decided,
 * so a shape picks the same kernel for the whole life of a context (exact
 * resume compares bit-identical results).
 *
 * Timing is opt-in because it costs a kernel build per candidate (seconds on
 * PoCL) and would break the cold-start target. */
#include "ocl/gemm_tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char ceil_log2(size_t x)
{
    unsigned char l = 0;
    while (l < 63 && ((size_t)1 << l) < x)
        l++;
    return l;
}

static clnet__gemm_key key_of(const clnet__gemm_problem *p)
{
    return (clnet__gemm_key){(unsigned char)(p->ta != 0),
                             (unsigned char)(p->tb != 0), ceil_log2(p->m),
                             ceil_log2(p->n), ceil_log2(p->k),
                             (unsigned char)((p->batch > 1) |
                                             (p->taps.kk ? 2 : 0))};
}

struct clnet__gemm_state *clnet__gemm_state(clnet_ctx *ctx)
{
    struct clnet__gemm_state *s = ctx->ocl.gemm;
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    const char *tune = getenv("CLNET_GEMM_TUNE");
    s->tune = tune && strcmp(tune, "1") == 0;
    const char *forced = getenv("CLNET_GEMM");
    s->forced = forced && *forced ? clnet__gemm_find(forced) : -1;
    if (forced && *forced && s->forced < 0)
        clnet__log(ctx, CLNET_LOG_WARN, "CLNET_GEMM=%s names no GEMM variant",
                   forced);
    clnet__gemm_store_path(ctx, s);
    clnet__gemm_store_load(ctx, s);
    ctx->ocl.gemm = s;
    /* CLNET_CLBLAST_TUNED=0: CLBlast's own defaults (gemm-bench compares). */
    const char *tuned = getenv("CLNET_CLBLAST_TUNED");
    if (s->clblast_xgemm[0] && !(tuned && strcmp(tuned, "0") == 0)) {
        s->clblast_in_use = clnet__clblast_apply(ctx, s->clblast_xgemm) == CLNET_OK;
        if (!s->clblast_in_use) {
            clnet__log(ctx, CLNET_LOG_WARN, "%s; CLBlast keeps its defaults",
                       clnet_errmsg(ctx));
            clnet__clear_error(ctx);
        }
    }
    return s;
}

void clnet__gemm_release(clnet_ctx *ctx)
{
    struct clnet__gemm_state *s = ctx->ocl.gemm;
    if (s)
        free(s->e);
    free(s);
    ctx->ocl.gemm = NULL;
}

void clnet__gemm_disable(clnet_ctx *ctx, size_t v)
{
    struct clnet__gemm_state *s = clnet__gemm_state(ctx);
    if (s && v < sizeof s->disabled)
        s->disabled[v] = 1;
}

static int usable(clnet_ctx *ctx, const struct clnet__gemm_state *s, int v,
                  const clnet__gemm_problem *p)
{
    return v >= 0 && (size_t)v < clnet__gemm_variant_count && !s->disabled[v] &&
           clnet__gemm_applies(ctx, (size_t)v, p);
}

/* CPU kernels where the device is a CPU (they run one work-item per
 * work-group: fatal on a GPU), CLBlast elsewhere until measured otherwise. */
static int candidate(clnet_ctx *ctx, size_t v)
{
    clnet__gemm_kind k = clnet__gemm_variants[v].kind;
    if (k == CLNET__GEMM_CLBLAST)
        return 1;
    int cpu_kind = k == CLNET__GEMM_PANEL || k == CLNET__GEMM_DOT;
    return ctx->ocl.caps.is_cpu ? cpu_kind : !cpu_kind;
}

static int heuristic(clnet_ctx *ctx, const struct clnet__gemm_state *s,
                     const clnet__gemm_problem *p)
{
    if (ctx->ocl.caps.is_cpu) {
        int v = clnet__gemm_find(!p->ta && p->tb ? "dot-4x6" : "panel-6x64");
        if (usable(ctx, s, v, p))
            return v;
    }
    /* CLBlast cannot (taps, half operands): the first tiled shape that fits */
    if (p->taps.kk || clnet__gemm_has_half(p))
        for (size_t v = 0; v < clnet__gemm_variant_count; v++)
            if (clnet__gemm_variants[v].kind == CLNET__GEMM_TILED &&
                usable(ctx, s, (int)v, p))
                return (int)v;
    return 0;
}

/* Problems above this many floats are not timed (scratch memory). */
#define TUNE_MAX_FLOATS ((size_t)64 << 20)

static size_t rows_of(int t, size_t r, size_t c) { return t ? c : r; }
static size_t cols_of(int t, size_t r, size_t c) { return t ? r : c; }

/* Best of 3 timed runs of v on q (after one untimed run that builds). */
static double time_variant(clnet_ctx *ctx, size_t v, const clnet__gemm_problem *q)
{
    double best = -1.0;
    for (int r = 0; r < 4; r++) {
        double t0 = clnet__now();
        if (clnet__gemm_run(ctx, v, q) != CLNET_OK ||
            clnet__finish(ctx) != CLNET_OK) {
            clnet__clear_error(ctx);
            return -1.0;
        }
        double t = clnet__now() - t0;
        if (r > 0 && (best < 0 || t < best))
            best = t;
    }
    return best;
}

/* Times every candidate on scratch copies shaped like p (tight leading
 * dimensions); returns the fastest, or -1 when nothing could be timed. */
static int measure(clnet_ctx *ctx, const struct clnet__gemm_state *s,
                   const clnet__gemm_problem *p)
{
    size_t ra = rows_of(p->ta, p->m, p->k), ca = cols_of(p->ta, p->m, p->k);
    size_t rb = rows_of(p->tb, p->k, p->n), cb = cols_of(p->tb, p->k, p->n);
    size_t na = ra * ca, nb = rb * cb, nc = p->m * p->n;
    /* Through taps, B keeps the problem's geometry (plane, kernel-row and
     * column steps, batch stride) in a scratch buffer of just its extent. */
    size_t nb_all = nb * p->batch;
    if (p->taps.kk) {
        if (!clnet__gemm_taps_extent(p, &nb_all))
            return -1;
        nb_all += (p->batch - 1) * p->stride_b;
    }
    if ((na + nc) * p->batch + nb_all > TUNE_MAX_FLOATS)
        return -1;
    clnet__buf *bufs[3] = {NULL, NULL, NULL};
    size_t counts[3] = {na * p->batch, nb_all, nc * p->batch};
    int best = -1;
    double best_t = 0.0;
    for (int i = 0; i < 3; i++)
        if (clnet__buf_create(ctx, (counts[i] ? counts[i] : 1) * sizeof(float),
                              &bufs[i]) != CLNET_OK ||
            clnet__fill(ctx, (clnet__tensor){bufs[i], 0, 0},
                        counts[i] ? counts[i] : 1, 0.5f) != CLNET_OK)
            goto done;
    clnet__gemm_problem q = *p;
    q.a = (clnet__tensor){bufs[0], 0, 0};
    q.b = (clnet__tensor){bufs[1], 0, 0};
    q.c = (clnet__tensor){bufs[2], 0, 0};
    q.lda = ca ? ca : 1;
    q.ldb = cb ? cb : 1;
    q.ldc = p->n;
    q.stride_a = na;
    q.stride_b = nb;
    q.stride_c = nc;
    if (p->taps.kk) {
        q.ldb = p->ldb;
        q.stride_b = p->stride_b;
    }
    q.beta = 0.0f;
    char report[1024];
    size_t used = 0;
    report[0] = '\0';
    for (size_t v = 0; v < clnet__gemm_variant_count; v++) {
        if (!candidate(ctx, v) || !usable(ctx, s, (int)v, &q))
            continue;
        double t = time_variant(ctx, v, &q);
        if (t < 0)
            continue;
        if (used < sizeof report)
            used += (size_t)snprintf(report + used, sizeof report - used,
                                     " %s %.3f ms", clnet__gemm_variants[v].name,
                                     t * 1e3);
        if (best < 0 || t < best_t) {
            best = (int)v;
            best_t = t;
        }
    }
    clnet__log(ctx, CLNET_LOG_INFO, "gemm tune ta=%d tb=%d m=%zu n=%zu k=%zu "
               "batch=%zu:%s -> %s", p->ta, p->tb, p->m, p->n, p->k, p->batch,
               report, best >= 0 ? clnet__gemm_variants[best].name : "(none)");
done:
    clnet__clear_error(ctx);
    for (int i = 0; i < 3; i++)
        clnet__buf_release(ctx, bufs[i]);
    return best;
}

static int lookup(const struct clnet__gemm_state *s, clnet__gemm_key k)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(&s->e[i].key, &k, sizeof k) == 0)
            return s->e[i].variant;
    return -1;
}

size_t clnet__gemm_pick(clnet_ctx *ctx, const clnet__gemm_problem *p)
{
    struct clnet__gemm_state *s = clnet__gemm_state(ctx);
    if (!s)
        return 0;
    if (usable(ctx, s, s->forced, p))
        return (size_t)s->forced;
    /* Half operands (fp16-storage) take the heuristic: the table's classes
     * and the timed runs are fp32 problems (the tuner times on fp32 scratch
     * buffers), and CLBlast, which a class may have chosen, reads no half. */
    if (clnet__gemm_has_half(p))
        return (size_t)heuristic(ctx, s, p);
    clnet__gemm_key k = key_of(p);
    int v = lookup(s, k);
    if (usable(ctx, s, v, p))
        return (size_t)v;
    if (v < 0 && s->tune) {
        v = measure(ctx, s, p);
        if (v >= 0) {
            clnet__gemm_entry e = {k, v};
            /* Unrecorded, the next call would time again and might differ. */
            if (!clnet__gemm_state_add(s, &e))
                return (size_t)heuristic(ctx, s, p);
            clnet__gemm_store_save(ctx, s);
            return (size_t)v;
        }
    }
    return (size_t)heuristic(ctx, s, p);
}
