#!/usr/bin/env python3
"""ONNX export test: for each model file, export_check trains it briefly,
saves a checkpoint, exports it (library defaults, and normalize=0 softmax=0)
and records clnet's probabilities; then

  - ONNX's checker accepts every file (full_check: shape inference too), and
    the file holds what clnet promises: opset 13, IR version 8, input
    "input" [N,C,H,W] with a dynamic N, output "probabilities" [N,classes],
    the class names and input size in metadata_props, an initializer for
    every tensor of the checkpoint under the same name;
  - clnet-export-onnx writes the same bytes from the checkpoint;
  - onnxruntime (onnxruntime-node) gives clnet's probabilities within 1e-5
    on the same images: raw pixels through model.onnx, normalised ones
    through model-raw.onnx (whose logits get a softmax here).

usage: check_export.py BUILD_DIR EXPORT_CHECK EXPORT_TOOL ORT_PREFIX CFG|DIR...
  DIR: every *.cfg in it (models/, so a new model is tested too); a model
  for images larger than 64x64 (models/resnet18.cfg, mobilenet_v2.cfg:
  224x224) is tested at 64x64 with batchnorm momentum 1 (see small_input)
  ORT_PREFIX: where ort_install.sh puts onnxruntime-node (in the build dir)
Prints one line per model with the largest differences; exits 1 on any
failure. Needs /usr/bin/python3 with onnx and numpy (Debian python3-onnx).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx

TOL = 1e-5
MIN_SPREAD = 1e-3
MAX_SIDE = 64
HERE = os.path.dirname(os.path.abspath(__file__))


def small_input(cfg, d):
    """cfg, or for a model of images larger than MAX_SIDE (the torchvision
    networks models/resnet18.cfg and mobilenet_v2.cfg, 224x224) a copy in d
    with two changes that leave what is exported the same:
    - [net] height and width set to MAX_SIDE: export does not depend on the
      input size, and full size would take most of this test's time on a
      CPU device. The networks end with global pooling, so any size is
      valid; one whose shapes do not allow it fails to load (loud).
    - batchnorm momentum=1 (running statistics: the last batch's; momentum
      is not exported): export_check trains 3 steps, which at momentum 0.1
      leaves the statistics near their initial 0 and 1, and then resnet18's
      20 batchnorms in eval mode let activations grow until the softmax
      saturates (one class at p~1 for every image, spread 3e-5 at 224x224):
      a blind comparison that MIN_SPREAD rightly fails."""
    lines, net, big = open(cfg).read().split("\n"), False, False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("["):
            net = line.strip().startswith("[net]")
        key, _, value = line.partition("=")
        if net and key.strip() in ("height", "width") and \
                int(value.split(";")[0]) > MAX_SIDE:
            lines[i], big = f"{key.strip()}={MAX_SIDE}", True
    if not big:
        return cfg
    out, bn = [], False
    for line in lines:
        if line.lstrip().startswith("["):
            bn = line.strip().startswith("[batchnorm]")
        if not (bn and line.partition("=")[0].strip() == "momentum"):
            out.append(line)
        if line.strip().startswith("[batchnorm]"):
            out.append("momentum=1")
    path = os.path.join(d, os.path.basename(cfg))
    with open(path, "w") as f:
        f.write("\n".join(out))
    print(f"note {os.path.basename(cfg)}: tested at {MAX_SIDE}x{MAX_SIDE}, "
          f"batchnorm momentum 1")
    return path


def st_names(path):
    """Tensor names of a safetensors file (its JSON header)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return {k for k in header if k != "__metadata__" and not k.startswith("optim.")}


def check_file(path, info, softmax, normalized, ckpt):
    """Structure of one exported file; returns a list of problems."""
    n, c, h, w, k = info
    bad = []
    m = onnx.load(path)
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:  # the checker's own exception types vary
        bad.append(f"checker: {e}")
    if m.ir_version != 8:
        bad.append(f"ir_version {m.ir_version}, expected 8")
    ops = {o.domain: o.version for o in m.opset_import}
    if ops != {"": 13}:
        bad.append(f"opset_import {ops}, expected {{'': 13}}")
    g = m.graph
    dims = lambda vi: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
    if [i.name for i in g.input] != ["input"] or dims(g.input[0]) != ["N", c, h, w]:
        bad.append(f"inputs {[(i.name, dims(i)) for i in g.input]}")
    want_out = "probabilities" if softmax else "logits"
    if [o.name for o in g.output] != [want_out] or dims(g.output[0]) != ["N", k]:
        bad.append(f"outputs {[(o.name, dims(o)) for o in g.output]}")
    props = {p.key: p.value for p in m.metadata_props}
    classes = json.loads(props.get("classes", "null") or "null")
    if not (isinstance(classes, list) and len(classes) == k and classes[0] == "caf\u00e9 0"
            and classes[1] == 'say "hi" 1'):
        bad.append(f"metadata classes {props.get('classes')!r}")
    if props.get("input_size") != f"{c},{h},{w}":
        bad.append(f"metadata input_size {props.get('input_size')!r}")
    if bool(props.get("mean")) != normalized:
        bad.append(f"metadata mean {props.get('mean')!r} (normalised: {normalized})")
    first = [nd.op_type for nd in g.node[:2]]
    if normalized != (first == ["Sub", "Div"]):
        bad.append(f"first nodes {first} (normalised: {normalized})")
    if any(nd.op_type == "Dropout" for nd in g.node):
        bad.append("a Dropout node (inference graphs leave it out)")
    inits = {t.name for t in g.initializer}
    missing = st_names(ckpt) - inits
    if missing:
        bad.append(f"checkpoint tensors missing from the initializers: {sorted(missing)}")
    return bad


