/* conv2d against its reference (gradient checks on the reference, device
 * forward/backward vs reference; tolerances in op_harness.h), plus shape
 * inference and invalid arguments.
 *
 * Most shapes run on every device algorithm (conv.h): algo=gemm (im2col +
 * GEMM, or for 1x1 unpadded convs a GEMM straight on NCHW; also chunked with
 * batch_chunk, and with dW split along its inner size), algo=direct, and for
 * stride 1 algo=implicit (implicit GEMM over a padded copy; also chunked). */
#include "op_harness.h"
#include "../support.h"
#include "ops/op_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clnet_ctx *ctx;

#define IN(n, c, h, w) 1, {{n, c, h, w}}
/* The same case on both device algorithms (the auto choice is per shape). */
#define BOTH(params, ...)                                                    \
    {"conv", params " algo=gemm", __VA_ARGS__, 1, 0},                        \
        {"conv", params " algo=direct", __VA_ARGS__, 1, 0}
/* Stride 1: the implicit GEMM too, here for a few shapes; every other
 * shape of this table it can run is derived from its algo=gemm entry
 * (conv_implicit_matches_reference), which quick mode leaves out: oclgrind
 * simulates its GPU-shaped GEMM slowly. */
#define IMPL(params, ...) {"conv", params " algo=implicit", __VA_ARGS__, 1, 0}

