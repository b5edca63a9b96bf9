/* The OpenCL layer: the only part of clnet that calls cl* functions.
 *
 * Ops and the graph executor see buffers (clnet__buf), tensor views into them
 * (clnet__tensor = buffer + float offset), kernels fetched by program and
 * kernel name, a launch call taking a typed argument list, and a SGEMM wrapper
 * over CLBlast. Everything is enqueued on the context's in-order compute queue
 * unless a function says otherwise. */
#ifndef CLNET_OCL_H
#define CLNET_OCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "clnet/clnet.h"
#include <stddef.h>
#include <stdint.h>

/* Device capabilities that shape kernel build options. Filled from the real
 * device by the layer, or by hand (tools/check-kernels) for offline targets. */
typedef struct clnet__device_caps {
    int opencl_c_major, opencl_c_minor; /* CL_DEVICE_OPENCL_C_VERSION */
    int fp16, fp64;
    unsigned vec_float;                 /* preferred float vector width */
    size_t max_wg;                      /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    uint64_t local_mem;                 /* bytes */
    int is_cpu;
    size_t forced_local; /* $CLNET_FORCE_LOCAL at context creation, or 0 */
} clnet__device_caps;

/* The one function that turns device capabilities into the -D/-cl options
 * every program is built with (kernel-specific options are appended by the
 * caller). Writes a NUL-terminated string into buf. */
void clnet__build_options(const clnet__device_caps *caps, char *buf,
                          size_t cap);

typedef struct clnet__buf {
    cl_mem mem;
    size_t bytes;          /* usable size (the size asked for) */
    size_t class_bytes;    /* pool size class actually allocated */
    struct clnet__buf *next_free;
} clnet__buf;

/* A tensor view: elements start at buf + off elements of its storage type.
 * Storage is fp32 (half = 0, what a zero-initialised view is) or 16-bit
 * half (half = 1: fp16-storage activations, read and written by kernels
 * through vload_half / vstore_half_rte and computed in fp32; cl/common.h).
 * A launcher builds a kernel for the storage of the tensors it passes
 * (clnet__half_opt). */
typedef struct clnet__tensor {
    clnet__buf *buf;
    size_t off;
    unsigned char half;
} clnet__tensor;

/* Bytes per element of t's storage. */
static inline size_t clnet__esize(clnet__tensor t) { return t.half ? 2 : 4; }

/* Appends " -DHALF_<name>=1" to the NUL-terminated options in buf when t is
 * stored as half: the kernel argument `name` (TENSOR(name) in cl/common.h)
 * is then half. fp32 tensors add nothing, so an all-fp32 launch builds
 * exactly the program it always did. */
void clnet__half_opt(char *buf, size_t cap, const char *name, clnet__tensor t);

/* IEEE binary16 <-> float on the host, rounding to nearest even (as the
 * kernels' vstore_half_rte); overflow gives infinity, NaN stays NaN. */
uint16_t clnet__half_from_float(float f);
float clnet__half_to_float(uint16_t h);

typedef struct clnet__kernel {
    cl_kernel k;
    size_t max_wg;         /* CL_KERNEL_WORK_GROUP_SIZE for this device */
    char name[64];
} clnet__kernel;

typedef struct clnet__program_entry clnet__program_entry; /* program.c */
typedef struct clnet__kernel_entry clnet__kernel_entry;   /* kernel.c */

