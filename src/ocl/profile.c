/* Recording per-command events and region markers on the compute queue
 * (profile.h). */
#include "ocl/profile.h"

#include "ocl/ocl_private.h"

#include <stdlib.h>
#include <string.h>

typedef struct prof_slot {
    clnet__prof_record r;
    cl_event ev;
} prof_slot;

struct clnet__prof {
    clnet__prof_mode mode;
    int recording;
    clnet__prof_phase phase;
    int layer;
    prof_slot *slots;
    size_t n, cap;
    size_t lost;
    clnet__prof_record *out;
};

int clnet__prof_available(clnet_ctx *ctx)
{
    return ctx && ctx->ocl.profiling;
}

int clnet__prof_recording(clnet_ctx *ctx)
{
    return ctx && ctx->ocl.prof && ctx->ocl.prof->recording;
}

int clnet__prof_env(void)
{
    const char *s = getenv("CLNET_PROFILE");
    if (!s || !*s || strcmp(s, "0") == 0)
        return 0;
    return 1;
}

static void release_events(struct clnet__prof *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->slots[i].ev)
            clReleaseEvent(p->slots[i].ev);
    p->n = 0;
}

void clnet__prof_stop(clnet_ctx *ctx)
{
    struct clnet__prof *p = ctx ? ctx->ocl.prof : NULL;
    if (!p)
        return;
    release_events(p);
    free(p->slots);
    free(p->out);
    free(p);
    ctx->ocl.prof = NULL;
}

clnet_status clnet__prof_start(clnet_ctx *ctx, clnet__prof_mode mode)
{
    if (!ctx)
        return CLNET_EINVAL;
    if (!ctx->ocl.profiling)
        return clnet__fail(ctx, CLNET_EUNSUPPORTED,
                           "profiling needs a context created with profile = 1 "
                           "(or CLNET_PROFILE=1)");
    clnet__prof_stop(ctx);
    struct clnet__prof *p = calloc(1, sizeof *p);
    if (!p)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory for the profiler");
    p->mode = mode;
    p->recording = 1;
    p->layer = -1;
    ctx->ocl.prof = p;
    return CLNET_OK;
}

static prof_slot *push(struct clnet__prof *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 4096;
        prof_slot *s = realloc(p->slots, cap * sizeof *s);
        if (!s) {
            p->lost++;
            return NULL;
        }
        p->slots = s;
        p->cap = cap;
    }
    prof_slot *s = &p->slots[p->n++];
    memset(s, 0, sizeof *s);
    return s;
}

cl_event *clnet__prof_event(clnet_ctx *ctx, const char *name)
{
    struct clnet__prof *p = ctx->ocl.prof;
    if (!p || !p->recording)
        return NULL;
    prof_slot *s = push(p);
    if (!s)
        return NULL;
    s->r.kind = CLNET__PROF_LAUNCH;
    s->r.phase = p->phase;
    s->r.layer = p->layer;
    clnet__strlcpy(s->r.name, name ? name : "?", sizeof s->r.name);
    return &s->ev;
}

static uint64_t host_ns(void)
{
    return (uint64_t)(clnet__now() * 1e9);
}

void clnet__prof_mark(clnet_ctx *ctx, clnet__prof_phase phase, int layer)
{
    struct clnet__prof *p = ctx ? ctx->ocl.prof : NULL;
    if (!p || !p->recording)
        return;
    p->phase = phase;
    p->layer = layer;
    prof_slot *s = push(p);
    if (!s)
        return;
    s->r.kind = CLNET__PROF_MARK;
    s->r.phase = phase;
    s->r.layer = layer;
    if (p->mode == CLNET__PROF_SYNC) {
        if (clFinish(ctx->ocl.queue) != CL_SUCCESS)
            p->lost++;
        s->r.queued = s->r.start = s->r.end = host_ns();
        return;
    }
    if (clEnqueueMarkerWithWaitList(ctx->ocl.queue, 0, NULL, &s->ev) != CL_SUCCESS) {
        s->ev = NULL;
        p->lost++;
    }
}

clnet_status clnet__prof_collect(clnet_ctx *ctx, const clnet__prof_record **out,
                                 size_t *n, size_t *lost)
{
    struct clnet__prof *p = ctx ? ctx->ocl.prof : NULL;
    if (!p || !out || !n)
        return clnet__fail(ctx, CLNET_EINVAL, "profiler not started");
    clnet__prof_mark(ctx, CLNET__PROF_OTHER, -1);
    p->recording = 0;
    cl_int e = clFinish(ctx->ocl.queue);
    if (e != CL_SUCCESS)
        return clnet__cl_fail(ctx, e, "clFinish (profiler)");
    free(p->out);
    p->out = malloc((p->n ? p->n : 1) * sizeof *p->out);
    if (!p->out)
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory for %zu profile records",
                           p->n);
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        prof_slot *s = &p->slots[i];
        if (s->ev) {
            cl_ulong q = 0, a = 0, b = 0;
            cl_int e1 = clGetEventProfilingInfo(s->ev, CL_PROFILING_COMMAND_QUEUED,
                                                sizeof q, &q, NULL);
            cl_int e2 = clGetEventProfilingInfo(s->ev, CL_PROFILING_COMMAND_START,
                                                sizeof a, &a, NULL);
            cl_int e3 = clGetEventProfilingInfo(s->ev, CL_PROFILING_COMMAND_END,
                                                sizeof b, &b, NULL);
            clReleaseEvent(s->ev);
            s->ev = NULL;
            if (e2 != CL_SUCCESS || e3 != CL_SUCCESS) {
                p->lost++;
                continue;
            }
            s->r.queued = e1 == CL_SUCCESS ? q : 0;
            s->r.start = a;
            s->r.end = b;
        } else if (!(s->r.kind == CLNET__PROF_MARK && p->mode == CLNET__PROF_SYNC)) {
            continue; /* its enqueue failed, or its marker did (counted) */
        }
        p->out[k++] = s->r;
    }
    p->n = 0;
    *out = p->out;
    *n = k;
    if (lost)
        *lost = p->lost;
    return CLNET_OK;
}
