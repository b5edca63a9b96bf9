/* Reading a weights file into a named tensor set (train/weights.h): a
 * safetensors file (a clnet checkpoint or a PyTorch state_dict), or an ONNX
 * file's initializers through the importer. */
#include "train/weights.h"

#include "core/core.h"
#include "onnx/import.h"
#include "train/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IEEE half (binary16) to float, subnormals and inf/NaN included. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (!man) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint64_t le_bytes(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Floating-point dtypes a weight may come in; 0: not a weight. */
enum { DT_NONE, DT_F32, DT_F64, DT_F16, DT_BF16 };

static int float_dtype(const char *d)
{
    return !strcmp(d, "F32") ? DT_F32 : !strcmp(d, "F64") ? DT_F64
         : !strcmp(d, "F16") ? DT_F16 : !strcmp(d, "BF16") ? DT_BF16 : DT_NONE;
}

/* raw (count little-endian values of dtype dt) to floats. */
static void to_floats(int dt, const unsigned char *raw, size_t count, float *out)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t b;
        double d;
        uint64_t b64;
        switch (dt) {
        case DT_F32:
            b = (uint32_t)le_bytes(raw + 4 * i, 4);
            memcpy(&out[i], &b, 4);
            break;
        case DT_F64:
            b64 = le_bytes(raw + 8 * i, 8);
            memcpy(&d, &b64, 8);
            out[i] = (float)d;
            break;
        case DT_F16:
            out[i] = half_to_float((uint16_t)le_bytes(raw + 2 * i, 2));
            break;
        default: /* BF16: the top half of a float */
            b = (uint32_t)le_bytes(raw + 2 * i, 2) << 16;
            memcpy(&out[i], &b, 4);
            break;
        }
    }
}

static clnet_status read_entry(clnet_ctx *ctx, clnet__st_file *f,
                               const clnet__st_entry *e, clnet__tensor_set *s)
{
    if (strncmp(e->name, "optim.", 6) == 0)
        return clnet__tensor_set_unread(ctx, s, e->name,
                                        "optimizer state of a checkpoint (not a weight)");
    int dt = float_dtype(e->dtype);
    if (!dt) {
        char why[96];
        snprintf(why, sizeof why, "dtype %s (only floating-point tensors are weights)",
                 e->dtype);
        return clnet__tensor_set_unread(ctx, s, e->name, why);
    }
    if (e->ndim > CLNET__TENSOR_MAX_DIMS)
        return clnet__tensor_set_unread(ctx, s, e->name, "more than 8 dims");
    size_t bytes = (size_t)(e->end - e->begin);
    unsigned char *raw = malloc(bytes ? bytes : 1);
    float *v = malloc((e->count ? e->count : 1) * sizeof *v);
    clnet_status st = raw && v ? clnet__st_read_raw(ctx, f, e, raw)
                               : clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    if (st == CLNET_OK) {
        to_floats(dt, raw, e->count, v);
        st = clnet__tensor_set_add(ctx, s, e->name, e->ndim, e->shape, v);
    }
    free(raw);
    free(v);
    return st;
}

clnet_status clnet__weights_read_safetensors(clnet_ctx *ctx, const char *path,
                                             clnet__tensor_set *s)
{
    CLNET__CHECK_ARG(ctx, path && s && s->n == 0);
    clnet__st_file *f;
    clnet_status st = clnet__st_open(ctx, path, &f);
    if (st != CLNET_OK)
        return st;
    snprintf(s->source, sizeof s->source, "%s", path);
    for (size_t i = 0; i < clnet__st_count(f) && st == CLNET_OK; i++)
        st = read_entry(ctx, f, clnet__st_entry_at(f, i), s);
    clnet__st_close(f);
    if (st != CLNET_OK)
        clnet__tensor_set_clear(s);
    return st;
}

clnet_status clnet__weights_read(clnet_ctx *ctx, const char *path,
                                 clnet__tensor_set *s)
{
    CLNET__CHECK_ARG(ctx, path && s && s->n == 0);
    if (!clnet__onnx_is_onnx_path(path))
        return clnet__weights_read_safetensors(ctx, path, s);
    char *cfg = NULL;
    clnet_status st = clnet__onnx_import(ctx, path, &cfg, s);
    free(cfg);
    if (st == CLNET_OK)
        snprintf(s->source, sizeof s->source, "%s", path);
    return st;
}
