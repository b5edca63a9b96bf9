/* safetensors reader: validates the whole header (see safetensors.h) into
 * an index, then reads tensors by name with pread at validated offsets. */
#include "core/core.h"
#include "train/safetensors.h"
#include "train/safetensors_util.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct clnet__st_file {
    char *path;
    int fd;
    uint64_t data_start, data_size; /* the data section within the file */
    clnet__st_entry *entries;       /* header order */
    size_t n;
    const clnet__st_entry **by_name; /* sorted, for lookup */
    char **meta;                    /* key, value, key, value... */
    size_t n_meta;
};

/* Tensor names come from the file: quote them with a length cap so a
 * hostile name cannot flood the message. */
#define NAME_FMT "'%.200s'"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* A JSON number that is an integer in [0, 2^53] (exact in a double). */
static int get_uint(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v <= 9007199254740992.0) || floor(v) != v)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static clnet_status parse_meta(clnet_ctx *ctx, clnet__st_file *f,
                               const cJSON *m)
{
    if (!cJSON_IsObject(m))
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: __metadata__ is not an object",
                           f->path);
    size_t n = (size_t)cJSON_GetArraySize(m);
    f->meta = calloc(2 * n + 1, sizeof *f->meta);
    if (!f->meta)
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", f->path);
    for (const cJSON *kv = m->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return clnet__fail(ctx, CLNET_EFORMAT,
                               "%s: __metadata__ value of " NAME_FMT
                               " is not a string (the format allows only strings)",
                               f->path, kv->string);
        for (size_t i = 0; i < f->n_meta; i++)
            if (strcmp(f->meta[2 * i], kv->string) == 0)
                return clnet__fail(ctx, CLNET_EFORMAT,
                                   "%s: __metadata__ key " NAME_FMT " appears twice",
                                   f->path, kv->string);
        char *k = dup_str(kv->string), *v = dup_str(kv->valuestring);
        f->meta[2 * f->n_meta] = k;
        f->meta[2 * f->n_meta + 1] = v;
        f->n_meta++;
        if (!k || !v)
            return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", f->path);
    }
    return CLNET_OK;
}

static clnet_status parse_shape(clnet_ctx *ctx, const clnet__st_file *f,
                                const char *name, const cJSON *shape,
                                clnet__st_entry *e)
{
    int n = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
    if (n < 0 || n > CLNET__ST_MAX_DIMS)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": shape must be an array of "
                           "at most %d integers",
                           f->path, name, CLNET__ST_MAX_DIMS);
    e->ndim = n;
    uint64_t count = 1;
    int d = 0;
    for (const cJSON *it = shape->child; it; it = it->next, d++) {
        uint64_t v;
        if (!get_uint(it, &v) || v > SIZE_MAX)
            return clnet__fail(ctx, CLNET_EFORMAT,
                               "%s: tensor " NAME_FMT ": shape[%d] is not an "
                               "integer in [0, 2^53]",
                               f->path, name, d);
        e->shape[d] = (size_t)v;
        if (v && count > UINT64_MAX / v)
            return clnet__fail(ctx, CLNET_EFORMAT,
                               "%s: tensor " NAME_FMT ": shape's element count "
                               "overflows",
                               f->path, name);
        count *= v;
    }
    if (count > SIZE_MAX || count > UINT64_MAX / e->dtype_size)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": shape's byte size overflows",
                           f->path, name);
    e->count = (size_t)count;
    return CLNET_OK;
}

