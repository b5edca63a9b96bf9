/* Markers on the compute queue, uploads ordered after them, and
 * non-blocking downloads. */
#include "ocl/ocl_private.h"

clnet_status clnet__marker_record(clnet_ctx *ctx, clnet__marker *m)
{
    clnet__marker_clear(m);
    cl_int e = clEnqueueMarkerWithWaitList(ctx->ocl.queue, 0, NULL, &m->ev);
    if (e == CL_SUCCESS)
        e = clFlush(ctx->ocl.queue);
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueMarkerWithWaitList");
}

void clnet__marker_clear(clnet__marker *m)
{
    if (m->ev)
        clReleaseEvent(m->ev);
    m->ev = NULL;
}

clnet_status clnet__upload_after(clnet_ctx *ctx, clnet__buf *b,
                                 size_t off_bytes, size_t bytes,
                                 const void *src, const clnet__marker *m,
                                 clnet__upload *up)
{
    up->ev = NULL;
    if (!b || off_bytes > b->bytes || bytes > b->bytes - off_bytes)
        return clnet__fail(ctx, CLNET_EINVAL, "upload of %zu bytes at %zu outside "
                           "a buffer of %zu bytes", bytes, off_bytes, b ? b->bytes : 0);
    cl_int e = clEnqueueWriteBuffer(ctx->ocl.upload_queue, b->mem, CL_FALSE,
                                    off_bytes, bytes, src, m && m->ev ? 1 : 0,
                                    m && m->ev ? &m->ev : NULL, &up->ev);
    if (e == CL_SUCCESS)
        e = clFlush(ctx->ocl.upload_queue);
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueWriteBuffer (upload)");
}

clnet_status clnet__marker_wait(clnet_ctx *ctx, clnet__marker *m)
{
    if (!m->ev)
        return CLNET_OK;
    cl_int e = clWaitForEvents(1, &m->ev);
    clnet__marker_clear(m);
    return e == CL_SUCCESS ? CLNET_OK : clnet__cl_fail(ctx, e, "clWaitForEvents (marker)");
}

clnet_status clnet__download_start(clnet_ctx *ctx, const clnet__buf *b,
                                   size_t off_bytes, size_t bytes, void *dst,
                                   clnet__upload *done)
{
    done->ev = NULL;
    if (!b || off_bytes > b->bytes || bytes > b->bytes - off_bytes)
        return clnet__fail(ctx, CLNET_EINVAL, "download of %zu bytes at %zu outside "
                           "a buffer of %zu bytes", bytes, off_bytes, b ? b->bytes : 0);
    cl_int e = clEnqueueReadBuffer(ctx->ocl.queue, b->mem, CL_FALSE, off_bytes, bytes, dst,
                                   0, NULL, &done->ev);
    if (e == CL_SUCCESS)
        e = clFlush(ctx->ocl.queue);
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueReadBuffer (download)");
}

clnet_status clnet__transfer_wait(clnet__upload *t)
{
    if (!t->ev)
        return CLNET_OK;
    cl_int e = clWaitForEvents(1, &t->ev);
    clReleaseEvent(t->ev);
    t->ev = NULL;
    return e == CL_SUCCESS ? CLNET_OK : CLNET_EOPENCL;
}
