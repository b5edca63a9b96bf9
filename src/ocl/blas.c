/* SGEMM through CLBlast, on the context's compute queue. */
#include "ocl/ocl_private.h"

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

clnet_status clnet__sgemm(clnet_ctx *ctx, int trans_a, int trans_b, size_t m,
                          size_t n, size_t k, float alpha, clnet__tensor a,
                          size_t lda, clnet__tensor b, size_t ldb, float beta,
                          clnet__tensor c, size_t ldc)
{
    if (m == 0 || n == 0)
        return CLNET_OK;
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha,
        a.buf->mem, a.off, lda, b.buf->mem, b.off, ldb, beta, c.buf->mem, c.off,
        ldc, &ctx->ocl.queue, NULL);
    return blas_status(ctx, s, "CLBlastSgemm", m, n, k);
}

clnet_status clnet__sgemm_batched(clnet_ctx *ctx, int trans_a, int trans_b,
                                  size_t m, size_t n, size_t k, float alpha,
                                  clnet__tensor a, size_t lda, size_t stride_a,
                                  clnet__tensor b, size_t ldb, size_t stride_b,
                                  float beta, clnet__tensor c, size_t ldc,
                                  size_t stride_c, size_t batch)
{
    if (m == 0 || n == 0 || batch == 0)
        return CLNET_OK;
    if (batch == 1)
        return clnet__sgemm(ctx, trans_a, trans_b, m, n, k, alpha, a, lda, b,
                            ldb, beta, c, ldc);
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha,
        a.buf->mem, a.off, lda, stride_a, b.buf->mem, b.off, ldb, stride_b,
        beta, c.buf->mem, c.off, ldc, stride_c, batch, &ctx->ocl.queue, NULL);
    return blas_status(ctx, s, "CLBlastSgemmStridedBatched", m, n, k);
}
