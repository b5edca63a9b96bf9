/* clnet's own SGEMM kernels, row-major. src/ocl/gemm.c launches them and
 * src/ocl/gemm_tune.c picks one (or CLBlast) per shape.
 *
 * Every kernel takes the same arguments:
 *   (M, N, K, alpha, beta, A, lda, stride_a, B, ldb, stride_b, C, ldc, stride_c,
 *    tap_kk, tap_kw, tap_row, tap_col)
 * with tensors as (buffer, float offset) pairs and the batch index in
 * dimension 2. beta == 0 never reads C, so C may hold NaN.
 *
 * Implicit-GEMM convolution (GEMM_BTAPS=1): B's rows are not ldb apart but
 * shifted windows of a padded image (src/ops/conv_implicit.c): row r of B
 * (r over k, or over n when B is transposed) starts at
 *   b + (r / tap_kk) * ldb + ((r % tap_kk) / tap_kw) * tap_row + (r % tap_kw) * tap_col
 * i.e. r = (channel, kernel row, kernel column), ldb the channel plane,
 * tap_row / tap_col the distance of one kernel row / column in the padded
 * image. A row's elements stay contiguous, so the kernels load them as
 * before; only the row addresses change. Without GEMM_BTAPS the tap_*
 * arguments are ignored.
 *
 * Storage (common.h): each operand (x, y, c for gemm_panel; a, b, c for
 * the others) is fp32 or, built with -DHALF_<name>=1, half (fp16-storage
 * activations: src/ocl/gemm.c passes the problem's flags); products and
 * sums are fp32 either way, and a half C is rounded once when stored.
 * Leading dimensions, strides and offsets count elements of each operand.
 *
 * Two families:
 * - gemm_panel and gemm_dot are for CPU devices (PoCL). PoCL only vectorises
 *   across the work-items of a work-group, and does that badly for a work-item
 *   that loops over k (measured: 1-5 GFLOP/s, see tools/bench/RESULTS.md). So
 *   these kernels run one work-item per work-group, and that work-item is a
 *   BLAS-style micro-kernel written with explicit floatN vectors, which LLVM
 *   maps to AVX-512 registers.
 * - gemm_tiled is the GPU shape: a work-group stages TS_M x TS_K and
 *   TS_K x TS_N tiles of A and B in local memory, each work-item keeps a
 *   WPT_M x WPT_N block of C in registers. */
#include "common.h"

/* Which kernels this build holds: 0 all, 1 gemm_panel*, 2 gemm_dot,
 * 3 gemm_tiled, 4 gemm_scale. The host builds only the one it launches, so a GPU never
 * compiles the CPU kernels (which would spill there) and a CPU build stays
 * short. */
#ifndef GEMM_ONLY
#define GEMM_ONLY 0
#endif

#ifndef GEMM_BTAPS
#define GEMM_BTAPS 0
#endif
#define TAP_ARGS int tap_kk, int tap_kw, uint tap_row, uint tap_col

/* Offset of B's row r from B's start (see above). */
#if GEMM_BTAPS
#define B_ROW(r, ldb)                                                        \
    ((size_t)((r) / tap_kk) * (ldb) +                                        \
     (size_t)(((r) % tap_kk) / tap_kw) * tap_row + (size_t)((r) % tap_kw) * tap_col)
#else
#define B_ROW(r, ldb) ((size_t)(r) * (ldb))
#endif

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)

#if GEMM_ONLY == 0 || GEMM_ONLY == 1
/* ---- gemm_panel: P = X * Y, Y contiguous along P's columns --------------
 * The host maps op(A)*op(B) with B not transposed to X = A, Y = B, and
 * A^T * B^T to P = C^T = B * A (X = B, Y = A, GEMM_CT stores P transposed).
 * One work-item computes rows [i, i + PANEL_MB) of a column panel NR =
 * PANEL_VW * PANEL_NV wide, in K blocks of PANEL_KC (the Y block, KC x NR
 * floats, stays in L1 while the work-item walks down the X rows), each
 * PANEL_MR x NR tile of P held in PANEL_MR * PANEL_NV vector registers. */
