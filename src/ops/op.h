/* The op interface: every layer kind (conv, dense, relu, ...) is one const
 * clnet__op table in its own file under src/ops/, found through the registry
 * (registry.c) by enum or by name.
 *
 * An op provides
 *   - its parameters: a private struct, defaults, and a string setter used
 *     by the model-file parser (and by tests: "kernel=3 stride=2 pad=1");
 *   - plan: shape inference plus the sizes of everything else it needs
 *     (learnable parameters with their init rule, persistent state, tensors
 *     saved from forward for backward, scratch);
 *   - forward/backward on the device (kernels in cl/, GEMM through CLBlast);
 *   - a plain-C reference forward/backward, simple and obviously right, used
 *     by the tests (and nowhere else).
 * Backward ACCUMULATES: din += dL/din and dparam += dL/dparam, so fan-out in
 * the graph needs no special case. A gradient tensor whose buf is NULL (host
 * pointer NULL in the reference) is not wanted (e.g. the network's input).
 * An op that sets writes_din also honours io->din_write: where bit k is set,
 * its backward is the first contribution to din[k] and WRITES it (din[k]
 * holds garbage and is never read), which saves the executor zeroing the
 * gradient beforehand and the kernel reading it. */
#ifndef CLNET_OP_H
#define CLNET_OP_H

#include "clnet/clnet.h"
#include "ocl/ocl.h"

#include <stddef.h>
#include <stdint.h>

#define CLNET__MAX_IN 8
#define CLNET__MAX_PARAMS 2
#define CLNET__MAX_STATE 2
#define CLNET__MAX_SAVED 3

/* Activation tensor shape, NCHW. Flat (dense) tensors have h = w = 1. */
typedef struct clnet__shape {
    int n, c, h, w;
} clnet__shape;

