#!/usr/bin/env python3
"""Loads a clnet checkpoint of fashion-cnn into the equivalent PyTorch model
and checks both give the same softmax output on the same batch.

usage: interop_torch.py CHECKPOINT INPUT.f32 PROBS.f32
Exit 77 (skipped) when torch is not installed."""
import json
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # pragma: no cover
    print("skipping: %s" % e)
    sys.exit(77)

TOL = 1e-4  # relative, norm-wise


def read_safetensors(path):
    """A plain reader of the format: 8-byte header length, JSON, data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        out[name] = torch.from_numpy(
            np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"]).copy())
    return out, header.get("__metadata__", {})


class FashionCNN(nn.Module):
    """models/fashion-cnn.cfg, layer for layer, with the same names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(3136, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def main():
    ckpt, inp, probs = sys.argv[1:4]
    tensors, meta = read_safetensors(ckpt)
    params = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    model = FashionCNN()
    model.load_state_dict(params, strict=True)  # names and shapes must match
    x = torch.from_numpy(np.fromfile(inp, dtype="<f4").reshape(-1, 1, 28, 28))
    want = np.fromfile(probs, dtype="<f4").reshape(x.shape[0], 10)
    with torch.no_grad():
        got = torch.softmax(model(x), dim=1).numpy()
    err = np.linalg.norm(got - want) / np.linalg.norm(want)
    print("clnet vs PyTorch softmax: relative error %.3g (tolerance %g), step %s"
          % (err, TOL, meta.get("train.step")))
    sys.exit(0 if err <= TOL else 1)


if __name__ == "__main__":
    main()