#ifndef GEMM_XT
#define GEMM_XT 0 /* 1: X is stored transposed (K x M) */
#endif
#ifndef GEMM_CT
#define GEMM_CT 0 /* 1: P(i, j) goes to C[j * ldc + i] */
#endif
#ifndef PANEL_MR
#define PANEL_MR 6
#endif
#ifndef PANEL_VW
#define PANEL_VW 16
#endif
#ifndef PANEL_NV
#define PANEL_NV 4
#endif
#ifndef PANEL_MB
#define PANEL_MB 48
#endif
#ifndef PANEL_KC
#define PANEL_KC 256
#endif

#define PANEL_NR (PANEL_VW * PANEL_NV)
#define PVEC GEMM_CAT(float, PANEL_VW)
#define PLOAD GEMM_CAT(vload, PANEL_VW)
#define PSTORE GEMM_CAT(vstore, PANEL_VW)

#if GEMM_XT
#define PANEL_X(r, p) LOADP(HALF_OF(x), xk, (size_t)(p) * ldx + rows[r])
#else
#define PANEL_X(r, p) LOADP(HALF_OF(x), xk, (size_t)rows[r] * ldx + (p))
#endif
#if GEMM_CT
#define PANEL_C_AT(i, j) ((size_t)(j) * ldc + (i))
#else
#define PANEL_C_AT(i, j) ((size_t)(i) * ldc + (j))
#endif
/* Y and C vectors of PANEL_VW lanes, and the scalars of C. */
#define PLOAD_Y(v, p) CLNET_IF(HALF_OF(y), GEMM_CAT(vload_half, PANEL_VW)(v, p), PLOAD(v, p))
#define PLOAD_C(v, p) CLNET_IF(HALF_OF(c), GEMM_CAT(vload_half, PANEL_VW)(v, p), PLOAD(v, p))
#define PSTORE_C(o, v, p) CLNET_IF(HALF_OF(c), GEMM_CAT(GEMM_CAT(vstore_half, PANEL_VW), _rte)(o, v, p), PSTORE(o, v, p))

/* narrow is a constant in each kernel below, so the compiler drops the
 * branch on it from the inner loop (it did not unswitch a runtime flag:
 * measured 1.4-1.8x slower). */
