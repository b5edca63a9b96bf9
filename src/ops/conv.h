/* conv2d internals shared by conv.c (parameters, plan), conv_ref.c (the
 * plain-C reference) and conv_device.c (OpenCL forward/backward).
 *
 * Device strategy (conv_device.c), chosen per shape or by the algo= key:
 *   - "direct": few inputs per output (channels per group x KH x KW <=
 *     CONV_DIRECT_MAX_TAPS: depthwise, or a 1- or 3-channel first layer),
 *     where the GEMM's inner dimension would be tiny. Kernels with one
 *     work-item per output row (forward), input row (dX) and weight (dW);
 *     2-3x faster than im2col + GEMM on such shapes on PoCL.
 *   - "gemm": everything else. A chunk of nb images is unrolled (im2col) into
 *     cols [C*KH*KW][nb*OH*OW] (rows grouped by conv group), one GEMM (batched
 *     over groups) gives [O][nb*OH*OW], and a kernel scatters that to NCHW
 *     adding the bias. Backward gathers dout into the same [O][nb*P] layout:
 *     dW += dOut*cols^T, cols = W^T*dOut, then col2im gathers into din.
 *     A 1x1 stride-1 unpadded ungrouped conv skips im2col in forward and dX
 *     (GEMMs batched over images read and write NCHW directly).
 *     dW's GEMM has a long inner dimension (nb*OH*OW) and a small output,
 *     which leaves most of the device idle, so (one group) it is split along
 *     that dimension into dw_split GEMMs batched into partial sums, then
 *     added up by a kernel (deterministic).
 *   - dbias: a two-level reduction of dout (per image and channel, then per
 *     channel), deterministic, no atomics.
 *   - "implicit": stride 1 (CPU and GPU alike), every pad at most the
 *     kernel's dilated extent minus one. No im2col: the input is copied once
 *     into a padded layout (conv_layout) where the patch of every output
 *     position is a fixed set of shifted windows, and the GEMM kernels read
 *     those windows directly as B's rows (clnet__sgemm_taps, cl/gemm.cl).
 *     Images of a chunk are stacked in one plane per channel, sharing their
 *     padding rows and columns, so a GEMM covers the whole chunk:
 *       forward  tmp[O][q] = W * taps(xpad), then crop (+bias) to NCHW;
 *       dX       dxt[C][q'] = flip(W)^T * taps(dypad), crop-added into din
 *                (a stride-1 convolution's data gradient is the full
 *                correlation of dy with the flipped kernel);
 *       dW      += dyq[O][q] * taps(xpad)^T, dyq = dy on the forward's
 *                output grid with zeros between the images' rows.
 *     Positions q that fall on padding are computed and dropped: 6% of the
 *     work at 32x32, 21% at 8x8 (3x3, pad 1), against im2col's 9 copies.
 * Chunking: nb is the largest image count whose cols + out buffers stay under
 * CONV_WORK_LIMIT floats (64 MiB), at least 1, so a large batch does not need
 * a huge scratch buffer; the batch_chunk= key overrides it. */
#ifndef CLNET_OPS_CONV_H
#define CLNET_OPS_CONV_H

#include "ops/op.h"

#define CONV_WORK_LIMIT ((size_t)16 << 20) /* floats: 64 MiB */
#define CONV_DW_SLICE 1024   /* aimed-for inner size of one dW slice */
#define CONV_DW_SPLIT_MAX 16

typedef struct conv_params {
    int filters;                /* 0 until set: required */
    int kh, kw, sh, sw, dh, dw;
    int pt, pb, pl, pr;
    int groups, bias;
    int batch_chunk;            /* images per im2col chunk; 0 = automatic */
    int algo;                   /* conv_algo */
} conv_params;

