/* Liveness-based placement of tensors in an arena: tensors whose lifetimes
 * [start, end] (inclusive schedule steps) overlap get disjoint byte ranges;
 * the others may share memory. An arena larger than one device buffer may
 * hold (CL_DEVICE_MAX_MEM_ALLOC_SIZE) is split into chunks, each its own
 * buffer; no tensor straddles two. */
#ifndef CLNET_MEMPLAN_H
#define CLNET_MEMPLAN_H

#include <stddef.h>

typedef struct clnet__interval {
    size_t bytes;
    int start, end;
    size_t offset;   /* out: byte offset in its chunk */
    size_t chunk;    /* out: which chunk */
    unsigned char half; /* stored as half (fp16-storage); placement ignores it */
} clnet__interval;

/* Places every interval (greedy: largest first, then the first chunk and
 * the lowest offset where it fits) so that no chunk grows past cap bytes,
 * except a chunk holding a single interval larger than cap (the caller
 * refuses those). Offsets are multiples of align. Writes each chunk's size
 * into chunk_bytes (room for n entries) and returns the number of chunks;
 * 0 when n is 0, and -1 cast to size_t when host memory runs out. With cap
 * = SIZE_MAX there is one chunk, the plain liveness plan. */
size_t clnet__memplan(clnet__interval *iv, size_t n, size_t align, size_t cap,
                      size_t *chunk_bytes);

#endif
