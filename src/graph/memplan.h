/* Liveness-based placement of tensors in one arena: tensors whose lifetimes
 * [start, end] (inclusive schedule steps) overlap get disjoint byte ranges;
 * the others may share memory. */
#ifndef CLNET_MEMPLAN_H
#define CLNET_MEMPLAN_H

#include <stddef.h>

typedef struct clnet__interval {
    size_t bytes;
    int start, end;
    size_t offset;   /* out: byte offset in the arena */
} clnet__interval;

/* Places every interval (greedy: largest first, lowest offset that fits) and
 * returns the arena size in bytes. Offsets are multiples of align. */
size_t clnet__memplan(clnet__interval *iv, size_t n, size_t align);

#endif