static inline void panel_body(int M, int N, int K, float alpha, float beta,
                              global const STORE_T(x) *x, uint ldx,
                              global const STORE_T(y) *y, uint ldy,
                              global STORE_T(c) *c, uint ldc, const int narrow,
                              TAP_ARGS)
{
    const int ib = (int)get_global_id(0) * PANEL_MB;
    int j0 = (int)get_global_id(1) * PANEL_NR;
    if (ib >= M || j0 >= N)
        return;
    /* The last panel is moved left to end at column N, so every Y load is a
     * whole vector inside the matrix; its first `skip` columns belong to the
     * previous panel and are computed but not stored. Only when N < NR are
     * loads guarded one by one (`narrow`). */
    int skip = 0;
    if (!narrow && j0 + PANEL_NR > N) {
        skip = j0 - (N - PANEL_NR);
        j0 = N - PANEL_NR;
    }
    const int jn = min(PANEL_NR, N - j0);
    const int iend = min(ib + PANEL_MB, M);
    /* k0 == 0 runs even when K == 0, so C = beta * C still happens. */
    for (int k0 = 0; k0 == 0 || k0 < K; k0 += PANEL_KC) {
        const int kn = min(PANEL_KC, K - k0);
        const float b = k0 == 0 ? beta : 1.0f; /* later blocks add to C */
#if GEMM_XT
        global const STORE_T(x) *xk = x + (size_t)k0 * ldx;
#else
        global const STORE_T(x) *xk = x + k0;
#endif
        global const STORE_T(y) *yk = y + B_ROW(k0, ldy) + j0;
        for (int i0 = ib; i0 < iend; i0 += PANEL_MR) {
            /* Rows past M repeat row M-1: loads stay in bounds, stores skip. */
            int rows[PANEL_MR];
            #pragma unroll
            for (int r = 0; r < PANEL_MR; r++)
                rows[r] = min(i0 + r, M - 1);
            PVEC acc[PANEL_MR][PANEL_NV];
            #pragma unroll
            for (int r = 0; r < PANEL_MR; r++)
                #pragma unroll
                for (int v = 0; v < PANEL_NV; v++)
                    acc[r][v] = (PVEC)0.0f;
            global const STORE_T(y) *yp = yk;
#if GEMM_BTAPS
            /* The taps of row k0 + p, stepped without divisions. */
            int tw = (k0 % tap_kk) % tap_kw, th = (k0 % tap_kk) / tap_kw;
            const int tap_kh = tap_kk / tap_kw;
#endif
            for (int p = 0; p < kn; p++) {
                PVEC yv[PANEL_NV];
                if (!narrow) {
                    #pragma unroll
                    for (int v = 0; v < PANEL_NV; v++)
                        yv[v] = PLOAD_Y(v, yp);
                } else {
                    float ys[PANEL_NR];
                    #pragma unroll
                    for (int jj = 0; jj < PANEL_NR; jj++)
                        ys[jj] = jj < jn ? LOADP(HALF_OF(y), yp, jj) : 0.0f;
                    #pragma unroll
                    for (int v = 0; v < PANEL_NV; v++)
                        yv[v] = PLOAD(v, ys);
                }
                #pragma unroll
                for (int r = 0; r < PANEL_MR; r++) {
                    const PVEC xv = (PVEC)PANEL_X(r, p);
                    #pragma unroll
                    for (int v = 0; v < PANEL_NV; v++)
                        acc[r][v] = fma(xv, yv[v], acc[r][v]);
                }
#if GEMM_BTAPS
                if (++tw < tap_kw) {
                    yp += tap_col;
                } else if (tw = 0, ++th < tap_kh) {
                    yp += tap_row - (size_t)(tap_kw - 1) * tap_col;
                } else {
                    th = 0;
                    yp += ldy - (size_t)(tap_kh - 1) * tap_row -
                          (size_t)(tap_kw - 1) * tap_col;
                }
#else
                yp += ldy;
#endif
            }
            #pragma unroll
            for (int r = 0; r < PANEL_MR; r++) {
                const int i = i0 + r;
                if (i >= M)
                    break;
#if !GEMM_CT
                if (skip == 0 && !narrow) {
                    global STORE_T(c) *cr = c + (size_t)i * ldc + j0;
                    #pragma unroll
                    for (int v = 0; v < PANEL_NV; v++) {
                        PVEC o = alpha * acc[r][v];
                        if (b != 0.0f)
                            o += b * PLOAD_C(v, cr);
                        PSTORE_C(o, v, cr);
                    }
                    continue;
                }
#endif
                float t[PANEL_NR];
                #pragma unroll
                for (int v = 0; v < PANEL_NV; v++)
                    PSTORE(acc[r][v], v, t);
                for (int jj = skip; jj < jn; jj++) {
                    float o = alpha * t[jj];
                    if (b != 0.0f)
                        o += b * LOADP(HALF_OF(c), c, PANEL_C_AT(i, j0 + jj));
                    STOREP(HALF_OF(c), c, PANEL_C_AT(i, j0 + jj), o);
                }
            }
        }
    }
}

kernel void gemm_panel(int M, int N, int K, float alpha, float beta,
                       CTENSOR(x), uint ldx, uint stride_x, CTENSOR(y),
                       uint ldy, uint stride_y, TENSOR(c), uint ldc,
                       uint stride_c, TAP_ARGS)
{
    const size_t z = get_global_id(2);
    panel_body(M, N, K, alpha, beta, AT(x) + z * stride_x, ldx,
               AT(y) + z * stride_y, ldy, AT(c) + z * stride_c, ldc, 0,
               tap_kk, tap_kw, tap_row, tap_col);
}

