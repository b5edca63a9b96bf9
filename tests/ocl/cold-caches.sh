#!/usr/bin/env bash
# Cold caches, again and again: test_gemm and a short clnet-train, each run
# with empty clnet and PoCL caches (as on a fresh machine), alternating the
# program cache between AUTO (PoCL keeps programs in its own cache) and
# CLNET_CACHE=clnet (clnet stores binaries, asked for with the queues idle).
# Any abort, crash or failure fails the whole run and keeps its log.
# A PoCL abort in the cache writer's binary query (issue 13) made 1 run in 4
# fail here before the writer thread was removed.
#
# Usage: cold-caches.sh BUILD_DIR SOURCE_DIR GEMM_RUNS TRAIN_RUNS
# CI runs a few of each (tests/ocl/meson.build); the 50 + 20 is
#   tests/ocl/cold-caches.sh build . 50 20
set -euo pipefail
build=$1 src=$2 gemm_runs=$3 train_runs=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fm=/usr/share/datasets/fashion-mnist
fail() { echo "FAIL: $*"; exit 1; }

# Both caches empty for each run; the mode alternates with the run number.
cold() { # cold NAME RUN COMMAND...
    local name=$1 i=$2 mode=auto
    shift 2
    (( i % 2 == 0 )) && mode=clnet
    local dir=$work/$name-$i
    mkdir -p "$dir"
    local t0=$SECONDS rc=0
    CLNET_CACHE=$mode CLNET_CACHE_DIR=$dir/clnet POCL_CACHE_DIR=$dir/pocl \
        "$@" > "$dir/log" 2>&1 || rc=$?
    if (( rc != 0 )); then
        tail -n 30 "$dir/log"
        fail "$name run $i (CLNET_CACHE=$mode) exited $rc"
    fi
    echo "ok  $name run $i (CLNET_CACHE=$mode) $((SECONDS - t0)) s"
    rm -rf "$dir"
}

for i in $(seq 1 "$gemm_runs"); do
    cold test_gemm "$i" "$build/tests/ocl/test_gemm" "$src/cl"
done

if (( train_runs > 0 )); then
    "$build/tools/clnet-import-idx" -q --fashion --limit 20 \
        "$fm/t10k-images-idx3-ubyte.gz" "$fm/t10k-labels-idx1-ubyte.gz" "$work/data"
fi
for i in $(seq 1 "$train_runs"); do
    cold clnet-train "$i" "$build/tools/train/clnet-train" -q --epochs 1 \
        --max-steps 3 --batch 32 --out "$work/run-$i" \
        "$src/models/fashion-cnn.cfg" "$work/data"
    [ -s "$work/run-$i/last.safetensors" ] || fail "clnet-train run $i wrote no checkpoint"
    rm -rf "$work/run-$i"
done
echo "cold caches: $gemm_runs test_gemm and $train_runs clnet-train runs, no failure"
