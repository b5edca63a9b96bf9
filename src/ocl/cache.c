/* On-disk cache of program binaries.
 *
 * Entry file <dir>/<32 hex digits of key>.bin:
 *   8 bytes  magic "CLNETPB\0"
 *   4 bytes  format version (little endian), 4 bytes reserved (0)
 *   16 bytes key (XXH3-128 of source, options, platform version, device name,
 *            driver version, clnet version)
 *   8 bytes  binary size, 8 bytes XXH3-64 of the binary
 *   binary
 * Entries are written to a temp file in the same directory and renamed, so a
 * reader sees a whole entry or none; anything that fails to validate is
 * ignored (and rebuilt), never handed to the driver. */
#include "ocl/ocl_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define CACHE_MAGIC "CLNETPB"
#define CACHE_FORMAT 1u
#define HEADER_BYTES 48
#define MAX_BINARY ((uint64_t)1 << 31)

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    clnet__strlcpy(tmp, path, sizeof tmp);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

void clnet__cache_init(clnet_ctx *ctx, const char *dir, int enabled)
{
    clnet__ocl *o = &ctx->ocl;
    o->cache_enabled = 0;
    if (!enabled) {
        clnet__log(ctx, CLNET_LOG_DEBUG, "program cache disabled");
        return;
    }
    const char *env = getenv("CLNET_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (dir && *dir)
        clnet__strlcpy(o->cache_dir, dir, sizeof o->cache_dir);
    else if (env && *env)
        clnet__strlcpy(o->cache_dir, env, sizeof o->cache_dir);
    else if (xdg && *xdg)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s/clnet", xdg);
    else if (home && *home)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s/.cache/clnet", home);
    else {
        clnet__log(ctx, CLNET_LOG_WARN,
                   "no cache directory (HOME unset); program cache disabled");
        return;
    }
    if (mkdir_p(o->cache_dir) != 0 || access(o->cache_dir, W_OK | X_OK) != 0) {
        clnet__log(ctx, CLNET_LOG_WARN,
                   "program cache directory %s is not writable (%s); kernels "
                   "will be compiled every run",
                   o->cache_dir, strerror(errno));
        return;
    }
    o->cache_enabled = 1;
}

static void hash_str(XXH3_state_t *s, const char *str)
{
    uint64_t n = str ? strlen(str) : 0;
    XXH3_128bits_update(s, &n, sizeof n); /* lengths keep fields apart */
    if (n)
        XXH3_128bits_update(s, str, (size_t)n);
}

void clnet__cache_key(clnet_ctx *ctx, const char *source, const char *options,
                      unsigned char key[16])
{
    XXH3_state_t *s = XXH3_createState();
    const clnet_device_desc *d = &ctx->ocl.desc;
    if (!s) {
        memset(key, 0, 16);
        return;
    }
    XXH3_128bits_reset(s);
    hash_str(s, source);
    hash_str(s, options);
    hash_str(s, d->platform_version);
    hash_str(s, d->name);
    hash_str(s, d->driver_version);
    hash_str(s, clnet_version());
    XXH128_hash_t h = XXH3_128bits_digest(s);
    XXH3_freeState(s);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(key, c.digest, 16);
}

static void entry_path(const char *cache_dir, const unsigned char key[16],
                       char *buf, size_t cap)
{
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(buf, cap, "%s/%s.bin", cache_dir, hex);
}

unsigned char *clnet__cache_load(clnet_ctx *ctx, const unsigned char key[16],
                                 size_t *size)
{
    char path[1200];
    entry_path(ctx->ocl.cache_dir, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char h[HEADER_BYTES];
    unsigned char *bin = NULL;
    const char *why = NULL;
    if (fread(h, 1, HEADER_BYTES, f) != HEADER_BYTES)
        why = "truncated header";
    else if (memcmp(h, CACHE_MAGIC, 8) != 0)
        why = "bad magic";
    else if (get_u32(h + 8) != CACHE_FORMAT)
        why = "other format version";
    else if (memcmp(h + 16, key, 16) != 0)
        why = "key mismatch";
    else {
        uint64_t n = get_u64(h + 32);
        if (n == 0 || n > MAX_BINARY)
            why = "bad size";
        else if (!(bin = malloc((size_t)n)))
            why = "out of memory";
        else if (fread(bin, 1, (size_t)n, f) != n || fgetc(f) != EOF)
            why = "size mismatch";
        else if (XXH3_64bits(bin, (size_t)n) != get_u64(h + 40))
            why = "checksum mismatch";
        else
            *size = (size_t)n;
    }
    fclose(f);
    if (why) {
        free(bin);
        ctx->cache_stats.cache_rejected++;
        clnet__log(ctx, CLNET_LOG_WARN, "ignoring program cache entry %s: %s",
                   path, why);
        return NULL;
    }
    return bin;
}

/* Logs nothing (the caller reports why), so tests can call it from several
 * processes or threads at once. */
static int cache_store(const char *cache_dir, const unsigned char key[16],
                       const unsigned char *bin, size_t size, char *why,
                       size_t why_cap)
{
    char path[1200], tmp[1300];
    entry_path(cache_dir, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, why_cap, "cannot write program cache in %s: %s", cache_dir,
                 strerror(errno));
        return -1;
    }
    unsigned char h[HEADER_BYTES] = {0};
    memcpy(h, CACHE_MAGIC, 8);
    put_u32(h + 8, CACHE_FORMAT);
    memcpy(h + 16, key, 16);
    put_u64(h + 32, size);
    put_u64(h + 40, XXH3_64bits(bin, size));
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(h, 1, HEADER_BYTES, f) == HEADER_BYTES &&
             fwrite(bin, 1, size, f) == size && fflush(f) == 0 &&
             fsync(fd) == 0;
    if (f)
        ok = (fclose(f) == 0) && ok;
    else
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        snprintf(why, why_cap, "cannot write program cache entry %s", path);
        return -1;
    }
    return 0;
}

void clnet__cache_store_now(clnet_ctx *ctx, cl_program prog,
                            const unsigned char key[16])
{
    clnet__ocl *o = &ctx->ocl;
    char why[1400] = "";
    size_t size = 0;
    unsigned char *bin = NULL;
    /* Idle queues first: a driver's binary query must not race its own
     * execution of this context's kernels (cache_policy.c). */
    if ((o->queue && clFinish(o->queue) != CL_SUCCESS) ||
        (o->upload_queue && clFinish(o->upload_queue) != CL_SUCCESS))
        snprintf(why, sizeof why, "the device did not finish its queued work");
    else if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size,
                              NULL) != CL_SUCCESS ||
             size == 0)
        snprintf(why, sizeof why, "the driver gave no program binary to cache");
    else if (!(bin = malloc(size)))
        snprintf(why, sizeof why, "out of memory for a %zu-byte program binary",
                 size);
    else if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) !=
             CL_SUCCESS)
        snprintf(why, sizeof why, "the driver gave no program binary to cache");
    else
        cache_store(o->cache_dir, key, bin, size, why, sizeof why);
    free(bin);
    if (why[0] && !o->cache_warned) {
        clnet__log(ctx, CLNET_LOG_WARN, "%s", why);
        o->cache_warned = 1;
    }
}
