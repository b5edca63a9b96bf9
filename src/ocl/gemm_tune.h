/* The per-context GEMM choice table shared by gemm_tune.c (deciding) and
 * gemm_store.c (the tuning file). Private to src/ocl. */
#ifndef CLNET_OCL_GEMM_TUNE_H
#define CLNET_OCL_GEMM_TUNE_H

#include "ocl/gemm.h"

/* A shape class: transposes, ceil(log2) of m, n and k, and batch > 1. One
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
};

/* Appends e to s's table; 0 when out of memory. */
int clnet__gemm_state_add(struct clnet__gemm_state *s,
                          const clnet__gemm_entry *e);
/* Reads the tuning file into s (entries appended). A missing file is no
 * error; a corrupt one is ignored as a whole with a warning. */
void clnet__gemm_store_load(clnet_ctx *ctx, struct clnet__gemm_state *s);
/* Writes every entry of s to its file (temp file + rename). */
void clnet__gemm_store_save(clnet_ctx *ctx, const struct clnet__gemm_state *s);
/* Sets s->path from the cache directory and a hash of the device, driver,
 * clnet version and cl/gemm.cl (new kernels mean new measurements). */
void clnet__gemm_store_path(clnet_ctx *ctx, struct clnet__gemm_state *s);

#endif