typedef enum conv_algo {
    CONV_ALGO_AUTO, CONV_ALGO_GEMM, CONV_ALGO_DIRECT, CONV_ALGO_IMPLICIT
} conv_algo;
typedef enum conv_path { CONV_GEMM, CONV_GEMM_1X1, CONV_DIRECT, CONV_IMPLICIT } conv_path;

/* A chunk of nb images of hh x ww pixels in the padded layout of the
 * implicit path: per channel one plane of `rows` rows of wp floats; pixel
 * (h, w) of image n at row row0 + n*hs + h, column col0 + w; everything else
 * zero. An output position (n, y, x) of the convolution over it is
 * q = (n*hs + y)*wp + x, and its tap (kh, kw) reads plane[q + kh*dh*wp +
 * kw*dw]; nq positions cover the chunk. */
typedef struct conv_layout {
    int row0, col0, hs, wp, rows;
    size_t plane, nq;
} conv_layout;

#define CONV_DIRECT_MAX_TAPS 32

/* Everything derived from the parameters and the input shape. */
typedef struct conv_geom {
    int n, c, h, w;     /* input */
    int o, oh, ow;      /* output channels and size */
    int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    int g, cg, og;      /* groups; input and output channels per group */
    int bias;
    int nb;             /* images per im2col chunk (gemm paths) */
    conv_path path;
    size_t p;           /* oh * ow */
    size_t kk;          /* kh * kw */
    int dw_split;       /* slices of dW's inner dimension (gemm paths) */
    /* work buffer regions, in this order */
    size_t cols_count, tmp_count, dwpart_count, partial_count;
    /* implicit path: x padded for forward and dW (fx), dy padded for dX
     * (bx); dyq_shared: dy on fx's output grid is a view of bx's buffer. */
    conv_layout fx, bx;
    int dyq_shared;
} conv_geom;

/* Work regions of the implicit path, in elements from the work buffer's
 * start: xpad first; after it forward's tmp, or backward's dypad, dyq,
 * flipped weights and dX's tmp. With half (fp16-storage: the activation
 * copies are halves) the flipped weights and dbias partials move to the
 * fp32 part after the first `act` elements (op.h, clnet__work_f32), and
 * wflip and partial count floats in that part; in fp32 act is 0 and they
 * are plain offsets. end: the activation regions' end. */
typedef struct conv_implicit_regions {
    size_t xpad, tmp, dypad, dyq, wflip, dxt, end;
    size_t act, partial;
} conv_implicit_regions;

conv_implicit_regions conv_implicit_regions_of(const conv_geom *g, int half);
/* 1 when the implicit path can run p (stride 1, pads within the kernel). */
int conv_implicit_fits(const conv_params *p);
/* Fills g->fx, g->bx, g->dyq_shared for a chunk of g->nb images. */
void conv_implicit_layouts(conv_geom *g);
clnet_status conv_implicit_forward(clnet_ctx *ctx, const conv_geom *g,
                                   const clnet__op_io *io);
clnet_status conv_implicit_backward(clnet_ctx *ctx, const conv_geom *g,
                                    const clnet__op_io *io, int want_dw,
                                    int want_dx);

/* Floats of one input and one output image (NCHW). */
static inline size_t in_image(const conv_geom *g)
{
    return (size_t)g->c * g->h * g->w;
}

static inline size_t out_image(const conv_geom *g)
{
    return (size_t)g->o * g->p;
}

/* Checks params against the input shape and fills g; CLNET_ESHAPE or
 * CLNET_EINVAL with a message naming shapes and values. */
clnet_status conv_geom_make(const conv_params *p, clnet__shape in,
                            conv_geom *g, char *err, size_t errlen);

void conv_ref_forward(const void *params, const clnet__ref_io *io);
void conv_ref_backward(const void *params, const clnet__ref_io *io);
clnet_status conv_forward(clnet_ctx *ctx, const void *params,
                          const clnet__op_io *io);
clnet_status conv_backward(clnet_ctx *ctx, const void *params,
                           const clnet__op_io *io);

#endif
