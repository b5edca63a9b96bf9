/* Enumerating OpenCL devices and choosing one from a selector string. */
#include "core/core.h"
#include "ocl/ocl_private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies an info string into buf, cut to fit: a direct query into a short
 * buffer fails with CL_INVALID_VALUE and would leave the field empty. */
static void keep_str(char *tmp, size_t len, cl_int err, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (tmp && err == CL_SUCCESS) {
        tmp[len] = '\0';
        clnet__strlcpy(buf, tmp, cap);
    }
    free(tmp);
}

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t cap)
{
    size_t len = 0;
    cl_int e = clGetDeviceInfo(d, what, 0, NULL, &len);
    char *tmp = e == CL_SUCCESS ? malloc(len + 1) : NULL;
    if (tmp)
        e = clGetDeviceInfo(d, what, len, tmp, NULL);
    keep_str(tmp, len, e, buf, cap);
}

static void get_pstr(cl_platform_id p, cl_platform_info what, char *buf,
                     size_t cap)
{
    size_t len = 0;
    cl_int e = clGetPlatformInfo(p, what, 0, NULL, &len);
    char *tmp = e == CL_SUCCESS ? malloc(len + 1) : NULL;
    if (tmp)
        e = clGetPlatformInfo(p, what, len, tmp, NULL);
    keep_str(tmp, len, e, buf, cap);
}

static int has_extension(cl_device_id d, const char *ext)
{
    size_t len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &len) != CL_SUCCESS)
        return 0;
    char *s = malloc(len + 1);
    if (!s)
        return 0;
    int found = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, len, s, NULL) == CL_SUCCESS) {
        s[len] = '\0';
        size_t el = strlen(ext);
        for (char *p = strstr(s, ext); p; p = strstr(p + 1, ext))
            if ((p == s || p[-1] == ' ') && (p[el] == ' ' || p[el] == '\0')) {
                found = 1;
                break;
            }
    }
    free(s);
    return found;
}

void clnet__device_describe(cl_platform_id p, cl_device_id d,
                            clnet_device_desc *o)
{
    memset(o, 0, sizeof *o);
    get_pstr(p, CL_PLATFORM_NAME, o->platform_name, sizeof o->platform_name);
    get_pstr(p, CL_PLATFORM_VERSION, o->platform_version,
             sizeof o->platform_version);
    get_str(d, CL_DEVICE_NAME, o->name, sizeof o->name);
    get_str(d, CL_DEVICE_VENDOR, o->vendor, sizeof o->vendor);
    get_str(d, CL_DRIVER_VERSION, o->driver_version, sizeof o->driver_version);
    get_str(d, CL_DEVICE_VERSION, o->device_version, sizeof o->device_version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, o->opencl_c_version,
            sizeof o->opencl_c_version);
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    o->type = (t & CL_DEVICE_TYPE_GPU)           ? "GPU"
              : (t & CL_DEVICE_TYPE_CPU)         ? "CPU"
              : (t & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator"
                                                 : "other";
    cl_uint u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
    o->compute_units = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
    o->clock_mhz = u;
    cl_ulong ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL);
    o->global_mem_bytes = ul;
    ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL);
    o->local_mem_bytes = ul;
    ul = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL);
    o->max_alloc_bytes = ul;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    o->max_work_group_size = wg;
    o->fp16 = has_extension(d, "cl_khr_fp16");
    cl_device_fp_config dc = 0;
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dc, &dc, NULL);
    o->fp64 = has_extension(d, "cl_khr_fp64") || dc != 0;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof u, &u,
                    NULL);
    o->preferred_vector_width_float = u;
}

int clnet__device_visit(clnet__device_visit_fn fn, void *user, cl_int *err_out)
{
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err_out)
        *err_out = err;
    if (err != CL_SUCCESS || np == 0)
        return 0;
    cl_platform_id *ps = calloc(np, sizeof *ps);
    if (!ps)
        return 0;
    clGetPlatformIDs(np, ps, NULL);
    int index = 0;
    for (cl_uint i = 0; i < np; i++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) !=
                CL_SUCCESS ||
            nd == 0)
            continue;
        cl_device_id *ds = calloc(nd, sizeof *ds);
        if (!ds)
            break;
        clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, nd, ds, NULL);
        for (cl_uint j = 0; j < nd; j++) {
            if (fn(user, index, ps[i], ds[j])) {
                free(ds);
                free(ps);
                return 1;
            }
            index++;
        }
        free(ds);
    }
    free(ps);
    return 0;
}

