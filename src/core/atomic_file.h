/* Writing a file so that a crash or an error never leaves it torn: the bytes
 * go to a temp file beside the target (".<name>.tmp-XXXXXX", the target's
 * mode, 0644 when new), which is flushed, fsync'd and renamed over the
 * target; then the directory is fsync'd. On error the temp file is removed
 * and the previous file, if any, is unchanged. Used by the checkpoint writer
 * and the ONNX exporter. */
#ifndef CLNET_CORE_ATOMIC_FILE_H
#define CLNET_CORE_ATOMIC_FILE_H

#include "core/core.h"

#include <stdio.h>

typedef struct clnet__atomic_file {
    FILE *f;            /* write here between open and commit */
    const char *path;   /* the target (borrowed) */
    char *tmp, *dir;
} clnet__atomic_file;

/* Creates the temp file. On error nothing is left behind. */
clnet_status clnet__atomic_open(clnet_ctx *ctx, const char *path, clnet__atomic_file *af);
/* ok: every write succeeded; then flush, fsync, rename and sync the
 * directory. !ok or any failure: the temp file is removed and the error
 * names path (with what, e.g. "writing 1234 bytes"). af is released either
 * way. */
clnet_status clnet__atomic_commit(clnet_ctx *ctx, clnet__atomic_file *af, int ok,
                                  const char *what);

#endif
