/* Helpers for the src/ocl device tests: private cache directories, contexts
 * that use them, captured log lines, and an axpby run checked on the host. */
#ifndef CLNET_TESTS_OCL_UTIL_H
#define CLNET_TESTS_OCL_UTIL_H

#include "../support.h"
#include "core/ctx.h"

/* A new empty directory under $TMPDIR (or /tmp); malloc'd path. */
char *tu_tempdir(void);
/* Removes the files in dir (not recursive) and dir itself. */
void tu_rmdir(const char *dir);
/* Number of entries in dir whose name contains needle (-1: no dir). */
int tu_count(const char *dir, const char *needle);
/* The path of the only entry in dir ending in ".bin" (fails otherwise);
 * malloc'd. */
char *tu_only_entry(const char *dir);

/* A context on the default device whose program cache is cache_dir (NULL:
 * the settings' default). Log lines up to WARN are kept in tu_log_text and
 * echoed to stderr. Fails the test when creation fails. */
clnet_ctx *tu_ctx(const char *cache_dir);
extern char tu_log_text[8192];

/* Program-cache counters of ctx. */
clnet_cache_stats tu_stats(const clnet_ctx *ctx);

/* Runs elementwise.cl's axpby on fresh data and compares with the host;
 * returns 1 when every element is right. */
int tu_axpby_ok(clnet_ctx *ctx);

#endif
