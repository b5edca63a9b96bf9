/* Writing the packed model atomically (core/atomic_file.h), as the
 * checkpoint writer does: a crash leaves the old file or the new one. */
#include "onnx/export_build.h"

#include "core/atomic_file.h"

#include <stdio.h>

clnet_status clnet__ex_write_file(clnet_ctx *ctx, const char *path,
                                  const void *data, size_t len)
{
    clnet__atomic_file af;
    clnet_status st = clnet__atomic_open(ctx, path, &af);
    if (st != CLNET_OK)
        return st;
    char what[64];
    snprintf(what, sizeof what, "writing %zu bytes", len);
    return clnet__atomic_commit(ctx, &af, fwrite(data, 1, len, af.f) == len, what);
}
