/* The per-context GEMM choice table shared by gemm_tune.c (deciding) and
 * gemm_store.c (the tuning file). Private to src/ocl. */
#ifndef CLNET_OCL_GEMM_TUNE_H
#define CLNET_OCL_GEMM_TUNE_H

#include "ocl/gemm.h"

/* A shape class: transposes, ceil(log2) of m, n and k, and `batched` (bit 0:
 * batch > 1; bit 1: B through implicit-GEMM taps). One
 * decision covers the class (tuning every exact shape would cost a timed run
 * per layer and batch size). */
typedef struct clnet__gemm_key {
    unsigned char ta, tb, lm, ln, lk, batched;
} clnet__gemm_key;

typedef struct clnet__gemm_entry {
    clnet__gemm_key key;
    int variant;
} clnet__gemm_entry;

struct clnet__gemm_state {
    int tune;              /* CLNET_GEMM_TUNE=1: time candidates */
    int forced;            /* CLNET_GEMM=<variant>: index, else -1 */
    char path[1100];       /* tuning file, "" when the cache is off */
    clnet__gemm_entry *e;  /* decided classes, in decision order */
    size_t n, cap;
    unsigned char disabled[64]; /* per variant: failed to build here */
    /* CLBlast's Xgemm parameters found for this device by a tuning run
     * (tools/bench/gemm-bench --tune-clblast), "NAME=VALUE ..."; "" when
     * none. Applied with CLBlastOverrideParameters (clblast_params.c). */
    char clblast_xgemm[512];
    int clblast_in_use; /* CLBlast accepted them in this process */
};

/* The context's state, made (and the tuning file read) on first use; NULL
 * when out of memory. */
struct clnet__gemm_state *clnet__gemm_state(clnet_ctx *ctx);

/* Appends e to s's table; 0 when out of memory. */
int clnet__gemm_state_add(struct clnet__gemm_state *s,
                          const clnet__gemm_entry *e);
/* Reads the tuning file into s (entries appended). A missing file is no
 * error; a corrupt one is ignored as a whole with a warning. */
void clnet__gemm_store_load(clnet_ctx *ctx, struct clnet__gemm_state *s);
/* Writes every entry of s to its file (temp file + rename). */
void clnet__gemm_store_save(clnet_ctx *ctx, const struct clnet__gemm_state *s);
/* Checks a "NAME=VALUE NAME=VALUE ..." line (upper-case names, decimal
 * values, at most 32 pairs); 1 when well formed. */
int clnet__clblast_params_valid(const char *params);
/* Passes the parameters to CLBlastOverrideParameters for this device (its
 * Xgemm kernel, single precision). */
clnet_status clnet__clblast_apply(clnet_ctx *ctx, const char *params);

/* Sets s->path from the cache directory and a hash of the device, driver,
 * clnet version and cl/gemm.cl (new kernels mean new measurements). */
void clnet__gemm_store_path(clnet_ctx *ctx, struct clnet__gemm_state *s);

#endif