typedef struct clnet__ocl {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;        /* compute, in order */
    cl_command_queue upload_queue; /* host->device copies overlapping compute */
    clnet__device_caps caps;
    clnet_device_desc desc;
    char base_options[512];
    /* program cache (cache_policy.c says who keeps programs, and why) */
    char cache_dir[1024];
    int cache_enabled;             /* cache_dir is usable (binaries, tuning) */
    int program_cache;             /* clnet_program_cache: OFF, CLNET, DRIVER */
    const struct clnet__driver_cache *driver_cache; /* DRIVER: which one */
    char driver_cache_dir[1024];   /* DRIVER: where it lives ("" unknown) */
    int cache_warned;
    clnet__program_entry *programs;
    clnet__kernel_entry *kernels;
    /* buffer pool: free lists per power-of-two size class */
    clnet__buf *pool_free[64];
    size_t pool_bytes_live, pool_bytes_peak;
    unsigned clblast_built;        /* CLBlast routines run once here (blas.c) */
    struct clnet__gemm_state *gemm; /* GEMM choices (src/ocl/gemm_tune.c) */
    int gemm_fp16;                 /* GEMMs round their operands to half
                                      (precision fp16: the graph sets it
                                      around its passes; cl/gemm.cl,
                                      GEMM_FP16) */
    int profiling;                 /* compute queue has profiling (profile.h) */
    struct clnet__prof *prof;      /* recording state, NULL when not */
    int partition, partition_index;/* a sub-device: part index of partition */
    int sub_device;                /* device is a sub-device (released at close) */
} clnet__ocl;

/* ---- context lifecycle (context.c) ------------------------------------- */
clnet_status clnet__ocl_open(clnet_ctx *ctx, const char *selector);
void clnet__ocl_close(clnet_ctx *ctx);
clnet__ocl *clnet__ocl_of(clnet_ctx *ctx);
/* Part index of the parent split into `parts` equal sub-devices
 * (subdevice.c); the description's compute units and memory become the
 * part's. */
clnet_status clnet__subdevice_pick(clnet_ctx *ctx, cl_device_id parent, int parts,
                                   int index, cl_device_id *out);

/* Text of an OpenCL error code, e.g. "CL_OUT_OF_RESOURCES". */
const char *clnet__cl_error_name(cl_int err);
/* Records "call failed: CL_XXX (-5)" as the context's error. */
clnet_status clnet__cl_fail(clnet_ctx *ctx, cl_int err, const char *call);

/* ---- device selection (device.c) --------------------------------------- */
/* Parses a selector against the device list; returns the index chosen or an
 * error listing the devices. Pure: testable without a device. */
clnet_status clnet__device_pick(const clnet_device_desc *list, size_t n,
                                const char *selector, size_t *picked,
                                char *errbuf, size_t errlen);
/* The default device: first GPU, else the first of any type. */
size_t clnet__device_default(const clnet_device_desc *list, size_t n);

/* ---- buffers (buffer.c) ------------------------------------------------ */
/* Device memory from the context's pool (recycled by size class). Failures
 * become CLNET_ENOMEM naming the size asked for and the device's limits. */
clnet_status clnet__buf_create(clnet_ctx *ctx, size_t bytes, clnet__buf **out);
/* The device bytes a request of `bytes` takes (its pool size class). */
size_t clnet__buf_alloc_bytes(clnet_ctx *ctx, size_t bytes);
void clnet__buf_release(clnet_ctx *ctx, clnet__buf *b); /* NULL ok */
void clnet__pool_drain(clnet_ctx *ctx); /* frees every pooled buffer */

/* Blocking copies on the compute queue (used at set-up and for scalars). */
clnet_status clnet__buf_write(clnet_ctx *ctx, clnet__buf *b, size_t off_bytes,
                              size_t bytes, const void *src);
clnet_status clnet__buf_read(clnet_ctx *ctx, const clnet__buf *b,
                             size_t off_bytes, size_t bytes, void *dst);
/* Fills n elements starting at element t.off with value v (enqueued);
 * a half tensor gets v rounded to half. */
clnet_status clnet__fill(clnet_ctx *ctx, clnet__tensor t, size_t n, float v);
/* Copies n elements between tensor views (enqueued), converting when one
 * is half and the other fp32 (cl/tensor.cl, tensor_convert). */
clnet_status clnet__copy(clnet_ctx *ctx, clnet__tensor dst, clnet__tensor src,
                         size_t n);

