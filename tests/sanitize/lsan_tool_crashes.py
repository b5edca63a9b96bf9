#!/usr/bin/env python3
"""Names the failed tests of a meson test log that may be rerun once.

tools/run-sanitizers reruns a failed test only when LeakSanitizer itself
crashed in it ("LeakSanitizer has encountered a fatal error": the sanitizer
runtime's own fault at exit, see the ASAN_OPTIONS comment there), never for a
leak report, a test assertion or anything else. Prints one test name per line
and exits 0 when every failed test is such a crash; exits 1 (printing
nothing) when any failure has another cause, so the run stays failed.

Usage: lsan_tool_crashes.py BUILD_DIR/meson-logs/testlog.json
"""
import json
import sys

FATAL = "LeakSanitizer has encountered a fatal error"
LEAK = "ERROR: LeakSanitizer: detected memory leaks"


def main(path):
    names = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
                continue
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            if FATAL not in out or LEAK in out or t.get("result") == "TIMEOUT":
                return 1
            names.append(t["name"].split(" / ")[-1])  # "clnet:suite / name"
    print("\n".join(names))
    return 0 if names else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
