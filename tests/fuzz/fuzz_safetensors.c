/* Fuzzes the safetensors reader as a checkpoint load uses it: the input is
 * written to a file, opened (header validation), then every tensor is read
 * with the shape its entry states (F32 ones for real; others must be
 * refused), plus a wrong shape and a missing name, and all metadata. */
#include "fuzz.h"
#include "train/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    if (!path)
        return 0;
    clnet_ctx *ctx = fuzz_ctx();
    clnet__st_file *f = NULL;
    if (clnet__st_open(ctx, path, &f) != CLNET_OK)
        return 0;
    size_t nm = clnet__st_meta_count(f);
    for (size_t i = 0; i < nm; i++) {
        const char *k = NULL, *v = NULL;
        clnet__st_meta_at(f, i, &k, &v);
        if (!k || !v || clnet__st_meta_get(f, k) == NULL)
            abort(); /* listed metadata must be found by its key */
    }
    size_t n = clnet__st_count(f);
    for (size_t i = 0; i < n; i++) {
        const clnet__st_entry *e = clnet__st_entry_at(f, i);
        if (!e || clnet__st_find(f, e->name) == NULL)
            abort();
        /* The data must lie inside the file, so this is at most its size. */
        float *dst = malloc(e->count ? e->count * sizeof(float) : 1);
        if (!dst)
            continue;
        clnet_status st = clnet__st_read(ctx, f, e->name, e->ndim, e->shape, dst);
        if (st == CLNET_OK && strcmp(e->dtype, "F32") != 0)
            abort(); /* only F32 may be read as floats */
        if (e->ndim > 0) {
            size_t shape[CLNET__ST_MAX_DIMS];
            memcpy(shape, e->shape, sizeof shape);
            shape[0] += 1;
            if (clnet__st_read(ctx, f, e->name, e->ndim, shape, dst) == CLNET_OK)
                abort(); /* a wrong shape is refused */
        }
        free(dst);
    }
    float one;
    size_t s1 = 1;
    (void)clnet__st_read(ctx, f, "no such tensor \xff", 1, &s1, &one);
    clnet__st_close(f);
    return 0;
}