/* Non-blocking upload on the upload queue. src must stay valid and unchanged
 * until clnet__upload_wait returns. The next compute work enqueued after
 * clnet__compute_after_upload waits for this upload. */
typedef struct clnet__upload { cl_event ev; } clnet__upload;
clnet_status clnet__upload_start(clnet_ctx *ctx, clnet__buf *b,
                                 size_t off_bytes, size_t bytes,
                                 const void *src, clnet__upload *up);
clnet_status clnet__compute_after_upload(clnet_ctx *ctx, clnet__upload *up);
clnet_status clnet__upload_wait(clnet_ctx *ctx, clnet__upload *up);

clnet_status clnet__finish(clnet_ctx *ctx);  /* waits for the compute queue */
/* Program cache policy (cache_policy.c): sets ocl.program_cache from a
 * clnet_program_cache setting (OFF, AUTO or CLNET) and the driver. */
void clnet__cache_choose(clnet_ctx *ctx, int setting);
/* DRIVER: how many programs the driver's cache holds now (-1 when it cannot
 * be counted). The self-test compares it before and after a build pass. */
long clnet__driver_cache_entries(const clnet_ctx *ctx);

/* A point in the compute queue (events.c): uploads can wait for the work
 * enqueued before it, e.g. the step that still reads an input slot. */
typedef struct clnet__marker { cl_event ev; } clnet__marker;
clnet_status clnet__marker_record(clnet_ctx *ctx, clnet__marker *m);
void clnet__marker_clear(clnet__marker *m);
/* Waits for the work enqueued before marker m (and releases it). */
clnet_status clnet__marker_wait(clnet_ctx *ctx, clnet__marker *m);
/* Non-blocking read on the compute queue, after the work enqueued before
 * it, flushed; dst must stay valid until the read is waited for with
 * clnet__transfer_wait. */
clnet_status clnet__download_start(clnet_ctx *ctx, const clnet__buf *b,
                                   size_t off_bytes, size_t bytes, void *dst,
                                   clnet__upload *done);
/* Waits for an upload or download and releases it; for any thread (it
 * leaves the context's error message alone: the caller reports). */
clnet_status clnet__transfer_wait(clnet__upload *t);
/* clnet__upload_start that first waits (on the device) for marker m. */
clnet_status clnet__upload_after(clnet_ctx *ctx, clnet__buf *b,
                                 size_t off_bytes, size_t bytes,
                                 const void *src, const clnet__marker *m,
                                 clnet__upload *up);

/* ---- kernel sources (sources.c, embedded by the build) ------------------ */
/* The source of program `name` (cl/<name>.cl) with #include "common.h"
 * inlined; from $CLNET_KERNEL_DIR when set, else the embedded copy.
 * *out is malloc'd; the caller frees it. */
clnet_status clnet__program_source(clnet_ctx *ctx, const char *name,
                                   char **out);
/* Names of every program in cl/ (excluding headers), NULL-terminated. */
const char *const *clnet__program_names(void);

/* ---- programs and kernels (program.c, cache.c) ------------------------- */
/* Builds (or loads from cache) program `name` with the base options plus
 * `extra` (may be NULL) once per context, and returns the kernel, created once
 * per context and reused. A build failure is CLNET_EBUILD with the log. */
clnet_status clnet__kernel_get(clnet_ctx *ctx, const char *program,
                               const char *extra, const char *kernel,
                               clnet__kernel **out);
/* Builds program `name` (for self-tests and warm-up). */
clnet_status clnet__program_build(clnet_ctx *ctx, const char *name,
                                  const char *extra);
/* Builds an arbitrary source (tests: broken kernels). Not cached in memory,
 * but goes through the disk cache. The program is released before return. */
clnet_status clnet__program_build_source(clnet_ctx *ctx, const char *label,
                                         const char *source,
                                         const char *extra);