static clnet_status parse_tensor(clnet_ctx *ctx, clnet__st_file *f,
                                 const cJSON *item, clnet__st_entry *e)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": entry is not an object",
                           f->path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype) || !shape || !offs)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": needs \"dtype\" (a string), "
                           "\"shape\" and \"data_offsets\"",
                           f->path, name);
    e->dtype_size = clnet__st_dtype_size(dtype->valuestring);
    if (!e->dtype_size)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": unknown dtype '%.32s'",
                           f->path, name, dtype->valuestring);
    e->dtype = dtype->valuestring; /* re-pointed at a copy by the caller */
    clnet_status st = parse_shape(ctx, f, name, shape, e);
    if (st != CLNET_OK)
        return st;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !get_uint(offs->child, &e->begin) || !get_uint(offs->child->next, &e->end) ||
        e->begin > e->end)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": data_offsets must be "
                           "[begin, end] with integers 0 <= begin <= end",
                           f->path, name);
    char shp[160];
    uint64_t bytes = (uint64_t)e->count * e->dtype_size;
    if (e->end - e->begin != bytes)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": shape %s of %s needs %" PRIu64
                           " bytes but data_offsets [%" PRIu64 ", %" PRIu64
                           ") hold %" PRIu64,
                           f->path, name,
                           clnet__st_shape_str(e->shape, e->ndim, shp, sizeof shp),
                           e->dtype, bytes, e->begin, e->end, e->end - e->begin);
    if (e->end > f->data_size)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": data_offsets [%" PRIu64
                           ", %" PRIu64 ") exceed the data section (%" PRIu64
                           " bytes)",
                           f->path, name, e->begin, e->end, f->data_size);
    return CLNET_OK;
}

static int cmp_offsets(const void *a, const void *b)
{
    const clnet__st_entry *x = *(const clnet__st_entry *const *)a;
    const clnet__st_entry *y = *(const clnet__st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((*(const clnet__st_entry *const *)a)->name,
                  (*(const clnet__st_entry *const *)b)->name);
}

/* Tensors must tile the data section: no overlap, no gap, nothing after. */
static clnet_status check_layout(clnet_ctx *ctx, clnet__st_file *f)
{
    const clnet__st_entry **v = f->by_name;
    for (size_t i = 0; i < f->n; i++)
        v[i] = &f->entries[i];
    qsort(v, f->n, sizeof *v, cmp_offsets);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (v[i]->begin < at)
            return clnet__fail(ctx, CLNET_EFORMAT,
                               "%s: tensors " NAME_FMT " [%" PRIu64 ", %" PRIu64
                               ") and " NAME_FMT " [%" PRIu64 ", %" PRIu64
                               ") overlap",
                               f->path, v[i - 1]->name, v[i - 1]->begin,
                               v[i - 1]->end, v[i]->name, v[i]->begin, v[i]->end);
        if (v[i]->begin > at)
            return clnet__fail(ctx, CLNET_EFORMAT,
                               "%s: tensor " NAME_FMT ": %" PRIu64 " unused bytes "
                               "before its data_offsets [%" PRIu64 ", %" PRIu64
                               ") (the format allows no gaps)",
                               f->path, v[i]->name, v[i]->begin - at,
                               v[i]->begin, v[i]->end);
        at = v[i]->end;
    }
    if (at != f->data_size)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: the data section has %" PRIu64 " bytes but the "
                           "tensors cover %" PRIu64 " (the format allows no "
                           "trailing bytes)",
                           f->path, f->data_size, at);
    qsort(v, f->n, sizeof *v, cmp_names);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0)
            return clnet__fail(ctx, CLNET_EFORMAT,
                               "%s: tensor " NAME_FMT " appears twice", f->path,
                               v[i]->name);
    return CLNET_OK;
}

static clnet_status parse_index(clnet_ctx *ctx, clnet__st_file *f,
                                const cJSON *root)
{
    size_t n = 0;
    for (const cJSON *it = root->child; it; it = it->next)
        n += strcmp(it->string, "__metadata__") != 0;
    f->entries = calloc(n ? n : 1, sizeof *f->entries);
    f->by_name = calloc(n ? n : 1, sizeof *f->by_name);
    if (!f->entries || !f->by_name)
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", f->path);
    int seen_meta = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        clnet_status st;
        if (strcmp(it->string, "__metadata__") == 0) {
            if (seen_meta++)
                return clnet__fail(ctx, CLNET_EFORMAT,
                                   "%s: __metadata__ appears twice", f->path);
            st = parse_meta(ctx, f, it);
        } else {
            clnet__st_entry *e = &f->entries[f->n];
            st = parse_tensor(ctx, f, it, e);
            if (st == CLNET_OK) {
                char *name = dup_str(it->string), *dtype = dup_str(e->dtype);
                e->name = name, e->dtype = dtype;
                f->n++;
                if (!name || !dtype)
                    st = clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", f->path);
            }
        }
        if (st != CLNET_OK)
            return st;
    }
    return check_layout(ctx, f);
}

