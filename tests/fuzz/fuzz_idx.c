/* Fuzzes the IDX parser of clnet-import-idx (clnet__idx_parse). A success
 * must describe exactly the bytes after the header, which are all read. */
#include "fuzz.h"
#include "data/idx.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clnet__idx idx;
    char err[256];
    if (clnet__idx_parse(data, size, &idx, err, sizeof err) != 0)
        return 0;
    size_t header = 4 + 4 * (size_t)idx.ndims;
    if (idx.data != data + header || idx.count * idx.item != size - header ||
        idx.count != idx.dims[0])
        abort();
    unsigned sum = 0;
    for (size_t i = 0; i < idx.count * idx.item; i++)
        sum += idx.data[i];
    volatile unsigned sink = sum;
    (void)sink;
    return 0;
}
