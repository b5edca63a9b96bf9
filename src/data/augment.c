/* Augmentation and normalisation of one decoded image into a batch slot.
 *
 * Every random choice comes from a stream keyed by (seed, epoch, position in
 * the epoch), never from a shared generator, so a batch's pixels do not
 * depend on which worker made it or when: runs are reproducible with any
 * thread count, and a resumed epoch sees the same images.
 *
 * The operations work on the decoded image already resized to the model's
 * input (the cached form), as torchvision would on an image of that size:
 * random resized crop (scale 0.08..1, aspect 3/4..4/3, bilinear), then pad
 * with black and crop back (torchvision's RandomCrop(padding)), then the
 * horizontal flip. */
#include "data/data_impl.h"

#include <math.h>
#include <string.h>

static void draw_resized_crop(clnet__aug *a, uint64_t *r, int h, int w)
{
    const double area = (double)h * w;
    const double lo = log(3.0 / 4.0), hi = log(4.0 / 3.0);
    /* torchvision's RandomResizedCrop.get_params: ten tries, then a centre
     * crop of the nearest allowed aspect ratio. */
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * (0.08 + 0.92 * clnet__unit(r));
        double ratio = exp(lo + (hi - lo) * clnet__unit(r));
        long cw = lround(sqrt(target * ratio)), ch = lround(sqrt(target / ratio));
        if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
            a->ry = (int)clnet__below(r, (uint64_t)(h - ch + 1));
            a->rx = (int)clnet__below(r, (uint64_t)(w - cw + 1));
            a->rw = (int)cw;
            a->rh = (int)ch;
            return;
        }
    }
    double in_ratio = (double)w / h;
    a->rw = w;
    a->rh = h;
    if (in_ratio < 3.0 / 4.0)
        a->rh = (int)lround(w / (3.0 / 4.0));
    else if (in_ratio > 4.0 / 3.0)
        a->rw = (int)lround(h * (4.0 / 3.0));
    a->rx = (w - a->rw) / 2;
    a->ry = (h - a->rh) / 2;
}

void clnet__aug_draw(clnet__aug *a, unsigned flags, int pad, int h, int w,
                     uint64_t seed, uint32_t epoch, uint64_t pos)
{
    memset(a, 0, sizeof *a);
    uint64_t r = clnet__mix3(seed, epoch, pos);
    if (flags & CLNET_AUG_RESIZED_CROP) {
        draw_resized_crop(a, &r, h, w);
        a->rrc = !(a->rx == 0 && a->ry == 0 && a->rw == w && a->rh == h);
    }
    if ((flags & CLNET_AUG_CROP) && pad > 0) {
        a->dx = (int)clnet__below(&r, 2 * (uint64_t)pad + 1) - pad;
        a->dy = (int)clnet__below(&r, 2 * (uint64_t)pad + 1) - pad;
    }
    if (flags & CLNET_AUG_FLIP)
        a->flip = (int)(clnet__splitmix64(&r) >> 63);
}

/* Where output pixel o of n samples an input of `in` pixels: the two
 * neighbours and the weight of the second. Pixel centres map as in
 * torchvision's bilinear resize (align_corners=False), clamped to the edge. */
static void tap(int o, float scale, int in, int *i0, int *i1, float *f)
{
    float p = (o + 0.5f) * scale - 0.5f;
    if (p < 0)
        p = 0;
    *i0 = (int)p;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *f = p - *i0;
}

void clnet__resized_crop(const uint8_t *src, uint8_t *dst, int h, int w, int c,
                         int rx, int ry, int rw, int rh)
{
    const float sx = (float)rw / w, sy = (float)rh / h;
    for (int y = 0; y < h; y++) {
        int y0, y1, x0, x1;
        float wy, wx;
        tap(y, sy, rh, &y0, &y1, &wy);
        const uint8_t *r0 = src + ((size_t)(ry + y0) * w + rx) * c;
        const uint8_t *r1 = src + ((size_t)(ry + y1) * w + rx) * c;
        uint8_t *o = dst + (size_t)y * w * c;
        for (int x = 0; x < w; x++) {
            tap(x, sx, rw, &x0, &x1, &wx);
            for (int k = 0; k < c; k++) {
                float top = r0[x0 * c + k] + (r0[x1 * c + k] - r0[x0 * c + k]) * wx;
                float bot = r1[x0 * c + k] + (r1[x1 * c + k] - r1[x0 * c + k]) * wx;
                float v = top + (bot - top) * wy;
                o[x * c + k] = (uint8_t)(v + 0.5f);
            }
        }
    }
}

/* n values of src (every step-th byte) as v * a + b: with step 1 the
 * compiler vectorises it, which a table look-up would prevent. */
static void affine(const uint8_t *src, size_t step, float *o, int n, float a, float b)
{
    if (step == 1)
        for (int i = 0; i < n; i++)
            o[i] = (float)src[i] * a + b;
    else
        for (int i = 0; i < n; i++)
            o[i] = (float)src[(size_t)i * step] * a + b;
}

void clnet__to_planar(const uint8_t *src, float *dst, int h, int w, int c,
                      const clnet__aug *a, const float *scale, const float *bias)
{
    const size_t hw = (size_t)h * w;
    for (int k = 0; k < c; k++) {
        const float sa = scale[k], sb = bias[k]; /* black (0) maps to sb */
        float *plane = dst + k * hw;
        if (!a->dx && !a->dy && !a->flip) {
            affine(src + k, (size_t)c, plane, (int)hw, sa, sb);
            continue;
        }
        for (int y = 0; y < h; y++) {
            float *o = plane + (size_t)y * w;
            int sy = y + a->dy;
            if (sy < 0 || sy >= h) {
                for (int x = 0; x < w; x++)
                    o[x] = sb;
                continue;
            }
            const uint8_t *row = src + (size_t)sy * w * c + k;
            /* Output columns whose source column sx lies inside the image. */
            int lo = a->dx < 0 ? -a->dx : 0, hi = a->dx > 0 ? w - a->dx : w;
            if (lo > w)
                lo = w;
            if (hi < lo)
                hi = lo;
            if (!a->flip) {
                for (int x = 0; x < lo; x++)
                    o[x] = sb;
                affine(row + (size_t)(lo + a->dx) * c, (size_t)c, o + lo, hi - lo, sa, sb);
                for (int x = hi; x < w; x++)
                    o[x] = sb;
                continue;
            }
            for (int x = 0; x < w; x++) {
                int sx = w - 1 - x + a->dx;
                o[x] = sx >= 0 && sx < w ? (float)row[(size_t)sx * c] * sa + sb : sb;
            }
        }
    }
}
