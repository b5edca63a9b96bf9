#!/usr/bin/env python3
"""Prints a clnet model file for a torchvision network, laid out exactly like
torchvision's modules, so that the network's state_dict loads by name (clnet
names a layer by its module path with '_' for '.': PyTorch's
"layer1.0.conv1.weight" fills clnet's "layer1_0_conv1.weight").

usage: torchvision-cfg.py resnet18|mobilenet_v2 > models/NAME.cfg
(the other ResNets, ResNeXts and wide ResNets are made of the same blocks
and print too, untested: tests/finetune checks the two shipped files.)
Needs torch and torchvision (Debian: /usr/bin/python3 with
python3-torchvision); builds the network with random weights, downloads
nothing.

Each module kind below prints as its clnet section; a container prints its
children in the order of its forward(), which is written out here for the
few container kinds these networks use (anything else is refused, so a
torchvision change cannot produce a silently different network)."""
import sys

import torch.nn as nn
import torchvision
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock, Bottleneck

# The fine-tuning recipes of the [train] section (pretrained ImageNet weights
# on a new, smaller dataset): SGD with momentum at a tenth of the from-scratch
# rate, weight decay as torchvision trained them with, a short cosine run.
RECIPES = {
    "resnet": "optimizer=sgd\nlr=0.01\nmomentum=0.9\nweight_decay=1e-4\n",
    "mobilenet_v2": "optimizer=sgd\nlr=0.01\nmomentum=0.9\nweight_decay=4e-5\n",
}
TRAIN_TAIL = "schedule=cosine\nepochs=15\naugment=flip,resized_crop\n"

ABOUT = {
    "resnet18": "ResNet-18 (He et al., 2016) as torchvision.models.resnet18: a 7x7\n"
                "# stride-2 stem, 3x3 max pool, four stages of two basic blocks (64, 128,\n"
                "# 256, 512 channels; stages 2-4 halve the resolution, with a 1x1 conv +\n"
                "# batchnorm shortcut), global average pooling, dense 1000.",
    "mobilenet_v2": "MobileNetV2 (Sandler et al., 2018) as torchvision.models.mobilenet_v2\n"
                    "# (width 1.0): a 3x3 stride-2 stem, 17 inverted residual blocks (1x1\n"
                    "# expansion, 3x3 depthwise, linear 1x1 projection; relu6; a residual add\n"
                    "# where stride is 1 and channels are kept), a 1x1 conv to 1280, global\n"
                    "# average pooling, dropout 0.2, dense 1000.",
}