/* Reads exactly len bytes at offset or fails (short file, I/O error). */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t got = pread(fd, p, len, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        p += got, len -= (size_t)got, off += (uint64_t)got;
    }
    return 1;
}

static clnet_status read_header(clnet_ctx *ctx, clnet__st_file *f)
{
    struct stat sb;
    if (fstat(f->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return clnet__fail(ctx, CLNET_EIO, "%s: not a regular file", f->path);
    uint64_t size = (uint64_t)sb.st_size;
    unsigned char len8[8];
    if (size < 8 || !pread_all(f->fd, len8, 8, 0))
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: file is %" PRIu64 " bytes; a safetensors file "
                           "starts with an 8-byte header length",
                           f->path, size);
    uint64_t hlen = clnet__st_get_u64le(len8);
    if (hlen > size - 8 || hlen > CLNET__ST_MAX_HEADER || hlen < 2)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: header length %" PRIu64 " is impossible (file "
                           "has %" PRIu64 " bytes after the length; limit %u)",
                           f->path, hlen, size - 8, CLNET__ST_MAX_HEADER);
    f->data_start = 8 + hlen;
    f->data_size = size - 8 - hlen;
    char *text = malloc((size_t)hlen);
    if (!text)
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", f->path);
    clnet_status st = CLNET_OK;
    const char *end = NULL;
    cJSON *root = NULL;
    if (!pread_all(f->fd, text, (size_t)hlen, 8))
        st = clnet__fail(ctx, CLNET_EIO, "%s: reading the header failed", f->path);
    else if (text[0] != '{' || !clnet__st_utf8_ok(text, (size_t)hlen))
        st = clnet__fail(ctx, CLNET_EFORMAT,
                         "%s: header is not UTF-8 JSON starting with '{'", f->path);
    else if (!(root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0)) ||
             !cJSON_IsObject(root))
        st = clnet__fail(ctx, CLNET_EFORMAT,
                         "%s: header is not a valid JSON object (error near "
                         "byte %td of %" PRIu64 ")",
                         f->path, end ? end - text : (ptrdiff_t)0, hlen);
    for (; st == CLNET_OK && end < text + hlen; end++)
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
            st = clnet__fail(ctx, CLNET_EFORMAT,
                             "%s: header has bytes after its JSON object "
                             "(at byte %td)",
                             f->path, end - text);
    if (st == CLNET_OK)
        st = parse_index(ctx, f, root);
    cJSON_Delete(root);
    free(text);
    return st;
}

clnet_status clnet__st_open(clnet_ctx *ctx, const char *path,
                            clnet__st_file **out)
{
    CLNET__CHECK_ARG(ctx, path && out);
    *out = NULL;
    clnet__st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = dup_str(path))) {
        free(f);
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", path);
    }
    f->fd = open(path, O_RDONLY);
    if (f->fd < 0) {
        clnet_status st = clnet__fail(ctx, CLNET_EIO, "%s: cannot open: %s",
                                      path, strerror(errno));
        clnet__st_close(f);
        return st;
    }
    clnet_status st = read_header(ctx, f);
    if (st != CLNET_OK) {
        clnet__st_close(f);
        return st;
    }
    *out = f;
    return CLNET_OK;
}

