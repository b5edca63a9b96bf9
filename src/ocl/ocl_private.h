/* Declarations shared by the files of src/ocl only. */
#ifndef CLNET_OCL_PRIVATE_H
#define CLNET_OCL_PRIVATE_H

#include "core/ctx.h"
#include "ocl/ocl.h"

/* Fills one description from a device (device.c). */
void clnet__device_describe(cl_platform_id p, cl_device_id d,
                            clnet_device_desc *o);

/* Walks every platform and device in clnet-info order; stops when fn returns
 * non-zero (and then returns 1). *err_out gets clGetPlatformIDs' result. */
typedef int (*clnet__device_visit_fn)(void *user, int index, cl_platform_id p,
                                      cl_device_id d);
int clnet__device_visit(clnet__device_visit_fn fn, void *user,
                        cl_int *err_out);

/* Parses "X.Y" out of "OpenCL C X.Y ..." (0.0 when absent). */
void clnet__parse_cl_version(const char *s, int *major, int *minor);

/* On-disk program-binary cache (cache.c). key is 16 bytes. */
void clnet__cache_key(clnet_ctx *ctx, const char *source, const char *options,
                      unsigned char key[16]);
/* Returns a malloc'd binary (and its size) or NULL when absent/invalid. */
unsigned char *clnet__cache_load(clnet_ctx *ctx, const unsigned char key[16],
                                 size_t *size);
void clnet__cache_init(clnet_ctx *ctx, const char *dir, int enabled);

/* Stores a just-built program's binary in clnet's cache, on this thread,
 * after waiting for the context's queues: no kernel of the context runs while
 * the driver is asked for the binary (cache_policy.c says why). A failure is
 * logged once per context; the program itself is fine. */
void clnet__cache_store_now(clnet_ctx *ctx, cl_program prog,
                            const unsigned char key[16]);

/* Program/kernel tables (program.c). */
void clnet__programs_release(clnet_ctx *ctx);

#endif
