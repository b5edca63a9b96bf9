/* Shape arithmetic folded at import time. PyTorch exports x.view(x.size(0),
 * -1) with a dynamic batch as Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape; clnet knows every shape when it imports, so these become
 * constants and the Reshape a flatten. Shape gives the batch of the import
 * (the graph's input batch, 1 when it is dynamic); Reshape accepts that as
 * "the batch", which is all such chains use it for. */
#include "onnx/import_impl.h"

#include <stdlib.h>
#include <string.h>

/* Output 0 := an int64 constant of count values and dims, owned by it. */
static clnet_status set_int_const(onnx__importer *im, const int64_t *v, size_t count,
                                  int ndim, const int64_t *dims)
{
    int64_t *iv = malloc((count + 1) * sizeof *iv);
    float *fv = malloc((count + 1) * sizeof *fv);
    if (!iv || !fv) {
        free(iv);
        free(fv);
        return clnet__fail(im->ctx, CLNET_ENOMEM, "out of host memory");
    }
    for (size_t k = 0; k < count; k++)
        iv[k] = v[k], fv[k] = (float)v[k];
    onnx__value *o = onnx__new_value(im, im->n->output[0], V_CONST);
    if (!o) {
        free(iv);
        free(fv);
        return CLNET_ENOMEM;
    }
    o->c = (onnx__const){.ndim = ndim, .count = count, .is_int = 1, .f = fv, .i = iv};
    memcpy(o->c.dims, dims, (size_t)ndim * sizeof *dims);
    o->owned = 1;
    return CLNET_OK;
}

clnet_status onnx__map_shape(onnx__importer *im)
{
    static const char *const allowed[] = {"start", "end", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    onnx__lref x;
    TRY(onnx__in_layer(im, 0, &x));
    int64_t all[4] = {x.shape.n, x.shape.c, x.shape.h, x.shape.w}, start, end;
    TRY(onnx__attr_int(im, "start", 0, &start));
    TRY(onnx__attr_int(im, "end", x.rank, &end));
    start = start < 0 ? start + x.rank : start;
    end = end < 0 ? end + x.rank : end > x.rank ? x.rank : end;
    if (start < 0 || start > end)
        return onnx__node_fail(im, 0, "attributes start/end select no dims");
    int64_t dims[1] = {end - start};
    return set_int_const(im, all + start, (size_t)(end - start), 1, dims);
}

clnet_status onnx__map_gather(onnx__importer *im)
{
    static const char *const allowed[] = {"axis", NULL};
    TRY(onnx__attrs_allowed(im, allowed));
    const onnx__const *data, *idx;
    TRY(onnx__in_const(im, 0, 0, &data));
    TRY(onnx__in_const(im, 1, 0, &idx));
    int64_t axis;
    TRY(onnx__attr_int(im, "axis", 0, &axis));
    if (!data->is_int || !idx->is_int || data->ndim != 1 || idx->ndim > 1 ||
        (axis != 0 && axis != -1) || idx->count > 8)
        return onnx__node_fail(im, 0, "Gather is supported only on shapes (1-D "
                               "integer constants, at most 8 indices)");
    int64_t v[8];
    for (size_t k = 0; k < idx->count; k++) {
        int64_t j = idx->i[k] < 0 ? idx->i[k] + (int64_t)data->count : idx->i[k];
        if (j < 0 || j >= (int64_t)data->count)
            return onnx__node_fail(im, 0, "index %lld outside %zu values",
                                   (long long)idx->i[k], data->count);
        v[k] = data->i[j];
    }
    int64_t dims[1] = {(int64_t)idx->count};
    return set_int_const(im, v, idx->count, idx->ndim, dims);
}

clnet_status onnx__const_unsqueeze(onnx__importer *im, const int64_t *axes, int n_axes)
{
    onnx__value *a = onnx__in_value(im, 0);
    const onnx__const *c = &a->c;
    int out_rank = c->ndim + n_axes;
    if (!c->is_int || out_rank > ONNX__MAX_DIMS)
        return onnx__node_fail(im, 0, "Unsqueeze of a constant is supported only on "
                               "integer shapes");
    int64_t dims[ONNX__MAX_DIMS];
    char one[ONNX__MAX_DIMS] = {0};
    for (int k = 0; k < n_axes; k++) {
        int64_t ax = axes[k] < 0 ? axes[k] + out_rank : axes[k];
        if (ax < 0 || ax >= out_rank || one[ax])
            return onnx__node_fail(im, 0, "bad axis %lld", (long long)axes[k]);
        one[ax] = 1;
    }
    for (int d = 0, s = 0; d < out_rank; d++)
        dims[d] = one[d] ? 1 : c->dims[s++];
    return set_int_const(im, c->i, c->count, out_rank, dims);
}

clnet_status onnx__const_concat(onnx__importer *im, int *handled)
{
    *handled = 0;
    size_t n = im->n->n_input, total = 0;
    for (size_t k = 0; k < n; k++) {
        onnx__value *v = onnx__in_value(im, (int)k);
        if (!v || v->kind != V_CONST || !v->c.is_int || v->c.ndim != 1)
            return CLNET_OK;
        total += v->c.count;
    }
    if (!n || total > 64)
        return CLNET_OK;
    *handled = 1;
    int64_t buf[64], dims[1] = {(int64_t)total};
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        const onnx__const *c = &onnx__in_value(im, (int)k)->c;
        memcpy(buf + at, c->i, c->count * sizeof *buf);
        at += c->count;
    }
    return set_int_const(im, buf, total, 1, dims);
}
