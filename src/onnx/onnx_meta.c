/* Reading an ONNX file's ModelProto, and its metadata_props by key (clnet's
 * exports store the class names under "classes"). */
#include "onnx/import.h"
#include "onnx/onnx_internal.h"

#include "core/core.h"

#include <stdlib.h>
#include <string.h>

clnet_status onnx__read_model(clnet_ctx *ctx, const char *path, Onnx__ModelProto **out)
{
    *out = NULL;
    char *bytes = NULL;
    size_t len = 0;
    clnet_status st = clnet__read_file(ctx, path, &bytes, &len);
    if (st != CLNET_OK)
        return st;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)bytes);
    free(bytes);
    if (!mp || !mp->graph) {
        if (mp)
            onnx__model_proto__free_unpacked(mp, NULL);
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: not an ONNX model (the file does "
                           "not decode as an ONNX ModelProto with a graph: truncated "
                           "or not ONNX)", path);
    }
    *out = mp;
    return CLNET_OK;
}

clnet_status clnet__onnx_meta(clnet_ctx *ctx, const char *path, const char *key,
                              char **value)
{
    *value = NULL;
    Onnx__ModelProto *mp;
    clnet_status st = onnx__read_model(ctx, path, &mp);
    if (st != CLNET_OK)
        return st;
    for (size_t i = 0; i < mp->n_metadata_props && st == CLNET_OK && !*value; i++) {
        const Onnx__StringStringEntryProto *p = mp->metadata_props[i];
        if (p && p->key && p->value && strcmp(p->key, key) == 0 &&
            !(*value = strdup(p->value)))
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}
