"""Writes what test_torchvision_weights compares against: for each
torchvision network named, with random weights (nothing is downloaded here),

  NAME.safetensors  its state_dict, exactly as PyTorch holds it (F32 tensors,
                    and the I64 num_batches_tracked scalars clnet must skip)
  NAME.in           N x 3 x SIZE x SIZE float32 input
  NAME.out          PyTorch's log_softmax for it (eval mode, computed in
                    float64 so the reference itself has no float32 error)
  NAME.info         "PARAMETERS NUM_BATCHES_TRACKED_TENSORS"

Batchnorm's affine parameters and running statistics are randomised (the
statistics around those of a few train-mode batches, so activations keep a
sane scale through the network), so a wrong mapping of any of them shows.
The last Linear is redrawn with std 1/sqrt(inputs): mobilenet_v2's own
N(0, 0.01) gives logits within a few tenths of each other, which would make
a 1e-4 comparison less telling.

usage: torchvision_weights.py OUT_DIR SIZE NAME...   (/usr/bin/python3 with
Debian's python3-torch and python3-torchvision; Debian has no
python3-safetensors, hence the small writer below)"""
import os
import sys

import numpy as np
import torch
import torchvision

N = 2


def write_safetensors(path, tensors):
    """tools/torch-to-safetensors' writer: the test checks the tool users run."""
    import importlib.machinery
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                        "torch-to-safetensors")
    mod = importlib.machinery.SourceFileLoader("torch_to_safetensors", tool).load_module()
    mod.write_safetensors(path, tensors)


def main():
    out, size, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    for name in names:
        torch.manual_seed(0)
        net = getattr(torchvision.models, name)(weights=None)
        bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        with torch.no_grad():
            fc = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
            fc.weight.normal_(0, fc.in_features ** -0.5)
            fc.bias.uniform_(-0.5, 0.5)
            for bn in bns:
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.2, 0.2)
                bn.momentum = None  # running stats: the plain batch average
            net.train()
            for _ in range(2):
                net(torch.randn(4, 3, size, size))
            for bn in bns:
                bn.momentum = 0.1
                sd = bn.running_var.sqrt()
                bn.running_mean.add_(sd * torch.empty_like(sd).uniform_(-0.3, 0.3))
                bn.running_var.mul_(torch.empty_like(sd).uniform_(0.5, 2.0))
        net.eval()
        x = torch.randn(N, 3, size, size)
        with torch.no_grad():
            y = torch.log_softmax(net.double()(x.double()), 1).float()
        net.float()
        state = net.state_dict()
        nbt = sum(k.endswith(".num_batches_tracked") for k in state)
        write_safetensors(f"{out}/{name}.safetensors", state)
        x.numpy().astype("<f4").tofile(f"{out}/{name}.in")
        y.numpy().astype("<f4").tofile(f"{out}/{name}.out")
        params = sum(p.numel() for p in net.parameters())
        with open(f"{out}/{name}.info", "w") as f:
            f.write(f"{params} {nbt}\n")
        print(f"{name}: {params} parameters, {nbt} num_batches_tracked, "
              f"log_softmax in [{float(y.min()):.3g}, {float(y.max()):.3g}], "
              f"max |image 0 - image 1| {float((y[0] - y[1]).abs().max()):.3g}")


if __name__ == "__main__":
    main()