/* The same for N < PANEL_NR (Y loads guarded lane by lane). */
kernel void gemm_panel_narrow(int M, int N, int K, float alpha, float beta,
                              CTENSOR(x), uint ldx, uint stride_x, CTENSOR(y),
                              uint ldy, uint stride_y, TENSOR(c), uint ldc,
                              uint stride_c, TAP_ARGS)
{
    const size_t z = get_global_id(2);
    panel_body(M, N, K, alpha, beta, AT(x) + z * stride_x, ldx,
               AT(y) + z * stride_y, ldy, AT(c) + z * stride_c, ldc, 1,
               tap_kk, tap_kw, tap_row, tap_col);
}
#endif

#if GEMM_ONLY == 0 || GEMM_ONLY == 2
/* ---- gemm_dot: C = A * B^T (both contiguous along k) ---------------------
 * One work-item computes a DOT_MR x DOT_NR tile of C as that many vector
 * dot products along k (DOT_VW lanes each), summed across lanes at the end;
 * per step it loads DOT_MR + DOT_NR vectors for DOT_MR * DOT_NR FMAs. */
#ifndef DOT_MR
#define DOT_MR 3
#endif
#ifndef DOT_NR
#define DOT_NR 8
#endif
#ifndef DOT_VW
#define DOT_VW 16
#endif
#define DVEC GEMM_CAT(float, DOT_VW)
#define DLOAD GEMM_CAT(vload, DOT_VW)
#define DLOAD_H(h, q, p) CLNET_IF(h, GEMM_CAT(vload_half, DOT_VW)(q, p), DLOAD(q, p))

