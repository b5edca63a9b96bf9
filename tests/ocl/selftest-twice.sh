#!/usr/bin/env bash
# clnet-info --self-test on a fresh machine: run twice with empty clnet and
# PoCL caches. Both runs must pass (the first used to fail its program-cache
# check because binaries were stored later), and the second must find every
# program in the cache, whichever keeps it (clnet's or the driver's own),
# in its cold pass as well as its warm pass. Then the same with clnet's own
# cache forced (CLNET_CACHE=clnet).
# Usage: selftest-twice.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

for mode in auto clnet; do
    export CLNET_CACHE=$mode CLNET_CACHE_DIR=$work/$mode/clnet POCL_CACHE_DIR=$work/$mode/pocl
    for run in 1 2; do
        log=$work/$mode-$run.log
        rc=0
        "$build/tools/clnet-info" --self-test > "$log" 2>&1 || rc=$?
        if (( rc != 0 )); then
            cat "$log"
            fail "CLNET_CACHE=$mode: self-test run $run exited $rc"
        fi
        grep -q '^PASS  program cache .* warm builds from' "$log" ||
            { cat "$log"; fail "CLNET_CACHE=$mode run $run: no passing program-cache check"; }
        summary=$(grep '^builds: ' "$log")
        echo "CLNET_CACHE=$mode run $run: $summary"
        if (( run == 2 )); then
            # "cold N program(s) in T s, H from cache": H must equal N.
            n=$(sed -n 's/^builds: cold \([0-9]*\) program(s) in [0-9.]* s, \([0-9]*\) from cache.*/\1 \2/p' "$log")
            read -r built hit <<< "$n"
            [[ -n $built && $built -gt 0 && $built == "$hit" ]] ||
                fail "CLNET_CACHE=$mode run 2: $hit of $built programs from the cache"
        fi
    done
done
echo "self-test twice on empty caches: passed, every program from the cache the second time"
