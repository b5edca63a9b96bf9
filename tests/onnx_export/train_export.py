#!/usr/bin/env python3
"""clnet-train writes model.onnx, and onnxruntime gives clnet-predict's
probabilities with it: a tiny image-folder dataset (PPM files of the model's
size, so nothing is resized), two epochs of cfg/tiny3.cfg, then the same
image files through clnet-predict --json (the checkpoint, normalised by
clnet-predict) and through onnxruntime-node (model.onnx, raw pixels in
[0, 1], normalised in the graph), matched by class name from the file's
metadata. Differences above 1e-5 fail.

usage: train_export.py BUILD_DIR ORT_PREFIX TRAIN PREDICT CFG
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx

TOL = 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["red", "green", "blue"]


def write_ppm(path, img):
    h, w, _ = img.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(img.astype(np.uint8).tobytes())


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode == 77:
        sys.exit(77)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}:\n{r.stdout}")
    return r.stdout


def main():
    build, ort_prefix, train, predict, cfg = sys.argv[1:6]
    r = subprocess.run(["bash", os.path.join(HERE, "ort_install.sh"), ort_prefix],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: installing onnxruntime-node:\n{r.stdout}")
    work = tempfile.mkdtemp(prefix="onnx-train-", dir=build)
    ok = False
    try:
        rng = np.random.default_rng(3)
        data = os.path.join(work, "data")
        files = []
        for k, name in enumerate(CLASSES):
            os.makedirs(os.path.join(data, name))
            for i in range(12):
                img = rng.integers(0, 120, size=(12, 12, 3))
                img[:, :, k] += rng.integers(60, 136)
                p = os.path.join(data, name, f"{i}.ppm")
                write_ppm(p, img)
                files.append((p, img))
        out = run([train, "-q", "--epochs", "2", "--batch", "8", "--val-split", "0.25",
                   "--lr", "0.05", "--out", os.path.join(work, "run"), cfg, data])
        model = os.path.join(work, "run", "model.onnx")
        if not os.path.isfile(model):
            sys.exit(f"FAIL: clnet-train wrote no model.onnx:\n{out}")
        if "model.onnx" not in out:
            sys.exit(f"FAIL: clnet-train's outputs line does not name model.onnx:\n{out}")
        m = onnx.load(model)
        onnx.checker.check_model(m, full_check=True)
        props = {p.key: p.value for p in m.metadata_props}
        names = json.loads(props["classes"])
        if names != sorted(CLASSES):  # clnet orders class folders by name
            sys.exit(f"FAIL: model.onnx classes {props['classes']!r}, expected "
                     f"{sorted(CLASSES)}")
        if not props.get("mean") or not props.get("std"):
            sys.exit(f"FAIL: model.onnx has no normalisation: {props}")

        picked = files[::5]
        lines = run([predict, "--json", "--top", str(len(CLASSES)),
                     os.path.join(work, "run", "best.safetensors")] + [p for p, _ in picked])
        ref = {}
        for line in lines.splitlines():
            if line.startswith("{"):
                o = json.loads(line)
                ref[o["file"]] = {t["class"]: t["prob"] for t in o["top"]}
        x = np.stack([img.transpose(2, 0, 1) for _, img in picked]).astype(np.float32)
        x = x * np.float32(1.0 / 255.0)
        x.tofile(os.path.join(work, "input.bin"))
        jobs = [{"model": model, "input": os.path.join(work, "input.bin"),
                 "shape": list(x.shape), "output": os.path.join(work, "ort.bin")}]
        with open(os.path.join(work, "jobs.json"), "w") as f:
            json.dump(jobs, f)
        run(["node", os.path.join(HERE, "run_ort.js"), os.path.join(work, "jobs.json")],
            env=dict(os.environ, NODE_PATH=os.path.join(ort_prefix, "node_modules")))
        got = np.fromfile(os.path.join(work, "ort.bin"), np.float32).reshape(len(picked), -1)
        worst = 0.0
        for i, (p, _) in enumerate(picked):
            if p not in ref:
                sys.exit(f"FAIL: clnet-predict printed nothing for {p}:\n{lines}")
            for k, name in enumerate(names):
                worst = max(worst, abs(float(got[i, k]) - ref[p][name]))
        print(f"clnet-train's model.onnx in onnxruntime vs clnet-predict: max difference "
              f"{worst:.3g} over {len(picked)} images (tolerance {TOL})")
        if not worst <= TOL:
            sys.exit("FAIL: difference above tolerance")
        ok = True
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"(files kept in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
