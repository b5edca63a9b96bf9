#!/usr/bin/env bash
# Several devices in one process: clnet-train --device 0:2 (the device split
# into two sub-devices, one replica each, each on half of the global batch)
# ends with the parameters of a one-device run of the same command, within
# 1e-5 relative (only the order of the gradient sums differs), on a model
# without batchnorm or dropout, and on one with batchnorm under --sync-bn;
# and a run resumes its checkpoint on another number of replicas. Smooth activations and average pooling: with relu and
# max pooling, Fashion-MNIST's black backgrounds give exact ties that a
# last-bit difference decides, and a tie decided otherwise moves a whole
# gradient, not a rounding error.
# Usage: replicas.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"
py=/usr/bin/python3

import_fashion 40 "$work/data"

cfg=$src/tests/e2e/tiny_tanh.cfg
run() { # OUT_DIR [flags...]
    local out=$1
    shift
    "$train" -q --epochs 2 --seed 3 --out "$out" "$@" "$cfg" "$work/data" \
        > "$out.log" 2>&1 || { cat "$out.log"; fail "clnet-train $*"; }
}

run "$work/one"
run "$work/two" --device 0:2 --check-every 3
grep -q "2 replicas" "$work/two.log" || { cat "$work/two.log"; fail "no replicas line"; }
"$py" "$src/tests/e2e/compare_params.py" "$work/two/last.safetensors" \
    "$work/one/last.safetensors" 1e-5 || fail "2 replicas vs 1 device"

# The global batch stays the run's: a resume on one device continues it.
"$train" -q --resume "$work/two/last.safetensors" --epochs 3 > "$work/resume.log" 2>&1 ||
    { cat "$work/resume.log"; fail "resume of a 2-replica run on one device"; }
run "$work/one3" --epochs 3
"$py" "$src/tests/e2e/compare_params.py" "$work/two/last.safetensors" \
    "$work/one3/last.safetensors" 1e-5 || fail "resumed on 1 device vs 3 epochs on 1"

# With batchnorm, --sync-bn normalises over the global batch: as one device.
cfg=$src/tests/e2e/tiny_bn.cfg
run "$work/one_bn"
run "$work/two_bn" --device 0:2 --sync-bn
"$py" "$src/tests/e2e/compare_params.py" "$work/two_bn/last.safetensors" \
    "$work/one_bn/last.safetensors" 1e-5 || fail "2 replicas with --sync-bn vs 1 device"

# A batch that does not split over the replicas is refused, naming it.
if "$train" -q --device 0:2 --batch 33 --out "$work/odd" "$cfg" "$work/data" \
    > "$work/odd.log" 2>&1; then fail "batch 33 over 2 replicas accepted"; fi
grep -q "does not split evenly over 2 replicas" "$work/odd.log" || { cat "$work/odd.log"; fail "odd batch message"; }
echo "replicas: 2 sub-devices match one device, with --sync-bn too; resumed on 1 device; odd batch refused"
