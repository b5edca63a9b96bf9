/* An ONNX file's metadata_props by key (clnet's exports store the class
 * names under "classes"), for tools that carry them into a checkpoint. */
#include "onnx/import.h"
#include "onnx/onnx_internal.h"

#include "core/core.h"

#include <stdlib.h>
#include <string.h>

clnet_status clnet__onnx_meta(clnet_ctx *ctx, const char *path, const char *key,
                              char **value)
{
    *value = NULL;
    char *bytes = NULL;
    size_t len = 0;
    clnet_status st = clnet__read_file(ctx, path, &bytes, &len);
    if (st != CLNET_OK)
        return st;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)bytes);
    free(bytes);
    if (!mp)
        return clnet__fail(ctx, CLNET_EFORMAT, "%s: not an ONNX model", path);
    for (size_t i = 0; i < mp->n_metadata_props && st == CLNET_OK && !*value; i++) {
        const Onnx__StringStringEntryProto *p = mp->metadata_props[i];
        if (p && p->key && p->value && strcmp(p->key, key) == 0 &&
            !(*value = strdup(p->value)))
            st = clnet__fail(ctx, CLNET_ENOMEM, "out of host memory");
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return st;
}