/* ---- launches (launch.c) ----------------------------------------------- */
typedef enum clnet__arg_kind {
    CLNET__ARG_BUF,
    CLNET__ARG_I32,
    CLNET__ARG_U32,
    CLNET__ARG_F32,
    CLNET__ARG_U64,
    CLNET__ARG_LOCAL
} clnet__arg_kind;

typedef struct clnet__arg {
    clnet__arg_kind kind;
    union {
        const clnet__buf *buf;
        int32_t i32;
        uint32_t u32;
        float f32;
        uint64_t u64;
        size_t local_bytes;
    } v;
} clnet__arg;

#define CLNET_ARG_BUF(b) ((clnet__arg){.kind = CLNET__ARG_BUF, .v.buf = (b)})
#define CLNET_ARG_I32(x) ((clnet__arg){.kind = CLNET__ARG_I32, .v.i32 = (int32_t)(x)})
#define CLNET_ARG_U32(x) ((clnet__arg){.kind = CLNET__ARG_U32, .v.u32 = (uint32_t)(x)})
#define CLNET_ARG_F32(x) ((clnet__arg){.kind = CLNET__ARG_F32, .v.f32 = (float)(x)})
#define CLNET_ARG_U64(x) ((clnet__arg){.kind = CLNET__ARG_U64, .v.u64 = (uint64_t)(x)})
#define CLNET_ARG_LOCAL(n) ((clnet__arg){.kind = CLNET__ARG_LOCAL, .v.local_bytes = (n)})
/* A tensor is passed as two kernel arguments: (global float *p, uint off). */
#define CLNET_ARG_T(t) CLNET_ARG_BUF((t).buf), CLNET_ARG_U32((t).off)

/* Enqueues k on the compute queue. local may be NULL (driver's choice);
 * global sizes need not be multiples of anything when local is NULL. When
 * local is given, global is rounded up to a multiple of it here, so kernels
 * must bounds-check their indices. */
clnet_status clnet__launch(clnet_ctx *ctx, const clnet__kernel *k,
                           unsigned dims, const size_t *global,
                           const size_t *local, size_t nargs,
                           const clnet__arg *args);
#define CLNET__LAUNCH(ctx, k, dims, global, local, ...)                     \
    clnet__launch((ctx), (k), (dims), (global), (local),                    \
                  sizeof((clnet__arg[]){__VA_ARGS__}) / sizeof(clnet__arg), \
                  (clnet__arg[]){__VA_ARGS__})

/* A work-group size for 1-D elementwise kernels on this device. */
size_t clnet__wg_1d(clnet_ctx *ctx, const clnet__kernel *k);

/* CLNET_FORCE_LOCAL=N, a test switch (0 when unset): every local size clnet
 * chooses becomes N, so kernels are exercised with group sizes such as 1 or
 * 7. clnet__wg_1d returns N (within the kernel's and device's limits), and
 * clnet__launch runs any launch given a local size with {N, 1, 1}, except a
 * kernel with local memory: its caller sized that memory (and its grid of
 * groups) for its own choice, and takes N through its own chooser where the
 * kernel allows (batchnorm's reductions; the optimizer's norm rounds N down
 * to a power of two). */
size_t clnet__forced_local(clnet_ctx *ctx);

/* Reads $CLNET_FORCE_LOCAL (a whole number; 0 when unset or not one). */
size_t clnet__forced_local_from_env(void);

/* ---- BLAS (blas.c, gemm*.c: clnet's kernels and CLBlast) --------------- */
/* Row-major C = alpha * op(A) * op(B) + beta * C on the compute queue, by
 * clnet's own kernel (cl/gemm.cl) or CLBlast, whichever src/ocl/gemm_tune.c
 * picks for the shape: the same shape always picks the same one within a
 * context. beta == 0 never reads C. CLNET_EINVAL when an operand does not
 * fit its buffer. Environment: CLNET_GEMM=<variant> forces a variant where
 * it applies; CLNET_GEMM_TUNE=1 times the candidates for each new shape
 * class and stores the winner in the cache directory (gemm-<hash>.txt). */