static const op_case cases[] = {
    /* kernel sizes and symmetric padding 0/1/2 */
    BOTH("filters=4 kernel=1", IN(2, 3, 7, 5)),
    BOTH("filters=4 kernel=3 pad=1", IN(2, 3, 7, 5)),
    IMPL("filters=4 kernel=3 pad=1", IN(2, 3, 7, 5)),
    BOTH("filters=3 kernel=3", IN(1, 3, 7, 5)),
    BOTH("filters=3 kernel=5 pad=2", IN(1, 3, 7, 5)),
    BOTH("filters=2 kernel=7 pad=1", IN(2, 2, 9, 8)),
    /* stride 2 with odd input, with and without padding */
    BOTH("filters=4 kernel=3 stride=2 pad=1", IN(2, 3, 7, 5)),
    BOTH("filters=3 kernel=3 stride=2", IN(1, 2, 7, 5)),
    BOTH("filters=3 kernel=1 stride=2", IN(2, 3, 7, 5)),
    /* asymmetric padding, dilation, stride 3 wider than the kernel */
    BOTH("filters=3 kernel=3 pad_top=0 pad_bottom=2 pad_left=1 pad_right=0",
         IN(2, 2, 6, 5)),
    IMPL("filters=3 kernel=3 pad_top=0 pad_bottom=2 pad_left=1 pad_right=0",
         IN(2, 2, 6, 5)),
    BOTH("filters=3 kernel=3 dilation=2 pad=2", IN(2, 2, 7, 5)),
    BOTH("filters=2 kernel=3 stride=2 dilation=2,1 pad=2,1", IN(2, 2, 9, 7)),
    BOTH("filters=2 kernel=2 stride=3 pad=1,2", IN(1, 2, 8, 7)),
    /* non-square kernels; a kernel as large as the input (1x1 output) */
    BOTH("filters=3 kernel=3,1 pad=1,0", IN(2, 3, 7, 5)),
    BOTH("filters=2 kernel=1,5 stride=1,2 pad=0,2", IN(2, 3, 5, 7)),
    BOTH("filters=3 kernel=7,5", IN(2, 3, 7, 5)),
    /* groups 2 (also 1x1) and depthwise with 1 and 2 filters per channel */
    BOTH("filters=4 kernel=3 pad=1 groups=2", IN(2, 4, 5, 5)),
    IMPL("filters=4 kernel=3 pad=1 groups=2", IN(2, 4, 5, 5)),
    BOTH("filters=6 kernel=1 groups=2", IN(2, 4, 3, 3)),
    BOTH("filters=3 kernel=3 pad=1 groups=3", IN(2, 3, 7, 5)),
    BOTH("filters=6 kernel=3 stride=2 pad=1 groups=3", IN(2, 3, 7, 5)),
    BOTH("filters=4 kernel=5 dilation=2 pad=3 groups=2", IN(1, 2, 7, 5)),
    /* a 1-channel input (first layer of a grayscale net) */
    BOTH("filters=4 kernel=3 pad=1", IN(2, 1, 7, 5)),
    /* bias off */
    BOTH("filters=4 kernel=3 bias=0", IN(2, 3, 7, 5)),
    BOTH("filters=4 kernel=1 bias=0", IN(2, 3, 7, 5)),
    BOTH("filters=3 kernel=3 pad=1 groups=3 bias=0", IN(2, 3, 7, 5)),
    /* batch 33 (automatic choice) */
    {"conv", "filters=2 kernel=3 pad=1", IN(33, 2, 5, 4), 1, 0},
    /* chunked im2col: 4 chunks of 2, 2, 2, 1 images; 3 chunks of 1x1 */
    {"conv", "filters=3 kernel=3 stride=2 pad=1 batch_chunk=2 algo=gemm", IN(7, 2, 5, 5), 1, 0},
    {"conv", "filters=3 kernel=1 batch_chunk=3", IN(7, 2, 3, 3), 1, 0},
    /* dW split along nb*P (>= 2048 columns): 2 slices + 1 leftover column;
     * chunks of 3 and 2 images, each split in 2 */
    {"conv", "filters=3 kernel=3 pad=1 algo=gemm", IN(3, 2, 23, 31), 1, 0},
    {"conv", "filters=2 kernel=3 pad=1 batch_chunk=3 algo=gemm", IN(5, 2, 23, 31), 1, 0},
    /* chunked implicit GEMM: chunks of 2, 2, 2, 1 images; a wide map with
     * asymmetric pads in chunks of 2 and 1 */
    {"conv", "filters=3 kernel=3 pad=1 batch_chunk=2 algo=implicit", IN(7, 2, 5, 5), 1, 0},
    {"conv", "filters=2 kernel=3 pad=1,2 batch_chunk=2 algo=implicit", IN(3, 2, 23, 31), 1, 0},
    /* automatic choice on a gemm-sized shape; inference only */
    {"conv", "filters=4 kernel=3 pad=1", IN(2, 6, 7, 5), 1, 0},
    {"conv", "filters=4 kernel=3 pad=1", IN(2, 3, 7, 5), 0, 0},
    {"conv", "filters=4 kernel=1", IN(2, 3, 7, 5), 0, 0},
};


