/* Device buffers from a pool of power-of-two size classes, and copies.
 * The executor allocates its few large buffers once per plan; the pool makes
 * re-planning (another batch size) and tests cheap without per-step churn. */
#include "ocl/ocl_private.h"
#include "ocl/profile.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned size_class(size_t bytes)
{
    unsigned c = 8; /* 256 bytes minimum */
    while (c < 63 && ((size_t)1 << c) < bytes)
        c++;
    return c;
}

size_t clnet__buf_alloc_bytes(clnet_ctx *ctx, size_t bytes)
{
    const clnet_device_desc *d = &ctx->ocl.desc;
    if (bytes > d->max_alloc_bytes)
        return bytes;
    size_t cbytes = (size_t)1 << size_class(bytes);
    /* Large buffers are allocated to size: a power-of-two class would waste
     * up to half of the device's memory, or pass its per-buffer limit. */
    if (bytes > ((size_t)64 << 20) || cbytes > d->max_alloc_bytes)
        cbytes = (bytes + 4095) & ~(size_t)4095;
    if (cbytes > d->max_alloc_bytes)
        cbytes = bytes;
    return cbytes;
}

static clnet_status oom(clnet_ctx *ctx, size_t bytes, cl_int err)
{
    const clnet_device_desc *d = &ctx->ocl.desc;
    return clnet__fail(
        ctx, CLNET_ENOMEM,
        "device allocation of %zu bytes failed (%s): device %s has %llu MiB "
        "global memory, at most %llu MiB per buffer, %zu MiB in use by clnet; "
        "try a smaller batch size or model",
        bytes, err ? clnet__cl_error_name(err) : "over the device limit",
        d->name, (unsigned long long)(d->global_mem_bytes >> 20),
        (unsigned long long)(d->max_alloc_bytes >> 20),
        ctx->ocl.pool_bytes_live >> 20);
}

/* CLNET_POISON_BUFFERS=1 (a test switch): every buffer handed out is filled
 * with NaN first, so a kernel that reads memory nobody wrote shows up as NaN
 * instead of depending on what the pool happened to hold. */
static clnet_status handed_out(clnet_ctx *ctx, clnet__buf *b, clnet__buf **out)
{
    *out = b;
    const char *p = getenv("CLNET_POISON_BUFFERS");
    if (!p || strcmp(p, "1") != 0)
        return CLNET_OK;
    const float nan = NAN;
    cl_int e = clEnqueueFillBuffer(ctx->ocl.queue, b->mem, &nan, sizeof nan, 0,
                                   b->class_bytes & ~(size_t)3, 0, NULL, NULL);
    return e == CL_SUCCESS ? CLNET_OK : clnet__cl_fail(ctx, e, "clEnqueueFillBuffer");
}

clnet_status clnet__buf_create(clnet_ctx *ctx, size_t bytes, clnet__buf **out)
{
    *out = NULL;
    if (bytes == 0)
        return clnet__fail(ctx, CLNET_EINVAL, "buffer of 0 bytes requested");
    clnet__ocl *o = &ctx->ocl;
    /* Checked before any rounding, which could overflow near SIZE_MAX. */
    if (bytes > o->desc.max_alloc_bytes || bytes > o->desc.global_mem_bytes)
        return oom(ctx, bytes, 0);
    if (clnet__fault_alloc(ctx))
        return oom(ctx, bytes, CL_MEM_OBJECT_ALLOCATION_FAILURE);
    unsigned c = size_class(bytes);
    size_t cbytes = clnet__buf_alloc_bytes(ctx, bytes);
    for (clnet__buf **pp = &o->pool_free[c]; *pp; pp = &(*pp)->next_free) {
        if ((*pp)->class_bytes >= bytes && (*pp)->class_bytes <= cbytes * 2) {
            clnet__buf *b = *pp;
            *pp = b->next_free;
            b->next_free = NULL;
            b->bytes = bytes;
            o->pool_bytes_live += b->class_bytes;
            if (o->pool_bytes_live > o->pool_bytes_peak)
                o->pool_bytes_peak = o->pool_bytes_live;
            return handed_out(ctx, b, out);
        }
    }
    clnet__buf *b = calloc(1, sizeof *b);
    if (!b)
        return clnet__fail(ctx, CLNET_ENOMEM, "host out of memory");
    cl_int e = CL_SUCCESS;
    b->mem = clCreateBuffer(o->context, CL_MEM_READ_WRITE, cbytes, NULL, &e);
    if (!b->mem && (e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES)) {
        /* The pool's idle buffers (another batch size's, a freed model's)
         * hold device memory too: give it back and try once more. */
        clnet__pool_drain(ctx);
        b->mem = clCreateBuffer(o->context, CL_MEM_READ_WRITE, cbytes, NULL, &e);
    }
    if (!b->mem) {
        free(b);
        if (e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES ||
            e == CL_OUT_OF_HOST_MEMORY || e == CL_INVALID_BUFFER_SIZE)
            return oom(ctx, bytes, e);
        return clnet__cl_fail(ctx, e, "clCreateBuffer");
    }
    b->bytes = bytes;
    b->class_bytes = cbytes;
    o->pool_bytes_live += cbytes;
    if (o->pool_bytes_live > o->pool_bytes_peak)
        o->pool_bytes_peak = o->pool_bytes_live;
    return handed_out(ctx, b, out);
}

