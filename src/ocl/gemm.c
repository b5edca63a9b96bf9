/* The SGEMM variants and how each is launched. The tile sizes reach
 * cl/gemm.cl only as -D options built here; see that file for why the CPU
 * kernels look the way they do. */
#include "ocl/gemm.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Geometries measured on PoCL / AVX-512 (tools/bench/RESULTS.md, GEMM):
 * panel 6x64 (24 accumulators) was best or near it on every fashion-cnn
 * shape, dot 4x6 on every A*B^T one; the others stay as tuning candidates
 * for other CPUs and shapes.
 * Tiled sizes are the usual GPU starting points (16x16 work-items). */
const clnet__gemm_variant clnet__gemm_variants[] = {
    {"clblast", CLNET__GEMM_CLBLAST, {0}},
    {"panel-6x64", CLNET__GEMM_PANEL, {6, 4, 48, 256}},
    {"panel-4x64", CLNET__GEMM_PANEL, {4, 4, 64, 256}},
    {"panel-8x32", CLNET__GEMM_PANEL, {8, 2, 64, 256}},
    {"panel-12x32", CLNET__GEMM_PANEL, {12, 2, 48, 256}},
    {"dot-3x8", CLNET__GEMM_DOT, {3, 8}},
    {"dot-4x4", CLNET__GEMM_DOT, {4, 4}},
    {"dot-4x6", CLNET__GEMM_DOT, {4, 6}},
    {"tiled-64x64", CLNET__GEMM_TILED, {64, 64, 16, 4, 4}},
    {"tiled-32x32", CLNET__GEMM_TILED, {32, 32, 16, 2, 2}},
    {"tiled-128x64", CLNET__GEMM_TILED, {128, 64, 16, 8, 4}},
};
const size_t clnet__gemm_variant_count =
    sizeof clnet__gemm_variants / sizeof clnet__gemm_variants[0];

#define PANEL_VW 16 /* floats per vector: one AVX-512 register */
#define DOT_VW 16

