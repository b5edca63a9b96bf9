/* fuzz.h: the zeroed context and the per-process scratch file. */
#include "fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static clnet_ctx *ctx;
static char dir[4096], file[4200];

clnet_ctx *fuzz_ctx(void)
{
    if (!ctx && !(ctx = calloc(1, sizeof *ctx)))
        abort();
    return ctx;
}

static void cleanup(void)
{
    if (file[0])
        unlink(file);
    if (dir[0])
        rmdir(dir);
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/clnet-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror(dir);
            abort();
        }
        snprintf(file, sizeof file, "%s/input", dir);
        atexit(cleanup);
    }
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return NULL;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return NULL;
        }
        done += (size_t)w;
    }
    close(fd);
    return file;
}
