"""PyTorch peer of tools/run-bench and tools/run-gpu-check (../../shared/bench.md).

Trains the same network with the same recipe as clnet-train and prints
'bench:' lines plus one JSON result (--json):
  --mode folder     torchvision ImageFolder of the PNG class folders + DataLoader
  --mode memory     the same images as in-memory tensors (decoded from the IDX
                    files the folders were written from; PNG is lossless)
  --mode synthetic  random tensors, for the scaling table (no accuracy)
Models: fashion-cnn (models/fashion-cnn.cfg), resnet20 (models/resnet20.cfg,
3x32x32, projection shortcuts) and mobilenet-tiny (models/mobilenet-tiny.cfg,
3x32x32, depthwise-separable blocks). SGD with --lr, --momentum and
--weight-decay (L2, as clnet: on conv and dense weights only, never on biases
or batchnorm); --recipe MODEL.cfg takes them (and the optimizer, which must
be sgd) from the [train] section of a clnet model file instead, so the peer
trains with the model's own recipe. Run as the protocol says:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 pytorch_fashion.py ...
--device cuda trains on the GPU (PyTorch's default cuDNN/TF32 settings unless
--no-tf32; cudnn.benchmark on); each batch is copied from pinned host memory
every step, as clnet uploads its batches, and the clock is read only after
torch.cuda.synchronize(). Steady images/s excludes the first --skip steps, as
for clnet."""

import argparse
import gzip
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

# Fashion-MNIST's train-set statistics, as clnet measures them on a sample.
MEAN, STD = 0.2860, 0.3530


def fashion_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


def resnet20():
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for b in range(3):
            layers.append(Block(cin, cout, stride if b == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def mobilenet_tiny():
    """models/mobilenet-tiny.cfg: stem conv3x3 32 + bn + relu, six blocks of
    depthwise conv3x3 (groups = channels) + bn + relu, pointwise conv1x1 + bn
    + relu, global average pooling, dense 10. No conv has a bias."""
    def cbr(cin, cout, k, stride, groups):
        return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU()]
    layers = cbr(3, 32, 3, 1, 1)
    cin = 32
    for cout, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (256, 2)):
        layers += cbr(cin, cin, 3, stride, cin) + cbr(cin, cout, 1, 1, 1)
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)]
    return nn.Sequential(*layers)


MODELS = {"fashion-cnn": (fashion_cnn, (1, 28, 28)),
          "resnet20": (resnet20, (3, 32, 32)),
          "mobilenet-tiny": (mobilenet_tiny, (3, 32, 32))}


def cfg_recipe(path):
    """lr, momentum and weight_decay of a clnet .cfg's [train] section (the
    keys it leaves out keep clnet's defaults: lr 0.01, momentum 0.9, no
    decay). Refuses an optimizer other than sgd: this peer only has SGD."""
    rec = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0}
    section = None
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line.startswith("["):
                section = line.strip("[] ").lower()
            elif "=" in line and section == "train":
                k, v = (t.strip() for t in line.split("=", 1))
                if k in rec:
                    rec[k] = v if k == "optimizer" else float(v)
    if rec["optimizer"].lower() != "sgd":
        sys.exit("pytorch_fashion.py: %s trains with %s, this peer only with sgd"
                 % (path, rec["optimizer"]))
    return rec


