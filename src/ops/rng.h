/* The counter-based random numbers of cl/common.h, for host references:
 * a uniform float in [0, 1) from (seed, index), bit-identical on both sides. */
#ifndef CLNET_RNG_H
#define CLNET_RNG_H

#include <stdint.h>

static inline uint32_t clnet__hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static inline float clnet__uniform(uint64_t seed, uint32_t i)
{
    uint32_t lo = (uint32_t)seed, hi = (uint32_t)(seed >> 32);
    uint32_t h = clnet__hash32(i ^ clnet__hash32(lo ^ clnet__hash32(hi + 0x9e3779b9U)));
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

#endif
