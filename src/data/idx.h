/* IDX files (MNIST, Fashion-MNIST, KMNIST), for tools/clnet-import-idx. */
#ifndef CLNET_DATA_IDX_H
#define CLNET_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#define CLNET__IDX_MAX_DIMS 4

typedef struct clnet__idx {
    int ndims;
    uint32_t dims[CLNET__IDX_MAX_DIMS];
    size_t count;          /* dims[0]: images or labels */
    size_t item;           /* bytes per entry (rows x cols for images) */
    const uint8_t *data;   /* points into the parsed buffer */
} clnet__idx;

/* Checks the header against the length (an exact match: a truncated or
 * over-long file is an error) and fills *out. Returns 0, or -1 with the
 * reason in err. */
int clnet__idx_parse(const uint8_t *p, size_t len, clnet__idx *out, char *err,
                     size_t errlen);

#endif
