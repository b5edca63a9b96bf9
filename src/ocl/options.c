/* The one place where device capabilities become kernel build options.
 * tools/check-kernels calls it too, with the capabilities of offline GPU
 * targets, so the portability matrix compiles exactly what the runtime does. */
#include "ocl/ocl.h"

#include <stdio.h>

void clnet__build_options(const clnet__device_caps *caps, char *buf, size_t cap)
{
    /* Kernels are written to OpenCL C 1.2; asking for it explicitly keeps a
     * 3.0 device from assuming 2.0 features. Fast-math stays off so gradient
     * checks hold; -cl-mad-enable only permits fused multiply-add. */
    snprintf(buf, cap,
             "-cl-std=CL1.2 -cl-mad-enable -DCLNET_HAS_FP16=%d "
             "-DCLNET_HAS_FP64=%d -DCLNET_VEC_FLOAT=%u -DCLNET_MAX_WG=%zu "
             "-DCLNET_IS_CPU=%d",
             caps->fp16 ? 1 : 0, caps->fp64 ? 1 : 0,
             caps->vec_float ? caps->vec_float : 1u,
             caps->max_wg ? caps->max_wg : (size_t)64, caps->is_cpu ? 1 : 0);
}