clnet_status clnet__sgemm(clnet_ctx *ctx, int trans_a, int trans_b, size_t m,
                          size_t n, size_t k, float alpha, clnet__tensor a,
                          size_t lda, clnet__tensor b, size_t ldb, float beta,
                          clnet__tensor c, size_t ldc);
/* The same for `batch` matrices at fixed strides (in floats). */
clnet_status clnet__sgemm_batched(clnet_ctx *ctx, int trans_a, int trans_b,
                                  size_t m, size_t n, size_t k, float alpha,
                                  clnet__tensor a, size_t lda, size_t stride_a,
                                  clnet__tensor b, size_t ldb, size_t stride_b,
                                  float beta, clnet__tensor c, size_t ldc,
                                  size_t stride_c, size_t batch);
/* B's row addressing for an implicit-GEMM convolution (cl/gemm.cl): kk == 0
 * is an ordinary matrix (rows ldb apart); otherwise B's row r (r over k, or
 * over n when B is transposed) starts at
 *   (r / kk) * ldb + ((r % kk) / kw) * row + (r % kw) * col
 * floats from B's start: r = (channel, kernel row, kernel column) and B a
 * padded image whose channel planes lie ldb apart. */
typedef struct clnet__gemm_taps {
    int kk, kw;
    size_t row, col;
} clnet__gemm_taps;

/* clnet__sgemm_batched with B addressed through taps (kk > 0), by clnet's
 * own kernels only (CLBlast has no such operand; CLNET_GEMM forces one as
 * for any GEMM). CLNET_EUNSUPPORTED when no kernel can run it here. */
clnet_status clnet__sgemm_taps(clnet_ctx *ctx, int trans_a, int trans_b,
                               size_t m, size_t n, size_t k,
                               float alpha, clnet__tensor a, size_t lda,
                               size_t stride_a, clnet__tensor b, size_t ldb,
                               clnet__gemm_taps taps, size_t stride_b,
                               float beta, clnet__tensor c, size_t ldc,
                               size_t stride_c, size_t batch);
/* Runs one named variant (tests, tools/bench): CLNET_ENOTFOUND for an
 * unknown name, CLNET_EUNSUPPORTED when it cannot run this problem here. */
clnet_status clnet__sgemm_variant(clnet_ctx *ctx, const char *variant,
                                  int trans_a, int trans_b, size_t m, size_t n,
                                  size_t k, float alpha, clnet__tensor a,
                                  size_t lda, size_t stride_a, clnet__tensor b,
                                  size_t ldb, size_t stride_b, float beta,
                                  clnet__tensor c, size_t ldc, size_t stride_c,
                                  size_t batch);
/* Name of variant i ("clblast" first), NULL past the last. */
const char *clnet__sgemm_variant_name(size_t i);
/* Sets whether the context's GEMMs round their operands to half (precision
 * fp16, src/ocl/gemm.h); returns the previous setting. */
int clnet__gemm_fp16_set(clnet_ctx *ctx, int on);
/* CLBlast's tuned Xgemm parameters ("NAME=VALUE ...", from CLBlast's tuner):
 * applied to this device now and stored in the GEMM tuning file, so later
 * contexts apply them too (unless CLNET_CLBLAST_TUNED=0). */
clnet_status clnet__clblast_tuned_set(clnet_ctx *ctx, const char *params);
/* The parameters CLBlast runs with in this context, or NULL (none stored,
 * CLNET_CLBLAST_TUNED=0, or CLBlast refused them). */
const char *clnet__clblast_tuned(clnet_ctx *ctx);
/* The variant clnet__sgemm_batched runs for this shape (static string). */
const char *clnet__sgemm_choice(clnet_ctx *ctx, int trans_a, int trans_b,
                                size_t m, size_t n, size_t k, size_t batch);

#endif