START_TEST(conv_matches_reference)
{
    op_cases_run(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* The same with activations stored as half (fp16-storage). */
START_TEST(conv_half_storage_matches_reference)
{
    op_cases_run_half(ctx, cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* Parses params and plans one input; returns the status, message in err. */
static clnet_status plan_of(const char *params, int n_in, clnet__shape in,
                            clnet__op_plan *plan, char *err, size_t cap)
{
    const clnet__op *op = clnet__op_find("conv");
    unsigned char p[CLNET__PARAMS_MAX];
    err[0] = '\0';
    clnet_status st = clnet__op_params_parse(op, p, params, err, cap);
    if (st != CLNET_OK)
        return st;
    clnet__shape ins[2] = {in, in};
    memset(plan, 0, sizeof *plan);
    return op->plan(p, n_in, ins, plan, err, cap);
}

/* Every shape of `cases` that the implicit GEMM can run (its algo=gemm
 * entry again with algo=implicit; planning refuses the others), except
 * those an IMPL entry already lists. Full runs only (see IMPL). */
START_TEST(conv_implicit_matches_reference)
{
    if (op_test_quick())
        return;
    enum { N = sizeof cases / sizeof cases[0] };
    static op_case derived[N];
    static char params[N][256];
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        const char *p = cases[i].params, *at = strstr(p, " algo=gemm");
        if (!at || at[strlen(" algo=gemm")] != '\0')
            continue;
        snprintf(params[n], sizeof params[n], "%.*s algo=implicit", (int)(at - p), p);
        clnet__op_plan pl;
        char err[256];
        int listed = 0;
        for (size_t k = 0; k < N; k++)
            listed |= strcmp(cases[k].params, params[n]) == 0 &&
                      memcmp(&cases[k].in[0], &cases[i].in[0], sizeof cases[i].in[0]) == 0;
        if (listed || plan_of(params[n], 1, cases[i].in[0], &pl, err, sizeof err) != CLNET_OK)
            continue;
        derived[n] = cases[i];
        derived[n].params = params[n];
        n++;
    }
    ck_assert_msg(n >= 14, "only %zu stride-1 shapes for the implicit GEMM", n);
    op_cases_run(ctx, derived, n);
}
END_TEST

#define EXPECT(params, n_in, shape, status, needle)                          \
    do {                                                                     \
        clnet__op_plan pl_;                                                  \
        char err_[256];                                                      \
        clnet_status st_ = plan_of(params, n_in, shape, &pl_, err_, sizeof err_); \
        ck_assert_msg(st_ == (status), "%s: got %s (%s)", params,            \
                      clnet_status_name(st_), err_);                         \
        ck_assert_msg(strstr(err_, needle) != NULL,                          \
                      "%s: message '%s' does not mention '%s'", params, err_, \
                      needle);                                               \
    } while (0)

START_TEST(conv_rejects_bad_arguments)
{
    clnet__shape x = {2, 4, 6, 6};
    EXPECT("filters=0", 1, x, CLNET_EPARSE, "filters=0");
    EXPECT("filters=4 kernel=0", 1, x, CLNET_EPARSE, "kernel=0");
    EXPECT("filters=4 kernel=3 stride=2 algo=implicit", 1, x, CLNET_EINVAL,
           "algo=implicit needs stride 1");
    EXPECT("filters=4 kernel=3 pad=3 algo=implicit", 1, x, CLNET_EINVAL,
           "algo=implicit needs stride 1");
    EXPECT("filters=4 stride=2,x", 1, x, CLNET_EPARSE, "stride=");
    EXPECT("filters=4 pad=-1", 1, x, CLNET_EPARSE, "pad=-1");
    EXPECT("filters=4 pad_left=-2", 1, x, CLNET_EPARSE, "pad_left=-2");
    EXPECT("filters=4 dilation=0", 1, x, CLNET_EPARSE, "dilation=0");
    EXPECT("filters=4 bias=maybe", 1, x, CLNET_EPARSE, "bias=maybe");
    EXPECT("filters=4 size=3", 1, x, CLNET_ENOTFOUND, "size");
    EXPECT("filters=4 algo=fft", 1, x, CLNET_EPARSE, "algo=fft");
    EXPECT("kernel=3", 1, x, CLNET_EINVAL, "filters");
    EXPECT("filters=4 groups=3", 1, x, CLNET_EINVAL, "groups=3");
    EXPECT("filters=6 groups=4", 1, x, CLNET_EINVAL, "filters=6");
    EXPECT("filters=4 kernel=7", 1, x, CLNET_ESHAPE, "[2,4,6,6]");
    EXPECT("filters=4 kernel=7", 1, x, CLNET_ESHAPE, "7x7");
    EXPECT("filters=4 kernel=3 dilation=3", 1, x, CLNET_ESHAPE, "dilation 3x3");
    EXPECT("filters=4 kernel=3,9 pad=0,1", 1, x, CLNET_ESHAPE, "3x9");
    EXPECT("filters=4", 1, ((clnet__shape){0, 4, 6, 6}), CLNET_ESHAPE, "[0,4,6,6]");
    EXPECT("filters=4", 1, ((clnet__shape){2, 4, 0, 6}), CLNET_ESHAPE, "[2,4,0,6]");
    EXPECT("filters=4", 2, x, CLNET_EINVAL, "2");
}
END_TEST

START_TEST(conv_plan_shapes)
{
    clnet__op_plan pl;
    char err[256];
    /* depthwise with two filters per channel, stride 2 on an odd input */
    ck_assert_int_eq(plan_of("filters=6 kernel=3 stride=2 pad=1 groups=3", 1,
                             (clnet__shape){5, 3, 7, 5}, &pl, err, sizeof err),
                     CLNET_OK);
    ck_assert(clnet__shape_eq(pl.out, (clnet__shape){5, 6, 4, 3}));
    ck_assert_int_eq(pl.n_params, 2);
    ck_assert_str_eq(pl.param_name[0], "weight");
    ck_assert_int_eq(pl.param[0].ndim, 4);
    ck_assert(pl.param[0].d[0] == 6 && pl.param[0].d[1] == 1 &&
              pl.param[0].d[2] == 3 && pl.param[0].d[3] == 3);
    ck_assert_int_eq(pl.param_init[0], CLNET__INIT_KAIMING);
    ck_assert_int_eq(pl.param_decay[0], 1);
    ck_assert_str_eq(pl.param_name[1], "bias");
    ck_assert(pl.param[1].ndim == 1 && pl.param[1].d[0] == 6);
    ck_assert_int_eq(pl.param_init[1], CLNET__INIT_BIAS);
    ck_assert_int_eq(pl.param_decay[1], 0);
    ck_assert_int_eq(pl.fan_in, 9);
    ck_assert_int_eq(pl.fan_out, 18);
    /* asymmetric padding and dilation: H 7+0+2-5+1 = 5, W (5+1+0-3)/2+1 = 2 */
    ck_assert_int_eq(plan_of("filters=2 kernel=3 dilation=2,1 stride=1,2 "
                             "pad_bottom=2 pad_left=1 bias=0",
                             1, (clnet__shape){1, 2, 7, 5}, &pl, err, sizeof err),
                     CLNET_OK);
    ck_assert(clnet__shape_eq(pl.out, (clnet__shape){1, 2, 5, 2}));
    ck_assert_int_eq(pl.n_params, 1);
    /* a big batch is chunked: the scratch stays near 64 MiB */
    ck_assert_int_eq(plan_of("filters=64 kernel=3 pad=1", 1,
                             (clnet__shape){1000, 64, 56, 56}, &pl, err, sizeof err),
                     CLNET_OK);
    ck_assert_msg(pl.work_count * sizeof(float) <= ((size_t)65 << 20),
                  "work %zu floats", pl.work_count);
    ck_assert(pl.work_count >= (size_t)(64 * 9 + 64) * 56 * 56);
}
END_TEST

/* Device buffer holding n floats from src (NULL: zeros). */
static clnet__tensor upload(const float *src, size_t n, clnet__buf **keep)
{
    float *zeros = src ? NULL : calloc(n, sizeof(float));
    ck_assert_int_eq(clnet__buf_create(ctx, n * sizeof(float), keep), CLNET_OK);
    ck_assert_int_eq(clnet__buf_write(ctx, *keep, 0, n * sizeof(float), src ? src : zeros),
                     CLNET_OK);
    free(zeros);
    return (clnet__tensor){*keep, 0, 0};
}

/* The network's input needs no gradient (din.buf == NULL): backward must
 * still produce the weight and bias gradients, on every algorithm. */
START_TEST(conv_without_input_gradient)
{
    static const char *const params[] = {"filters=4 kernel=3 pad=1 algo=gemm",
                                         "filters=4 kernel=3 pad=1 algo=direct",
                                         "filters=4 kernel=1"};
    clnet__shape in = {2, 3, 7, 5};
    const clnet__op *op = clnet__op_find("conv");
    for (int v = 0; v < 3; v++) {
        unsigned char p[CLNET__PARAMS_MAX];
        clnet__op_plan pl = {0};
        char err[256];
        ck_assert_int_eq(plan_of(params[v], 1, in, &pl, err, sizeof err), CLNET_OK);
        clnet__op_params_parse(op, p, params[v], err, sizeof err);
        size_t nx = clnet__shape_count(in), ny = clnet__shape_count(pl.out);
        size_t nw = clnet__dims_count(pl.param[0]), nb = clnet__dims_count(pl.param[1]);
        float *h = malloc((nx + ny + nw + nb) * sizeof(float));
        clnet_test_rng r;
        clnet_test_rng_seed(&r, 7 + (uint64_t)v);
        for (size_t i = 0; i < nx + ny + nw + nb; i++)
            h[i] = clnet_test_uniform(&r, -1, 1);
        float *x = h, *dy = h + nx, *w = dy + ny, *b = w + nw;
        clnet__buf *bufs[8] = {0};
        clnet__op_io io = {.n_in = 1, .in_shape = {in}, .out_shape = pl.out, .training = 1};
        io.in[0] = upload(x, nx, &bufs[0]);
        io.out = upload(NULL, ny, &bufs[1]);
        io.dout = upload(dy, ny, &bufs[2]);
        io.param[0] = upload(w, nw, &bufs[3]);
        io.param[1] = upload(b, nb, &bufs[4]);
        io.dparam[0] = upload(NULL, nw, &bufs[5]);
        io.dparam[1] = upload(NULL, nb, &bufs[6]);
        if (pl.work_count)
            io.work = upload(NULL, pl.work_count, &bufs[7]);
        ck_assert_int_eq(op->forward(ctx, p, &io), CLNET_OK);
        ck_assert_msg(op->backward(ctx, p, &io) == CLNET_OK, "%s", clnet_errmsg(ctx));
        float *dev = malloc((nw + nb) * sizeof(float));
        float *ref = calloc(nw + nb, sizeof(float));
        ck_assert_int_eq(clnet__buf_read(ctx, bufs[5], 0, nw * sizeof(float), dev), CLNET_OK);
        ck_assert_int_eq(clnet__buf_read(ctx, bufs[6], 0, nb * sizeof(float), dev + nw), CLNET_OK);
        clnet__ref_io rio = {.n_in = 1, .in_shape = {in}, .in = {x}, .out_shape = pl.out,
                             .dout = dy, .param = {w, b}, .dparam = {ref, ref + nw},
                             .training = 1};
        op->ref_backward(p, &rio);
        for (size_t i = 0; i < nw + nb; i++)
            ck_assert_msg(fabsf(dev[i] - ref[i]) <= 1e-4f * (1 + fabsf(ref[i])),
                          "%s: gradient %zu: device %g, reference %g", params[v], i,
                          (double)dev[i], (double)ref[i]);
        for (int i = 0; i < 8; i++)
            clnet__buf_release(ctx, bufs[i]);
        free(h);
        free(dev);
        free(ref);
    }
}
END_TEST

int main(void)
{
    ctx = clnet_test_ctx();
    Suite *s = suite_create("conv");
    TCase *args = tcase_create("arguments");
    tcase_add_test(args, conv_rejects_bad_arguments);
    tcase_add_test(args, conv_plan_shapes);
    suite_add_tcase(s, args);
    TCase *tc = tcase_create("device_vs_reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, conv_matches_reference);
    tcase_add_test(tc, conv_half_storage_matches_reference);
    tcase_add_test(tc, conv_implicit_matches_reference);
    tcase_add_test(tc, conv_without_input_gradient);
    suite_add_tcase(s, tc);
    int rc = clnet_test_run(s);
    clnet_ctx_free(ctx);
    return rc;
}
