/* Setting kernel arguments and enqueueing launches. */
#include "ocl/ocl_private.h"
#include "ocl/profile.h"

#include <stdlib.h>
#include <string.h>

size_t clnet__forced_local(clnet_ctx *ctx)
{
    return ctx->ocl.caps.forced_local;
}

size_t clnet__forced_local_from_env(void)
{
    const char *s = getenv("CLNET_FORCE_LOCAL");
    if (!s || !*s)
        return 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end ? 0 : (size_t)v;
}

/* A kernel with local memory (a local argument or a local array) gets the
 * local size its caller chose: the caller sized that memory, and usually
 * the grid of groups, for it. */
static int uses_local_memory(const clnet__kernel *k, size_t nargs,
                             const clnet__arg *args, cl_device_id dev)
{
    for (size_t i = 0; i < nargs; i++)
        if (args[i].kind == CLNET__ARG_LOCAL)
            return 1;
    cl_ulong bytes = 0;
    cl_int e = clGetKernelWorkGroupInfo(k->k, dev, CL_KERNEL_LOCAL_MEM_SIZE,
                                        sizeof bytes, &bytes, NULL);
    return e != CL_SUCCESS || bytes > 0;
}

clnet_status clnet__launch(clnet_ctx *ctx, const clnet__kernel *k,
                           unsigned dims, const size_t *global,
                           const size_t *local, size_t nargs,
                           const clnet__arg *args)
{
    if (!k || dims < 1 || dims > 3)
        return clnet__fail(ctx, CLNET_EINVAL, "bad launch of %s (%u dims)",
                           k ? k->name : "(null)", dims);
    for (size_t i = 0; i < nargs; i++) {
        const clnet__arg *a = &args[i];
        cl_int e = CL_SUCCESS;
        switch (a->kind) {
        case CLNET__ARG_BUF:
            if (!a->v.buf)
                return clnet__fail(ctx, CLNET_EINTERNAL,
                                   "%s: argument %zu is a NULL buffer", k->name, i);
            e = clSetKernelArg(k->k, (cl_uint)i, sizeof(cl_mem), &a->v.buf->mem);
            break;
        case CLNET__ARG_I32: e = clSetKernelArg(k->k, (cl_uint)i, 4, &a->v.i32); break;
        case CLNET__ARG_U32: e = clSetKernelArg(k->k, (cl_uint)i, 4, &a->v.u32); break;
        case CLNET__ARG_F32: e = clSetKernelArg(k->k, (cl_uint)i, 4, &a->v.f32); break;
        case CLNET__ARG_U64: e = clSetKernelArg(k->k, (cl_uint)i, 8, &a->v.u64); break;
        case CLNET__ARG_LOCAL:
            e = clSetKernelArg(k->k, (cl_uint)i, a->v.local_bytes, NULL);
            break;
        }
        if (e != CL_SUCCESS) {
            clnet__cl_fail(ctx, e, "clSetKernelArg");
            return clnet__fail_prefix(ctx, CLNET_EOPENCL, "%s argument %zu",
                                      k->name, i);
        }
    }
    size_t forced[3] = {1, 1, 1}, f = clnet__forced_local(ctx);
    if (f && local && !uses_local_memory(k, nargs, args, ctx->ocl.device)) {
        forced[0] = clnet__wg_1d(ctx, k);
        local = forced;
    }
    size_t g[3] = {1, 1, 1};
    for (unsigned d = 0; d < dims; d++) {
        g[d] = global[d];
        if (g[d] == 0)
            return CLNET_OK; /* nothing to do */
        if (local && local[d])
            g[d] = (g[d] + local[d] - 1) / local[d] * local[d];
    }
    cl_int e = clEnqueueNDRangeKernel(ctx->ocl.queue, k->k, dims, NULL, g,
                                      local, 0, NULL,
                                      clnet__prof_event(ctx, k->name));
    if (e != CL_SUCCESS) {
        clnet__cl_fail(ctx, e, "clEnqueueNDRangeKernel");
        return clnet__fail_prefix(ctx, e == CL_OUT_OF_RESOURCES ? CLNET_ENOMEM
                                                                 : CLNET_EOPENCL,
                                  "%s", k->name);
    }
    return CLNET_OK;
}

size_t clnet__wg_1d(clnet_ctx *ctx, const clnet__kernel *k)
{
    size_t wg = clnet__forced_local(ctx);
    if (!wg)
        wg = 64;
    if (ctx->ocl.caps.max_wg && wg > ctx->ocl.caps.max_wg)
        wg = ctx->ocl.caps.max_wg;
    if (k && k->max_wg && wg > k->max_wg)
        wg = k->max_wg;
    return wg ? wg : 1;
}
