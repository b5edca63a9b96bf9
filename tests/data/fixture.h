/* Helpers for the data tests: a context without a device (the dataset code
 * needs one only for messages and logging), captured warnings, and image
 * files written at test time (PNG variants stb_image_write cannot make are
 * assembled here from zlib). */
#ifndef CLNET_TESTS_DATA_FIXTURE_H
#define CLNET_TESTS_DATA_FIXTURE_H

#include "clnet/clnet.h"
#include "clnet/data.h"

#include <stddef.h>
#include <stdint.h>

/* The folder and context of the running test: fx_setup and fx_teardown
 * make and remove them (a Check fixture). */
extern char *fx_root;
extern clnet_ctx *fx_c;
void fx_setup(void);
void fx_teardown(void);
/* fx_root/rel, in one of 16 rotating buffers (several per expression). */
const char *fx_at(const char *rel);
/* A 4x4 gray PNG of value 100 at fx_root/rel, folders made as needed. */
void fx_img(const char *rel);

/* A context that logs into a buffer (and, for warnings, to stderr); free
 * with fx_ctx_free. */
clnet_ctx *fx_ctx(void);
void fx_ctx_free(clnet_ctx *ctx);
/* Warnings logged since the last fx_log_reset; fx_log_count counts the
 * warning lines that contain needle (NULL: all of them). */
void fx_log_reset(void);
int fx_log_count(const char *needle);

/* A fresh folder under $TMPDIR (or /tmp), removed by fx_rmtree. */
char *fx_tmpdir(void);
void fx_rmtree(const char *path);
/* mkdir -p of a path made from printf arguments; returns the path
 * (static buffer, valid until the next call). */
const char *fx_mkdirs(const char *fmt, ...);
void fx_write(const char *path, const void *data, size_t len);
/* A copy of the first len bytes of src at dst. */
void fx_truncate_copy(const char *src, const char *dst, size_t len);
size_t fx_file_size(const char *path);

/* 8-bit images through stb_image_write: comp 1..4, interleaved pixels. */
void fx_png(const char *path, int w, int h, int comp, const uint8_t *px);
void fx_jpg(const char *path, int w, int h, int comp, const uint8_t *px);
/* A w x h gray image of one value. */
void fx_png_fill(const char *path, int w, int h, int comp, uint8_t value);
/* PNG written by hand: color type 0 (gray), 2 (RGB), 3 (palette), 4 (gray +
 * alpha), 6 (RGBA) at bit depth 8 or 16; rows are the raw samples without
 * filter bytes (big-endian for 16 bits). plte/trns are for type 3. */
void fx_png_raw(const char *path, int w, int h, int depth, int color,
                const uint8_t *rows, const uint8_t *plte, int plte_n,
                const uint8_t *trns, int trns_n);
/* A PNG signature and IHDR claiming w x h, and nothing else. */
void fx_png_header_only(const char *path, uint32_t w, uint32_t h);

/* Dataset settings for gray h x w images. */
clnet_dataset_settings fx_settings(int c, int h, int w);

/* Runs check() as the user "nobody" in a child when the tests run as root
 * (root reads every folder, so permission faults need another user), else
 * here. Returns check()'s result (0 = it holds); 100: cannot become nobody. */
int fx_as_user(int (*check)(void));

#endif