void clnet__st_close(clnet__st_file *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    for (size_t i = 0; i < f->n; i++) {
        free((char *)f->entries[i].name);
        free((char *)f->entries[i].dtype);
    }
    for (size_t i = 0; f->meta && i < 2 * f->n_meta; i++)
        free(f->meta[i]);
    free(f->meta);
    free(f->entries);
    free(f->by_name);
    free(f->path);
    free(f);
}

size_t clnet__st_count(const clnet__st_file *f) { return f ? f->n : 0; }

const clnet__st_entry *clnet__st_entry_at(const clnet__st_file *f, size_t i)
{
    return f && i < f->n ? &f->entries[i] : NULL;
}

const clnet__st_entry *clnet__st_find(const clnet__st_file *f, const char *name)
{
    if (!f || !name || !f->n)
        return NULL;
    clnet__st_entry key = {.name = name};
    const clnet__st_entry *kp = &key;
    const clnet__st_entry **hit =
        bsearch(&kp, f->by_name, f->n, sizeof *f->by_name, cmp_names);
    return hit ? *hit : NULL;
}

const char *clnet__st_meta_get(const clnet__st_file *f, const char *key)
{
    for (size_t i = 0; f && key && i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0)
            return f->meta[2 * i + 1];
    return NULL;
}

size_t clnet__st_meta_count(const clnet__st_file *f) { return f ? f->n_meta : 0; }

void clnet__st_meta_at(const clnet__st_file *f, size_t i, const char **key,
                       const char **value)
{
    int ok = f && i < f->n_meta;
    *key = ok ? f->meta[2 * i] : NULL;
    *value = ok ? f->meta[2 * i + 1] : NULL;
}

clnet_status clnet__st_read(clnet_ctx *ctx, clnet__st_file *f,
                            const char *name, int ndim, const size_t *shape,
                            float *dst)
{
    CLNET__CHECK_ARG(ctx, f && name && (shape || ndim == 0));
    CLNET__CHECK_ARG(ctx, ndim >= 0 && ndim <= CLNET__ST_MAX_DIMS);
    const clnet__st_entry *e = clnet__st_find(f, name);
    if (!e)
        return clnet__fail(ctx, CLNET_ENOTFOUND, "%s: no tensor " NAME_FMT,
                           f->path, name);
    if (strcmp(e->dtype, "F32") != 0)
        return clnet__fail(ctx, CLNET_EFORMAT,
                           "%s: tensor " NAME_FMT ": dtype %s, but clnet reads "
                           "only F32",
                           f->path, name, e->dtype);
    int same = e->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = e->shape[d] == shape[d];
    if (!same) {
        char a[160], b[160];
        return clnet__fail(ctx, CLNET_ESHAPE,
                           "%s: tensor " NAME_FMT ": shape %s in the file, %s "
                           "expected",
                           f->path, name, clnet__st_shape_str(e->shape, e->ndim, a, sizeof a),
                           clnet__st_shape_str(shape, ndim, b, sizeof b));
    }
    CLNET__CHECK_ARG(ctx, dst || e->count == 0);
    if (e->count && !pread_all(f->fd, dst, e->count * 4, f->data_start + e->begin))
        return clnet__fail(ctx, CLNET_EIO,
                           "%s: tensor " NAME_FMT ": reading %zu bytes failed "
                           "(file changed since it was opened?)",
                           f->path, name, e->count * 4);
    clnet__st_floats_from_le(dst, e->count);
    return CLNET_OK;
}

clnet_status clnet__st_read_raw(clnet_ctx *ctx, clnet__st_file *f,
                                const clnet__st_entry *e, void *dst)
{
    CLNET__CHECK_ARG(ctx, f && e && (dst || e->end == e->begin));
    size_t len = (size_t)(e->end - e->begin);
    if (len && !pread_all(f->fd, dst, len, f->data_start + e->begin))
        return clnet__fail(ctx, CLNET_EIO,
                           "%s: tensor " NAME_FMT ": reading %zu bytes failed "
                           "(file changed since it was opened?)",
                           f->path, e->name, len);
    return CLNET_OK;
}
