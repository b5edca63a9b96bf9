/* Who keeps compiled programs between runs: clnet's disk cache, or the
 * driver's own.
 *
 * Why two answers: a program binary is only worth asking a driver for when it
 * is cheap to produce and nothing else keeps it. PoCL keeps every build in its
 * own kernel cache (program.bc per source and options, then one library per
 * kernel and local size), and producing a binary for clnet costs it a full
 * compile of every kernel of the program (16 s of fashion-cnn's first 21 s
 * once). Asking for it beside running kernels is not safe either: PoCL 3.1
 * aborts (pocl_release_dlhandle_cache: found->ref_count > 0) when a binary
 * query races the device thread that releases finished kernels. So for a
 * driver that caches by itself clnet stores nothing and lets the driver's
 * cache make rebuilds cheap (measured: warm start 0.49 s against 0.38 s with
 * both caches, cold start unchanged, and no 8 s of binary queries at the end
 * of the first run). On every other driver clnet stores binaries, asked for on
 * the thread that built them with the context's queues idle (cache_store_now
 * in program.c), which no driver can race.
 *
 * A driver's cache that is turned off (POCL_KERNEL_CACHE=0) does not count:
 * clnet's own cache is used then. */
#include "ocl/ocl_private.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct clnet__driver_cache {
    const char *platform;    /* CL_PLATFORM_NAME, exactly */
    const char *off_env;     /* "0" here turns the driver's cache off */
    const char *dir_env;     /* where the driver keeps it, when set */
    const char *xdg_subdir;  /* else under $XDG_CACHE_HOME or ~/.cache */
    const char *entry_file;  /* one per built program, two levels down */
} driver_cache;

/* Drivers known to keep a persistent cache of built programs. */
static const driver_cache driver_caches[] = {
    {"Portable Computing Language", "POCL_KERNEL_CACHE", "POCL_CACHE_DIR",
     "pocl/kcache", "program.bc"},
};

static const driver_cache *driver_cache_of(const clnet_device_desc *d)
{
    for (size_t i = 0; i < sizeof driver_caches / sizeof driver_caches[0]; i++) {
        const driver_cache *c = &driver_caches[i];
        if (strcmp(d->platform_name, c->platform) != 0)
            continue;
        const char *off = getenv(c->off_env);
        if (off && strcmp(off, "0") == 0)
            return NULL;
        return c;
    }
    return NULL;
}

static void driver_cache_dir(const driver_cache *c, char *buf, size_t cap)
{
    const char *env = getenv(c->dir_env);
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (env && *env)
        clnet__strlcpy(buf, env, cap);
    else if (xdg && *xdg)
        snprintf(buf, cap, "%s/%s", xdg, c->xdg_subdir);
    else if (home && *home)
        snprintf(buf, cap, "%s/.cache/%s", home, c->xdg_subdir);
    else
        buf[0] = '\0';
}

void clnet__cache_choose(clnet_ctx *ctx, int setting)
{
    clnet__ocl *o = &ctx->ocl;
    o->program_cache = CLNET_PROGRAM_CACHE_OFF;
    o->driver_cache = NULL;
    o->driver_cache_dir[0] = '\0';
    if (setting == CLNET_PROGRAM_CACHE_OFF)
        return;
    const driver_cache *c = driver_cache_of(&o->desc);
    if (c && setting != CLNET_PROGRAM_CACHE_CLNET) {
        o->program_cache = CLNET_PROGRAM_CACHE_DRIVER;
        o->driver_cache = c;
        driver_cache_dir(c, o->driver_cache_dir, sizeof o->driver_cache_dir);
        clnet__log(ctx, CLNET_LOG_DEBUG,
                   "program cache: the driver's own (%s); clnet stores no "
                   "binaries for it",
                   o->driver_cache_dir[0] ? o->driver_cache_dir : "its default");
        return;
    }
    if (o->cache_enabled)
        o->program_cache = CLNET_PROGRAM_CACHE_CLNET;
}

long clnet__driver_cache_entries(const clnet_ctx *ctx)
{
    const clnet__ocl *o = &ctx->ocl;
    const driver_cache *c = o->driver_cache;
    if (!c || !o->driver_cache_dir[0])
        return -1;
    DIR *top = opendir(o->driver_cache_dir);
    if (!top)
        return 0; /* nothing built yet: the driver makes it on first use */
    long n = 0;
    char path[2048];
    for (struct dirent *a; (a = readdir(top));) {
        if (a->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", o->driver_cache_dir, a->d_name);
        DIR *mid = opendir(path);
        if (!mid)
            continue;
        for (struct dirent *b; (b = readdir(mid));) {
            if (b->d_name[0] == '.')
                continue;
            char file[2560];
            snprintf(file, sizeof file, "%s/%s/%s", path, b->d_name, c->entry_file);
            FILE *f = fopen(file, "rb");
            if (f) {
                n++;
                fclose(f);
            }
        }
        closedir(mid);
    }
    closedir(top);
    return n;
}

clnet_program_cache clnet_ctx_program_cache(const clnet_ctx *ctx, const char **where)
{
    if (where)
        *where = "";
    if (!ctx)
        return CLNET_PROGRAM_CACHE_OFF;
    const clnet__ocl *o = &ctx->ocl;
    if (where && o->program_cache == CLNET_PROGRAM_CACHE_CLNET)
        *where = o->cache_dir;
    else if (where && o->program_cache == CLNET_PROGRAM_CACHE_DRIVER)
        *where = o->driver_cache_dir;
    return (clnet_program_cache)o->program_cache;
}
