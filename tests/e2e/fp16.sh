#!/usr/bin/env bash
# clnet-train --precision fp16 (activations and the gradients between
# layers half, dynamic loss scaling). On a device without cl_khr_fp16 (PoCL)
# it is refused, the message saying why and suggesting fp16-storage; the
# test switch CLNET_FP16_EMULATE=1 then runs it here anyway (half tensors
# through vload_half/vstore_half, which round as the native type does):
# it plans less memory than fp16-storage, ends within half's rounding of an
# fp16-storage run, prints the loss scale, and a scale too large for half
# gradients (2^24) overflows them: updates are skipped, the scale comes
# down, and training goes on to a falling loss.
# Usage: fp16.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"
py=/usr/bin/python3

import_fashion 40 "$work/data"
cfg=$src/tests/e2e/tiny_bn.cfg
run() { train_to "$1" --epochs 2 --seed 3 "${@:2}"; }

# Without the switch: refused where the device lacks cl_khr_fp16.
if "$train" --epochs 1 --precision fp16 --out "$work/refused" "$cfg" "$work/data" \
    > "$work/refused.log" 2>&1; then
    echo "the device reports cl_khr_fp16: --precision fp16 runs natively"
else
    grep -q "cl_khr_fp16" "$work/refused.log" && grep -q "fp16-storage" "$work/refused.log" ||
        { cat "$work/refused.log"; fail "refusal does not name cl_khr_fp16 and suggest fp16-storage"; }
fi

export CLNET_FP16_EMULATE=1
run "$work/storage" --precision fp16-storage
run "$work/fp16" --precision fp16
grep -q "activations in fp16$" "$work/fp16.log" || { cat "$work/fp16.log"; fail "no precision line"; }
planned() { sed -n 's/^memory *\([0-9.]*\) MiB on the device.*/\1/p' "$1"; }
a=$(planned "$work/storage.log") b=$(planned "$work/fp16.log")
"$py" -c "import sys; sys.exit(0 if float('$b') < float('$a') else 1)" ||
    fail "fp16 plans $b MiB, fp16-storage $a MiB"
grep -q "^epoch 2/2 .*loss scale 65536, 0 updates skipped" "$work/fp16.log" ||
    { cat "$work/fp16.log"; fail "fp16's epoch line without its loss scale"; }
"$py" "$src/tests/e2e/compare_params.py" "$work/fp16/last.safetensors" \
    "$work/storage/last.safetensors" 5e-3 || fail "fp16 vs fp16-storage after 2 epochs"

# 2^24 times the loss gradient overflows half gradients.
run "$work/big" --precision fp16 --loss-scale 16777216
line=$(grep "^epoch 2/2 .*loss scale" "$work/big.log") || { cat "$work/big.log"; fail "no loss scale"; }
"$py" - "$line" <<'PY' || { cat "$work/big.log"; fail "no overflow skipped, or the loss did not fall"; }
import re, sys
line = sys.argv[1]
scale = float(re.search(r"loss scale ([0-9.e+]+)", line).group(1))
skipped = int(re.search(r"(\d+) updates? skipped", line).group(1))
print("scale %g after %d skipped updates" % (scale, skipped))
sys.exit(0 if skipped >= 1 and scale < 16777216 else 1)
PY
first=$(sed -n 's/^epoch 1\/2  train loss \([0-9.]*\).*/\1/p' "$work/big.log")
second=$(sed -n 's/^epoch 2\/2  train loss \([0-9.]*\).*/\1/p' "$work/big.log")
"$py" -c "import sys; sys.exit(0 if float('$second') < float('$first') else 1)" ||
    fail "loss $first -> $second with skipped updates"
echo "fp16: refused without cl_khr_fp16; emulated: $b MiB vs $a MiB fp16-storage, close to it; overflow skipped and scaled down"
