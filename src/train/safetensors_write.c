/* safetensors writer: validate, build the header with cJSON, write a temp
 * file beside the target, fsync, rename, fsync the directory. */
#include "core/atomic_file.h"
#include "core/core.h"
#include "train/safetensors.h"
#include "train/safetensors_util.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first name that occurs twice among n strings, or NULL. */
static const char *first_duplicate(const char **names, size_t n)
{
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return names[i];
    return NULL;
}

static clnet_status check_inputs(clnet_ctx *ctx, const char *path,
                                 const clnet__st_tensor *t, size_t n,
                                 const clnet__st_meta *meta, size_t n_meta,
                                 uint64_t *data_bytes)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name || !*name || strcmp(name, "__metadata__") == 0 ||
            !clnet__st_utf8_ok(name, strlen(name)))
            return clnet__fail(ctx, CLNET_EINVAL,
                               "%s: tensor %zu: the name must be non-empty "
                               "UTF-8 and not \"__metadata__\"",
                               path, i);
        if (t[i].ndim < 0 || t[i].ndim > CLNET__ST_WRITE_MAX_DIMS)
            return clnet__fail(ctx, CLNET_EINVAL,
                               "%s: tensor '%s': %d dims (0 to %d supported)",
                               path, name, t[i].ndim, CLNET__ST_WRITE_MAX_DIMS);
        uint64_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            uint64_t s = t[i].shape[d];
            if (s > ((uint64_t)1 << 53) || (s && count > UINT64_MAX / 4 / s))
                return clnet__fail(ctx, CLNET_EINVAL,
                                   "%s: tensor '%s': shape too large", path, name);
            count *= s;
        }
        if (count && !t[i].data)
            return clnet__fail(ctx, CLNET_EINVAL, "%s: tensor '%s': no data",
                               path, name);
        if (count > (UINT64_MAX - total) / 4 || count > SIZE_MAX / 4)
            return clnet__fail(ctx, CLNET_EINVAL, "%s: tensors too large", path);
        total += count * 4;
    }
    for (size_t i = 0; i < n_meta; i++) {
        const char *k = meta[i].key, *v = meta[i].value;
        if (!k || !*k || !v || !clnet__st_utf8_ok(k, strlen(k)) ||
            !clnet__st_utf8_ok(v, strlen(v)))
            return clnet__fail(ctx, CLNET_EINVAL,
                               "%s: metadata %zu: key and value must be UTF-8 "
                               "strings (key non-empty)",
                               path, i);
    }
    size_t most = n > n_meta ? n : n_meta;
    const char **names = malloc((most ? most : 1) * sizeof *names);
    if (!names)
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", path);
    const char *dup = NULL, *what = "tensor";
    for (size_t i = 0; i < n; i++)
        names[i] = t[i].name;
    dup = first_duplicate(names, n);
    if (!dup) {
        what = "metadata key";
        for (size_t i = 0; i < n_meta; i++)
            names[i] = meta[i].key;
        dup = first_duplicate(names, n_meta);
    }
    clnet_status st = dup ? clnet__fail(ctx, CLNET_EINVAL,
                                        "%s: %s '%s' appears twice", path, what, dup)
                          : CLNET_OK;
    free(names);
    *data_bytes = total;
    return st;
}

/* Adds an integer verbatim (cJSON prints numbers through double, which
 * would turn large offsets into exponent notation). */
static int add_int(cJSON *array, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    cJSON *item = cJSON_CreateRaw(s);
    return item && cJSON_AddItemToArray(array, item);
}

static cJSON *tensor_json(const clnet__st_tensor *t, uint64_t begin,
                          uint64_t *end)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    uint64_t count = 1;
    int ok = o && cJSON_AddStringToObject(o, "dtype", "F32") && shape;
    for (int d = 0; ok && d < t->ndim; d++) {
        ok = add_int(shape, t->shape[d]);
        count *= t->shape[d];
    }
    *end = begin + count * 4;
    cJSON *offsets = ok ? cJSON_AddArrayToObject(o, "data_offsets") : NULL;
    if (!offsets || !add_int(offsets, begin) || !add_int(offsets, *end)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The header text, padded with spaces to a multiple of 8; malloc'd. */
static char *build_header(const clnet__st_tensor *t, size_t n,
                          const clnet__st_meta *meta, size_t n_meta,
                          size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (size_t i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
    }
    uint64_t off = 0;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *e = tensor_json(&t[i], off, &off);
        ok = e && cJSON_AddItemToObject(root, t[i].name, e);
        if (!ok)
            cJSON_Delete(e);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return NULL;
    size_t raw = strlen(text), padded = (raw + 7) / 8 * 8;
    char *out = realloc(text, padded + 1);
    if (!out) {
        cJSON_free(text);
        return NULL;
    }
    memset(out + raw, ' ', padded - raw);
    out[padded] = '\0';
    *len = padded;
    return out;
}

static int write_floats(FILE *f, const float *v, size_t n)
{
    float buf[1024];
    while (n) {
        size_t k = n < 1024 ? n : 1024;
        memcpy(buf, v, k * 4);
        clnet__st_floats_from_le(buf, k); /* a byte swap is its own inverse */
        if (fwrite(buf, 4, k, f) != k)
            return 0;
        v += k, n -= k;
    }
    return 1;
}

clnet_status clnet__st_write(clnet_ctx *ctx, const char *path,
                             const clnet__st_tensor *tensors, size_t n,
                             const clnet__st_meta *meta, size_t n_meta)
{
    CLNET__CHECK_ARG(ctx, path && *path && path[strlen(path) - 1] != '/');
    CLNET__CHECK_ARG(ctx, tensors || n == 0);
    CLNET__CHECK_ARG(ctx, meta || n_meta == 0);
    uint64_t data_bytes = 0;
    clnet_status st = check_inputs(ctx, path, tensors, n, meta, n_meta, &data_bytes);
    if (st != CLNET_OK)
        return st;
    size_t hlen = 0;
    char *header = build_header(tensors, n, meta, n_meta, &hlen);
    if (!header)
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", path);
    clnet__atomic_file af;
    if ((st = clnet__atomic_open(ctx, path, &af)) != CLNET_OK) {
        free(header);
        return st;
    }
    unsigned char len8[8];
    clnet__st_put_u64le(len8, hlen);
    int ok = fwrite(len8, 1, 8, af.f) == 8 && fwrite(header, 1, hlen, af.f) == hlen;
    for (size_t i = 0; ok && i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < tensors[i].ndim; d++)
            count *= tensors[i].shape[d];
        ok = write_floats(af.f, tensors[i].data, count);
    }
    char what[64];
    snprintf(what, sizeof what, "writing %" PRIu64 " bytes", 8 + hlen + data_bytes);
    free(header);
    return clnet__atomic_commit(ctx, &af, ok, what);
}
