#!/usr/bin/env python3
"""Compares the tensors of two clnet checkpoints (safetensors): prints the
relative difference ||a - b|| / ||b|| over the model's parameters (tensors
whose names have no "optim" part) and fails when it is above TOL, or when a
tensor is missing or has another shape.

usage: compare_params.py A.safetensors B.safetensors TOL
"""
import json
import math
import struct
import sys
from array import array


def tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32" or "optim" in name:
            continue
        b, e = t["data_offsets"]
        v = array("f")
        v.frombytes(data[base + b:base + e])
        if sys.byteorder != "little":
            v.byteswap()
        out[name] = (tuple(t["shape"]), v)
    return out


def main():
    a, b, tol = tensors(sys.argv[1]), tensors(sys.argv[2]), float(sys.argv[3])
    if set(a) != set(b):
        sys.exit("FAIL: tensor names differ: %s" % sorted(set(a) ^ set(b)))
    diff = norm = 0.0
    for name in a:
        (sa, va), (sb, vb) = a[name], b[name]
        if sa != sb:
            sys.exit("FAIL: %s: shape %s vs %s" % (name, sa, sb))
        diff += sum((x - y) ** 2 for x, y in zip(va, vb))
        norm += sum(y * y for y in vb)
    rel = math.sqrt(diff / norm) if norm else math.sqrt(diff)
    print("relative difference of %d tensors: %.3g (tolerance %g)" % (len(a), rel, tol))
    if not rel <= tol:
        sys.exit("FAIL: above the tolerance")


main()