void clnet__buf_release(clnet_ctx *ctx, clnet__buf *b)
{
    if (!b)
        return;
    clnet__ocl *o = &ctx->ocl;
    o->pool_bytes_live -= b->class_bytes;
    unsigned c = size_class(b->class_bytes);
    b->next_free = o->pool_free[c];
    o->pool_free[c] = b;
}

void clnet__pool_drain(clnet_ctx *ctx)
{
    clnet__ocl *o = &ctx->ocl;
    for (size_t c = 0; c < sizeof o->pool_free / sizeof o->pool_free[0]; c++) {
        while (o->pool_free[c]) {
            clnet__buf *b = o->pool_free[c];
            o->pool_free[c] = b->next_free;
            clReleaseMemObject(b->mem);
            free(b);
        }
    }
}

static clnet_status check_range(clnet_ctx *ctx, const clnet__buf *b,
                                size_t off, size_t bytes, const char *what)
{
    if (!b || off > b->bytes || bytes > b->bytes - off)
        return clnet__fail(ctx, CLNET_EINVAL,
                           "%s of %zu bytes at offset %zu outside a buffer of "
                           "%zu bytes",
                           what, bytes, off, b ? b->bytes : 0);
    return CLNET_OK;
}

clnet_status clnet__buf_write(clnet_ctx *ctx, clnet__buf *b, size_t off_bytes,
                              size_t bytes, const void *src)
{
    clnet_status st = check_range(ctx, b, off_bytes, bytes, "write");
    if (st != CLNET_OK || bytes == 0)
        return st;
    cl_int e = clEnqueueWriteBuffer(ctx->ocl.queue, b->mem, CL_TRUE, off_bytes,
                                    bytes, src, 0, NULL, NULL);
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueWriteBuffer");
}

clnet_status clnet__buf_read(clnet_ctx *ctx, const clnet__buf *b,
                             size_t off_bytes, size_t bytes, void *dst)
{
    clnet_status st = check_range(ctx, b, off_bytes, bytes, "read");
    if (st != CLNET_OK || bytes == 0)
        return st;
    cl_int e = clEnqueueReadBuffer(ctx->ocl.queue, b->mem, CL_TRUE, off_bytes,
                                   bytes, dst, 0, NULL, NULL);
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueReadBuffer");
}

/* The same for n elements of `es` bytes at element offset off, refusing
 * sizes whose byte count would overflow. */
static clnet_status check_elems(clnet_ctx *ctx, const clnet__buf *b, size_t off,
                                size_t n, size_t es, const char *what)
{
    if (off > SIZE_MAX / 4 || n > SIZE_MAX / 4)
        return clnet__fail(ctx, CLNET_EINVAL, "%s of %zu elements at element "
                           "offset %zu is out of range", what, n, off);
    return check_range(ctx, b, off * es, n * es, what);
}