def cuda_reason():
    """None when CUDA can be used, else why not."""
    if torch.version.cuda is None:
        return "this PyTorch (%s) is built without CUDA" % torch.__version__
    if not torch.cuda.is_available():
        return "PyTorch %s (CUDA %s) sees no CUDA device" % (torch.__version__,
                                                            torch.version.cuda)
    return None


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def idx_tensors(idx_dir, split):
    pre = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(idx_dir, pre + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(idx_dir, pre + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD, torch.from_numpy(y.astype(np.int64))


def memory_batches(x, y, batch, gen):
    perm = torch.randperm(x.shape[0], generator=gen)
    for i in range(0, x.shape[0] - batch + 1, batch):
        j = perm[i:i + batch]
        yield x[j], y[j]


def folder_loader(root, batch, workers, shuffle):
    import torchvision
    import torchvision.transforms as T
    tf = T.Compose([T.Grayscale(1), T.ToTensor(), T.Normalize((MEAN,), (STD,))])
    ds = torchvision.datasets.ImageFolder(root, transform=tf)
    return torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=shuffle,
                                       num_workers=workers, drop_last=shuffle,
                                       persistent_workers=workers > 0)


def evaluate(model, batches, dev):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for xb, yb in batches:
            xb, yb = xb.to(dev), yb.to(dev)
            right += (model(xb).argmax(1) == yb).sum().item()
            total += yb.numel()
    model.train()
    return right / max(total, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("folder", "memory", "synthetic"))
    ap.add_argument("--model", choices=tuple(MODELS), default="fashion-cnn")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--no-tf32", action="store_true",
                    help="cuda: strict fp32 convolutions and matmuls (as clnet)")
    ap.add_argument("--check-cuda", action="store_true",
                    help="only say whether --device cuda can run (exit 0) or why not (1)")
    ap.add_argument("--data", default="data/fashion-mnist", help="train/ and test/ folders")
    ap.add_argument("--idx", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0, help="per epoch; 0: whole epoch")
    ap.add_argument("--skip", type=int, default=20, help="steps left out of the steady rate")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers (folder)")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0,
                    help="L2 on conv/dense weights only")
    ap.add_argument("--recipe", metavar="MODEL.cfg",
                    help="lr, momentum, weight decay from this clnet model's [train]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()
    if not a.mode and not a.check_cuda:
        ap.error("--mode is required")
    if a.recipe:
        rec = cfg_recipe(a.recipe)
        a.lr, a.momentum, a.weight_decay = rec["lr"], rec["momentum"], rec["weight_decay"]
        print("bench: recipe of %s: sgd lr %g momentum %g weight decay %g"
              % (a.recipe, a.lr, a.momentum, a.weight_decay), flush=True)

    if a.check_cuda or a.device == "cuda":
        why = cuda_reason()
        if a.check_cuda:
            print("cuda: " + (why or "yes, " + torch.cuda.get_device_name(0)), flush=True)
            sys.exit(1 if why else 0)
        if why:
            sys.exit("pytorch_fashion.py: --device cuda: " + why)
    dev = torch.device(a.device)
    tf32 = None
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        if a.no_tf32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        tf32 = {"cudnn": torch.backends.cudnn.allow_tf32,
                "matmul": torch.backends.cuda.matmul.allow_tf32}
        print("bench: %s, cuDNN %s, TF32 convolutions %s, matmuls %s"
              % (torch.cuda.get_device_name(dev), torch.backends.cudnn.version(),
                 tf32["cudnn"], tf32["matmul"]), flush=True)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    build, shape = MODELS[a.model]
    model = build().to(dev)
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": a.weight_decay},
                           {"params": rest, "weight_decay": 0.0}],
                          lr=a.lr, momentum=a.momentum)
    lossf = nn.CrossEntropyLoss()
    pin = dev.type == "cuda"

    if a.mode == "folder":
        train = folder_loader(os.path.join(a.data, "train"), a.batch, a.workers, True)
        test = lambda: folder_loader(os.path.join(a.data, "test"), 256, a.workers, False)  # noqa: E731
        epoch_batches = lambda e: iter(train)  # noqa: E731
    elif a.mode == "memory":
        x, y = idx_tensors(a.idx, "train")
        tx, ty = idx_tensors(a.idx, "test")
        test = lambda: zip(tx.split(256), ty.split(256))  # noqa: E731
        epoch_batches = lambda e: memory_batches(x, y, a.batch, gen)  # noqa: E731
    else:
        g = torch.Generator().manual_seed(a.seed)
        xs = [torch.randn((a.batch,) + shape, generator=g) for _ in range(2)]
        ys = [torch.randint(0, 10, (a.batch,), generator=g) for _ in range(2)]
        if pin:
            xs, ys = [t.pin_memory() for t in xs], [t.pin_memory() for t in ys]
        steps = a.max_steps or 50
        epoch_batches = lambda e: ((xs[i % 2], ys[i % 2]) for i in range(steps))  # noqa: E731
        test = None

    model.train()
    first_done = None
    epochs = []
    for epoch in range(a.epochs):
        done = 0
        sync(dev)
        t_epoch = t_skip = benchlib.now()
        loss_sum = 0.0
        for xb, yb in epoch_batches(epoch):
            xb = xb.to(dev, non_blocking=pin)
            yb = yb.to(dev, non_blocking=pin)
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
            done += 1
            if done % 20 == 0 or done == 1:
                loss_sum = loss.detach()  # read when printed: no sync here
            if first_done is None:
                sync(dev)
                first_done = benchlib.now() - benchlib.T0
                print("bench: first step done %.3f s after the runner started" % first_done,
                      flush=True)
            if done == a.skip:
                sync(dev)
                t_skip = benchlib.now()
            if done % 100 == 0:
                print("step %d loss %.4f" % (done, float(loss_sum)), flush=True)
            if a.max_steps and done >= a.max_steps:
                break
        sync(dev)
        t_end = benchlib.now()
        steady = (done - a.skip) * a.batch / (t_end - t_skip) if done > a.skip else None
        row = {"epoch": epoch + 1, "steps": done, "seconds": t_end - t_epoch,
               "images_per_s": done * a.batch / (t_end - t_epoch),
               "steady_images_per_s": steady}
        epochs.append(row)
        print("bench: epoch %d steady %.1f img/s over %d steps after the first %d; "
              "epoch %.1f img/s" % (epoch + 1, steady or 0, done - a.skip, a.skip,
                                    row["images_per_s"]), flush=True)
    acc = evaluate(model, test(), dev) if test else None
    if acc is not None:
        print("bench: test accuracy %.2f%%" % (100 * acc), flush=True)
    res = {"runner": "pytorch", "mode": a.mode, "model": a.model, "batch": a.batch,
           "device": (torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"),
           "tf32": tf32, "lr": a.lr, "momentum": a.momentum,
           "weight_decay": a.weight_decay, "threads": a.threads,
           "workers": a.workers if a.mode == "folder" else 0,
           "torch": torch.__version__, "epochs": epochs,
           "steady_images_per_s": epochs[-1]["steady_images_per_s"],
           "test_accuracy": acc, "first_step_s": first_done,
           "maxrss_mib": benchlib.self_maxrss_mib(),
           "children_maxrss_mib": benchlib.children_maxrss_mib()}
    if a.json:
        benchlib.write_result(a.json, res)


if __name__ == "__main__":
    main()
