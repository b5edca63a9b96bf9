/*
 * clnet — portable neural-network training on any OpenCL device.
 *
 * Overview
 *   A clnet_ctx owns one OpenCL device (context, a compute queue and an upload
 *   queue, the compiled kernel programs and a buffer pool). Everything else in
 *   the library hangs off a context. Every fallible call returns clnet_status:
 *   CLNET_OK (0) on success, a negative CLNET_E* code on failure; the context
 *   then holds a human-readable message in clnet_errmsg(ctx) (the kernel build
 *   log, the file and line of a bad model file, the two shapes that differ).
 *   The library never prints, exits or aborts: messages go to the log callback
 *   given in the settings (none by default).
 *
 * Example
 *   #include <clnet/clnet.h>
 *   #include <stdio.h>
 *
 *   static void log_cb(void *user, clnet_log_level lvl, const char *msg) {
 *       (void)user; if (lvl <= CLNET_LOG_INFO) fprintf(stderr, "%s\n", msg);
 *   }
 *
 *   int main(void) {
 *       clnet_ctx_settings s;
 *       clnet_ctx_default_settings(&s);
 *       s.device = "gpu";          // or "0", or NULL for the default device
 *       s.log = log_cb;
 *       clnet_ctx *ctx = NULL;
 *       clnet_status st = clnet_ctx_create(&ctx, &s);
 *       if (st != CLNET_OK) {
 *           fprintf(stderr, "%s: %s\n", clnet_status_name(st),
 *                   ctx ? clnet_errmsg(ctx) : clnet_strerror(st));
 *           clnet_ctx_free(ctx);
 *           return 1;
 *       }
 *       printf("running on %s\n", clnet_ctx_device_name(ctx));
 *       clnet_ctx_free(ctx);
 *       return 0;
 *   }
 *
 * Ownership and threads
 *   Handles are created by clnet_*_create/load and released by clnet_*_free;
 *   clnet_*_free(NULL) is a no-op. Strings returned by the library are borrowed:
 *   valid until the next call on the same handle, never to be freed by the
 *   caller. A handle may be used by one thread at a time; different contexts
 *   may be used from different threads concurrently.
 */
#ifndef CLNET_CLNET_H
#define CLNET_CLNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLNET_VERSION_MAJOR 0
#define CLNET_VERSION_MINOR 1
#define CLNET_VERSION_PATCH 0
#define CLNET_VERSION_STRING "0.1.0"

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH". */
const char *clnet_version(void);

/* Status codes: X(NAME, value, description). One table makes the enum,
 * clnet_status_name() and clnet_strerror(). */
#define CLNET_STATUS_MAP(X)                                                   \
    X(OK, 0, "success")                                                       \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(ENODEV, -3, "no matching OpenCL device")                                \
    X(EOPENCL, -4, "OpenCL call failed")                                      \
    X(EBUILD, -5, "OpenCL program build failed")                              \
    X(ESHAPE, -6, "tensor shapes do not match")                               \
    X(EIO, -7, "file input/output error")                                     \
    X(EPARSE, -8, "malformed input file")                                     \
    X(EFORMAT, -9, "unsupported or corrupt file format")                      \
    X(EBLAS, -10, "CLBlast call failed")                                      \
    X(ENOTFOUND, -11, "not found")                                            \
    X(EUNSUPPORTED, -12, "not supported on this device or build")             \
    X(ENUMERIC, -13, "non-finite value (NaN or Inf)")                         \
    X(EINTERRUPTED, -14, "interrupted")                                       \
    X(EINTERNAL, -15, "internal error (a bug in clnet)")

typedef enum clnet_status {
#define CLNET__STATUS_ENUM(name, value, desc) CLNET_##name = value,
    CLNET_STATUS_MAP(CLNET__STATUS_ENUM)
#undef CLNET__STATUS_ENUM
} clnet_status;

/* "CLNET_EINVAL" etc.; "CLNET_UNKNOWN" for a value not in the table. */
const char *clnet_status_name(clnet_status st);
/* A short description of the code, e.g. "invalid argument". */
const char *clnet_strerror(clnet_status st);

typedef enum clnet_log_level {
    CLNET_LOG_ERROR = 0,
    CLNET_LOG_WARN = 1,
    CLNET_LOG_INFO = 2,
    CLNET_LOG_DEBUG = 3
} clnet_log_level;

/* Receives each log line (no trailing newline). Called from the thread that
 * made the library call; msg is borrowed for the duration of the call. */
typedef void (*clnet_log_fn)(void *user, clnet_log_level level, const char *msg);

typedef struct clnet_ctx clnet_ctx;