clnet_status clnet__fill(clnet_ctx *ctx, clnet__tensor t, size_t n, float v)
{
    size_t es = clnet__esize(t);
    clnet_status st = check_elems(ctx, t.buf, t.off, n, es, "fill");
    if (st != CLNET_OK || n == 0)
        return st;
    uint16_t h = clnet__half_from_float(v);
    cl_int e = clEnqueueFillBuffer(ctx->ocl.queue, t.buf->mem,
                                   t.half ? (const void *)&h : (const void *)&v,
                                   es, t.off * es, n * es, 0, NULL,
                                   clnet__prof_event(ctx, "fill"));
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueFillBuffer");
}

/* dst = src converted between fp32 and half (cl/tensor.cl). */
static clnet_status convert(clnet_ctx *ctx, clnet__tensor dst, clnet__tensor src,
                            size_t n)
{
    char opts[64] = "";
    clnet__half_opt(opts, sizeof opts, "x", src);
    clnet__half_opt(opts, sizeof opts, "y", dst);
    clnet__kernel *k = NULL;
    clnet_status st = clnet__kernel_get(ctx, "tensor", opts, "tensor_convert", &k);
    if (st != CLNET_OK)
        return st;
    size_t local = clnet__wg_1d(ctx, k);
    return CLNET__LAUNCH(ctx, k, 1, &n, &local, CLNET_ARG_U32(n),
                         CLNET_ARG_T(src), CLNET_ARG_T(dst));
}

clnet_status clnet__copy(clnet_ctx *ctx, clnet__tensor dst, clnet__tensor src,
                         size_t n)
{
    clnet_status st = check_elems(ctx, dst.buf, dst.off, n, clnet__esize(dst), "copy");
    if (st == CLNET_OK)
        st = check_elems(ctx, src.buf, src.off, n, clnet__esize(src), "copy");
    if (st != CLNET_OK || n == 0)
        return st;
    if (dst.half != src.half)
        return n > UINT32_MAX ? clnet__fail(ctx, CLNET_EINVAL, "copy of %zu "
                                            "elements converting storage", n)
                              : convert(ctx, dst, src, n);
    size_t es = clnet__esize(src);
    cl_int e = clEnqueueCopyBuffer(ctx->ocl.queue, src.buf->mem, dst.buf->mem,
                                   src.off * es, dst.off * es, n * es, 0, NULL,
                                   clnet__prof_event(ctx, "copy"));
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueCopyBuffer");
}

clnet_status clnet__upload_start(clnet_ctx *ctx, clnet__buf *b,
                                 size_t off_bytes, size_t bytes,
                                 const void *src, clnet__upload *up)
{
    up->ev = NULL;
    clnet_status st = check_range(ctx, b, off_bytes, bytes, "upload");
    if (st != CLNET_OK)
        return st;
    cl_int e = clEnqueueWriteBuffer(ctx->ocl.upload_queue, b->mem, CL_FALSE,
                                    off_bytes, bytes, src, 0, NULL, &up->ev);
    if (e == CL_SUCCESS)
        e = clFlush(ctx->ocl.upload_queue);
    return e == CL_SUCCESS ? CLNET_OK
                           : clnet__cl_fail(ctx, e, "clEnqueueWriteBuffer (upload)");
}

clnet_status clnet__compute_after_upload(clnet_ctx *ctx, clnet__upload *up)
{
    if (!up->ev)
        return CLNET_OK;
    cl_int e = clEnqueueBarrierWithWaitList(ctx->ocl.queue, 1, &up->ev, NULL);
    return e == CL_SUCCESS
               ? CLNET_OK
               : clnet__cl_fail(ctx, e, "clEnqueueBarrierWithWaitList");
}

clnet_status clnet__upload_wait(clnet_ctx *ctx, clnet__upload *up)
{
    if (!up->ev)
        return CLNET_OK;
    cl_int e = clWaitForEvents(1, &up->ev);
    clReleaseEvent(up->ev);
    up->ev = NULL;
    return e == CL_SUCCESS ? CLNET_OK : clnet__cl_fail(ctx, e, "clWaitForEvents");
}
