/* The IDX format of MNIST and its relatives (Fashion-MNIST, KMNIST): a
 * 4-byte magic (0, 0, element type, number of dimensions), each dimension
 * as a big-endian uint32, then the elements. Only unsigned bytes (type 0x08)
 * are accepted: every image and label set of that family uses them. The
 * caller reads (and, for .gz, decompresses) the file; this checks it. */
#include "data/idx.h"

#include <stdio.h>

int clnet__idx_parse(const uint8_t *p, size_t len, clnet__idx *out, char *err,
                     size_t errlen)
{
    if (len < 4) {
        snprintf(err, errlen, "too short for an IDX header (%zu bytes)", len);
        return -1;
    }
    if (p[0] != 0 || p[1] != 0) {
        snprintf(err, errlen,
                 "not an IDX file (starts with 0x%02x%02x%02x%02x; an IDX file "
                 "starts with two zero bytes)", p[0], p[1], p[2], p[3]);
        return -1;
    }
    if (p[2] != 0x08) {
        snprintf(err, errlen,
                 "IDX element type 0x%02x is not supported (only 0x08, unsigned "
                 "bytes)", p[2]);
        return -1;
    }
    int nd = p[3];
    if (nd < 1 || nd > CLNET__IDX_MAX_DIMS) {
        snprintf(err, errlen, "IDX file with %d dimensions (1 to %d supported)", nd,
                 CLNET__IDX_MAX_DIMS);
        return -1;
    }
    size_t header = 4 + 4 * (size_t)nd;
    if (len < header) {
        snprintf(err, errlen, "truncated IDX header (%zu of %zu bytes)", len, header);
        return -1;
    }
    uint64_t items = 1;
    for (int d = 0; d < nd; d++) {
        const uint8_t *q = p + 4 + 4 * d;
        out->dims[d] = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
                       (uint32_t)q[2] << 8 | q[3];
        if (out->dims[d] == 0) {
            snprintf(err, errlen, "IDX dimension %d is 0", d);
            return -1;
        }
        items *= out->dims[d];
        if (items > ((uint64_t)1 << 40)) {
            snprintf(err, errlen, "IDX dimensions too large");
            return -1;
        }
    }
    size_t have = len - header;
    if (have != items) {
        snprintf(err, errlen,
                 "IDX header promises %llu bytes of data but the file has %zu (%s)",
                 (unsigned long long)items, have, have < items ? "truncated" : "extra "
                 "bytes at the end");
        return -1;
    }
    out->ndims = nd;
    out->count = out->dims[0];
    out->item = (size_t)(items / out->dims[0]);
    out->data = p + header;
    return 0;
}
