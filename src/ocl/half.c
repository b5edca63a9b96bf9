/* Host-side half precision: conversions for uploads, downloads and fills of
 * fp16-storage tensors, and the build option that makes a kernel argument
 * half (cl/common.h). */
#include "ocl/ocl.h"

#include <stdio.h>
#include <string.h>

void clnet__half_opt(char *buf, size_t cap, const char *name, clnet__tensor t)
{
    size_t len = strlen(buf);
    if (t.half && len < cap)
        snprintf(buf + len, cap - len, "%s-DHALF_%s=1", len ? " " : "", name);
}

uint16_t clnet__half_from_float(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, mag = x & 0x7fffffffu;
    if (mag > 0x7f800000u) /* NaN: keep it quiet and non-zero */
        return (uint16_t)(sign | 0x7e00u | ((mag >> 13) & 0x3ffu));
    if (mag >= 0x477ff000u) /* rounds to 65520 or more: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (mag < 0x38800000u) { /* below 2^-14: a subnormal half (or zero) */
        if (mag < 0x33000000u) /* below half the smallest subnormal */
            return (uint16_t)sign;
        uint32_t m = (mag & 0x7fffffu) | 0x800000u, e = mag >> 23;
        uint32_t shift = 126 - e; /* 14..24: m >> shift units of 2^-24 */
        uint32_t q = m >> shift, rest = m & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    /* Normal: rebias the exponent, round the 13 dropped mantissa bits. */
    uint32_t h = ((mag >> 13) - (112u << 10)), rest = mag & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

float clnet__half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu,
             m = h & 0x3ffu, x;
    if (e == 0x1f) {
        x = sign | 0x7f800000u | (m << 13);
    } else if (e) {
        x = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m) { /* subnormal: normalise */
        e = 113;
        while (!(m & 0x400u)) {
            m <<= 1;
            e--;
        }
        x = sign | (e << 23) | ((m & 0x3ffu) << 13);
    } else {
        x = sign;
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}
