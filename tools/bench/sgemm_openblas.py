"""OpenBLAS SGEMM peer of tools/run-bench: numpy float32 matmul (numpy links
libblas.so.3, which Debian points at OpenBLAS once libopenblas0-pthread is
installed) on square sizes, best of --rounds after one warm-up, as GFLOP/s.
Run as: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 ..."""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

import numpy as np  # noqa: E402


def blas_library():
    """The BLAS numpy actually loaded (from the process's mappings)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return ", ".join(sorted(os.path.realpath(p) for p in libs if p.startswith("/")))
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="256,512,1024,2048")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    out = {}
    for n in (int(s) for s in a.sizes.split(",")):
        x = rng.standard_normal((n, n), dtype=np.float32)
        y = rng.standard_normal((n, n), dtype=np.float32)
        z = np.empty((n, n), dtype=np.float32)
        np.matmul(x, y, out=z)
        best = float("inf")
        for _ in range(a.rounds):
            t = time.perf_counter()
            np.matmul(x, y, out=z)
            best = min(best, time.perf_counter() - t)
        out[str(n)] = 2.0 * n ** 3 / best / 1e9
        print("openblas sgemm %5d: %7.1f GFLOP/s" % (n, out[str(n)]), flush=True)
    res = {"runner": "openblas", "gflops": out, "blas": blas_library(),
           "numpy": np.__version__, "threads_env": os.environ.get("OPENBLAS_NUM_THREADS")}
    print("blas: %s" % res["blas"])
    if a.json:
        benchlib.write_result(a.json, res)


if __name__ == "__main__":
    main()
