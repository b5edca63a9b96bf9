/* Parameters of ops that take no keys (globalavgpool, add, concat, flatten):
 * only the op's name, so an unexpected key is reported against its section. */
#ifndef CLNET_NOKEYS_H
#define CLNET_NOKEYS_H

#include "ops/op_util.h"

typedef struct clnet__nokeys {
    const char *op; /* a string literal, set by the op's defaults() */
} clnet__nokeys;

static inline clnet_status clnet__nokeys_set(void *p, const char *key,
                                             const char *value, char *err,
                                             size_t errlen)
{
    (void)value;
    return clnet__unknown_key(((const clnet__nokeys *)p)->op, key, err, errlen);
}

#endif
