/* Reading ONNX TensorProtos (initializers, Constant values, test data) into
 * plain arrays. */
#include "onnx/onnx_internal.h"
#include "onnx/import.h"

#include "core/core.h"

#include <stdlib.h>
#include <string.h>

/* TensorProto.DataType values this reader accepts. */
enum {
    DT_FLOAT = 1, DT_UINT8 = 2, DT_INT8 = 3, DT_UINT16 = 4, DT_INT16 = 5,
    DT_INT32 = 6, DT_INT64 = 7, DT_BOOL = 9, DT_DOUBLE = 11, DT_UINT32 = 12,
    DT_UINT64 = 13
};

static size_t elem_size(int dt)
{
    switch (dt) {
    case DT_FLOAT: case DT_INT32: case DT_UINT32: return 4;
    case DT_UINT8: case DT_INT8: case DT_BOOL: return 1;
    case DT_UINT16: case DT_INT16: return 2;
    case DT_INT64: case DT_DOUBLE: case DT_UINT64: return 8;
    default: return 0;
    }
}

/* Element k of little-endian raw data of type dt, as double (and int64). */
static double raw_elem(const uint8_t *p, int dt, size_t k, int64_t *iv)
{
    p += k * elem_size(dt);
    uint64_t u = 0;
    for (size_t b = elem_size(dt); b-- > 0;)
        u = u << 8 | p[b];
    double v;
    switch (dt) {
    case DT_FLOAT: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); v = f; break; }
    case DT_DOUBLE: memcpy(&v, &u, 8); break;
    case DT_INT8: v = (int8_t)u; break;
    case DT_INT16: v = (int16_t)u; break;
    case DT_INT32: v = (int32_t)u; break;
    case DT_INT64: v = (double)(int64_t)u; break;
    default: v = (double)u; break;
    }
    *iv = dt == DT_INT64 ? (int64_t)u : (int64_t)v;
    return v;
}

static const char *type_name(int dt)
{
    static const char *const names[] = {
        "undefined", "float", "uint8", "int8", "uint16", "int16", "int32",
        "int64", "string", "bool", "float16", "double", "uint32", "uint64",
        "complex64", "complex128", "bfloat16"};
    return dt >= 0 && dt < (int)(sizeof names / sizeof names[0]) ? names[dt] : "unknown";
}

clnet_status onnx__const_read(clnet_ctx *ctx, const Onnx__TensorProto *t,
                              const char *what, onnx__const *c)
{
    memset(c, 0, sizeof *c);
    int dt = t->has_data_type ? t->data_type : 0;
    if (!elem_size(dt))
        return clnet__fail(ctx, CLNET_EUNSUPPORTED,
                           "%s: tensor type %s is not supported (float, double "
                           "and integer tensors are)", what, type_name(dt));
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return clnet__fail(ctx, CLNET_EUNSUPPORTED,
                           "%s: external tensor data is not supported (save the "
                           "model with its weights inside the .onnx file)", what);
    if (t->segment)
        return clnet__fail(ctx, CLNET_EUNSUPPORTED, "%s: segmented tensors are "
                           "not supported", what);
    if (t->n_dims > ONNX__MAX_DIMS)
        return clnet__fail(ctx, CLNET_EUNSUPPORTED, "%s: %zu dimensions (at most %d)",
                           what, t->n_dims, ONNX__MAX_DIMS);
    c->ndim = (int)t->n_dims;
    size_t count = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] < 0 || (t->dims[d] && count > ((size_t)1 << 40) / (size_t)t->dims[d]))
            return clnet__fail(ctx, CLNET_EFORMAT, "%s: bad dimension %lld", what,
                               (long long)t->dims[d]);
        c->dims[d] = t->dims[d];
        count *= (size_t)t->dims[d];
    }
    c->count = count;
    size_t have;
    if (t->has_raw_data)
        have = t->raw_data.len / elem_size(dt);
    else if (dt == DT_FLOAT)
        have = t->n_float_data;
    else if (dt == DT_DOUBLE)
        have = t->n_double_data;
    else if (dt == DT_INT64)
        have = t->n_int64_data;
    else if (dt == DT_UINT32 || dt == DT_UINT64)
        have = t->n_uint64_data;
    else
        have = t->n_int32_data;
    if (have != count || (t->has_raw_data && t->raw_data.len != count * elem_size(dt)))
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: %zu values for shape of %zu "
                           "elements", what, have, count);
    c->is_int = dt != DT_FLOAT && dt != DT_DOUBLE;
    c->f = malloc((count ? count : 1) * sizeof *c->f);
    c->i = c->is_int ? malloc((count ? count : 1) * sizeof *c->i) : NULL;
    if (!c->f || (c->is_int && !c->i)) {
        onnx__const_free(c);
        return clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    for (size_t k = 0; k < count; k++) {
        int64_t iv = 0;
        double v;
        if (t->has_raw_data) {
            v = raw_elem(t->raw_data.data, dt, k, &iv);
        } else if (dt == DT_FLOAT) {
            v = t->float_data[k];
        } else if (dt == DT_DOUBLE) {
            v = t->double_data[k];
        } else if (dt == DT_INT64) {
            iv = t->int64_data[k];
            v = (double)iv;
        } else if (dt == DT_UINT32 || dt == DT_UINT64) {
            v = (double)t->uint64_data[k];
            iv = (int64_t)t->uint64_data[k];
        } else {
            iv = t->int32_data[k];
            v = (double)iv;
        }
        c->f[k] = (float)v;
        if (c->i)
            c->i[k] = iv;
    }
    return CLNET_OK;
}

void onnx__const_free(onnx__const *c)
{
    free(c->f);
    free(c->i);
    c->f = NULL;
    c->i = NULL;
}

const Onnx__AttributeProto *onnx__attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

clnet_status clnet__onnx_read_tensor_file(clnet_ctx *ctx, const char *path,
                                          clnet__named_tensor *out)
{
    if (!path || !out)
        return clnet__fail(ctx, CLNET_EINVAL, "clnet__onnx_read_tensor_file: NULL argument");
    memset(out, 0, sizeof *out);
    char *bytes = NULL;
    size_t len = 0;
    clnet_status st = clnet__read_file(ctx, path, &bytes, &len);
    if (st != CLNET_OK)
        return st;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, (const uint8_t *)bytes);
    free(bytes);
    if (!t)
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: not a serialized ONNX TensorProto", path);
    onnx__const c;
    st = onnx__const_read(ctx, t, path, &c);
    if (st == CLNET_OK && c.ndim > CLNET__TENSOR_MAX_DIMS)
        st = clnet__fail(ctx, CLNET_EUNSUPPORTED, "%s: too many dimensions", path);
    if (st == CLNET_OK) {
        const char *name = t->name && *t->name ? t->name : "tensor";
        out->name = malloc(strlen(name) + 1);
        if (!out->name) {
            onnx__const_free(&c);
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
        } else {
            strcpy(out->name, name);
            out->ndim = c.ndim;
            for (int d = 0; d < c.ndim; d++)
                out->shape[d] = (size_t)c.dims[d];
            out->data = c.f;
            free(c.i);
        }
    }
    onnx__tensor_proto__free_unpacked(t, NULL);
    return st;
}
