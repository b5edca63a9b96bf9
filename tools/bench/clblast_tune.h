/* gemm-bench --tune-clblast (clblast_tune.c). */
#ifndef CLNET_BENCH_CLBLAST_TUNE_H
#define CLNET_BENCH_CLBLAST_TUNE_H

#include "clnet/clnet.h"

/* Runs CLBlast's tuner on 1/fraction of its fixed Xgemm set for ctx's
 * device and hands the best parameters to the library; 1 on success (else
 * the reason went to stderr). */
int clblast_tune(clnet_ctx *ctx, int fraction);
/* The same from the JSON files of an earlier tuner run (comma-separated):
 * the fastest result across them. */
int clblast_import(clnet_ctx *ctx, const char *files);

#endif
