"""Writes the ONNX files the onnx_import tests read: torchvision networks with
random weights (and batchnorm statistics moved by a few train-mode forwards),
exported by torch.onnx at 64x64, with an input batch and PyTorch's softmax
(NAME.onnx, NAME.in, NAME.out: raw float32); a small network of the node
patterns (GELU, SiLU, Pad, ...); and models clnet must refuse."""
import sys
import numpy as np
import torch
import torch.nn as nn
import torchvision
import onnx
from onnx import helper, TensorProto

out = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.manual_seed(0)
N = 2


class Patterns(nn.Module):
    def __init__(self, pad=True):
        super().__init__()
        # Opsets 11+ export ZeroPad2d as a chain of shape ops clnet does not
        # evaluate; at opset 10 it is one Pad node.
        self.pad = nn.ZeroPad2d((1, 2, 0, 1)) if pad else nn.Identity()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False)
        self.c3 = nn.Conv2d(8, 8, 1)
        self.avg = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)
        self.mx = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.nfeat = -1
        with torch.no_grad():
            n = self.nfeat = self.features(torch.zeros(1, 3, 20, 20)).shape[1]
        self.fc1 = nn.Linear(n, 12)
        self.fc2 = nn.Linear(12, 5)

    def features(self, x):
        x = self.c1(self.pad(x))
        x = nn.functional.gelu(self.bn(x))
        a = nn.functional.silu(self.c2(x))
        b = nn.functional.hardswish(self.c3(x))
        x = torch.cat([nn.functional.relu6(a) + b, nn.functional.hardsigmoid(b)], 1)
        x = self.mx(self.avg(nn.functional.leaky_relu(x, 0.2)))
        if self.nfeat < 0:
            return x.flatten(1)
        return torch.tanh(x.reshape(-1, self.nfeat))

    def forward(self, x):
        x = self.features(x)
        x = torch.sigmoid(self.fc1(x))
        return torch.log_softmax(self.fc2(x), 1)


class ViewNet(nn.Module):
    """What user-written CNNs do: normalise inside the model with per-channel
    buffers, x * scale + shift, and flatten with x.view(x.size(0), -1),
    which a dynamic batch exports as Shape/Gather/Unsqueeze/Concat/Reshape."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.2, 0.3]).view(3, 1, 1))
        self.c = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 10 * 10, 5)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = nn.functional.max_pool2d(torch.relu(self.c(x * 1.5 + 0.1)), 2)
        return self.fc(x.view(x.size(0), -1))


def export(name, m, opset=13, size=size, dynamic=True, **kw):
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(4, 3, size, size) * 2 + 0.5)
    m.eval()
    x = torch.randn(N, 3, size, size)
    with torch.no_grad():
        y = torch.softmax(m(x), 1)
    torch.onnx.export(m, x, f"{out}/{name}.onnx", opset_version=opset,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}} if dynamic else None, **kw)
    x.numpy().astype(np.float32).tofile(f"{out}/{name}.in")
    y.numpy().astype(np.float32).tofile(f"{out}/{name}.out")


export("resnet18", torchvision.models.resnet18(num_classes=10))
# Batchnorm kept as nodes (not folded into the convs): tests the mapping.
export("resnet18_bn", torchvision.models.resnet18(num_classes=10), opset=11,
       training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
export("mobilenet_v2", torchvision.models.mobilenet_v2(num_classes=10))
export("squeezenet1_1", torchvision.models.squeezenet1_1(num_classes=10))
export("patterns", Patterns(pad=False), opset=14, size=20)
# Opset 10: Pad's pads an attribute, Hardswish as x*HardSigmoid(x).
export("patterns_bn", Patterns(), opset=10, size=20,
       training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)

export("viewnet", ViewNet(), size=20)
export("viewnet_op9", ViewNet(), opset=9, size=20)


def small(name, node, extra=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.ones(108).tolist())
    g = helper.make_graph([node, *extra], name, [x], [y], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              f"{out}/{name}.onnx")


small("bad_op", helper.make_node("Cos", ["x"], ["y"], name="my_cos"))
small("bad_attr", helper.make_node("Conv", ["x", "w"], ["y"], name="my_conv",
                                   auto_pad="MIRROR"))
small("bad_pool", helper.make_node("MaxPool", ["x"], ["y"], name="my_pool",
                                   kernel_shape=[2, 2], dilations=[2, 2]))
