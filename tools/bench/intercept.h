/* clnet-bench's view of launches that do not go through clnet__launch.
 *
 * clnet-bench defines clEnqueueNDRangeKernel itself (intercept.c), so every
 * kernel launch in the process, CLBlast's included, passes through it before
 * reaching the OpenCL loader. It counts them, and while the profiler records
 * it gives each launch that came without an event (today: CLBlast's, whose
 * calls clnet makes without one) a profiler slot named "[clblast] KERNEL",
 * attributed to the layer being enqueued. Only this tool does this; the
 * library never depends on it. */
#ifndef CLNET_TOOLS_BENCH_INTERCEPT_H
#define CLNET_TOOLS_BENCH_INTERCEPT_H

#include "clnet/clnet.h"

#include <stdint.h>

/* The context whose profiler receives foreign launches (NULL: none). */
void intercept_attach(clnet_ctx *ctx);
/* Kernel launches seen so far, clnet's and CLBlast's. */
uint64_t intercept_launches(void);
/* 1 once a launch has passed through the wrapper: the interposition works
 * in this build (it needs the executable to export the symbol). */
int intercept_active(void);

#endif
