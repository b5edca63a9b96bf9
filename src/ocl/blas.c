/* SGEMM entry points: check the problem, let gemm_tune.c pick clnet's own
 * kernel or CLBlast for its shape, and run it on the compute queue. CLBlast
 * stays the fallback: where one of clnet's kernels fails to build on a
 * device, that variant is disabled for the context and CLBlast runs. */
#include "ocl/gemm.h"

#include <clblast_c.h>

static clnet_status blas_status(clnet_ctx *ctx, CLBlastStatusCode s,
                                const char *call, size_t m, size_t n, size_t k)
{
    if (s == CLBlastSuccess)
        return CLNET_OK;
    clnet_status st = CLNET_EBLAS;
    if (s == CLBlastTempBufferAllocFailure || s == CLBlastOpenCLOutOfResources ||
        s == CLBlastOpenCLOutOfHostMemory)
        st = CLNET_ENOMEM;
    return clnet__fail(ctx, st, "%s(m=%zu, n=%zu, k=%zu) failed: CLBlast status %d",
                       call, m, n, k, (int)s);
}

enum { CLBLAST_SGEMM = 1u, CLBLAST_SGEMM_BATCHED = 2u }; /* clblast_built bits */

/* CLBlast builds a routine's program in its first call and then asks the
 * driver for the binary (its in-process cache). That query must not run
 * beside this context's kernels (PoCL 3.1 aborts: src/ocl/cache_policy.c),
 * so the first call of each routine in a context waits for idle queues. */
static clnet_status clblast_first_call(clnet_ctx *ctx, unsigned routine)
{
    clnet__ocl *o = &ctx->ocl;
    if (o->clblast_built & routine)
        return CLNET_OK;
    cl_int e = clFinish(o->queue);
    if (e == CL_SUCCESS && o->upload_queue)
        e = clFinish(o->upload_queue);
    return e == CL_SUCCESS ? CLNET_OK : clnet__cl_fail(ctx, e, "clFinish");
}

clnet_status clnet__gemm_clblast(clnet_ctx *ctx, const clnet__gemm_problem *p)
{
    if (p->k == 0)
        return clnet__gemm_scale(ctx, p); /* CLBlast refuses k = 0 */
    unsigned routine = p->batch == 1 ? CLBLAST_SGEMM : CLBLAST_SGEMM_BATCHED;
    clnet_status st = clblast_first_call(ctx, routine);
    if (st != CLNET_OK)
        return st;
    CLBlastTranspose ta = p->ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = p->tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode s;
    if (p->batch == 1) {
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, p->m, p->n, p->k,
                         p->alpha, p->a.buf->mem, p->a.off, p->lda, p->b.buf->mem,
                         p->b.off, p->ldb, p->beta, p->c.buf->mem, p->c.off,
                         p->ldc, &ctx->ocl.queue, NULL);
        if (s == CLBlastSuccess)
            ctx->ocl.clblast_built |= routine;
        return blas_status(ctx, s, "CLBlastSgemm", p->m, p->n, p->k);
    }
    s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, ta, tb, p->m, p->n, p->k, p->alpha, p->a.buf->mem,
        p->a.off, p->lda, p->stride_a, p->b.buf->mem, p->b.off, p->ldb,
        p->stride_b, p->beta, p->c.buf->mem, p->c.off, p->ldc, p->stride_c,
        p->batch, &ctx->ocl.queue, NULL);
    if (s == CLBlastSuccess)
        ctx->ocl.clblast_built |= routine;
    return blas_status(ctx, s, "CLBlastSgemmStridedBatched", p->m, p->n, p->k);
}

static clnet_status exec(clnet_ctx *ctx, size_t v, const clnet__gemm_problem *p)
{
    clnet_status st = clnet__gemm_run(ctx, v, p);
    if (v == 0 || (st != CLNET_EBUILD && st != CLNET_EUNSUPPORTED))
        return st;
    /* The dispatcher's pick with this kernel disabled: CLBlast in the end
     * for an ordinary problem; for one through taps (which CLBlast cannot
     * read) another of clnet's kernels, and when none is left this
     * failure, its build log in the message. Each round disables one. */
    clnet__gemm_disable(ctx, v);
    size_t next = clnet__gemm_pick(ctx, p);
    if (next == v || !clnet__gemm_applies(ctx, next, p))
        return st;
    clnet__log(ctx, CLNET_LOG_WARN, "GEMM kernel %s cannot run here; using %s: %s",
               clnet__gemm_variants[v].name, clnet__gemm_variants[next].name,
               clnet_errmsg(ctx));
    clnet__clear_error(ctx);
    return exec(ctx, next, p);
}

