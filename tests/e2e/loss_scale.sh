#!/usr/bin/env bash
# clnet-train --loss-scale: with fp32 gradients a power-of-two scale changes
# nothing, so the parameters after 2 epochs are bit-identical to a run
# without it, while the scale grows as the interval says (printed at each
# epoch end). The scale's state is part of the checkpoint: a run resumed
# after epoch 1 ends with the same parameters and the same state as the run
# never stopped, another --loss-scale on resume is refused, and bad values
# are refused naming them.
# Usage: loss_scale.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"
py=/usr/bin/python3

import_fashion 40 "$work/data"
cfg=$src/tests/e2e/tiny_bn.cfg
run() { train_to "$1" --seed 5 "${@:2}"; }
run "$work/plain" --epochs 2
run "$work/scaled" --epochs 2 --loss-scale 1024 --loss-scale-interval 5
"$py" "$src/tests/e2e/compare_params.py" "$work/scaled/last.safetensors" \
    "$work/plain/last.safetensors" 0 || fail "loss scaling changed fp32 results"
# 400 images in batches of 32: 12 updates an epoch, 24 in all; the scale
# doubles every 5 good updates: 1024 * 2^4 after 2 epochs.
grep -q "^epoch 2/2 .*loss scale 16384, 0 updates skipped" "$work/scaled.log" ||
    { cat "$work/scaled.log"; fail "epoch line without loss scale 16384"; }
grep -q "loss scale" "$work/plain.log" && { cat "$work/plain.log"; fail "plain run prints a loss scale"; }

state() { # the checkpoint's train.loss_scale_state
    "$py" -c 'import json, struct, sys
d = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", d[:8])
print(json.loads(d[8:8 + n])["__metadata__"].get("train.loss_scale_state", "none"))' "$1"
}
[ "$(state "$work/scaled/last.safetensors")" = "16384,4,0" ] ||
    fail "checkpoint loss scale state $(state "$work/scaled/last.safetensors"), want 16384,4,0"

# Resumed after epoch 1: same parameters, same scale state.
run "$work/part" --epochs 1 --loss-scale 1024 --loss-scale-interval 5
[ "$(state "$work/part/last.safetensors")" = "4096,2,0" ] ||
    fail "epoch-1 state $(state "$work/part/last.safetensors"), want 4096,2,0"
"$train" -q --resume "$work/part/last.safetensors" --epochs 2 > "$work/resume.log" 2>&1 ||
    { cat "$work/resume.log"; fail "resume"; }
"$py" "$src/tests/e2e/compare_params.py" "$work/part/last.safetensors" \
    "$work/scaled/last.safetensors" 0 || fail "resumed run differs from the whole run"
[ "$(state "$work/part/last.safetensors")" = "16384,4,0" ] ||
    fail "resumed state $(state "$work/part/last.safetensors"), want 16384,4,0"
if "$train" -q --resume "$work/part/last.safetensors" --epochs 3 --loss-scale 512 \
    > "$work/other.log" 2>&1; then fail "resume with another --loss-scale accepted"; fi
grep -q "loss-scale" "$work/other.log" || { cat "$work/other.log"; fail "refusal does not name --loss-scale"; }

for bad in "--loss-scale 1e9" "--loss-scale x" "--loss-scale-interval 0"; do
    # shellcheck disable=SC2086
    if "$train" --epochs 1 --out "$work/bad" $bad "$cfg" "$work/data" > "$work/bad.log" 2>&1; then
        fail "$bad accepted"
    fi
    grep -q -- "${bad%% *}" "$work/bad.log" || { cat "$work/bad.log"; fail "$bad: message does not name it"; }
done
echo "loss scaling: fp32 bit-identical with and without; scale 1024 -> 16384 in 24 updates; resumed exactly; bad values refused"