def ort_install(prefix):
    """onnxruntime-node under prefix (ort_install.sh; idempotent)."""
    r = subprocess.run(["bash", os.path.join(HERE, "ort_install.sh"), prefix],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: installing onnxruntime-node:\n{r.stdout}")


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    build, export_check, export_tool, ort_prefix = sys.argv[1:5]
    cfgs = []
    for a in sys.argv[5:]:
        cfgs += sorted(os.path.join(a, f) for f in os.listdir(a) if f.endswith(".cfg")) \
            if os.path.isdir(a) else [a]
    ort_install(ort_prefix)
    work = tempfile.mkdtemp(prefix="onnx-export-", dir=build)
    failures, jobs, cases = [], [], []
    try:
        for cfg in cfgs:
            name = os.path.splitext(os.path.basename(cfg))[0]
            d = os.path.join(work, name)
            os.makedirs(d)
            r = subprocess.run([export_check, small_input(cfg, d), d, "5"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if r.returncode == 77:
                print(f"SKIP {name}: no OpenCL platform")
                sys.exit(77)
            if r.returncode != 0:
                failures.append(f"{name}: export_check failed:\n{r.stdout}")
                continue
            info = [int(v) for v in open(os.path.join(d, "info.txt")).read().split()]
            ckpt = os.path.join(d, "model.safetensors")
            for f, sm, nz in (("model.onnx", True, True), ("model-raw.onnx", False, False)):
                for b in check_file(os.path.join(d, f), info, sm, nz, ckpt):
                    failures.append(f"{name}/{f}: {b}")
            # The tool writes what the library writes.
            tool_out = os.path.join(d, "tool.onnx")
            r = subprocess.run([export_tool, ckpt, tool_out], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                failures.append(f"{name}: clnet-export-onnx failed:\n{r.stdout}")
            elif open(tool_out, "rb").read() != open(os.path.join(d, "model.onnx"), "rb").read():
                failures.append(f"{name}: clnet-export-onnx's file differs from the library's")
            n, c, h, w, _ = info
            for model, inp, out in (("model.onnx", "input.bin", "ort.bin"),
                                    ("model-raw.onnx", "input-norm.bin", "ort-raw.bin")):
                jobs.append({"model": os.path.join(d, model), "input": os.path.join(d, inp),
                             "shape": [n, c, h, w], "output": os.path.join(d, out)})
            cases.append((name, d, info))
        jobs_path = os.path.join(work, "jobs.json")
        with open(jobs_path, "w") as f:
            json.dump(jobs, f)
        env = dict(os.environ, NODE_PATH=os.path.join(ort_prefix, "node_modules"))
        r = subprocess.run(["node", os.path.join(HERE, "run_ort.js"), jobs_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        if r.returncode != 0:
            failures.append(f"onnxruntime failed:\n{r.stdout}")
        else:
            worst = 0.0
            for name, d, (n, c, h, w, k) in cases:
                ref = np.fromfile(os.path.join(d, "clnet.bin"), np.float32).reshape(n, k)
                got = np.fromfile(os.path.join(d, "ort.bin"), np.float32).reshape(n, k)
                raw = softmax(np.fromfile(os.path.join(d, "ort-raw.bin"),
                                          np.float32).reshape(n, k).astype(np.float64))
                d1 = float(np.abs(got - ref).max())
                d2 = float(np.abs(raw - ref).max())
                # How much the probabilities change from image to image: a
                # network whose output barely depends on its input would
                # make the comparison blind.
                spread = float(np.abs(ref - ref.mean(axis=0)).max())
                worst = max(worst, d1, d2)
                ok = d1 <= TOL and d2 <= TOL and np.isfinite(ref).all()
                print(f"{'ok  ' if ok else 'FAIL'} {name}: max |onnxruntime - clnet| "
                      f"{d1:.3g} (pixels in), {d2:.3g} (normalised in, logits out); "
                      f"spread over images {spread:.3g}")
                if not ok:
                    failures.append(f"{name}: differences {d1:.3g} / {d2:.3g} > {TOL}")
                if spread < MIN_SPREAD:
                    failures.append(f"{name}: clnet's probabilities vary by {spread:.3g} "
                                    f"between images (< {MIN_SPREAD}): the test would "
                                    f"not see a wrong layer")
            print(f"largest difference over {len(cases)} models: {worst:.3g} (tolerance {TOL})")
    finally:
        if not failures:
            shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL", f)
    if failures:
        print(f"(files kept in {work})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