/* 1 when every element the problem touches in t lies inside its buffer:
 * `batch` matrices of rows x cols at leading dimension ld, `stride` apart
 * (0: one matrix shared by the whole batch). Divisions instead of products
 * so that no size can wrap around. */
static int inside(clnet__tensor t, size_t rows, size_t cols, size_t ld,
                  size_t stride, size_t batch)
{
    if (rows == 0 || cols == 0)
        return 1;
    if (!t.buf || ld < cols)
        return 0;
    size_t floats = t.buf->bytes / clnet__esize(t);
    if (t.off > floats || cols > floats - t.off)
        return 0;
    size_t room = floats - t.off - cols;
    if ((rows - 1) > room / ld)
        return 0;
    room -= (rows - 1) * ld;
    return batch <= 1 || stride == 0 || (batch - 1) <= room / stride;
}

/* 1 when all of B, read through taps, lies inside its buffer. */
static int taps_inside(const clnet__gemm_problem *p)
{
    size_t span, floats = p->b.buf ? p->b.buf->bytes / clnet__esize(p->b) : 0;
    if (!clnet__gemm_taps_extent(p, &span) || p->b.off > floats ||
        span > floats - p->b.off)
        return 0;
    size_t room = floats - p->b.off - span;
    return p->batch <= 1 || p->stride_b == 0 || (p->batch - 1) <= room / p->stride_b;
}

static clnet_status check(clnet_ctx *ctx, const clnet__gemm_problem *p)
{
    size_t ra = p->ta ? p->k : p->m, ca = p->ta ? p->m : p->k;
    size_t rb = p->tb ? p->n : p->k, cb = p->tb ? p->k : p->n;
    if (p->taps.kk && p->k && !taps_inside(p))
        return clnet__fail(ctx, CLNET_EINVAL, "sgemm: B through taps (%zu rows "
                           "of %zu, %d taps of %d, plane %zu, row %zu, col %zu) "
                           "does not fit its buffer", rb, cb, p->taps.kk,
                           p->taps.kw, p->ldb, p->taps.row, p->taps.col);
    if (!inside(p->c, p->m, p->n, p->ldc, p->stride_c, p->batch))
        return clnet__fail(ctx, CLNET_EINVAL, "sgemm: C (%zu x %zu, ld %zu, "
                           "batch %zu) does not fit its buffer", p->m, p->n,
                           p->ldc, p->batch);
    if (p->k && (!inside(p->a, ra, ca, p->lda, p->stride_a, p->batch) ||
                 (!p->taps.kk &&
                  !inside(p->b, rb, cb, p->ldb, p->stride_b, p->batch))))
        return clnet__fail(ctx, CLNET_EINVAL, "sgemm: A (%zu x %zu, ld %zu) or "
                           "B (%zu x %zu, ld %zu) does not fit its buffer",
                           ra, ca, p->lda, rb, cb, p->ldb);
    return CLNET_OK;
}

/* Variant v (-1: the dispatcher's pick) on one checked problem. A named
 * variant runs as it is: no fallback, so tests see each kernel. */
