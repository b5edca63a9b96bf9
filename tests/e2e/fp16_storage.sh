#!/usr/bin/env bash
# clnet-train --precision fp16-storage: the run says so and plans less
# device memory than fp32; its parameters after 2 epochs stay close to an
# fp32 run's from the same seed (half rounds each stored activation by up to
# 2^-12; the tanh/avgpool model keeps max-pooling ties out of it); the
# precision is part of the run: a resume keeps it and refuses another one.
# Usage: fp16_storage.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"
py=/usr/bin/python3

import_fashion 40 "$work/data"
cfg=$src/tests/e2e/tiny_bn.cfg
run() { train_to "$1" --epochs 2 --seed 3 "${@:2}"; }
run "$work/fp32"
run "$work/half" --precision fp16-storage
grep -q "activations in fp16-storage" "$work/half.log" || { cat "$work/half.log"; fail "no precision line"; }
planned() { sed -n 's/^memory *\([0-9.]*\) MiB on the device.*/\1/p' "$1"; }
a=$(planned "$work/fp32.log") b=$(planned "$work/half.log")
"$py" -c "import sys; sys.exit(0 if float('$b') < float('$a') else 1)" ||
    fail "fp16-storage plans $b MiB, fp32 $a MiB"
"$py" "$src/tests/e2e/compare_params.py" "$work/half/last.safetensors" \
    "$work/fp32/last.safetensors" 5e-3 || fail "fp16-storage vs fp32 after 2 epochs"

# The run's precision is kept on resume, and another one is refused.
"$train" -q --resume "$work/half/last.safetensors" --epochs 3 > "$work/resume.log" 2>&1 ||
    { cat "$work/resume.log"; fail "resume of an fp16-storage run"; }
grep -q "^precision = fp16-storage$" "$work/half/recipe.txt" ||
    { cat "$work/half/recipe.txt"; fail "recipe.txt lacks the precision"; }
if "$train" -q --resume "$work/half/last.safetensors" --epochs 4 --precision fp32 \
    > "$work/other.log" 2>&1; then fail "resume with another precision accepted"; fi
grep -q "fp16-storage" "$work/other.log" || { cat "$work/other.log"; fail "refusal names no precision"; }
echo "fp16-storage: planned $b MiB vs $a MiB fp32; parameters close to fp32's; resumed; other precision refused"