static inline float dot_lanes(DVEC v)
{
#if DOT_VW == 16
    float8 h8 = v.lo + v.hi;
    float4 h4 = h8.lo + h8.hi;
#elif DOT_VW == 8
    float4 h4 = v.lo + v.hi;
#else
    float4 h4 = v;
#endif
    float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

kernel void gemm_dot(int M, int N, int K, float alpha, float beta, CTENSOR(a),
                     uint lda, uint stride_a, CTENSOR(b), uint ldb,
                     uint stride_b, TENSOR(c), uint ldc, uint stride_c,
                     TAP_ARGS)
{
    const int i0 = (int)get_global_id(0) * DOT_MR;
    const int j0 = (int)get_global_id(1) * DOT_NR;
    if (i0 >= M || j0 >= N)
        return;
    const size_t z = get_global_id(2);
    global STORE_T(c) *c = AT(c) + z * stride_c;
    /* Rows past the edge repeat the last one: loads stay in bounds. */
    global const STORE_T(a) *ar[DOT_MR];
    global const STORE_T(b) *br[DOT_NR];
    #pragma unroll
    for (int r = 0; r < DOT_MR; r++)
        ar[r] = AT(a) + z * stride_a + (size_t)min(i0 + r, M - 1) * lda;
    #pragma unroll
    for (int s = 0; s < DOT_NR; s++)
        br[s] = AT(b) + z * stride_b + B_ROW(min(j0 + s, N - 1), ldb);
    DVEC acc[DOT_MR][DOT_NR];
    #pragma unroll
    for (int r = 0; r < DOT_MR; r++)
        #pragma unroll
        for (int s = 0; s < DOT_NR; s++)
            acc[r][s] = (DVEC)0.0f;
    const int kv = K / DOT_VW;
    for (int q = 0; q < kv; q++) {
        DVEC av[DOT_MR], bv[DOT_NR];
        #pragma unroll
        for (int r = 0; r < DOT_MR; r++)
            av[r] = DLOAD_H(HALF_OF(a), q, ar[r]);
        #pragma unroll
        for (int s = 0; s < DOT_NR; s++)
            bv[s] = DLOAD_H(HALF_OF(b), q, br[s]);
        #pragma unroll
        for (int r = 0; r < DOT_MR; r++)
            #pragma unroll
            for (int s = 0; s < DOT_NR; s++)
                acc[r][s] = fma(av[r], bv[s], acc[r][s]);
    }
    float sum[DOT_MR][DOT_NR];
    #pragma unroll
    for (int r = 0; r < DOT_MR; r++)
        #pragma unroll
        for (int s = 0; s < DOT_NR; s++)
            sum[r][s] = dot_lanes(acc[r][s]);
    for (int p = kv * DOT_VW; p < K; p++)
        #pragma unroll
        for (int r = 0; r < DOT_MR; r++)
            #pragma unroll
            for (int s = 0; s < DOT_NR; s++)
                sum[r][s] = fma(LOADP(HALF_OF(a), ar[r], p),
                                LOADP(HALF_OF(b), br[s], p), sum[r][s]);
    #pragma unroll
    for (int r = 0; r < DOT_MR; r++) {
        if (i0 + r >= M)
            break;
        global STORE_T(c) *cr = c + (size_t)(i0 + r) * ldc + j0;
        #pragma unroll
        for (int s = 0; s < DOT_NR; s++) {
            if (j0 + s < N) {
                float o = alpha * sum[r][s];
                if (beta != 0.0f)
                    o += beta * LOADP(HALF_OF(c), cr, s);
                STOREP(HALF_OF(c), cr, s, o);
            }
        }
    }
}
#endif

#if GEMM_ONLY == 0 || GEMM_ONLY == 3
/* ---- gemm_tiled: the GPU shape, any transposes --------------------------
 * Work-group (TS_N / WPT_N, TS_M / WPT_M) computes a TS_M x TS_N tile of C.
 * Work-item (tn, tm) owns rows tm + w * RT_M and columns tn + w * RT_N of the
 * tile: strided, so neighbouring work-items touch neighbouring C columns
 * (coalesced stores) and neighbouring local-memory words (no bank
 * conflicts). The cooperative loads stride by the work-group's real size, so
 * they stay correct whatever local size the host chose. */
#ifndef GEMM_TA
#define GEMM_TA 0
#endif
#ifndef GEMM_TB
#define GEMM_TB 0
#endif
#ifndef TS_M
#define TS_M 64
#endif
#ifndef TS_N
#define TS_N 64
#endif
#ifndef TS_K
#define TS_K 16
#endif
#ifndef WPT_M
#define WPT_M 4
#endif
#ifndef WPT_N
#define WPT_N 4
#endif
#define RT_M (TS_M / WPT_M)
#define RT_N (TS_N / WPT_N)

/* GEMM_FP16 (precision fp16): both operands rounded to half as they enter
 * the tiles, products and sums fp32 (a product of two halves is exact in
 * fp32), as mixed-precision GEMMs on tensor cores compute. With cl_khr_fp16
 * the tiles are half, half the local memory of float ones; without it (the
 * tests on PoCL) float tiles hold the rounded values: the same numbers. */
#ifndef GEMM_FP16
#define GEMM_FP16 0
#endif
#if GEMM_FP16 && CLNET_HAS_FP16
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#define TILE_T half
#define TO_TILE(v) convert_half_rte(v)
#define FROM_TILE(v) convert_float(v)
#elif GEMM_FP16
#define TILE_T float
/* Round to the nearest half through a 16-bit private word. */
inline float tile_round_half(float v)
{
    ushort h;
    vstore_half_rte(v, 0, (private half *)&h);
    return vload_half(0, (const private half *)&h);
}
#define TO_TILE(v) tile_round_half(v)
#define FROM_TILE(v) (v)
#else
#define TILE_T float
#define TO_TILE(v) (v)
#define FROM_TILE(v) (v)
#endif

#if GEMM_TA
#define TILED_A(i, p) LOADP(HALF_OF(a), a, (size_t)(p) * lda + (i))
#else
#define TILED_A(i, p) LOADP(HALF_OF(a), a, (size_t)(i) * lda + (p))
#endif
#if GEMM_TB
#define TILED_B(p, j) LOADP(HALF_OF(b), b, B_ROW(j, ldb) + (p))
#else
#define TILED_B(p, j) LOADP(HALF_OF(b), b, B_ROW(p, ldb) + (j))
#endif

kernel __attribute__((reqd_work_group_size(RT_N, RT_M, 1))) void
gemm_tiled(int M, int N, int K, float alpha, float beta, CTENSOR(a), uint lda,
           uint stride_a, CTENSOR(b), uint ldb, uint stride_b, TENSOR(c),
           uint ldc, uint stride_c, TAP_ARGS)
{
    /* +1 column: a TA=0 load writes down a column of As (k fastest). */
    local TILE_T As[TS_K][TS_M + 1];
    local TILE_T Bs[TS_K][TS_N + 1];
    const int tn = (int)get_local_id(0), tm = (int)get_local_id(1);
    const int n0 = (int)get_group_id(0) * TS_N, m0 = (int)get_group_id(1) * TS_M;
    const int tid = tm * (int)get_local_size(0) + tn;
    const int nthreads = (int)(get_local_size(0) * get_local_size(1));
    const size_t z = get_group_id(2);
    global const STORE_T(a) *a = AT(a) + z * stride_a;
    global const STORE_T(b) *b = AT(b) + z * stride_b;
    global STORE_T(c) *c = AT(c) + z * stride_c;
    float acc[WPT_M][WPT_N];
    for (int wm = 0; wm < WPT_M; wm++)
        for (int wn = 0; wn < WPT_N; wn++)
            acc[wm][wn] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TS_K) {
        /* Loads walk the contiguous direction of each operand fastest. */
        for (int e = tid; e < TS_K * TS_M; e += nthreads) {
#if GEMM_TA
            const int mm = e % TS_M, kk = e / TS_M;
#else
            const int kk = e % TS_K, mm = e / TS_K;
#endif
            const int gm = m0 + mm, gk = k0 + kk;
            As[kk][mm] = TO_TILE(gm < M && gk < K ? TILED_A(gm, gk) : 0.0f);
        }
        for (int e = tid; e < TS_K * TS_N; e += nthreads) {
#if GEMM_TB
            const int kk = e % TS_K, nn = e / TS_K;
#else
            const int nn = e % TS_N, kk = e / TS_N;
#endif
            const int gn = n0 + nn, gk = k0 + kk;
            Bs[kk][nn] = TO_TILE(gn < N && gk < K ? TILED_B(gk, gn) : 0.0f);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TS_K; kk++) {
            float bv[WPT_N];
            for (int wn = 0; wn < WPT_N; wn++)
                bv[wn] = FROM_TILE(Bs[kk][tn + wn * RT_N]);
            for (int wm = 0; wm < WPT_M; wm++) {
                const float av = FROM_TILE(As[kk][tm + wm * RT_M]);
                for (int wn = 0; wn < WPT_N; wn++)
                    acc[wm][wn] = fma(av, bv[wn], acc[wm][wn]);
            }
        }
        /* The next iteration overwrites As/Bs: everyone must be done. */
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int wm = 0; wm < WPT_M; wm++) {
        const int gm = m0 + tm + wm * RT_M;
        if (gm >= M)
            continue;
        for (int wn = 0; wn < WPT_N; wn++) {
            const int gn = n0 + tn + wn * RT_N;
            if (gn < N) {
                const size_t ci = (size_t)gm * ldc + gn;
                const float o = alpha * acc[wm][wn];
                STOREP(HALF_OF(c), c, ci, beta != 0.0f ? o + beta * LOADP(HALF_OF(c), c, ci) : o);
            }
        }
    }
}
#endif

#if GEMM_ONLY == 0 || GEMM_ONLY == 4
/* C = beta * C for k = 0, which CLBlast refuses: (j, i, batch) per
 * work-item; beta == 0 writes zeros without reading C. */
kernel void gemm_scale(int M, int N, float beta, TENSOR(c), uint ldc,
                       uint stride_c)
{
    const int j = (int)get_global_id(0), i = (int)get_global_id(1);
    if (i >= M || j >= N)
        return;
    const size_t ci = get_global_id(2) * stride_c + (size_t)i * ldc + j;
    ST(c, ci, beta != 0.0f ? beta * LD(c, ci) : 0.0f);
}
#endif