static clnet_status run(clnet_ctx *ctx, int v, int trans_a, int trans_b,
                        size_t m, size_t n, size_t k, float alpha,
                        clnet__tensor a, size_t lda, size_t stride_a,
                        clnet__tensor b, size_t ldb, clnet__gemm_taps taps,
                        size_t stride_b, float beta, clnet__tensor c, size_t ldc,
                        size_t stride_c, size_t batch)
{
    if (m == 0 || n == 0 || batch == 0)
        return CLNET_OK;
    clnet__gemm_problem p = {
        .ta = trans_a != 0, .tb = trans_b != 0, .taps = taps, .m = m, .n = n,
        .k = k, .alpha = alpha, .beta = beta, .a = a, .b = b, .c = c, .lda = lda,
        .ldb = ldb, .ldc = ldc, .stride_a = stride_a, .stride_b = stride_b,
        .stride_c = stride_c, .batch = batch, .fp16 = ctx->ocl.gemm_fp16};
    clnet_status st = check(ctx, &p);
    if (st != CLNET_OK)
        return st;
    if (v < 0) {
        size_t pick = clnet__gemm_pick(ctx, &p);
        if (!clnet__gemm_applies(ctx, pick, &p)) /* taps or half: none applies */
            return clnet__fail(ctx, CLNET_EUNSUPPORTED, "no GEMM kernel here "
                               "runs this %s (ta=%d tb=%d)",
                               p.taps.kk ? "implicit-GEMM convolution"
                                         : "GEMM with half operands",
                               p.ta, p.tb);
        return exec(ctx, pick, &p);
    }
    if (!clnet__gemm_applies(ctx, (size_t)v, &p))
        return clnet__fail(ctx, CLNET_EUNSUPPORTED, "GEMM variant %s cannot run "
                           "ta=%d tb=%d m=%zu n=%zu k=%zu here",
                           clnet__gemm_variants[v].name, p.ta, p.tb, m, n, k);
    return clnet__gemm_run(ctx, (size_t)v, &p);
}

clnet_status clnet__sgemm_batched(clnet_ctx *ctx, int trans_a, int trans_b,
                                  size_t m, size_t n, size_t k, float alpha,
                                  clnet__tensor a, size_t lda, size_t stride_a,
                                  clnet__tensor b, size_t ldb, size_t stride_b,
                                  float beta, clnet__tensor c, size_t ldc,
                                  size_t stride_c, size_t batch)
{
    return run(ctx, -1, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b,
               ldb, (clnet__gemm_taps){0}, stride_b, beta, c, ldc, stride_c,
               batch);
}

clnet_status clnet__sgemm_taps(clnet_ctx *ctx, int trans_a, int trans_b,
                               size_t m, size_t n, size_t k,
                               float alpha, clnet__tensor a, size_t lda,
                               size_t stride_a, clnet__tensor b, size_t ldb,
                               clnet__gemm_taps taps, size_t stride_b,
                               float beta, clnet__tensor c, size_t ldc,
                               size_t stride_c, size_t batch)
{
    if (taps.kk <= 0)
        return clnet__fail(ctx, CLNET_EINVAL, "sgemm_taps: %d taps", taps.kk);
    return run(ctx, -1, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b,
               ldb, taps, stride_b, beta, c, ldc, stride_c, batch);
}

clnet_status clnet__sgemm(clnet_ctx *ctx, int trans_a, int trans_b, size_t m,
                          size_t n, size_t k, float alpha, clnet__tensor a,
                          size_t lda, clnet__tensor b, size_t ldb, float beta,
                          clnet__tensor c, size_t ldc)
{
    return run(ctx, -1, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb,
               (clnet__gemm_taps){0}, 0, beta, c, ldc, 0, 1);
}

clnet_status clnet__sgemm_variant(clnet_ctx *ctx, const char *variant,
                                  int trans_a, int trans_b, size_t m, size_t n,
                                  size_t k, float alpha, clnet__tensor a,
                                  size_t lda, size_t stride_a, clnet__tensor b,
                                  size_t ldb, size_t stride_b, float beta,
                                  clnet__tensor c, size_t ldc, size_t stride_c,
                                  size_t batch)
{
    int v = clnet__gemm_find(variant);
    if (v < 0)
        return clnet__fail(ctx, CLNET_ENOTFOUND, "no GEMM variant named %s",
                           variant ? variant : "(null)");
    return run(ctx, v, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b,
               ldb, (clnet__gemm_taps){0}, stride_b, beta, c, ldc, stride_c,
               batch);
}

int clnet__gemm_fp16_set(clnet_ctx *ctx, int on)
{
    int was = ctx->ocl.gemm_fp16;
    ctx->ocl.gemm_fp16 = on != 0;
    return was;
}

const char *clnet__sgemm_variant_name(size_t i)
{
    return i < clnet__gemm_variant_count ? clnet__gemm_variants[i].name : NULL;
}

const char *clnet__sgemm_choice(clnet_ctx *ctx, int trans_a, int trans_b,
                                size_t m, size_t n, size_t k, size_t batch)
{
    clnet__gemm_problem p = {.ta = trans_a != 0, .tb = trans_b != 0, .m = m,
                             .n = n, .k = k, .batch = batch ? batch : 1};
    return clnet__gemm_variants[clnet__gemm_pick(ctx, &p)].name;
}