int clnet__gemm_find(const char *name)
{
    for (size_t i = 0; name && i < clnet__gemm_variant_count; i++)
        if (strcmp(clnet__gemm_variants[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The panel kernel computes P = X * Y with Y contiguous along P's columns:
 * B not transposed gives X = op(A), Y = B; A^T * B^T is computed as
 * C^T = B * A and stored transposed. */
typedef struct panel_map {
    int xt, ct;
    size_t pm, pn;
    clnet__tensor x, y;
    size_t ldx, ldy, sx, sy;
} panel_map;

static panel_map panel_of(const clnet__gemm_problem *p)
{
    if (!p->tb)
        return (panel_map){p->ta, 0, p->m, p->n, p->a, p->b,
                           p->lda, p->ldb, p->stride_a, p->stride_b};
    return (panel_map){0, 1, p->n, p->m, p->b, p->a,
                       p->ldb, p->lda, p->stride_b, p->stride_a};
}

int clnet__gemm_taps_extent(const clnet__gemm_problem *p, size_t *floats)
{
    const clnet__gemm_taps *t = &p->taps;
    size_t rows = p->tb ? p->n : p->k, cols = p->tb ? p->k : p->n;
    if (t->kw <= 0 || t->kk < t->kw || t->kk % t->kw || rows == 0 ||
        rows % (size_t)t->kk)
        return 0;
    size_t terms[4] = {cols, (size_t)(t->kk / t->kw) - 1, (size_t)(t->kw - 1),
                       (rows - 1) / (size_t)t->kk};
    size_t unit[4] = {1, t->row, t->col, p->ldb};
    size_t used = 0;
    for (int i = 0; i < 4; i++) { /* checked before each addition */
        if (unit[i] && terms[i] > (SIZE_MAX - used) / unit[i])
            return 0;
        used += terms[i] * unit[i];
    }
    *floats = used;
    return 1;
}

/* Kernels take int sizes and uint offsets, leading dimensions and strides;
 * the element an index reaches is computed in size_t. */
static int fits_32bit(const clnet__gemm_problem *p)
{
    const size_t imax = INT_MAX, umax = UINT_MAX;
    return p->m <= imax && p->n <= imax && p->k <= imax && p->lda <= umax &&
           p->taps.row <= umax && p->taps.col <= umax &&
           p->ldb <= umax && p->ldc <= umax && p->stride_a <= umax &&
           p->stride_b <= umax && p->stride_c <= umax && p->a.off <= umax &&
           p->b.off <= umax && p->c.off <= umax;
}

static void options_of(const clnet__gemm_variant *v, const clnet__gemm_problem *p,
                       char *buf, size_t cap)
{
    const int *q = v->p;
    const char *taps = p->taps.kk ? " -DGEMM_BTAPS=1" : "";
    switch (v->kind) {
    case CLNET__GEMM_PANEL: {
        panel_map pm = panel_of(p);
        snprintf(buf, cap,
                 "-DGEMM_ONLY=1 -DGEMM_XT=%d -DGEMM_CT=%d -DPANEL_MR=%d "
                 "-DPANEL_VW=%d -DPANEL_NV=%d -DPANEL_MB=%d -DPANEL_KC=%d%s",
                 pm.xt, pm.ct, q[0], PANEL_VW, q[1], q[2], q[3], taps);
        clnet__half_opt(buf, cap, "x", pm.x);
        clnet__half_opt(buf, cap, "y", pm.y);
        clnet__half_opt(buf, cap, "c", p->c);
        return;
    }
    case CLNET__GEMM_DOT:
        snprintf(buf, cap, "-DGEMM_ONLY=2 -DDOT_MR=%d -DDOT_NR=%d -DDOT_VW=%d%s",
                 q[0], q[1], DOT_VW, taps);
        break;
    case CLNET__GEMM_TILED:
        snprintf(buf, cap,
                 "-DGEMM_ONLY=3 -DGEMM_TA=%d -DGEMM_TB=%d -DTS_M=%d -DTS_N=%d "
                 "-DTS_K=%d -DWPT_M=%d -DWPT_N=%d%s%s",
                 p->ta, p->tb, q[0], q[1], q[2], q[3], q[4], taps,
                 p->fp16 ? " -DGEMM_FP16=1" : "");
        break;
    default:
        buf[0] = '\0';
        return;
    }
    clnet__half_opt(buf, cap, "a", p->a);
    clnet__half_opt(buf, cap, "b", p->b);
    clnet__half_opt(buf, cap, "c", p->c);
}

static const char *kernel_name(const clnet__gemm_variant *v,
                               const clnet__gemm_problem *p)
{
    switch (v->kind) {
    case CLNET__GEMM_PANEL:
        return panel_of(p).pn < (size_t)(PANEL_VW * v->p[1]) ? "gemm_panel_narrow"
                                                              : "gemm_panel";
    case CLNET__GEMM_DOT: return "gemm_dot";
    default: return "gemm_tiled";
    }
}

static clnet_status kernel_of(clnet_ctx *ctx, const clnet__gemm_variant *v,
                              const clnet__gemm_problem *p, clnet__kernel **k)
{
    char opts[256];
    options_of(v, p, opts, sizeof opts);
    return clnet__kernel_get(ctx, "gemm", opts, kernel_name(v, p), k);
}

int clnet__gemm_applies(clnet_ctx *ctx, size_t vi, const clnet__gemm_problem *p)
{
    if (vi >= clnet__gemm_variant_count)
        return 0;
    const clnet__gemm_variant *v = &clnet__gemm_variants[vi];
    /* CLBlast knows only ordinary fp32 matrices. */
    if (v->kind == CLNET__GEMM_CLBLAST)
        return !p->taps.kk && !clnet__gemm_has_half(p);
    if (!fits_32bit(p))
        return 0;
    switch (v->kind) {
    /* With taps, the panel kernel's Y must be B (its X rows are plain). */
    case CLNET__GEMM_PANEL: return !(!p->ta && p->tb) && !(p->taps.kk && p->tb);
    case CLNET__GEMM_DOT: return !p->ta && p->tb;
    case CLNET__GEMM_TILED: {
        size_t wg = (size_t)(v->p[0] / v->p[3]) * (size_t)(v->p[1] / v->p[4]);
        if (ctx->ocl.caps.max_wg && wg > ctx->ocl.caps.max_wg)
            return 0;
        size_t local = ((size_t)v->p[2] * (size_t)(v->p[0] + v->p[1] + 2)) * 4;
        return !ctx->ocl.caps.local_mem || local <= ctx->ocl.caps.local_mem;
    }
    default: return 0;
    }
}

#define GEMM_ARGS(M, N, X, LDX, SX, Y, LDY, SY)                               \
    CLNET_ARG_I32(M), CLNET_ARG_I32(N), CLNET_ARG_I32(p->k),                \
        CLNET_ARG_F32(p->alpha), CLNET_ARG_F32(p->beta), CLNET_ARG_T(X),   \
        CLNET_ARG_U32(LDX), CLNET_ARG_U32(SX), CLNET_ARG_T(Y),             \
        CLNET_ARG_U32(LDY), CLNET_ARG_U32(SY), CLNET_ARG_T(p->c),          \
        CLNET_ARG_U32(p->ldc), CLNET_ARG_U32(p->stride_c),                 \
        CLNET_ARG_I32(p->taps.kk ? p->taps.kk : 1),                         \
        CLNET_ARG_I32(p->taps.kw ? p->taps.kw : 1),                         \
        CLNET_ARG_U32(p->taps.row), CLNET_ARG_U32(p->taps.col)

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

clnet_status clnet__gemm_run(clnet_ctx *ctx, size_t vi,
                             const clnet__gemm_problem *p)
{
    const clnet__gemm_variant *v = &clnet__gemm_variants[vi];
    if (v->kind == CLNET__GEMM_CLBLAST)
        return clnet__gemm_clblast(ctx, p);
    clnet__kernel *k = NULL;
    clnet_status st = kernel_of(ctx, v, p, &k);
    if (st != CLNET_OK)
        return st;
    /* The CPU kernels run one work-item per work-group: that work-item is the
     * vectorised micro-kernel, and PoCL hands whole work-groups to threads. */
    const size_t one[3] = {1, 1, 1};
    if (v->kind == CLNET__GEMM_PANEL) {
        panel_map m = panel_of(p);
        size_t g[3] = {ceil_div(m.pm, (size_t)v->p[2]),
                       ceil_div(m.pn, (size_t)(PANEL_VW * v->p[1])), p->batch};
        return CLNET__LAUNCH(ctx, k, 3, g, one,
                             GEMM_ARGS(m.pm, m.pn, m.x, m.ldx, m.sx, m.y, m.ldy,
                                       m.sy));
    }
    if (v->kind == CLNET__GEMM_DOT) {
        size_t g[3] = {ceil_div(p->m, (size_t)v->p[0]),
                       ceil_div(p->n, (size_t)v->p[1]), p->batch};
        return CLNET__LAUNCH(ctx, k, 3, g, one,
                             GEMM_ARGS(p->m, p->n, p->a, p->lda, p->stride_a,
                                       p->b, p->ldb, p->stride_b));
    }
    size_t rt_m = (size_t)(v->p[0] / v->p[3]), rt_n = (size_t)(v->p[1] / v->p[4]);
    if (k->max_wg < rt_m * rt_n) /* the compiled kernel allows fewer */
        return clnet__fail(ctx, CLNET_EUNSUPPORTED, "%s: %zu work-items per "
                           "group, the kernel allows %zu", v->name, rt_m * rt_n,
                           k->max_wg);
    size_t local[3] = {rt_n, rt_m, 1};
    size_t g[3] = {ceil_div(p->n, (size_t)v->p[1]) * rt_n,
                   ceil_div(p->m, (size_t)v->p[0]) * rt_m, p->batch};
    return CLNET__LAUNCH(ctx, k, 3, g, local,
                         GEMM_ARGS(p->m, p->n, p->a, p->lda, p->stride_a, p->b,
                                   p->ldb, p->stride_b));
}

clnet_status clnet__gemm_scale(clnet_ctx *ctx, const clnet__gemm_problem *p)
{
    clnet__kernel *k = NULL;
    char opts[64] = "-DGEMM_ONLY=4";
    clnet__half_opt(opts, sizeof opts, "c", p->c);
    clnet_status st = clnet__kernel_get(ctx, "gemm", opts, "gemm_scale", &k);
    if (st != CLNET_OK)
        return st;
    size_t g[3] = {p->n, p->m, p->batch};
    return CLNET__LAUNCH(ctx, k, 3, g, NULL, CLNET_ARG_I32(p->m),
                         CLNET_ARG_I32(p->n), CLNET_ARG_F32(p->beta),
                         CLNET_ARG_T(p->c), CLNET_ARG_U32(p->ldc),
                         CLNET_ARG_U32(p->stride_c));
}
