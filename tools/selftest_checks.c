/* Self-test checks of the OpenCL layer itself: an elementwise kernel and one
 * CLBlast SGEMM, each against a plain-C reference. Op checks live beside
 * their ops' own files and are listed in selftest.c's table. */
#include "selftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs axpby on a view of y at a non-zero offset, with guard elements before
 * and after it that must stay untouched. poison_y sets the view to NaN first. */
static clnet_status axpby_case(const selftest_env *env, selftest_result *r,
                               float beta, int poison_y)
{
    uint64_t rng = env->seed;
    size_t n = 1000 + selftest_next(&rng) % 3000; /* not a work-group multiple */
    size_t xoff = 1 + selftest_next(&rng) % 7, yoff = 1 + selftest_next(&rng) % 5;
    size_t ylen = yoff + n + 3;
    float alpha = selftest_uniform(&rng, 0.5f, 2.0f);
    float *x = malloc((xoff + n) * sizeof *x);
    float *y = malloc(ylen * sizeof *y), *want = malloc(ylen * sizeof *want);
    clnet__buf *dx = NULL, *dy = NULL;
    clnet__kernel *k = NULL;
    clnet_status st = CLNET_ENOMEM;
    if (!x || !y || !want)
        goto out;
    selftest_fill(&rng, x, xoff + n, -1.0f, 1.0f);
    selftest_fill(&rng, y, ylen, -1.0f, 1.0f);
    for (size_t i = 0; poison_y && i < n; i++)
        y[yoff + i] = NAN;
    for (size_t i = 0; i < ylen; i++)
        want[i] = y[i];
    for (size_t i = 0; i < n; i++)
        want[yoff + i] = (float)((double)alpha * x[xoff + i] +
                                 (beta == 0.0f ? 0.0 : (double)beta * y[yoff + i]));
    st = selftest_upload(env->ctx, x, xoff + n, &dx);
    if (st == CLNET_OK)
        st = selftest_upload(env->ctx, y, ylen, &dy);
    if (st == CLNET_OK)
        st = clnet__kernel_get(env->ctx, "elementwise", NULL, "axpby", &k);
    if (st == CLNET_OK) {
        size_t global = n, local = clnet__wg_1d(env->ctx, k);
        clnet__tensor tx = {dx, xoff, 0}, ty = {dy, yoff, 0};
        st = CLNET__LAUNCH(env->ctx, k, 1, &global, &local, CLNET_ARG_U32(n),
                           CLNET_ARG_F32(alpha), CLNET_ARG_T(tx),
                           CLNET_ARG_F32(beta), CLNET_ARG_T(ty));
    }
    if (st == CLNET_OK)
        st = clnet__buf_read(env->ctx, dy, 0, ylen * sizeof *y, y);
    if (st == CLNET_OK) {
        r->max_err = selftest_max_err(y, want, ylen);
        r->tol = 1e-6;
        snprintf(r->detail, sizeof r->detail, "n=%zu x+%zu y+%zu", n, xoff, yoff);
    }
out:
    clnet__buf_release(env->ctx, dx);
    clnet__buf_release(env->ctx, dy);
    free(x);
    free(y);
    free(want);
    return st;
}

clnet_status selftest_axpby(const selftest_env *env, selftest_result *r)
{
    uint64_t rng = env->seed ^ 1;
    return axpby_case(env, r, selftest_uniform(&rng, -2.0f, -0.5f), 0);
}

/* beta = 0 must overwrite y, even where it holds NaN (fresh buffers do). */
clnet_status selftest_axpby_beta0(const selftest_env *env, selftest_result *r)
{
    return axpby_case(env, r, 0.0f, 1);
}

/* C = alpha * A * B^T + beta * C with every matrix a padded view at an
 * offset: the dense layer's forward product (weights out x in, as PyTorch
 * lays them out). The padding of C must stay untouched. */
clnet_status selftest_sgemm(const selftest_env *env, selftest_result *r)
{
    enum { M = 67, N = 45, K = 33, LDA = K + 3, LDB = K + 2, LDC = N + 4,
           OFFA = 5, OFFB = 7, OFFC = 3 };
    size_t na = OFFA + (size_t)M * LDA, nb = OFFB + (size_t)N * LDB,
           nc = OFFC + (size_t)M * LDC;
    uint64_t rng = env->seed;
    float alpha = selftest_uniform(&rng, 0.5f, 1.5f);
    float beta = selftest_uniform(&rng, -1.0f, -0.25f);
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *c = malloc(nc * sizeof *c), *want = malloc(nc * sizeof *want);
    clnet__buf *da = NULL, *db = NULL, *dc = NULL;
    clnet_status st = CLNET_ENOMEM;
    if (!a || !b || !c || !want)
        goto out;
    selftest_fill(&rng, a, na, -1.0f, 1.0f);
    selftest_fill(&rng, b, nb, -1.0f, 1.0f);
    selftest_fill(&rng, c, nc, -1.0f, 1.0f);
    for (size_t i = 0; i < nc; i++)
        want[i] = c[i];
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0.0;
            for (size_t p = 0; p < K; p++)
                s += (double)a[OFFA + i * LDA + p] * b[OFFB + j * LDB + p];
            float *w = &want[OFFC + i * LDC + j];
            *w = (float)(alpha * s + (double)beta * *w);
        }
    st = selftest_upload(env->ctx, a, na, &da);
    if (st == CLNET_OK)
        st = selftest_upload(env->ctx, b, nb, &db);
    if (st == CLNET_OK)
        st = selftest_upload(env->ctx, c, nc, &dc);
    if (st == CLNET_OK)
        st = clnet__sgemm(env->ctx, 0, 1, M, N, K, alpha,
                          (clnet__tensor){da, OFFA, 0}, LDA,
                          (clnet__tensor){db, OFFB, 0}, LDB, beta,
                          (clnet__tensor){dc, OFFC, 0}, LDC);
    if (st == CLNET_OK)
        st = clnet__buf_read(env->ctx, dc, 0, nc * sizeof *c, c);
    if (st == CLNET_OK) {
        r->max_err = selftest_max_err(c, want, nc);
        r->tol = 1e-5;
        snprintf(r->detail, sizeof r->detail, "A*B^T, lda=%d ldb=%d ldc=%d",
                 LDA, LDB, LDC);
    }
out:
    clnet__buf_release(env->ctx, da);
    clnet__buf_release(env->ctx, db);
    clnet__buf_release(env->ctx, dc);
    free(a);
    free(b);
    free(c);
    free(want);
    return st;
}
