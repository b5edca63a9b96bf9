/* Name <-> enum lookups over a table indexed by the enum (optimizer types,
 * schedule kinds). Internal to src/train. */
#ifndef CLNET_TRAIN_NAMES_H
#define CLNET_TRAIN_NAMES_H

#include <string.h>

static inline const char *clnet__table_name(const char *const *names,
                                            unsigned n, unsigned i)
{
    return i < n ? names[i] : "unknown";
}

/* The index of name in the table, or -1. */
static inline int clnet__table_find(const char *const *names, unsigned n,
                                    const char *name)
{
    for (unsigned i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

#endif
