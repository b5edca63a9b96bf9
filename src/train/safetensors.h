/* safetensors files: clnet's checkpoint format (and PyTorch/Hugging Face's).
 *
 * Layout: an 8-byte little-endian unsigned header length N, then N bytes of
 * UTF-8 JSON, then the data section. The JSON object maps each tensor name to
 * {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (byte offsets
 * relative to the data section, end exclusive) plus an optional
 * "__metadata__" object whose values are all strings. Data is row-major and
 * little-endian.
 *
 * Writing (clnet__st_write): float32 tensors of 0 to 4 dims, laid out in the
 * order given, back to back from offset 0 (the layout the format requires:
 * no gaps, no overlaps); "__metadata__" first when there are key/values;
 * the header is padded with spaces to a multiple of 8 bytes so the data
 * section is aligned. The file goes to a temp file in the target's
 * directory, is flushed and fsync'd, renamed over the target, and the
 * directory is fsync'd: a crash or error at any point leaves the previous
 * file whole, and on error the temp file is removed. A new file gets mode
 * 0644; an existing target's mode is kept.
 *
 * Reading (clnet__st_open): the whole header is validated before anything is
 * returned, and every violation is an error naming the file and the tensor:
 *   - file >= 8 bytes; 2 <= N <= file size - 8 and N <= 100,000,000 (the
 *     reference implementation's limit); the header is valid UTF-8 JSON
 *     starting with '{', followed only by whitespace;
 *   - "__metadata__", if present, is an object of strings (absent is fine);
 *   - each tensor: a known dtype (BOOL U8 I8 F8_E5M2 F8_E4M3 I16 U16 F16
 *     BF16 I32 U32 F32 F64 I64 U64: all are indexed, so a file from PyTorch
 *     holding e.g. an I64 num_batches_tracked still opens), a shape of at
 *     most CLNET__ST_MAX_DIMS integers in [0, 2^53], element count * dtype
 *     size computed without overflow and equal to end - begin, and
 *     0 <= begin <= end <= data section size; unknown keys inside a tensor
 *     entry are ignored (room for later format additions); names unique;
 *   - taken together the tensors must tile the data section exactly, as the
 *     format requires: overlaps, gaps and trailing bytes are all rejected
 *     (the same rule as the reference implementation, so a file clnet opens
 *     opens everywhere).
 * Reading data (clnet__st_read) accepts only F32 tensors and checks the shape
 * the caller expects; it reads with pread at the validated offsets, so a
 * hostile or truncated file cannot make it read outside the file or write
 * past dst.
 *
 * Errors: CLNET_EIO (open/read/write failures, with errno text), CLNET_EFORMAT
 * (anything malformed in the file), CLNET_ESHAPE (shape differs from what the
 * caller expects), CLNET_ENOTFOUND (no such tensor), CLNET_EINVAL (bad
 * arguments to the writer), CLNET_ENOMEM.
 *
 * Ownership: strings and entries returned by the reader belong to the
 * clnet__st_file and live until clnet__st_close. One thread at a time per
 * clnet__st_file. */
#ifndef CLNET_TRAIN_SAFETENSORS_H
#define CLNET_TRAIN_SAFETENSORS_H

#include "clnet/clnet.h"
#include <stddef.h>
#include <stdint.h>

#define CLNET__ST_MAX_DIMS 8            /* dims a file's tensor may have */
#define CLNET__ST_WRITE_MAX_DIMS 4      /* dims clnet writes */
#define CLNET__ST_MAX_HEADER 100000000u /* bytes */

/* ---- writing ------------------------------------------------------------ */

typedef struct clnet__st_tensor {
    const char *name;    /* non-empty UTF-8, unique, not "__metadata__" */
    int ndim;            /* 0 (a scalar: one element) to 4 */
    size_t shape[CLNET__ST_WRITE_MAX_DIMS];
    const float *data;   /* product(shape) floats; borrowed during the call */
} clnet__st_tensor;

typedef struct clnet__st_meta {
    const char *key;     /* non-empty UTF-8, unique */
    const char *value;   /* UTF-8 (e.g. the model .cfg text, a number) */
} clnet__st_meta;

/* Writes the tensors (in this order) and the metadata to path atomically
 * (see above). meta may be NULL when n_meta is 0. */
clnet_status clnet__st_write(clnet_ctx *ctx, const char *path,
                             const clnet__st_tensor *tensors, size_t n,
                             const clnet__st_meta *meta, size_t n_meta);

/* ---- reading ------------------------------------------------------------ */

typedef struct clnet__st_entry {
    const char *name;
    const char *dtype;   /* "F32", "I64", ... */
    size_t dtype_size;   /* bytes per element */
    int ndim;
    size_t shape[CLNET__ST_MAX_DIMS];
    size_t count;        /* elements */
    uint64_t begin, end; /* byte range in the data section */
} clnet__st_entry;

typedef struct clnet__st_file clnet__st_file;

/* Opens and validates path; on success *out holds its parsed index. */
clnet_status clnet__st_open(clnet_ctx *ctx, const char *path,
                            clnet__st_file **out);
void clnet__st_close(clnet__st_file *f); /* NULL ok */

/* Tensors in header order. */
size_t clnet__st_count(const clnet__st_file *f);
const clnet__st_entry *clnet__st_entry_at(const clnet__st_file *f, size_t i);
/* The entry named name, or NULL. */
const clnet__st_entry *clnet__st_find(const clnet__st_file *f,
                                      const char *name);

/* The metadata value for key, or NULL when absent. */
const char *clnet__st_meta_get(const clnet__st_file *f, const char *key);
/* Metadata in header order: 0 <= i < clnet__st_meta_count(f). */
size_t clnet__st_meta_count(const clnet__st_file *f);
void clnet__st_meta_at(const clnet__st_file *f, size_t i, const char **key,
                       const char **value);

/* Reads F32 tensor `name` into dst (room for product(shape) floats) after
 * checking that its shape is exactly shape[0..ndim). */
clnet_status clnet__st_read(clnet_ctx *ctx, clnet__st_file *f,
                            const char *name, int ndim, const size_t *shape,
                            float *dst);

/* Reads entry e's bytes as stored (e->end - e->begin of them, little-endian,
 * any dtype) into dst; e must come from this file. */
clnet_status clnet__st_read_raw(clnet_ctx *ctx, clnet__st_file *f,
                                const clnet__st_entry *e, void *dst);

#endif
