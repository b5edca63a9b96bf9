/* clnet-info: lists the OpenCL devices clnet can use, and with --self-test
 * checks that kernels build (and come from the program cache) and compute
 * correctly on one of them. */
#include "cli.h"
#include "selftest.h"

#include "clnet/clnet.h"
#include "ocl/ocl.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clnet-info [--json] [--device X] [-v|-q]\n"
            "       clnet-info --self-test [--device X] [--seed N] [-v|-q]\n"
            "\n"
            "Lists every OpenCL platform and device; '*' marks the default,\n"
            "'>' the one --device (or $CLNET_DEVICE) selects.\n"
            "\n"
            "  --json         print the device list as JSON\n"
            "  -d, --device X device index (as listed), a case-insensitive\n"
            "                 substring of 'platform / device', or gpu/cpu\n"
            "  --self-test    build every kernel program (reporting cache hits\n"
            "                 and build times) and check kernels and CLBlast\n"
            "                 against plain-C references; exit 1 on failure\n"
            "  --seed N       self-test data seed (default: from the clock)\n"
            "  -v, -q         more (repeatable) or less output\n"
            "  -h, --help     this text\n"
            "  -V, --version  clnet's version\n"
            "\n"
            "Environment: CLNET_DEVICE, CLNET_CACHE_DIR, CLNET_CACHE=0|clnet,\n"
            "CLNET_KERNEL_DIR (see README.md).\n");
}

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

static void print_text(const clnet_device_desc *d, size_t n, long selected)
{
    for (size_t i = 0; i < n; i++, d++) {
        printf("%c%c[%d] %s / %s\n", d->is_default ? '*' : ' ',
               (long)i == selected ? '>' : ' ', d->index, d->platform_name,
               d->name);
        printf("      platform version %s\n", d->platform_version);
        printf("      vendor           %s\n", d->vendor);
        printf("      type             %s\n", d->type);
        printf("      driver version   %s\n", d->driver_version);
        printf("      device version   %s\n", d->device_version);
        printf("      OpenCL C         %s\n", d->opencl_c_version);
        printf("      compute units    %u at %u MHz\n", d->compute_units,
               d->clock_mhz);
        printf("      global memory    %.0f MiB\n", mib(d->global_mem_bytes));
        printf("      local memory     %.0f KiB\n",
               (double)d->local_mem_bytes / 1024.0);
        printf("      max allocation   %.0f MiB\n", mib(d->max_alloc_bytes));
        printf("      max work-group   %zu\n", d->max_work_group_size);
        printf("      fp16 / fp64      %s / %s\n", d->fp16 ? "yes" : "no",
               d->fp64 ? "yes" : "no");
        printf("      float vector     %u (preferred width)\n",
               d->preferred_vector_width_float);
    }
}

/* cJSON does the string escaping (device names are driver-supplied). */
static int print_json(const clnet_device_desc *d, size_t n, long selected)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++, d++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o))
            break;
        cJSON_AddNumberToObject(o, "index", d->index);
        cJSON_AddStringToObject(o, "platform", d->platform_name);
        cJSON_AddStringToObject(o, "platform_version", d->platform_version);
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddStringToObject(o, "vendor", d->vendor);
        cJSON_AddStringToObject(o, "type", d->type);
        cJSON_AddStringToObject(o, "driver_version", d->driver_version);
        cJSON_AddStringToObject(o, "device_version", d->device_version);
        cJSON_AddStringToObject(o, "opencl_c_version", d->opencl_c_version);
        cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
        cJSON_AddNumberToObject(o, "clock_mhz", d->clock_mhz);
        cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem_bytes);
        cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem_bytes);
        cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc_bytes);
        cJSON_AddNumberToObject(o, "max_work_group_size",
                                (double)d->max_work_group_size);
        cJSON_AddBoolToObject(o, "fp16", d->fp16);
        cJSON_AddBoolToObject(o, "fp64", d->fp64);
        cJSON_AddNumberToObject(o, "preferred_vector_width_float",
                                d->preferred_vector_width_float);
        cJSON_AddBoolToObject(o, "default", d->is_default);
        cJSON_AddBoolToObject(o, "selected", (long)i == selected);
    }
    char *text = arr ? cJSON_Print(arr) : NULL;
    cJSON_Delete(arr);
    if (!text) {
        fprintf(stderr, "clnet-info: out of memory\n");
        return 1;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

static int list_devices(int json, const char *selector)
{
    clnet_device_desc *list = NULL;
    size_t n = 0;
    char err[4096];
    clnet_status st = clnet_devices_list(&list, &n, err, sizeof err);
    if (st != CLNET_OK) {
        fprintf(stderr, "clnet-info: %s\n",
                st == CLNET_ENODEV ? err : clnet_strerror(st));
        if (json)
            puts("[]");
        return 1;
    }
    long selected = -1;
    int rc = 0;
    if (selector && *selector) {
        size_t pick = 0;
        if (clnet__device_pick(list, n, selector, &pick, err, sizeof err) ==
            CLNET_OK)
            selected = (long)pick;
        else {
            fprintf(stderr, "clnet-info: %s\n", err);
            rc = 1;
        }
    }
    if (json)
        rc |= print_json(list, n, selected);
    else
        print_text(list, n, selected);
    clnet_devices_free(list);
    return rc;
}

int main(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_SELF_TEST, OPT_SEED };
    static const struct option opts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"self-test", no_argument, NULL, OPT_SELF_TEST},
        {"seed", required_argument, NULL, OPT_SEED},
        {"device", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    int json = 0, self_test = 0;
    uint64_t seed = 0;
    cli_verbosity verb = {1};
    const char *device = getenv("CLNET_DEVICE");
    for (int c; (c = getopt_long(argc, argv, "d:vqhV", opts, NULL)) != -1;) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_SELF_TEST: self_test = 1; break;
        case OPT_SEED: seed = strtoull(optarg, NULL, 10); break;
        case 'd': device = optarg; break;
        case 'v': verb.level++; break;
        case 'q': verb.level = 0; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("clnet-info %s\n", clnet_version()); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || (json && self_test)) {
        usage(stderr);
        return 2;
    }
    if (!self_test)
        return list_devices(json, device);

    clnet_ctx_settings s;
    clnet_ctx_default_settings(&s);
    s.device = device;
    s.log = cli_log;
    s.log_user = &verb;
    s.log_level = cli_log_level(verb.level);
    selftest_options o = {&s, seed, verb.level};
    return selftest_run(&o);
}
