/* Pieces shared by the safetensors reader and writer (internal to
 * src/train/safetensors_*.c). */
#ifndef CLNET_TRAIN_SAFETENSORS_UTIL_H
#define CLNET_TRAIN_SAFETENSORS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Bytes per element of a safetensors dtype name; 0 when unknown. */
size_t clnet__st_dtype_size(const char *dtype);

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int clnet__st_utf8_ok(const char *s, size_t len);

/* The file's byte order is little-endian; these convert n floats in place
 * between it and the host's (no-ops on little-endian hosts). */
void clnet__st_floats_from_le(float *v, size_t n);

/* 8-byte little-endian unsigned integer <-> host. */
uint64_t clnet__st_get_u64le(const unsigned char b[8]);
void clnet__st_put_u64le(unsigned char b[8], uint64_t v);

/* "[2,3,4]" into buf. */
const char *clnet__st_shape_str(const size_t *shape, int ndim, char *buf,
                                size_t cap);

#endif
