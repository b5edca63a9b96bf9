"""Shared pieces of the tools/bench runners: running a command while timing
its output lines and its peak memory, machine facts, and result files.

Each runner writes one JSON object per measurement into the results folder
(RESULTS_DIR/<name>.json); tools/bench/table.py reads them all and prints the
table of ratios. Only the Python standard library is used here, so the peers'
own imports (torch, numpy) stay in their runners."""

import json
import os
import platform
import re
import subprocess
import sys
import time

T0 = time.monotonic()  # the runner's own start, for its time-to-first-step


def now():
    return time.monotonic()


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def machine():
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            txt = f.read()
        flags = "AVX-512" if "avx512f" in txt else "AVX2" if "avx2" in txt else ""
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "simd": flags,
            "loadavg": loadavg()}


def run_timed(cmd, env=None, cwd=None, echo=True, line_cb=None):
    """Runs cmd, returning (rc, lines, wall_s, maxrss_mib) where lines are
    (seconds since start, text) for each output line (stdout and stderr
    together). Peak memory is the child's max RSS from wait4, so it covers
    a process tree's largest single process, not the sum of its workers."""
    t0 = now()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, cwd=cwd, text=True, bufsize=1,
                         errors="replace")
    lines = []
    for raw in p.stdout:
        # progress bars redraw with \r; keep each state as its own line
        for part in raw.rstrip("\n").split("\r"):
            if not part:
                continue
            t = now() - t0
            lines.append((t, part))
            if line_cb:
                line_cb(t, part)
            if echo:
                sys.stdout.write("    " + part + "\n")
                sys.stdout.flush()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, lines, now() - t0, ru.ru_maxrss / 1024.0


def grep(lines, pattern, group=1, conv=float, last=True):
    """The first/last match of pattern in the (t, text) lines, converted."""
    rx = re.compile(pattern)
    found = None
    for _, text in lines:
        m = rx.search(text)
        if m:
            found = conv(m.group(group))
            if not last:
                break
    return found


def write_result(path, obj):
    obj.setdefault("loadavg_end", loadavg())
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def self_maxrss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def children_maxrss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
