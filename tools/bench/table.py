"""The table of tools/run-bench: reads the JSON results of one run (its
results folder), prints the comparison as Markdown with the ratios clnet ÷
peer, and with --append adds it as a dated section to RESULTS.md.

Every figure here comes from the same run: the machines are shared and
noisy, so only the ratios mean something (../../shared/bench.md)."""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

MFLOP_DEFAULT = 25.2  # fashion-cnn, forward + backward per trained image


def load(folder):
    out = {}
    for p in glob.glob(os.path.join(folder, "*.json")):
        try:
            with open(p) as f:
                out[os.path.basename(p)[:-5]] = json.load(f)
        except (OSError, ValueError):
            pass
    return out


def get(r, name, key):
    v = r.get(name, {}).get(key)
    return v if isinstance(v, (int, float)) else None


def num(v, fmt="%.0f"):
    return fmt % v if v is not None else "n/a"


def ratio(a, b, fmt="%.2fx"):
    return fmt % (a / b) if a is not None and b else "n/a"


def pct(a, b):
    return "%.1f%%" % (100.0 * a / b) if a is not None and b else "n/a"


def gemm_rows(folder, name="gemm-bench.md"):
    """Square rows of gemm-bench --markdown: n -> (CLBlast, clnet, kernel, OpenBLAS)."""
    rows = {}
    try:
        with open(os.path.join(folder, name)) as f:
            for line in f:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) >= 7 and cells[0].startswith("square "):
                    n = cells[0].split()[1]
                    fl = lambda s: float(s) if s.replace(".", "", 1).isdigit() else None  # noqa: E731
                    rows[n] = (fl(cells[2]), fl(cells[3]), cells[4], fl(cells[6]))
    except OSError:
        pass
    return rows


# The networks table: (model, batch, input, target clnet ÷ PyTorch, target
# share of OpenBLAS), in this order; other net-clnet-* results follow.
NETWORKS = (("fashion-cnn", 64, "1x28x28", 1.3, 0.40),
            ("resnet20", 128, "3x32x32", 1.0, 0.30),
            ("mobilenet-tiny", 128, "3x32x32", 1.0, None))
INPUTS = {"fashion-cnn": "1x28x28", "resnet20": "3x32x32", "mobilenet-tiny": "3x32x32"}


def networks_table(r, ob_best, w):
    """clnet-bench --wall-only vs PyTorch CPU on synthetic data, per network:
    images/s and their ratio, effective GFLOP/s on clnet-bench's MFLOP per
    trained image (the same count for both), as a share of this run's best
    OpenBLAS SGEMM, clnet's launches per step and its memory plan."""
    done = [(m, b) for m, b, *_ in NETWORKS if "net-clnet-%s-b%d" % (m, b) in r]
    rest = []
    for k in r:
        if k.startswith("net-clnet-"):
            m, b = k[len("net-clnet-"):].rsplit("-b", 1)
            if (m, int(b)) not in done:
                rest.append((m, int(b)))
    rows = done + sorted(rest)
    if not rows:
        return
    targets = {(m, b): (t, sh) for m, b, _, t, sh in NETWORKS}
    w("\n| network (batch, input; synthetic data) | clnet img/s | PyTorch CPU img/s "
      "| clnet ÷ PyTorch | target | MFLOP per trained image | clnet GFLOP/s "
      "| PyTorch GFLOP/s | clnet ÷ OpenBLAS SGEMM (%s) | PyTorch ÷ OpenBLAS "
      "| target | clnet launches per step: kernels (CLBlast's) + fills/copies "
      "| clnet device memory (MiB planned) |"
      % ("%.0f GFLOP/s" % ob_best if ob_best else "n/a: sgemm not run"))
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    steps = []
    for m, b in rows:
        c, p, q = ("net-%s-%s-b%d" % (who, m, b) for who in ("clnet", "pytorch", "prof-clnet"))
        ci, pi = get(r, c, "steady_images_per_s"), get(r, p, "steady_images_per_s")
        mf = get(r, c, "mflop_per_image") or get(r, q, "mflop_per_image")
        ce = ci * mf / 1e3 if ci is not None and mf else None
        pe = pi * mf / 1e3 if pi is not None and mf else None
        t, sh = targets.get((m, b), (None, None))
        k, kb, f = (get(r, q, x) for x in ("kernels_per_step", "clblast_kernels_per_step",
                                           "fills_per_step"))
        if k is not None:
            launch = "%.0f (%.0f) + %.0f" % (k, kb or 0, f or 0)
        else:  # no profiled run: the loader's count of the wall-only run
            k = get(r, c, "loader_kernels_per_step")
            launch = "%.0f kernels (loader) + ?" % k if k is not None else "n/a"
        mem = get(r, c, "device_memory_mib") or get(r, q, "device_memory_mib")
        w("| %s (%d, %s) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
          % (m, b, INPUTS.get(m, "?"), num(ci), num(pi), ratio(ci, pi),
             "≥ %.1fx" % t if t else "", num(mf, "%.1f"), num(ce, "%.1f"), num(pe, "%.1f"),
             pct(ce, ob_best), pct(pe, ob_best), "clnet ≥ %.0f%%" % (100 * sh) if sh else "",
             launch, num(mem, "%.0f")))
        args = r.get(c, {}).get("args", [])
        opt = dict(zip(args, args[1:]))
        if "--warmup" in opt and "--steps" in opt:
            steps.append("%s b%d %s+%s" % (m, b, opt["--warmup"], opt["--steps"]))
    w("\nclnet-bench --wall-only and PyTorch (2 threads, the model file's SGD recipe) "
      "over the same steps after the same warm-up (1 first step + warm-up + timed: %s); GFLOP/s "
      "for both on clnet-bench's FLOP count; launches from a separate profiled "
      "1-step clnet-bench; OpenBLAS: the best square SGEMM of this run's sgemm section."
      % ", ".join(steps))