static inline size_t clnet__shape_count(clnet__shape s)
{
    return (size_t)s.n * (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* Shape of a parameter or state tensor with PyTorch's layout and rank
 * (conv weight O x I/g x kH x kW, dense weight out x in, bias [out]). */
typedef struct clnet__dims {
    int ndim;
    int d[4];
} clnet__dims;

static inline size_t clnet__dims_count(clnet__dims d)
{
    size_t n = 1;
    for (int i = 0; i < d.ndim; i++)
        n *= (size_t)d.d[i];
    return n;
}

typedef enum clnet__init {
    CLNET__INIT_ZERO,
    CLNET__INIT_ONE,
    CLNET__INIT_KAIMING,  /* weights: scaled by fan_in (He) */
    CLNET__INIT_BIAS      /* uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), as PyTorch */
} clnet__init;

/* What plan() reports about one op instance. */
typedef struct clnet__op_plan {
    clnet__shape out;
    int n_params;
    const char *param_name[CLNET__MAX_PARAMS]; /* "weight", "bias", ... */
    clnet__dims param[CLNET__MAX_PARAMS];
    clnet__init param_init[CLNET__MAX_PARAMS];
    int param_decay[CLNET__MAX_PARAMS];         /* weight decay applies */
    int fan_in, fan_out;                        /* for initialisation */
    int n_state;                                /* persistent, not learned */
    const char *state_name[CLNET__MAX_STATE];  /* "running_mean", ... */
    clnet__dims state[CLNET__MAX_STATE];
    clnet__init state_init[CLNET__MAX_STATE];
    int n_saved;                                /* forward -> backward */
    size_t saved_count[CLNET__MAX_SAVED];       /* floats each */
    size_t work_count;                          /* scratch floats, fwd+bwd */
    /* Under fp16-storage (clnet_precision) the scratch may instead be
     * work_half halves of activation copies (im2col columns, padded
     * images), then work_half_f32 floats the op keeps in fp32 (partial
     * sums, flipped weights): clnet__work_f32. work_half == 0: the scratch
     * stays work_count floats whatever the precision. */
    size_t work_half, work_half_f32;
    double flops_forward;                       /* multiply-adds count 2 */
} clnet__op_plan;

/* Sync batchnorm (include/clnet/dist.h, clnet_reducer.sync_batchnorm):
 * sums n floats of t in place across the replicas of a data-parallel run
 * (through the host: it waits for the device), and how many replicas there
 * are, each with a batch of the same size. */
typedef struct clnet__sync {
    clnet_status (*sum)(void *user, clnet__tensor t, size_t n);
    void *user;
    int replicas;
} clnet__sync;

/* Everything a device forward/backward touches. Unused tensors are {0}. */
typedef struct clnet__op_io {
    int n_in;
    clnet__shape in_shape[CLNET__MAX_IN];
    clnet__tensor in[CLNET__MAX_IN], din[CLNET__MAX_IN];
    clnet__shape out_shape;
    clnet__tensor out, dout;
    clnet__tensor param[CLNET__MAX_PARAMS], dparam[CLNET__MAX_PARAMS];
    clnet__tensor state[CLNET__MAX_STATE];
    clnet__tensor saved[CLNET__MAX_SAVED];
    clnet__tensor work;
    int training;       /* 1: batch statistics, dropout active, save for bwd */
    uint64_t seed;      /* per-step seed for random masks */
    unsigned din_write; /* bit k: backward writes din[k] (see above) */
    /* A relu that followed this layer is fused into it (an op with
     * fuses_relu; src/graph/fuse.c): forward writes relu(result) to out,
     * and backward's dout is the gradient after the relu, masked here by
     * out > 0 (out being the relu's output). */
    int relu_after;
    /* Recompute (src/graph/recompute.c): this training forward replays one
     * that already ran in this step, to rebuild what backward reads. It
     * must produce the same values and leave persistent state (running
     * statistics) alone; an op with replay_reads_saved may skip recomputing
     * its saved tensors, which then outlive the first forward. */
    int replay;
    /* Training batch statistics summed over replicas (clnet__sync); NULL:
     * this replica's batch alone. */
    const clnet__sync *sync;
} clnet__op_io;

/* Halves the fp32 part of a half scratch starts at a multiple of. */
#define CLNET__WORK_ALIGN 64

/* Bytes of p's scratch, fp32 or (fp16 != 0) its fp16-storage layout. */
static inline size_t clnet__work_bytes(const clnet__op_plan *p, int fp16)
{
    if (!fp16 || !p->work_half)
        return p->work_count * sizeof(float);
    size_t a = (p->work_half + CLNET__WORK_ALIGN - 1) / CLNET__WORK_ALIGN *
               CLNET__WORK_ALIGN;
    return a * 2 + p->work_half_f32 * sizeof(float);
}

/* fp32 view at float `off` of the scratch's fp32 part, which follows the
 * first `act` elements: under fp16-storage (work.half; work.off must be
 * even, as arena offsets are) those are halves and the fp32 part starts
 * CLNET__WORK_ALIGN-aligned after them; in an fp32 scratch it is simply
 * float act + off. */
static inline clnet__tensor clnet__work_f32(clnet__tensor work, size_t act,
                                            size_t off)
{
    if (!work.half) {
        work.off += act + off;
        return work;
    }
    size_t a = (act + CLNET__WORK_ALIGN - 1) / CLNET__WORK_ALIGN * CLNET__WORK_ALIGN;
    return (clnet__tensor){work.buf, (work.off + a) / 2 + off, 0};
}

/* The same for the host reference: plain float arrays. */
typedef struct clnet__ref_io {
    int n_in;
    clnet__shape in_shape[CLNET__MAX_IN];
    const float *in[CLNET__MAX_IN];
    float *din[CLNET__MAX_IN];
    clnet__shape out_shape;
    float *out;
    const float *dout;
    const float *param[CLNET__MAX_PARAMS];
    float *dparam[CLNET__MAX_PARAMS];
    float *state[CLNET__MAX_STATE];
    float *saved[CLNET__MAX_SAVED];
    int training;
    uint64_t seed;
} clnet__ref_io;

/* Longest op parameter struct; params live in a buffer of this size. */
#define CLNET__PARAMS_MAX 128

typedef struct clnet__op {
    const char *name;          /* model-file section name, e.g. "conv" */
    int min_inputs, max_inputs;
    size_t params_size;        /* <= CLNET__PARAMS_MAX */
    void (*defaults)(void *params);
    /* Sets one key from text. CLNET_ENOTFOUND for an unknown key, CLNET_EPARSE
     * for a bad value; err receives a message naming key and value. */
    clnet_status (*set)(void *params, const char *key, const char *value,
                        char *err, size_t errlen);
    /* Checks params against input shapes; fills the plan. CLNET_ESHAPE or
     * CLNET_EINVAL with a message naming the shapes or values. */
    clnet_status (*plan)(const void *params, int n_in, const clnet__shape *in,
                         clnet__op_plan *plan, char *err, size_t errlen);
    clnet_status (*forward)(clnet_ctx *ctx, const void *params,
                            const clnet__op_io *io);
    clnet_status (*backward)(clnet_ctx *ctx, const void *params,
                             const clnet__op_io *io);
    void (*ref_forward)(const void *params, const clnet__ref_io *io);
    void (*ref_backward)(const void *params, const clnet__ref_io *io);
    int writes_din;            /* backward honours io->din_write */
    int fuses_relu;            /* forward/backward honour io->relu_after */
    int replay_reads_saved;    /* a replay forward reuses io->saved as the
                                  first forward left them (op_io.replay) */
} clnet__op;

/* ---- registry (registry.c) --------------------------------------------- */
typedef enum clnet__op_kind {
    CLNET_OP_CONV,
    CLNET_OP_DENSE,
    CLNET_OP_MAXPOOL,
    CLNET_OP_AVGPOOL,
    CLNET_OP_GLOBALAVGPOOL,
    CLNET_OP_BATCHNORM,
    CLNET_OP_DROPOUT,
    CLNET_OP_RELU,
    CLNET_OP_LEAKYRELU,
    CLNET_OP_SIGMOID,
    CLNET_OP_TANH,
    CLNET_OP_GELU,
    CLNET_OP_SILU,
    CLNET_OP_RELU6,
    CLNET_OP_HARDSIGMOID,
    CLNET_OP_HARDSWISH,
    CLNET_OP_ADD,
    CLNET_OP_CONCAT,
    CLNET_OP_FLATTEN,
    CLNET_OP_COUNT
} clnet__op_kind;

const clnet__op *clnet__op_get(clnet__op_kind kind);
/* NULL when no op has that name. */
const clnet__op *clnet__op_find(const char *name);

/* Applies "key=value key=value ..." (spaces or semicolons between pairs) through
 * op->set after op->defaults. For tests and tools. */
clnet_status clnet__op_params_parse(const clnet__op *op, void *params,
                                    const char *text, char *err, size_t errlen);

#endif
