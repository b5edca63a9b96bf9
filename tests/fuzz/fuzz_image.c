/* Fuzzes the image path as clnet uses it: the header check a dataset scan
 * makes (clnet__image_probe, with the pixel-count guard and the PNG size
 * fallback), then clnet_image_load (read, header check again, truncated-JPEG
 * check, stb_image decode with channel conversion, resize, NCHW floats).
 *
 * Input: 3 settings bytes, then the file's bytes.
 *   byte 0: channels = 1 + (b & 3); max_pixels = 1 << ((b >> 2) % 22)
 *   byte 1: height = 1 + b % 48     byte 2: width = 1 + b % 48 */
#include "fuzz.h"
#include "clnet/data.h"
#include "data/data_impl.h"

#include <fcntl.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    clnet_dataset_settings s;
    clnet_dataset_default_settings(&s);
    s.channels = 1 + (data[0] & 3);
    s.max_pixels = (uint64_t)1 << ((data[0] >> 2) % 22);
    s.height = 1 + data[1] % 48;
    s.width = 1 + data[2] % 48;
    const char *path = fuzz_file(data + 3, size - 3);
    if (!path)
        return 0;

    clnet__filebuf buf = {0};
    char why[CLNET__WHY_MAX];
    int w = 0, h = 0;
    clnet_status probe = clnet__image_probe(AT_FDCWD, path, s.max_pixels, &buf, &w,
                                            &h, why, sizeof why);
    clnet__filebuf_free(&buf);
    if (probe == CLNET_OK && ((uint64_t)w * (uint64_t)h > s.max_pixels || w < 1 || h < 1))
        abort(); /* the guard let an over-large image through */

    size_t n = (size_t)s.channels * s.height * s.width;
    float *out = malloc(n * sizeof *out);
    if (!out)
        return 0;
    clnet_status st = clnet_image_load(fuzz_ctx(), path, &s, out);
    if (st == CLNET_OK) {
        for (size_t i = 0; i < n; i++)
            if (!(out[i] >= 0.0f && out[i] <= 1.0f))
                abort(); /* pixels are in [0, 1] */
    }
    free(out);
    return 0;
}