typedef struct list_acc {
    clnet_device_desc *items;
    size_t n, cap;
    int oom;
} list_acc;

static int list_visit(void *user, int index, cl_platform_id p, cl_device_id d)
{
    list_acc *a = user;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 8;
        clnet_device_desc *ni = realloc(a->items, nc * sizeof *ni);
        if (!ni) {
            a->oom = 1;
            return 1;
        }
        a->items = ni;
        a->cap = nc;
    }
    clnet__device_describe(p, d, &a->items[a->n]);
    a->items[a->n].index = index;
    a->n++;
    return 0;
}

clnet_status clnet_devices_list(clnet_device_desc **out, size_t *n,
                                char *errbuf, size_t errlen)
{
    if (!out || !n)
        return CLNET_EINVAL;
    *out = NULL;
    *n = 0;
    list_acc a = {0};
    cl_int err = CL_SUCCESS;
    clnet__device_visit(list_visit, &a, &err);
    if (a.oom) {
        free(a.items);
        return CLNET_ENOMEM;
    }
    if (a.n == 0) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen,
                     "no OpenCL device found (clGetPlatformIDs: %s); install "
                     "a driver such as pocl-opencl-icd",
                     clnet__cl_error_name(err));
        free(a.items);
        return CLNET_ENODEV;
    }
    a.items[clnet__device_default(a.items, a.n)].is_default = 1;
    *out = a.items;
    *n = a.n;
    return CLNET_OK;
}

void clnet_devices_free(clnet_device_desc *list) { free(list); }

size_t clnet__device_default(const clnet_device_desc *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].type && strcmp(list[i].type, "GPU") == 0)
            return i;
    return 0;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] &&
               tolower((unsigned char)hay[i]) ==
                   tolower((unsigned char)needle[i]))
            i++;
        if (i == nl)
            return 1;
    }
    return nl == 0;
}

static int equals_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

clnet_status clnet__device_pick(const clnet_device_desc *list, size_t n,
                                const char *selector, size_t *picked,
                                char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (n == 0) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "no OpenCL device found");
        return CLNET_ENODEV;
    }
    while (selector && isspace((unsigned char)*selector))
        selector++;
    if (!selector || !*selector) {
        *picked = clnet__device_default(list, n);
        return CLNET_OK;
    }
    /* A plain number is an index. */
    char *end = NULL;
    long idx = strtol(selector, &end, 10);
    if (end != selector && *end == '\0') {
        for (size_t i = 0; i < n; i++)
            if (list[i].index == idx) {
                *picked = i;
                return CLNET_OK;
            }
    } else {
        static const char *const types[] = {"gpu", "cpu", "accelerator"};
        for (size_t t = 0; t < 3; t++)
            if (equals_nocase(selector, types[t]))
                for (size_t i = 0; i < n; i++)
                    if (list[i].type && equals_nocase(list[i].type, types[t])) {
                        *picked = i;
                        return CLNET_OK;
                    }
        for (size_t i = 0; i < n; i++) {
            char full[300];
            snprintf(full, sizeof full, "%s / %s", list[i].platform_name,
                     list[i].name);
            if (contains_nocase(full, selector)) {
                *picked = i;
                return CLNET_OK;
            }
        }
    }
    if (errbuf && errlen) {
        size_t len = (size_t)snprintf(errbuf, errlen,
                                      "device '%s' matches no OpenCL device; "
                                      "available:",
                                      selector);
        for (size_t i = 0; i < n && len < errlen; i++)
            len += (size_t)snprintf(errbuf + len, errlen - len,
                                    " [%d] %s / %s (%s)%s", list[i].index,
                                    list[i].platform_name, list[i].name,
                                    list[i].type ? list[i].type : "?",
                                    i + 1 < n ? ";" : "");
    }
    return CLNET_ENODEV;
}
