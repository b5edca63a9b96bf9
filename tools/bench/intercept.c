/* The clEnqueueNDRangeKernel wrapper of intercept.h. The executable's
 * definition comes first in the dynamic symbol lookup, so libclblast.so and
 * clnet (linked statically into the tool) both call it; it forwards to the
 * loader's through dlsym(RTLD_NEXT). */
#define _GNU_SOURCE
#include "intercept.h"

#include "ocl/profile.h"

#include <dlfcn.h>
#include <stdio.h>

typedef cl_int (*enqueue_fn)(cl_command_queue, cl_kernel, cl_uint,
                             const size_t *, const size_t *, const size_t *,
                             cl_uint, const cl_event *, cl_event *);

static enqueue_fn real_enqueue;
static clnet_ctx *attached;
static uint64_t n_all;

void intercept_attach(clnet_ctx *ctx) { attached = ctx; }
uint64_t intercept_launches(void) { return n_all; }
int intercept_active(void) { return n_all > 0; }

CL_API_ENTRY cl_int CL_API_CALL clEnqueueNDRangeKernel(
    cl_command_queue queue, cl_kernel kernel, cl_uint dims,
    const size_t *offset, const size_t *global, const size_t *local,
    cl_uint n_wait, const cl_event *wait, cl_event *event)
{
    if (!real_enqueue) {
        void *f = dlsym(RTLD_NEXT, "clEnqueueNDRangeKernel");
        real_enqueue = (enqueue_fn)(uintptr_t)f;
        if (!real_enqueue)
            return CL_INVALID_OPERATION;
    }
    n_all++;
    /* While recording, clnet__launch passes a slot: none means CLBlast. */
    if (!event && clnet__prof_recording(attached)) {
        char fn[40] = "?", name[48];
        clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof fn, fn, NULL);
        fn[sizeof fn - 1] = '\0';
        snprintf(name, sizeof name, "[clblast] %s", fn);
        event = clnet__prof_event(attached, name);
    }
    return real_enqueue(queue, kernel, dims, offset, global, local, n_wait, wait,
                        event);
}
