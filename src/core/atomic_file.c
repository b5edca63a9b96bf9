#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(clnet__atomic_file *af)
{
    free(af->tmp);
    free(af->dir);
    af->tmp = af->dir = NULL;
    af->f = NULL;
}

clnet_status clnet__atomic_open(clnet_ctx *ctx, const char *path, clnet__atomic_file *af)
{
    memset(af, 0, sizeof *af);
    af->path = path;
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    size_t cap = strlen(path) + 16;
    af->dir = malloc(dlen + 2);
    af->tmp = malloc(cap);
    if (!af->dir || !af->tmp) {
        release(af);
        return clnet__fail(ctx, CLNET_ENOMEM, "%s: out of memory", path);
    }
    if (slash)
        memcpy(af->dir, path, dlen ? dlen : 1), af->dir[dlen ? dlen : 1] = '\0';
    else
        strcpy(af->dir, ".");
    snprintf(af->tmp, cap, "%.*s%s.%s.tmp-XXXXXX", (int)dlen, path, slash ? "/" : "",
             slash ? slash + 1 : path);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        clnet_status st = clnet__fail(ctx, CLNET_EIO, "%s: cannot create a temp file in "
                                      "%s: %s", path, af->dir, strerror(errno));
        release(af);
        return st;
    }
    struct stat old;
    fchmod(fd, stat(path, &old) == 0 ? (old.st_mode & 07777) : 0644);
    if (!(af->f = fdopen(fd, "wb"))) {
        clnet_status st = clnet__fail(ctx, CLNET_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(af->tmp);
        release(af);
        return st;
    }
    return CLNET_OK;
}

static clnet_status sync_dir(clnet_ctx *ctx, const char *path, const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return clnet__fail(ctx, CLNET_EIO, "%s: written, but opening %s to sync "
                           "it failed: %s", path, dir, strerror(errno));
    /* Some file systems cannot sync a directory; the rename is done anyway. */
    int bad = fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP;
    int err = errno;
    close(fd);
    return bad ? clnet__fail(ctx, CLNET_EIO, "%s: written, but syncing %s "
                             "failed: %s", path, dir, strerror(err))
               : CLNET_OK;
}

clnet_status clnet__atomic_commit(clnet_ctx *ctx, clnet__atomic_file *af, int ok,
                                  const char *what)
{
    int err = ok ? 0 : errno ? errno : EIO;
    if (ok && (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)) {
        err = errno;
        ok = 0;
    }
    if (fclose(af->f) != 0 && ok) {
        err = errno;
        ok = 0;
    }
    if (ok && rename(af->tmp, af->path) != 0) {
        err = errno;
        ok = 0;
    }
    clnet_status st;
    if (!ok) {
        unlink(af->tmp);
        st = clnet__fail(ctx, CLNET_EIO, "%s: %s failed (the previous file, if any, is "
                         "unchanged): %s", af->path, what, strerror(err));
    } else {
        st = sync_dir(ctx, af->path, af->dir);
    }
    release(af);
    return st;
}
