#!/usr/bin/env python3
"""Reads a safetensors file written by clnet the way the format's reference
implementation does (its header checks, re-done with struct + json), then
checks the values, with numpy and torch too when they are installed.

python3-safetensors is not packaged by Debian, so the reference library
itself cannot run here; this script applies its rules instead: u64 LE header
length, UTF-8 JSON object, __metadata__ of strings, known dtypes, shape
product * dtype size == end - begin, offsets sorted covering the data section
with no gaps or overlap, nothing after the last tensor.

usage: check_safetensors.py ST_SAMPLE_EXE   (writes the sample, checks it)
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

# Debian's torch/numpy must not see the pyenv-era OpenBLAS tuning variables
# (see shared/bench.md); re-run without them.
_BAD_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(k in os.environ for k in _BAD_ENV):
    env = {k: v for k, v in os.environ.items() if k not in _BAD_ENV}
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
              "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4,
              "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def load(path):
    """Returns (metadata dict, {name: (shape, raw bytes)}) or raises."""
    blob = open(path, "rb").read()
    assert len(blob) >= 8, "file shorter than the length field"
    (n,) = struct.unpack("<Q", blob[:8])
    assert n <= 100_000_000 and 8 + n <= len(blob), f"header length {n}"
    assert n % 8 == 0, f"header length {n} not padded to 8 (clnet pads)"
    text = blob[8:8 + n].decode("utf-8")
    assert text.startswith("{"), "header must start with '{'"
    header = json.loads(text)  # trailing spaces are valid JSON whitespace
    meta = header.pop("__metadata__", {})
    assert isinstance(meta, dict), "__metadata__ not an object"
    for k, v in meta.items():
        assert isinstance(v, str), f"metadata {k!r} is not a string"
    data = blob[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        assert dtype in DTYPE_SIZE, f"{name}: dtype {dtype}"
        assert all(isinstance(d, int) and d >= 0 for d in shape), f"{name}: shape"
        count = 1
        for d in shape:
            count *= d
        assert count * DTYPE_SIZE[dtype] == end - begin, f"{name}: size"
        spans.append((begin, end, name))
        tensors[name] = (dtype, shape, data[begin:end])
    at = 0
    for begin, end, name in sorted(spans):
        assert begin == at, f"{name}: gap or overlap at {begin} (expected {at})"
        at = end
    assert at == len(data), f"{len(data) - at} bytes after the last tensor"
    return meta, tensors


def expected(t, count):
    return [((i * 7 + t * 13) % 101 - 50) / 8.0 for i in range(count)]


def main():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "sample.safetensors")
        subprocess.run([sys.argv[1], path], check=True)
        meta, tensors = load(path)
        raw_header = open(path, "rb").read()

    assert meta == {"format": "clnet-test",
                    "cfg": "[net]\nchannels=1 ; \"quoted\" \\ caf\u00e9\n",
                    "step": "42"}, meta
    want_shapes = {"conv1.weight": [4, 1, 3, 3], "conv1.bias": [4],
                   "fc.weight": [3, 5], "optim.step_scale": [], "empty": [0, 2]}
    assert list(tensors) == list(want_shapes), list(tensors)  # header order
    for t, (name, shape) in enumerate(want_shapes.items()):
        dtype, got_shape, raw = tensors[name]
        assert dtype == "F32" and got_shape == shape, (name, dtype, got_shape)
        count = len(raw) // 4
        values = list(struct.unpack(f"<{count}f", raw))
        if name != "empty":
            assert values == expected(t, count), name
    assert raw_header[8:9] == b"{"
    checked = ["struct/json"]

    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        for t, (name, shape) in enumerate(want_shapes.items()):
            a = np.frombuffer(tensors[name][2], dtype="<f4").reshape(shape)
            if name != "empty":
                want = np.array(expected(t, a.size), dtype=np.float32).reshape(shape)
                assert np.array_equal(a, want), name
        checked.append("numpy")

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        # As a PyTorch model would load it: a state dict of float32 tensors.
        state = {}
        for name, shape in want_shapes.items():
            buf = bytearray(tensors[name][2])
            flat = (torch.frombuffer(buf, dtype=torch.float32) if buf
                    else torch.zeros(0, dtype=torch.float32))
            state[name] = flat.reshape(shape)
        conv = torch.nn.Conv2d(1, 4, 3)
        conv.load_state_dict({"weight": state["conv1.weight"],
                              "bias": state["conv1.bias"]})
        assert torch.equal(conv.bias.detach(),
                           torch.tensor(expected(1, 4), dtype=torch.float32))
        assert state["optim.step_scale"].dim() == 0
        checked.append("torch")

    print("safetensors file read per the spec with: " + ", ".join(checked))
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
