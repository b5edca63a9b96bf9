/* clnet_model_load's way in for .onnx files: import, build, copy weights. */
#include "onnx/import.h"

#include "core/core.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int clnet__onnx_is_onnx_path(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (n < 5)
        return 0;
    const char *ext = path + n - 5, *want = ".onnx";
    for (int i = 0; i < 5; i++)
        if (tolower((unsigned char)ext[i]) != want[i])
            return 0;
    return 1;
}

/* Another class count (clnet_model_settings classes): every tensor but the
 * final layer's must come from the file; that layer starts at zero (see
 * clnet__weights_zero_head). */
static clnet_status copy_but_head(clnet_ctx *ctx, const char *path, clnet_model *m,
                                  const clnet__tensor_set *w)
{
    clnet__weights_result res = {0};
    size_t zeroed = 0;
    clnet_status st = clnet__weights_copy(m, w, 0, &res);
    if (st == CLNET_OK)
        st = clnet__weights_zero_head(m, &res, 0, &zeroed);
    if (st == CLNET_OK && zeroed != res.n_missing)
        st = clnet__fail(ctx, CLNET_ENOTFOUND, "%s: %s: %s", path, res.missing[0].name,
                         res.missing[0].reason);
    clnet__weights_result_free(&res);
    return st;
}

clnet_status clnet__onnx_model_load(clnet_ctx *ctx, const char *path,
                                    const clnet_model_settings *s,
                                    clnet_model **out)
{
    char *text = NULL;
    clnet__tensor_set w = {0};
    clnet_status st = clnet__onnx_import(ctx, path, &text, &w);
    clnet_model *m = NULL;
    if (st == CLNET_OK)
        st = clnet_model_load_string(ctx, path, text, s, &m);
    if (st == CLNET_OK && s && s->classes)
        st = copy_but_head(ctx, path, m, &w);
    else if (st == CLNET_OK)
        st = clnet__weights_copy(m, &w, 1, NULL);
    if (st != CLNET_OK) {
        clnet_model_free(m);
        m = NULL;
    }
    free(text);
    clnet__tensor_set_clear(&w);
    *out = m;
    return st;
}
