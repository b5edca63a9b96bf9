/* gemm-bench --tune-clblast: a short run of CLBlast's own tuner
 * (clblast_tuner_xgemm, Debian package clblast-utils) for this context's
 * device, whose best Xgemm parameters go to the library
 * (clnet__clblast_tuned_set: applied now, stored beside the program cache).
 *
 * The tuner runs four searches one after the other; the first is its fixed
 * set of the kernel's main parameters (578 configurations), of which
 * -fraction F tries 1/F, and it writes clblast_xgemm_1_32.json when done.
 * That set is the short run: the tuner is stopped once the file is there
 * (the searches after it took 25 more minutes on 2 cores). The JSON files of
 * a whole run made by hand can be imported instead (clblast_import). */
#include "clblast_tune.h"

#include "ocl/ocl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* CLBlast numbers platforms by clGetPlatformIDs and devices within one. */
static int device_indices(clnet_ctx *ctx, unsigned *pi, unsigned *di)
{
    const clnet__ocl *o = clnet__ocl_of(ctx);
    cl_platform_id plats[32];
    cl_uint np = 0;
    if (clGetPlatformIDs(32, plats, &np) != CL_SUCCESS)
        return 0;
    for (cl_uint p = 0; p < np && p < 32; p++) {
        if (plats[p] != o->platform)
            continue;
        cl_device_id devs[64];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS)
            return 0;
        for (cl_uint d = 0; d < nd && d < 64; d++)
            if (devs[d] == o->device) {
                *pi = p;
                *di = d;
                return 1;
            }
    }
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
        buf[n] = '\0';
    else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* The fastest result's parameters as "NAME=VALUE ..." (PRECISION left out:
 * the override names the precision itself); its time in *ms, the number of
 * results in *count. 0 when the file is incomplete or has no result. */
static int best_of(const char *json, char *out, size_t cap, double *ms, int *count)
{
    cJSON *root = cJSON_Parse(json);
    const cJSON *results = root ? cJSON_GetObjectItemCaseSensitive(root, "results") : NULL;
    const cJSON *best = NULL, *r;
    double best_t = 0;
    *count = 0;
    cJSON_ArrayForEach(r, results)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "time");
        if (!cJSON_IsNumber(t) || t->valuedouble <= 0)
            continue;
        ++*count;
        if (!best || t->valuedouble < best_t) {
            best = r;
            best_t = t->valuedouble;
        }
    }
    const cJSON *params = best ? cJSON_GetObjectItemCaseSensitive(best, "parameters") : NULL;
    size_t len = 0;
    out[0] = '\0';
    const cJSON *p;
    cJSON_ArrayForEach(p, params)
    {
        if (!cJSON_IsNumber(p) || !p->string || strcmp(p->string, "PRECISION") == 0)
            continue;
        int w = snprintf(out + len, cap - len, "%s%s=%d", len ? " " : "", p->string,
                         p->valueint);
        if (w < 0 || (size_t)w >= cap - len) {
            out[0] = '\0';
            break;
        }
        len += (size_t)w;
    }
    cJSON_Delete(root);
    *ms = best_t;
    return out[0] != '\0';
}

int clblast_import(clnet_ctx *ctx, const char *files)
{
    char best[512] = "", params[512], list[2048];
    double best_ms = 0, ms = 0;
    int total = 0, count = 0;
    snprintf(list, sizeof list, "%s", files);
    for (char *save = NULL, *f = strtok_r(list, ",", &save); f;
         f = strtok_r(NULL, ",", &save)) {
        char *json = slurp(f);
        int ok = json && best_of(json, params, sizeof params, &ms, &count);
        free(json);
        if (!ok) {
            fprintf(stderr, "gemm-bench: %s: not a CLBlast tuner result file\n", f);
            return 0;
        }
        total += count;
        if (!best[0] || ms < best_ms) {
            snprintf(best, sizeof best, "%s", params);
            best_ms = ms;
        }
    }
    if (clnet__clblast_tuned_set(ctx, best) != CLNET_OK) {
        fprintf(stderr, "gemm-bench: %s\n", clnet_errmsg(ctx));
        return 0;
    }
    fprintf(stderr, "gemm-bench: CLBlast parameters imported: best of %d results "
            "%.2f ms: %s (stored in the GEMM tuning file)\n", total, best_ms, best);
    return 1;
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"tuner.log", "clblast_xgemm_1_32.json",
                                        "clblast_xgemm_2_32.json"};
    char path[1200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static pid_t start_tuner(const char *dir, unsigned pi, unsigned di, int fraction)
{
    char plat[16], dev[16], frac[16];
    snprintf(plat, sizeof plat, "%u", pi);
    snprintf(dev, sizeof dev, "%u", di);
    snprintf(frac, sizeof frac, "%d", fraction);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char log[1200];
    snprintf(log, sizeof log, "%s/tuner.log", dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || chdir(dir) != 0)
        _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    execlp("clblast_tuner_xgemm", "clblast_tuner_xgemm", "-platform", plat, "-device",
           dev, "-precision", "32", "-m", "256", "-n", "256", "-k", "256", "-fraction",
           frac, "-runs", "2", (char *)NULL);
    _exit(127);
}

int clblast_tune(clnet_ctx *ctx, int fraction)
{
    unsigned pi = 0, di = 0;
    if (!device_indices(ctx, &pi, &di)) {
        fprintf(stderr, "gemm-bench: cannot number the device as CLBlast does\n");
        return 0;
    }
    char dir[] = "/tmp/clnet-clblast-tune.XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "gemm-bench: mkdtemp: %s\n", strerror(errno));
        return 0;
    }
    double t0 = (double)time(NULL);
    fprintf(stderr, "gemm-bench: tuning CLBlast's Xgemm (clblast_tuner_xgemm -platform %u "
            "-device %u -m 256 -n 256 -k 256 -fraction %d: 1/%d of its fixed set)...\n",
            pi, di, fraction, fraction);
    pid_t pid = start_tuner(dir, pi, di, fraction);
    if (pid < 0) {
        fprintf(stderr, "gemm-bench: fork: %s\n", strerror(errno));
        remove_dir(dir);
        return 0;
    }
    char json_path[1200], params[512];
    snprintf(json_path, sizeof json_path, "%s/clblast_xgemm_1_32.json", dir);
    double ms = 0;
    int count = 0, found = 0, status = 0, exited = 0;
    while (!found && !exited) {
        struct timespec nap = {0, 200 * 1000 * 1000};
        nanosleep(&nap, NULL);
        char *json = slurp(json_path); /* complete once it parses */
        found = json && best_of(json, params, sizeof params, &ms, &count);
        free(json);
        exited = !found && waitpid(pid, &status, WNOHANG) == pid;
    }
    if (!exited) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
    if (!found) {
        fprintf(stderr, "gemm-bench: clblast_tuner_xgemm ended (status %d) without "
                "results%s; its log was %s/tuner.log\n", WEXITSTATUS(status),
                WEXITSTATUS(status) == 127 ? " (not installed? Debian: clblast-utils)" : "",
                dir);
        return 0; /* the log stays for the user */
    }
    remove_dir(dir);
    if (clnet__clblast_tuned_set(ctx, params) != CLNET_OK) {
        fprintf(stderr, "gemm-bench: %s\n", clnet_errmsg(ctx));
        return 0;
    }
    fprintf(stderr, "gemm-bench: CLBlast tuned in %.0f s: best of %d configurations "
            "%.2f ms at 256^3: %s (stored in the GEMM tuning file)\n",
            (double)time(NULL) - t0, count, ms, params);
    return 1;
}