def commit():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        c = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "-uno"],
                               capture_output=True, text=True).stdout.strip()
        return c + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def build(folder, meta):
    r = load(folder)
    out = []
    w = out.append
    mflop = get(r, "net-clnet-fashion-cnn-b64", "mflop_per_image") or MFLOP_DEFAULT
    cf, cc = get(r, "clnet-folder", "steady_images_per_s"), get(r, "clnet-cached", "steady_images_per_s")
    pf, pm = get(r, "pytorch-folder", "steady_images_per_s"), get(r, "pytorch-memory", "steady_images_per_s")
    dk = get(r, "darknet", "steady_images_per_s")
    ob = r.get("sgemm-openblas", {}).get("gflops", {})
    ob_best = max(ob.values()) if ob else None

    w("## run-bench %s (%s)\n" % (meta["date"], meta["mode"]))
    w("command: `%s`  " % meta["command"])
    w("machine: %s x %s (%s), %s; load average %s at the start, %s at the end  "
      % (meta["nproc"], meta["cpu"], meta["simd"], meta.get("device", "device ?"),
         meta["load_start"], benchlib.loadavg()))
    w("clnet: %s; results: `%s`\n" % (commit(), folder))
    main = ("clnet-folder", "clnet-cached", "pytorch-folder", "pytorch-memory", "darknet",
            "clnet-cold", "clnet-warm")
    if any(k in r for k in main):  # not when only sgemm and/or networks ran
        w("| metric | clnet | PyTorch CPU | darknet CPU | clnet ÷ PyTorch | clnet ÷ darknet | target |")
        w("|---|---|---|---|---|---|---|")
        w("| training img/s from the image folders (steady, after 20 steps) | %s | %s | %s | %s | %s | |"
          % (num(cf), num(pf), num(dk), ratio(cf, pf), ratio(cf, dk)))
        w("| training img/s in memory (clnet: cached decoded images, 2nd epoch; PyTorch: tensors) "
          "| %s | %s | | %s | %s | ≥ 1.0x PyTorch, ≥ 4x darknet |"
          % (num(cc), num(pm), ratio(cc, pm), ratio(cc, dk)))
        w("| folders ÷ in memory | %s | %s | | | | clnet ≥ 0.95 |"
          % (ratio(cf, cc, "%.2f"), ratio(pf, pm, "%.2f")))
        ca, pa = get(r, "clnet-folder", "test_accuracy"), get(r, "pytorch-memory", "test_accuracy")
        pfa, da = get(r, "pytorch-folder", "test_accuracy"), get(r, "darknet", "test_accuracy")
        w("| test accuracy after the epoch (PyTorch: in memory / folders) | %s | %s / %s | %s | %s | | within 1 point |"
          % (num(ca and 100 * ca, "%.2f%%"), num(pa and 100 * pa, "%.2f%%"),
             num(pfa and 100 * pfa, "%.2f%%"), num(da and 100 * da, "%.2f%%"),
             "%+.2f points" % (100 * (ca - pa)) if ca is not None and pa is not None else "n/a"))
        eff = lambda v: v * mflop / 1e3 if v is not None else None  # noqa: E731
        ce, pe, de = eff(cc or cf), eff(pm or pf), eff(dk)
        w("| effective training GFLOP/s (%.1f MFLOP per image, in memory) | %s | %s | %s | %s | %s | |"
          % (mflop, num(ce, "%.1f"), num(pe, "%.1f"), num(de, "%.1f"), ratio(ce, pe), ratio(ce, de)))
        w("| ... as a share of OpenBLAS SGEMM in this run (%s GFLOP/s) | %s | %s | %s | | | clnet ≥ 40%% |"
          % (num(ob_best, "%.0f"), pct(ce, ob_best), pct(pe, ob_best), pct(de, ob_best)))
        cold, warm = get(r, "clnet-cold", "first_step_seen_s"), get(r, "clnet-warm", "first_step_seen_s")
        w("| time to the first training step, cold caches (s) | %s | | | | | ≤ 10 s |" % num(cold, "%.2f"))
        w("| time to the first training step, warm (s; PyTorch/darknet: folder run) | %s | %s | %s | %s | %s | ≤ 0.3 s |"
          % (num(warm, "%.2f"), num(get(r, "pytorch-folder", "first_step_s"), "%.2f"),
             num(get(r, "darknet", "first_step_s"), "%.2f"),
             ratio(warm, get(r, "pytorch-folder", "first_step_s")),
             ratio(warm, get(r, "darknet", "first_step_s"))))
        cr, pr = get(r, "clnet-folder", "maxrss_mib"), get(r, "pytorch-folder", "maxrss_mib")
        w("| peak host memory, folder run (MiB, max RSS of the main process) | %s | %s | %s | %s | %s | |"
          % (num(cr), num(pr), num(get(r, "darknet", "maxrss_mib")), ratio(cr, pr),
             ratio(cr, get(r, "darknet", "maxrss_mib"))))
        w("| device memory (MiB, clnet's memory plan; naive in brackets) | %s (%s) | n/a | n/a | | | |"
          % (num(get(r, "clnet-folder", "device_memory_mib"), "%.1f"),
             num(get(r, "clnet-folder", "device_memory_naive_mib"), "%.1f")))
        cs = r.get("clnet-cold", {}).get("startup_line", "")
        if cs:
            w("\ncold start, as clnet-train splits it: `%s`  " % cs.replace("bench: ", ""))
            w("warm start: `%s`" % r.get("clnet-warm", {}).get("startup_line", "n/a").replace("bench: ", ""))

    g, gt = gemm_rows(folder), gemm_rows(folder, "gemm-bench-tuned.md")
    if ob or g:
        w("\n| SGEMM n x n x n, GFLOP/s | CLBlast defaults (device) | CLBlast tuned | "
          "clnet dispatcher (kernel) | OpenBLAS, numpy | OpenBLAS, gemm-bench | "
          "CLBlast tuned ÷ OpenBLAS | clnet ÷ OpenBLAS |")
        w("|---|---|---|---|---|---|---|---|")
        for n in ("256", "512", "1024", "2048"):
            clb, ours, kern, ob2 = g.get(n, (None, None, "", None))
            tuned = gt.get(n, (None,))[0]
            o = ob.get(n)
            w("| %s | %s | %s | %s (%s) | %s | %s | %s | %s |"
              % (n, num(clb, "%.1f"), num(tuned, "%.1f"), num(ours, "%.1f"), kern or "-",
                 num(o, "%.1f"), num(ob2, "%.1f"), ratio(tuned, o, "%.3f"),
                 ratio(ours, o, "%.3f")))
        if gt:
            w("\nfashion-cnn's GEMM shapes, CLBlast with its defaults and tuned: "
              "`gemm-bench.md` and `gemm-bench-tuned.md` in the results folder.")
    networks_table(r, ob_best, w)
    blas = r.get("sgemm-openblas", {}).get("blas", "")
    if blas and "openblas" not in blas.lower():
        w("\n**numpy's BLAS in this run was %s, not OpenBLAS** (libopenblas0-pthread "
          "missing?): the OpenBLAS figures and shares, and PyTorch CPU, are not the "
          "protocol's." % blas)
    notes = meta.get("notes")
    if notes:
        w("\n" + notes)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--meta", help="JSON with date, mode, command, machine, load_start")
    ap.add_argument("--append", help="RESULTS.md to append the section to")
    a = ap.parse_args()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "mode": "?", "command": "?",
            "load_start": "?"}
    meta.update(benchlib.machine())
    if a.meta:
        with open(a.meta) as f:
            meta.update(json.load(f))
    text = build(a.folder, meta)
    sys.stdout.write(text)
    if a.append:
        new = not os.path.exists(a.append)
        with open(a.append, "a") as f:
            if new:
                f.write("# clnet benchmark results\n\nDated sections, newest last. "
                        "Figures are from shared, noisy machines: read the ratios.\n")
            f.write("\n" + text)


if __name__ == "__main__":
    main()
