#!/usr/bin/env python3
"""Synthetic class folders of 28x28 grey shapes for the fine-tuning test.

Two sets with different classes drawn from the same visual world (strokes
of random position, size, thickness, brightness and noise), so features
learnt on one help on the other: set A (pretraining) has circle, square,
triangle, horizontal bar and X; set B (fine-tuning) has ring-with-dot,
diamond, plus, vertical bar and corner. Images are binary PGM (P5), which
clnet decodes itself.

Usage: shapes.py OUT_DIR SET PER_CLASS SEED   (SET: A or B)
"""
import math
import os
import random
import sys

SIZE = 28


def draw(kind, rng):
    img = [[0.0] * SIZE for _ in range(SIZE)]
    cx = SIZE / 2 + rng.uniform(-4, 4)
    cy = SIZE / 2 + rng.uniform(-4, 4)
    r = rng.uniform(6, 10)
    w = rng.uniform(1.2, 2.4)            # stroke half-width
    ink = rng.uniform(0.6, 1.0)

    def seg(x, y, x0, y0, x1, y1):       # distance from (x,y) to a segment
        dx, dy = x1 - x0, y1 - y0
        t = max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)))
        return math.hypot(x - x0 - t * dx, y - y0 - t * dy)

    def poly(x, y, pts):
        return min(seg(x, y, *pts[i], *pts[(i + 1) % len(pts)]) for i in range(len(pts)))

    for y in range(SIZE):
        for x in range(SIZE):
            d = math.hypot(x - cx, y - cy)
            if kind == "circle":
                hit = abs(d - r) < w
            elif kind == "square":
                hit = poly(x, y, [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r),
                                  (cx - r, cy + r)]) < w
            elif kind == "triangle":
                hit = poly(x, y, [(cx, cy - r), (cx + r, cy + r * 0.8),
                                  (cx - r, cy + r * 0.8)]) < w
            elif kind == "hbar":
                hit = seg(x, y, cx - r, cy, cx + r, cy) < w * 1.5
            elif kind == "x":
                hit = min(seg(x, y, cx - r, cy - r, cx + r, cy + r),
                          seg(x, y, cx - r, cy + r, cx + r, cy - r)) < w
            elif kind == "ringdot":
                hit = abs(d - r) < w or d < w * 1.5
            elif kind == "diamond":
                hit = poly(x, y, [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]) < w
            elif kind == "plus":
                hit = min(seg(x, y, cx - r, cy, cx + r, cy),
                          seg(x, y, cx, cy - r, cx, cy + r)) < w
            elif kind == "vbar":
                hit = seg(x, y, cx, cy - r, cx, cy + r) < w * 1.5
            else:  # corner
                hit = min(seg(x, y, cx - r, cy - r, cx - r, cy + r),
                          seg(x, y, cx - r, cy + r, cx + r, cy + r)) < w
            v = ink if hit else 0.0
            img[y][x] = min(1.0, max(0.0, v + rng.gauss(0, 0.12)))
    return bytes(int(v * 255 + 0.5) for row in img for v in row)


def main():
    out, which, per, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    kinds = {"A": ["circle", "square", "triangle", "hbar", "x"],
             "B": ["ringdot", "diamond", "plus", "vbar", "corner"]}[which]
    rng = random.Random(seed)
    for k in kinds:
        os.makedirs(os.path.join(out, k), exist_ok=True)
        for i in range(per):
            with open(os.path.join(out, k, "%04d.pgm" % i), "wb") as f:
                f.write(b"P5\n%d %d\n255\n" % (SIZE, SIZE) + draw(k, rng))


if __name__ == "__main__":
    main()
