"""darknet CPU peer of tools/run-bench: trains fashion-cnn.darknet.cfg (the
same network, channels=3) with Debian's darknet on the PNG class folders,
times its iteration lines by wall clock (steady rate after the first --skip
iterations, the loader included), and optionally classifies the test list
for top-1. Writes a JSON result (--json).

darknet labels an image by the first label that is a substring of its path,
so every path is checked to match exactly one class name before training."""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ITER = r"^\s*(\d+), [0-9.]+: [-0-9.naif]+, [-0-9.naif]+ avg"  # "12, 0.013: 2.1, 2.2 avg"


def image_list(root, classes, limit=0):
    paths = []
    for c in classes:
        d = os.path.join(root, c)
        names = sorted(os.listdir(d))
        if limit:
            names = names[:limit]
        paths += [os.path.join(d, n) for n in names]
    for p in paths:
        hits = [c for c in classes if c in p]
        if len(hits) != 1:
            sys.exit("darknet_fashion: %s matches the labels %s; darknet needs "
                     "exactly one (move the data to a path without class names)"
                     % (p, hits))
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/fashion-mnist")
    ap.add_argument("--work", required=True, help="folder for lists, cfgs, weights")
    ap.add_argument("--batches", type=int, default=0, help="0: one epoch")
    ap.add_argument("--skip", type=int, default=20)
    ap.add_argument("--test-limit", type=int, default=0,
                    help="test images per class for top-1 (0 all, -1 skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--darknet", default="darknet")
    ap.add_argument("--json")
    a = ap.parse_args()

    data = os.path.abspath(a.data)
    work = os.path.abspath(a.work)
    os.makedirs(os.path.join(work, "backup"), exist_ok=True)
    classes = sorted(d for d in os.listdir(os.path.join(data, "train"))
                     if os.path.isdir(os.path.join(data, "train", d)))
    train = image_list(os.path.join(data, "train"), classes)
    test = image_list(os.path.join(data, "test"), classes,
                      a.test_limit if a.test_limit > 0 else 0)
    batches = a.batches or len(train) // 64
    w = lambda name, text: open(os.path.join(work, name), "w").write(text)  # noqa: E731
    w("train.list", "\n".join(train) + "\n")
    w("test.list", "\n".join(test) + "\n")
    w("labels.txt", "\n".join(classes) + "\n")
    w("fashion.data", "classes=%d\ntrain=%s/train.list\nvalid=%s/test.list\n"
      "labels=%s/labels.txt\nbackup=%s/backup\ntop=2\n"
      % (len(classes), work, work, work, work))
    with open(os.path.join(HERE, "fashion-cnn.darknet.cfg")) as f:
        cfg = f.read().replace("@MAX_BATCHES@", str(batches))
    w("fashion-cnn.cfg", cfg)

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    # stdbuf: darknet's stdout is block-buffered into a pipe, and the lines
    # are timed as they arrive.
    cmd = ["stdbuf", "-oL", "-eL", a.darknet, "classifier", "train", work + "/fashion.data",
           work + "/fashion-cnn.cfg", "-nogpu"]
    print("  $ " + " ".join(cmd), flush=True)
    import re
    rx = re.compile(ITER)
    iters = []  # (seconds since start, iteration)

    def on_line(t, text):
        m = rx.search(text)
        if m:
            iters.append((t, int(m.group(1))))

    rc, lines, wall, rss = benchlib.run_timed(cmd, env=env, cwd=work, echo=False,
                                              line_cb=on_line)
    for _, text in lines[-5:]:
        print("    " + text)
    res = {"runner": "darknet", "batches": batches, "rc": rc, "wall_s": wall,
           "maxrss_mib": rss, "threads": a.threads}
    if iters:
        res["first_step_s"] = iters[0][0]
        done = len(iters)
        if done > a.skip:
            t0, t1 = iters[a.skip - 1][0], iters[-1][0]
            res["steady_images_per_s"] = (done - a.skip) * 64 / (t1 - t0)
        res["steps"] = done
    print("bench: darknet %d iterations, steady %.1f img/s, peak RSS %.0f MiB"
          % (len(iters), res.get("steady_images_per_s", 0), rss), flush=True)

    weights = os.path.join(work, "backup", "fashion-cnn.weights")
    if rc == 0 and a.test_limit >= 0 and os.path.exists(weights):
        cmd = [a.darknet, "classifier", "valid", work + "/fashion.data",
               work + "/fashion-cnn.cfg", weights, "-nogpu"]
        print("  $ " + " ".join(cmd), flush=True)
        rc2, vlines, _, _ = benchlib.run_timed(cmd, env=env, cwd=work, echo=False)
        top1 = benchlib.grep(vlines, r"top 1: ([0-9.]+)")
        res["test_accuracy"] = top1
        res["test_images"] = len(test)
        print("bench: darknet test top-1 %s on %d images"
              % ("%.2f%%" % (100 * top1) if top1 is not None else "n/a", len(test)))
    if a.json:
        benchlib.write_result(a.json, res)
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