typedef struct clnet_ctx_settings {
    /* Device selector: NULL or "" = $CLNET_DEVICE if set, else the first GPU,
     * else the first device of any type. A decimal number is an index as
     * clnet-info numbers devices; anything else is a case-insensitive
     * substring of "platform name / device name", or "gpu"/"cpu"/"accelerator"
     * for the first device of that type. Borrowed during clnet_ctx_create. */
    const char *device;
    clnet_log_fn log;       /* NULL: no logging */
    void *log_user;         /* passed back to log */
    clnet_log_level log_level; /* lines above this level are not produced */
    /* clnet's cache directory (program binaries, GEMM tuning): NULL =
     * $CLNET_CACHE_DIR, else $XDG_CACHE_HOME/clnet, else ~/.cache/clnet. */
    const char *cache_dir;
    /* Who keeps built programs between runs, a clnet_program_cache value:
     * CLNET_PROGRAM_CACHE_AUTO (the default): the driver where it keeps a
     * cache of its own (PoCL), else clnet's cache directory;
     * CLNET_PROGRAM_CACHE_CLNET: clnet's cache on every driver;
     * CLNET_PROGRAM_CACHE_OFF: none. $CLNET_CACHE=0 means OFF and
     * $CLNET_CACHE=clnet means CLNET, whatever is set here. */
    int cache_enabled;
    /* 1: create the compute queue with OpenCL profiling, so clnet-bench can
     * time each launch (also $CLNET_PROFILE=1). Default 0: profiling costs
     * a little per launch on some drivers. */
    int profile;
    /* > 1: split the selected device into this many equal sub-devices
     * (clCreateSubDevices, CL_DEVICE_PARTITION_EQUALLY; CPU drivers such as
     * PoCL allow it, GPUs usually do not) and use part partition_index:
     * several data-parallel replicas on one device (README: Several
     * devices and machines). */
    int partition, partition_index;
} clnet_ctx_settings;

/* Fills *s with the defaults described above. */
void clnet_ctx_default_settings(clnet_ctx_settings *s);

/* Creates a context on the selected device. On failure *out may still hold a
 * context carrying the error message (free it with clnet_ctx_free), or NULL
 * when even that could not be allocated. */
clnet_status clnet_ctx_create(clnet_ctx **out, const clnet_ctx_settings *s);
void clnet_ctx_free(clnet_ctx *ctx);

/* The last error message on this context ("" if none). Borrowed. */
const char *clnet_errmsg(const clnet_ctx *ctx);

/* The chosen device's name, e.g. "pthread-skylake-avx512-...". Borrowed. */
const char *clnet_ctx_device_name(const clnet_ctx *ctx);
/* The chosen device's description (clnet_device_desc, below). Borrowed. */
const struct clnet_device_desc *clnet_ctx_device(const clnet_ctx *ctx);

/* Who keeps this context's built programs between runs (see
 * clnet_ctx_settings.cache_enabled). */
typedef enum clnet_program_cache {
    CLNET_PROGRAM_CACHE_OFF = 0,    /* nobody: every run compiles */
    CLNET_PROGRAM_CACHE_AUTO = 1,   /* a setting only: the driver's or clnet's */
    CLNET_PROGRAM_CACHE_CLNET = 2,  /* clnet's binaries in its cache directory */
    CLNET_PROGRAM_CACHE_DRIVER = 3  /* the driver's own cache (PoCL's kcache) */
} clnet_program_cache;

/* OFF, CLNET or DRIVER for ctx; *where (may be NULL) gets the directory
 * that cache lives in, "" when off or unknown. Borrowed: valid while ctx
 * lives. A program is on disk once the call that built it returns. */
clnet_program_cache clnet_ctx_program_cache(const clnet_ctx *ctx, const char **where);

/* Counters of clnet's program cache since the context was created (a
 * driver's own cache is not counted: its builds count as programs_built). */
typedef struct clnet_cache_stats {
    unsigned programs_built;  /* compiled from source */
    unsigned cache_hits;      /* loaded from the on-disk cache */
    unsigned cache_misses;    /* looked up but absent or invalid */
    unsigned cache_rejected;  /* entries found corrupt and rebuilt */
    double build_seconds;     /* wall time spent building/loading programs */
} clnet_cache_stats;
void clnet_ctx_cache_stats(const clnet_ctx *ctx, clnet_cache_stats *out);

/* ---- Devices (for tools such as clnet-info) ---------------------------- */

typedef struct clnet_device_desc {
    int index;                 /* as accepted by the device selector */
    char platform_name[128];
    char platform_version[128];
    char name[128];
    char vendor[128];
    char driver_version[128];
    char device_version[128];
    char opencl_c_version[64];
    const char *type;          /* "GPU", "CPU", "accelerator", "other" */
    unsigned compute_units;
    unsigned clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    int fp16;                  /* cl_khr_fp16 */
    int fp64;                  /* cl_khr_fp64 or a non-zero double config */
    unsigned preferred_vector_width_float;
    int is_default;            /* the device an empty selector chooses */
} clnet_device_desc;

/* Lists every device of every platform. *out is allocated by the library;
 * release it with clnet_devices_free. Returns CLNET_ENODEV (and *n = 0) when
 * no OpenCL platform exists. errbuf (may be NULL) receives a message. */
clnet_status clnet_devices_list(clnet_device_desc **out, size_t *n,
                                char *errbuf, size_t errlen);
void clnet_devices_free(clnet_device_desc *list);

#ifdef __cplusplus
}
#endif

/* Models: loading, training steps, inference, checkpoints. */
#include "clnet/model.h"
/* ONNX export of a model. */
#include "clnet/onnx.h"
/* Data-parallel replicas: the gradient reducer. */
#include "clnet/dist.h"

#endif /* CLNET_CLNET_H */
