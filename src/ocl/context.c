/* Opening the chosen device: context, queues, capabilities. Also the public
 * context create/free, which is mostly this. */
#include "ocl/gemm.h"
#include "ocl/ocl_private.h"
#include "ocl/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *clnet__cl_error_name(cl_int err)
{
    switch (err) {
#define E(x) case x: return #x;
        E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
        E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP)
        E(CL_IMAGE_FORMAT_MISMATCH) E(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
        E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_COMPILE_PROGRAM_FAILURE)
        E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
        E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM)
        E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT) E(CL_INVALID_QUEUE_PROPERTIES)
        E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
        E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_BINARY)
        E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
        E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL)
        E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
        E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION)
        E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
        E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_BUFFER_SIZE)
        E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";

#undef E
    }
    return "CL_UNKNOWN_ERROR";
}

clnet_status clnet__cl_fail(clnet_ctx *ctx, cl_int err, const char *call)
{
    clnet_status st = CLNET_EOPENCL;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
        err == CL_OUT_OF_RESOURCES || err == CL_OUT_OF_HOST_MEMORY)
        st = CLNET_ENOMEM;
    return clnet__fail(ctx, st, "%s failed: %s (%d)", call,
                       clnet__cl_error_name(err), (int)err);
}

void clnet__parse_cl_version(const char *s, int *major, int *minor)
{
    *major = *minor = 0;
    const char *p = strstr(s, "OpenCL C ");
    p = p ? p + 9 : strstr(s, "OpenCL ");
    if (p && p == strstr(s, "OpenCL "))
        p += 7;
    if (p)
        sscanf(p, "%d.%d", major, minor);
}

clnet__ocl *clnet__ocl_of(clnet_ctx *ctx) { return &ctx->ocl; }

typedef struct find_acc {
    int want;
    cl_platform_id p;
    cl_device_id d;
} find_acc;

static int find_visit(void *user, int index, cl_platform_id p, cl_device_id d)
{
    find_acc *a = user;
    if (index != a->want)
        return 0;
    a->p = p;
    a->d = d;
    return 1;
}

clnet_status clnet__ocl_open(clnet_ctx *ctx, const char *selector)
{
    clnet__ocl *o = &ctx->ocl;
    clnet_device_desc *list = NULL;
    size_t n = 0;
    char err[4096];
    clnet_status st = clnet_devices_list(&list, &n, err, sizeof err);
    if (st != CLNET_OK)
        return clnet__fail(ctx, st, "%s", st == CLNET_ENODEV ? err
                                          : "out of memory listing devices");
    size_t pick = 0;
    st = clnet__device_pick(list, n, selector, &pick, err, sizeof err);
    if (st != CLNET_OK) {
        clnet_devices_free(list);
        return clnet__fail(ctx, st, "%s", err);
    }
    o->desc = list[pick];
    clnet_devices_free(list);

    find_acc fa = {.want = o->desc.index};
    if (!clnet__device_visit(find_visit, &fa, NULL))
        return clnet__fail(ctx, CLNET_ENODEV, "device %d vanished",
                           o->desc.index);
    o->platform = fa.p;
    o->device = fa.d;
    if (o->partition > 1) {
        cl_device_id sub;
        clnet_status sst = clnet__subdevice_pick(ctx, o->device, o->partition,
                                                 o->partition_index, &sub);
        if (sst != CLNET_OK)
            return sst;
        o->device = sub;
    }

    cl_int e = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                     (cl_context_properties)o->platform, 0};
    o->context = clCreateContext(props, 1, &o->device, NULL, NULL, &e);
    if (!o->context)
        return clnet__cl_fail(ctx, e, "clCreateContext");
    /* clCreateCommandQueue is deprecated in 2.0 but is the 1.2 call that
     * every driver has. Profiling only when asked (profile.h). */
    o->profiling = o->profiling || clnet__prof_env() != 0;
    o->queue = clCreateCommandQueue(
        o->context, o->device, o->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &e);
    if (!o->queue)
        return clnet__cl_fail(ctx, e, "clCreateCommandQueue");
    o->upload_queue = clCreateCommandQueue(o->context, o->device, 0, &e);
    if (!o->upload_queue)
        return clnet__cl_fail(ctx, e, "clCreateCommandQueue (upload)");

    clnet__device_caps *c = &o->caps;
    clnet__parse_cl_version(o->desc.opencl_c_version, &c->opencl_c_major,
                            &c->opencl_c_minor);
    c->fp16 = o->desc.fp16;
    c->fp64 = o->desc.fp64;
    c->vec_float = o->desc.preferred_vector_width_float;
    c->max_wg = o->desc.max_work_group_size;
    c->local_mem = o->desc.local_mem_bytes;
    c->is_cpu = strcmp(o->desc.type, "CPU") == 0;
    c->forced_local = clnet__forced_local_from_env(); /* read once, not per launch */
    if (c->opencl_c_major < 1 || (c->opencl_c_major == 1 && c->opencl_c_minor < 2))
        return clnet__fail(ctx, CLNET_EUNSUPPORTED,
                           "device %s supports only '%s'; clnet needs OpenCL C "
                           "1.2 or newer",
                           o->desc.name, o->desc.opencl_c_version);
    clnet__build_options(c, o->base_options, sizeof o->base_options);
    clnet__log(ctx, CLNET_LOG_INFO, "device [%d] %s / %s (%s, %s)",
               o->desc.index, o->desc.platform_name, o->desc.name,
               o->desc.type, o->desc.opencl_c_version);
    if (o->sub_device)
        clnet__log(ctx, CLNET_LOG_INFO, "sub-device %d of %d (%u compute units)",
                   o->partition_index, o->partition, o->desc.compute_units);
    return CLNET_OK;
}

void clnet__ocl_close(clnet_ctx *ctx)
{
    clnet__ocl *o = &ctx->ocl;
    if (o->queue)
        clFinish(o->queue);
    if (o->upload_queue)
        clFinish(o->upload_queue);
    clnet__gemm_release(ctx);
    clnet__prof_stop(ctx);
    clnet__programs_release(ctx);
    clnet__pool_drain(ctx);
    if (o->upload_queue)
        clReleaseCommandQueue(o->upload_queue);
    if (o->queue)
        clReleaseCommandQueue(o->queue);
    if (o->context)
        clReleaseContext(o->context);
    if (o->sub_device)
        clReleaseDevice(o->device);
    memset(o, 0, sizeof *o);
}

clnet_status clnet__finish(clnet_ctx *ctx)
{
    cl_int e = clFinish(ctx->ocl.queue);
    return e == CL_SUCCESS ? CLNET_OK : clnet__cl_fail(ctx, e, "clFinish");
}
