"""clnet side of tools/run-bench: runs clnet-train (with --bench) or
clnet-bench and turns their output into a JSON result.

  clnet_train.py train --bin BUILD/tools --json R.json -- [clnet-train args]
      steady images/s per epoch (after its first 20 steps), validation top-1,
      device memory of the plan, time from start to the first step done (as
      clnet-train reports it and as the line's arrival here), peak RSS.
  clnet_train.py bench --bin BUILD/tools --json R.json -- [clnet-bench args]
      images/s of clnet-bench's wall-clock steps (synthetic data), MFLOP per
      trained image, the memory plan, and launches per step: kernels counted
      at the loader (any mode) and, from a profiled run (no --wall-only),
      kernels, CLBlast's among them, and fills/copies while recording."""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def train(a, rest):
    cmd = [os.path.join(a.bin, "train", "clnet-train"), "--bench"] + rest
    print("  $ " + " ".join(cmd), flush=True)
    rc, lines, wall, rss = benchlib.run_timed(cmd, echo=not a.quiet)
    res = {"runner": "clnet-train", "args": rest, "rc": rc, "wall_s": wall,
           "maxrss_mib": rss}
    epochs = []
    for _, text in lines:
        m = re.search(r"bench: epoch (\d+) steady ([0-9.]+) img/s", text)
        if m:
            epochs.append({"epoch": int(m.group(1)),
                           "steady_images_per_s": float(m.group(2))})
        m = re.search(r"^epoch (\d+)/\d+ .* top-1 ([0-9.]+)%.*\s([0-9.]+) img/s",
                               text)
        if m:
            for e in epochs:
                if e["epoch"] == int(m.group(1)):
                    e["val_top1"] = float(m.group(2)) / 100
                    e["images_per_s"] = float(m.group(3))
    res["epochs"] = epochs
    if epochs:
        res["steady_images_per_s"] = epochs[-1]["steady_images_per_s"]
        res["test_accuracy"] = epochs[0].get("val_top1")
        res["test_accuracy_last"] = epochs[-1].get("val_top1")
    res["first_step_s"] = benchlib.grep(lines, r"first step done ([0-9.]+) s after start")
    for t, text in lines:
        if "first step done" in text:
            res["first_step_seen_s"] = t
            res["startup_line"] = text
            break
    res["device_memory_mib"] = benchlib.grep(lines, r"^memory\s+([0-9.]+) MiB")
    res["device_memory_naive_mib"] = benchlib.grep(lines, r"^memory .*\(([0-9.]+) MiB without")
    res["tail"] = [t for _, t in lines[-4:]]
    return rc, res


def bench(a, rest):
    cmd = [os.path.join(a.bin, "clnet-bench")] + rest
    print("  $ " + " ".join(cmd), flush=True)
    rc, lines, wall, rss = benchlib.run_timed(cmd, echo=not a.quiet)
    res = {"runner": "clnet-bench", "args": rest, "rc": rc, "wall_s": wall,
           "maxrss_mib": rss}
    res["steady_images_per_s"] = benchlib.grep(
        lines, r"wall: [0-9.]+ ms/step = ([0-9.]+) img/s")
    res["mflop_per_image"] = benchlib.grep(lines, r"on ([0-9.]+) MFLOP per trained image")
    if a.quiet:  # the summary lines only
        for _, text in lines:
            if text.startswith(("wall:", "launches per step", "memory plan", "clnet-bench:")):
                print("    " + text, flush=True)
    res["device_memory_mib"] = benchlib.grep(lines, r"memory plan: ([0-9.]+) MiB planned")
    res["device_memory_naive_mib"] = benchlib.grep(lines, r"memory plan: .* vs ([0-9.]+) MiB naive")
    res["loader_kernels_per_step"] = benchlib.grep(
        lines, r"([0-9.]+) kernels(?:/step)? counted at the loader")
    launches = r"launches per step: ([0-9.]+) kernels \(([0-9.]+) CLBlast's\) \+ ([0-9.]+) fills/copies"
    for i, key in enumerate(("kernels_per_step", "clblast_kernels_per_step",
                             "fills_per_step"), 1):
        res[key] = benchlib.grep(lines, launches, group=i)
    return rc, res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("train", "bench"))
    ap.add_argument("--bin", required=True, help="the build's tools/ folder")
    ap.add_argument("--json", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--quiet", action="store_true", help="do not echo the output")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = ap.parse_args(argv[:cut])
    rest = argv[cut + 1:]
    rc, res = (train if a.what == "train" else bench)(a, rest)
    res["label"] = a.label
    res["env"] = {k: v for k, v in os.environ.items()
                  if k.startswith(("CLNET_", "POCL_"))}
    benchlib.write_result(a.json, res)
    return rc


if __name__ == "__main__":
    sys.exit(main())
