/* Sub-devices: one device split into equal parts (clCreateSubDevices with
 * CL_DEVICE_PARTITION_EQUALLY), each a context of its own. Data-parallel
 * training runs one replica per part, which is how the several-device path
 * runs for real on a machine with one CPU device (src/dist/). */
#include "core/ctx.h"
#include "ocl/ocl_private.h"

#include <stdio.h>

clnet_status clnet__subdevice_pick(clnet_ctx *ctx, cl_device_id parent, int parts,
                                   int index, cl_device_id *out)
{
    clnet__ocl *o = &ctx->ocl;
    cl_uint cu = 0, max_sub = 0;
    clGetDeviceInfo(parent, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(parent, CL_DEVICE_PARTITION_MAX_SUB_DEVICES, sizeof max_sub,
                    &max_sub, NULL);
    if (parts < 2 || index < 0 || index >= parts)
        return clnet__fail(ctx, CLNET_EINVAL, "sub-device %d of %d", index, parts);
    if (max_sub < (cl_uint)parts || cu < (cl_uint)parts)
        return clnet__fail(ctx, CLNET_EUNSUPPORTED,
                           "device %s cannot be split into %d sub-devices (it has %u "
                           "compute units and allows %u sub-devices)",
                           o->desc.name, parts, cu, max_sub);
    cl_device_partition_property props[] = {CL_DEVICE_PARTITION_EQUALLY,
                                            (cl_device_partition_property)(cu / parts),
                                            0};
    cl_device_id subs[64];
    cl_uint n = 0;
    cl_int e = clCreateSubDevices(parent, props, 64, subs, &n);
    if (e != CL_SUCCESS)
        return clnet__cl_fail(ctx, e, "clCreateSubDevices");
    /* cu / parts units each may leave room for more parts than asked. */
    for (cl_uint i = 0; i < n; i++)
        if (i != (cl_uint)index)
            clReleaseDevice(subs[i]);
    if ((cl_uint)index >= n)
        return clnet__fail(ctx, CLNET_EUNSUPPORTED, "device %s gave %u sub-devices, not %d",
                           o->desc.name, n, parts);
    *out = subs[index];
    o->desc.compute_units = cu / (cl_uint)parts;
    o->desc.global_mem_bytes /= (uint64_t)parts;
    o->sub_device = 1;
    return CLNET_OK;
}
