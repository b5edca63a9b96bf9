/* Building programs (through the on-disk cache) once per context, and
 * creating each cl_kernel once per context. */
#include "ocl/ocl_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clnet__program_entry {
    char *name;   /* program name */
    char *extra;  /* extra options ("" when none) */
    cl_program prog;
    clnet__program_entry *next;
};

struct clnet__kernel_entry {
    clnet__program_entry *program;
    clnet__kernel kernel;
    clnet__kernel_entry *next;
};

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static clnet_status build_log_fail(clnet_ctx *ctx, cl_program p,
                                   const char *label, cl_int err)
{
    size_t len = 0;
    clGetProgramBuildInfo(p, ctx->ocl.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    char *log = malloc(len + 1);
    if (log) {
        log[0] = '\0';
        clGetProgramBuildInfo(p, ctx->ocl.device, CL_PROGRAM_BUILD_LOG, len, log,
                              NULL);
        log[len] = '\0';
    }
    clnet__fail(ctx, CLNET_EBUILD, "building %s for %s failed (%s):\n%s", label,
                ctx->ocl.desc.name, clnet__cl_error_name(err),
                log ? log : "(no build log)");
    free(log);
    return CLNET_EBUILD;
}

static cl_program try_binary(clnet_ctx *ctx, const unsigned char *bin, size_t size)
{
    cl_int e = CL_SUCCESS, bst = CL_SUCCESS;
    cl_program p = clCreateProgramWithBinary(ctx->ocl.context, 1, &ctx->ocl.device,
                                             &size, &bin, &bst, &e);
    if (!p)
        return NULL;
    if (e != CL_SUCCESS || bst != CL_SUCCESS ||
        clBuildProgram(p, 1, &ctx->ocl.device, NULL, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return NULL;
    }
    return p;
}

/* Builds source with options, through the disk cache when enabled. */
static clnet_status build(clnet_ctx *ctx, const char *label, const char *source,
                          const char *options, cl_program *out)
{
    *out = NULL;
    double t0 = clnet__now();
    unsigned char key[16];
    /* CLNET_FAULT=build:N: this build goes to the compiler with an #error
     * in front, so the failure path sees a real build log. */
    char *broken = NULL;
    if (clnet__fault_build(ctx)) {
        static const char line[] =
            "#error \"build failure injected by CLNET_FAULT\"\n";
        size_t n = strlen(source) + 1;
        broken = malloc(sizeof line - 1 + n);
        if (!broken)
            return clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
        memcpy(broken, line, sizeof line - 1);
        memcpy(broken + sizeof line - 1, source, n);
        source = broken;
    }
    int use_cache = ctx->ocl.program_cache == CLNET_PROGRAM_CACHE_CLNET && !broken;
    if (use_cache) {
        clnet__cache_key(ctx, source, options, key);
        size_t size = 0;
        unsigned char *bin = clnet__cache_load(ctx, key, &size);
        if (bin) {
            cl_program p = try_binary(ctx, bin, size);
            free(bin);
            if (p) {
                ctx->cache_stats.cache_hits++;
                ctx->cache_stats.build_seconds += clnet__now() - t0;
                *out = p;
                return CLNET_OK;
            }
            ctx->cache_stats.cache_rejected++;
            clnet__log(ctx, CLNET_LOG_WARN,
                       "program cache entry for %s was not accepted by the "
                       "driver; rebuilding",
                       label);
        } else {
            ctx->cache_stats.cache_misses++;
        }
    }
    cl_int e = CL_SUCCESS;
    cl_program p = clCreateProgramWithSource(ctx->ocl.context, 1, &source, NULL, &e);
    free(broken);
    if (!p)
        return clnet__cl_fail(ctx, e, "clCreateProgramWithSource");
    e = clBuildProgram(p, 1, &ctx->ocl.device, options, NULL, NULL);
    ctx->cache_stats.programs_built++;
    if (e != CL_SUCCESS) {
        clnet_status st = build_log_fail(ctx, p, label, e);
        clReleaseProgram(p);
        return st;
    }
    if (use_cache)
        clnet__cache_store_now(ctx, p, key);
    ctx->cache_stats.build_seconds += clnet__now() - t0;
    clnet__log(ctx, CLNET_LOG_DEBUG, "built %s in %.3f s", label, clnet__now() - t0);
    *out = p;
    return CLNET_OK;
}

static void full_options(clnet_ctx *ctx, const char *extra, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", ctx->ocl.base_options, extra && *extra ? " " : "",
             extra ? extra : "");
}

static clnet_status program_get(clnet_ctx *ctx, const char *name,
                                const char *extra, clnet__program_entry **out)
{
    if (!extra)
        extra = "";
    for (clnet__program_entry *e = ctx->ocl.programs; e; e = e->next)
        if (strcmp(e->name, name) == 0 && strcmp(e->extra, extra) == 0) {
            *out = e;
            return CLNET_OK;
        }
    char *src = NULL;
    clnet_status st = clnet__program_source(ctx, name, &src);
    if (st != CLNET_OK)
        return st;
    char opts[2048];
    full_options(ctx, extra, opts, sizeof opts);
    char label[300];
    snprintf(label, sizeof label, "cl/%s.cl", name);
    cl_program p = NULL;
    st = build(ctx, label, src, opts, &p);
    free(src);
    if (st != CLNET_OK)
        return st;
    clnet__program_entry *e = calloc(1, sizeof *e);
    if (e) {
        e->name = dupstr(name);
        e->extra = dupstr(extra);
    }
    if (!e || !e->name || !e->extra) {
        if (e) {
            free(e->name);
            free(e->extra);
        }
        free(e);
        clReleaseProgram(p);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
    }
    e->prog = p;
    e->next = ctx->ocl.programs;
    ctx->ocl.programs = e;
    *out = e;
    return CLNET_OK;
}

clnet_status clnet__program_build(clnet_ctx *ctx, const char *name,
                                  const char *extra)
{
    clnet__program_entry *e = NULL;
    return program_get(ctx, name, extra, &e);
}

clnet_status clnet__kernel_get(clnet_ctx *ctx, const char *program,
                               const char *extra, const char *kernel,
                               clnet__kernel **out)
{
    *out = NULL;
    clnet__program_entry *pe = NULL;
    clnet_status st = program_get(ctx, program, extra, &pe);
    if (st != CLNET_OK)
        return st;
    for (clnet__kernel_entry *e = ctx->ocl.kernels; e; e = e->next)
        if (e->program == pe && strcmp(e->kernel.name, kernel) == 0) {
            *out = &e->kernel;
            return CLNET_OK;
        }
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(pe->prog, kernel, &err);
    if (!k) {
        clnet__cl_fail(ctx, err, "clCreateKernel");
        return clnet__fail_prefix(ctx, CLNET_ENOTFOUND, "kernel %s in cl/%s.cl",
                                  kernel, program);
    }
    clnet__kernel_entry *e = calloc(1, sizeof *e);
    if (!e) {
        clReleaseKernel(k);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of memory");
    }
    e->program = pe;
    e->kernel.k = k;
    clnet__strlcpy(e->kernel.name, kernel, sizeof e->kernel.name);
    size_t wg = 0;
    clGetKernelWorkGroupInfo(k, ctx->ocl.device, CL_KERNEL_WORK_GROUP_SIZE,
                             sizeof wg, &wg, NULL);
    e->kernel.max_wg = wg ? wg : 1;
    e->next = ctx->ocl.kernels;
    ctx->ocl.kernels = e;
    *out = &e->kernel;
    return CLNET_OK;
}

clnet_status clnet__program_build_source(clnet_ctx *ctx, const char *label,
                                         const char *source, const char *extra)
{
    char opts[2048];
    full_options(ctx, extra, opts, sizeof opts);
    cl_program p = NULL;
    clnet_status st = build(ctx, label, source, opts, &p);
    if (p)
        clReleaseProgram(p);
    return st;
}

void clnet__programs_release(clnet_ctx *ctx)
{
    for (clnet__kernel_entry *e = ctx->ocl.kernels, *n; e; e = n) {
        n = e->next;
        clReleaseKernel(e->kernel.k);
        free(e);
    }
    ctx->ocl.kernels = NULL;
    for (clnet__program_entry *e = ctx->ocl.programs, *n; e; e = n) {
        n = e->next;
        clReleaseProgram(e->prog);
        free(e->name);
        free(e->extra);
        free(e);
    }
    ctx->ocl.programs = NULL;
}
