/* CLNET_FAULT: a test-only switch that injects faults, read once when a
 * context is created, so each context counts from the start.
 *
 *   alloc:N        the N-th device buffer request of the context fails as
 *                  CL_MEM_OBJECT_ALLOCATION_FAILURE would (every
 *                  clnet__buf_create call counts, pooled or not)
 *   build:N        the N-th program build of the context fails; the
 *                  compiler's own log says why (the source gets an #error)
 *   devmem:BYTES   the device reports at most BYTES of global memory and
 *                  per buffer (K, M, G suffixes), so a small device can be
 *                  played on a large one
 *   maxalloc:BYTES the device reports at most BYTES per buffer
 *                  (CL_DEVICE_MAX_MEM_ALLOC_SIZE) and keeps its global size
 *
 * Items are separated by commas ("alloc:3,devmem:64M"). A malformed value
 * makes clnet_ctx_create fail with CLNET_EINVAL rather than run a test that
 * injects nothing. Each injection is logged at warning level. */
#ifndef CLNET_FAULT_H
#define CLNET_FAULT_H

#include "clnet/clnet.h"
#include <stdint.h>

typedef struct clnet__fault {
    uint64_t alloc_at, build_at; /* 1-based call that fails; 0: none */
    uint64_t allocs, builds;     /* calls counted so far (always counted) */
    uint64_t devmem;             /* > 0: the device's memory is capped here */
    uint64_t maxalloc;           /* > 0: and its largest buffer here */
} clnet__fault;

/* Parses a CLNET_FAULT value (NULL or "" injects nothing). Returns 0, or -1
 * when the text is malformed. Pure: tested without a device. */
int clnet__fault_parse(const char *spec, clnet__fault *out);

/* Counts one device buffer request; 1 when this one must fail. The counts
 * are kept without CLNET_FAULT too, so a test can learn how many requests a
 * sequence of calls makes and inject at each. */
int clnet__fault_alloc(clnet_ctx *ctx);
/* Counts one program build; 1 when this one must fail. */
int clnet__fault_build(clnet_ctx *ctx);

#endif