class Emitter:
    def __init__(self):
        self.out = []
        self.last = None  # the layer printed last: the default from=

    def section(self, kind, name, **keys):
        if "from" in keys and keys["from"] == self.last:
            del keys["from"]
        self.out.append(f"\n[{kind}]\nname={name}\n" +
                        "".join(f"{k}={v}\n" for k, v in keys.items()))
        self.last = name
        return name

    def module(self, m, name, src):
        """Prints module m (named by its path) fed by layer src; returns the
        name of the layer holding its output."""
        frm = {} if src is None else {"from": src}
        if isinstance(m, nn.Conv2d):
            assert m.padding_mode == "zeros" and isinstance(m.padding, tuple), m
            k = dict(filters=m.out_channels, kernel=pair(m.kernel_size))
            if m.stride != (1, 1):
                k["stride"] = pair(m.stride)
            if m.padding != (0, 0):
                assert m.padding[0] == m.padding[1], m  # clnet: one pad for both
                k["pad"] = m.padding[0]
            if m.dilation != (1, 1):
                k["dilation"] = pair(m.dilation)
            if m.groups != 1:
                k["groups"] = m.groups
            if m.bias is None:
                k["bias"] = 0
            return self.section("conv", name, **frm, **k)
        if isinstance(m, nn.BatchNorm2d):
            assert m.affine and m.track_running_stats, m
            k = {"eps": m.eps} if m.eps != 1e-5 else {}
            return self.section("batchnorm", name, **frm, **k)
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            return self.section("relu6" if isinstance(m, nn.ReLU6) else "relu", name, **frm)
        if isinstance(m, nn.MaxPool2d):
            assert m.dilation == 1 and isinstance(m.kernel_size, int), m
            k = dict(kernel=m.kernel_size, stride=m.stride)
            if m.padding:
                k["pad"] = m.padding
            if m.ceil_mode:
                k["ceil_mode"] = 1
            return self.section("maxpool", name, **frm, **k)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            assert m.output_size in (1, (1, 1)), m
            return self.section("globalavgpool", name, **frm)
        if isinstance(m, nn.Dropout):
            return self.section("dropout", name, **frm, p=m.p)
        if isinstance(m, nn.Linear):  # clnet's dense reads [n,c,1,1] as rows
            return self.section("dense", name, **frm, outputs=m.out_features,
                                **({} if m.bias is not None else {"bias": 0}))
        if isinstance(m, nn.Sequential):
            for i, c in enumerate(m):
                src = self.module(c, f"{name}_{i}", src)
            return src
        if isinstance(m, (BasicBlock, Bottleneck)):
            return self.resnet_block(m, name, src)
        if isinstance(m, InvertedResidual):
            convs = [c for c in m.conv.modules() if isinstance(c, nn.Conv2d)]
            self.out.append(f"\n# {name}: inverted residual, {convs[0].in_channels} -> "
                            f"{m.out_channels} channels, stride {m.stride}"
                            f"{', residual add' if m.use_res_connect else ''}")
            out = self.module(m.conv, f"{name}_conv", src)
            if m.use_res_connect:
                out = self.section("add", f"{name}_add", **{"from": f"{out},{src}"})
            return out
        sys.exit(f"torchvision-cfg: {name}: no clnet layer for {type(m).__name__}")

    def resnet_block(self, b, name, src):
        # forward(): conv1 bn1 relu conv2 bn2 [relu conv3 bn3], + shortcut, relu.
        # The one ReLU module is applied 2-3 times; clnet layers need names of
        # their own, so they are relu1, relu2, ... (they hold no tensors).
        convs = ["conv1", "conv2"] + (["conv3"] if isinstance(b, Bottleneck) else [])
        last = getattr(b, convs[-1])
        self.out.append(f"\n# {name}: {type(b).__name__}, {b.conv1.in_channels} -> "
                        f"{last.out_channels} channels, stride {b.stride}"
                        f"{', projection shortcut' if b.downsample is not None else ''}")
        x = src
        for i, c in enumerate(convs, 1):
            x = self.module(getattr(b, c), f"{name}_{c}", x)
            x = self.module(getattr(b, f"bn{i}"), f"{name}_bn{i}", x)
            if i < len(convs):
                x = self.module(b.relu, f"{name}_relu{i}", x)
        short = src
        if b.downsample is not None:
            short = self.module(b.downsample, f"{name}_downsample", src)
        x = self.section("add", f"{name}_add", **{"from": f"{x},{short}"})
        return self.module(b.relu, f"{name}_relu{len(convs)}", x)


def pair(v):
    return v[0] if v[0] == v[1] else f"{v[0]},{v[1]}"


def emit(arch):
    net = getattr(torchvision.models, arch)(weights=None)
    e = Emitter()
    x = None
    if arch == "mobilenet_v2":  # forward(): features, pool, flatten, classifier
        x = e.module(net.features, "features", x)
        x = e.section("globalavgpool", "avgpool")
        x = e.module(net.classifier, "classifier", x)
        recipe = RECIPES["mobilenet_v2"]
    elif isinstance(net, torchvision.models.ResNet):
        for n in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                  "layer4", "avgpool", "fc"):
            x = e.module(getattr(net, n), n, x)
        recipe = RECIPES["resnet"]
    else:
        sys.exit(f"torchvision-cfg: {arch}: not a ResNet or MobileNetV2")
    params = sum(p.numel() for p in net.parameters())
    about = ABOUT.get(arch, f"torchvision.models.{arch}.")
    return (f"# {about}\n"
            f"# Generated by tools/models/torchvision-cfg.py {arch}: layer names are\n"
            f"# torchvision's module paths with '_' for '.', so its state_dict loads by\n"
            f"# name. Expects 224x224 images normalised with ImageNet's statistics\n"
            f"# (clnet-train --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225) when\n"
            f"# fine-tuning ImageNet weights; it ends in global pooling, so other sizes\n"
            f"# work too. [train]: a fine-tuning recipe. {params:,} parameters.\n"
            f"[net]\nchannels=3\nheight=224\nwidth=224\nclasses={net_classes(net)}\nbatch=32\n"
            f"\n[train]\n{recipe}{TRAIN_TAIL}" + "".join(e.out))


def net_classes(net):
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    return last.out_features


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.stdout.write(emit(sys.argv[1]))
