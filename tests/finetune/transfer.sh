#!/usr/bin/env bash
# Fine-tuning beats training from scratch (issue 15). A small CNN is trained
# on shape set A (circle, square, triangle, bar, X: 200 images each), then
# trained on set B (five other shapes, 4 images each, 10 steps) three ways:
# from A's weights, from A's weights with the backbone frozen, and from
# scratch, with the same flags and steps. On B's 500 held-out images each
# fine-tuned run must beat scratch by at least 10 points, for two seeds.
# Also: a class count other than the weights' (4 of B's classes) replaces
# the final layer, from a checkpoint and from its ONNX export; weights matching nothing and an unknown --freeze prefix
# are refused; --resume keeps the frozen layers.
# Usage: transfer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
train=$build/tools/train/clnet-train
predict=$build/tools/train/clnet-predict
cfg=$src/tests/finetune/small-cnn.cfg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cd "$work"
python3 "$src/tests/finetune/shapes.py" A A 200 1
python3 "$src/tests/finetune/shapes.py" B B 4 2
python3 "$src/tests/finetune/shapes.py" Bval B 100 3

"$train" -q --epochs 3 --batch 20 --out pre "$cfg" A > pre.log 2>&1 || { cat pre.log; fail "pretraining"; }
acc() { "$predict" --quiet-files "$1/last.safetensors" Bval | sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p' | head -n 1; }
for seed in 1 2; do
    common=(--epochs 5 --batch 10 --seed "$seed")
    "$train" "${common[@]}" --weights pre/best.safetensors --out ft$seed "$cfg" B > ft$seed.log 2>&1 \
        || { cat ft$seed.log; fail "fine-tuning"; }
    "$train" -q "${common[@]}" --weights pre/best.safetensors --freeze backbone --out fz$seed \
        "$cfg" B > fz$seed.log 2>&1 || { cat fz$seed.log; fail "fine-tuning, backbone frozen"; }
    "$train" -q "${common[@]}" --out sc$seed "$cfg" B > sc$seed.log 2>&1 \
        || { cat sc$seed.log; fail "training from scratch"; }
    grep -q "the final layer starts at zero.*not trained on these classes" ft$seed.log \
        || { cat ft$seed.log; fail "the final layer of A's classes was not replaced"; }
    ft=$(acc ft$seed) fz=$(acc fz$seed) sc=$(acc sc$seed)
    echo "seed $seed: B held-out accuracy: fine-tuned $ft%, backbone frozen $fz%, from scratch $sc%"
    for x in "$ft" "$fz"; do
        awk -v a="$x" -v b="$sc" 'BEGIN { exit !(a >= b + 10) }' \
            || fail "fine-tuning ($x%) is not 10 points above scratch ($sc%)"
    done
done

# Four of B's classes: the final layer is replaced (5 -> 4 outputs).
mkdir B4 && cp -r B/diamond B/plus B/vbar B/corner B4/
"$train" --epochs 1 --batch 8 --weights pre/best.safetensors --out four "$cfg" B4 > four.log 2>&1 \
    || { cat four.log; fail "fine-tuning for 4 classes"; }
grep -q "its final layer is replaced by a new one with 4 outputs" four.log || { cat four.log; fail "no replacement message"; }
grep -q "^classes=4" four/model.cfg && grep -q "^outputs=4" four/model.cfg || fail "four/model.cfg is not the 4-class network"
grep -q "fc2.weight: shape \[5,128\] in pre/best.safetensors, \[4,128\] in the model" four.log \
    || { cat four.log; fail "the skipped head is not listed with its shapes"; }

# The same from the ONNX export of the pretrained network.
"$build/tools/onnx/clnet-export-onnx" -q pre/best.safetensors pre.onnx
"$train" --epochs 1 --batch 8 --weights pre.onnx --out fromonnx "$cfg" B4 > onnx.log 2>&1 \
    || { cat onnx.log; fail "fine-tuning from pre.onnx"; }
grep -q "pre.onnx: 6 of the model's 8 tensors loaded" onnx.log || { cat onnx.log; fail "pre.onnx's weights"; }
# Imported back, the export keeps its class names: clnet-predict scores A's
# folders with them, as well as the checkpoint does.
"$build/tools/onnx/clnet-import-onnx" -q pre.onnx imp > /dev/null
want=$("$predict" --quiet-files pre/best.safetensors A | head -n 1)
got=$("$predict" --quiet-files imp/model.safetensors A | head -n 1)
[[ $got == "$want" && $got == *accuracy* ]] || fail "imported export: '$got', checkpoint: '$want'"

# Nothing matching, an unknown prefix: refused, naming the cause.
if "$train" --epochs 1 --batch 10 --weights pre/best.safetensors --out none "$src/models/resnet20.cfg" B > none.log 2>&1; then
    fail "weights matching nothing were accepted"
fi
grep -q "none of its .* tensors matches" none.log || { cat none.log; fail "no 'none matches' message"; }
if "$train" --epochs 1 --batch 10 --freeze conv9 --out bad "$cfg" B > bad.log 2>&1; then
    fail "--freeze conv9 was accepted"
fi
grep -q "conv9" bad.log || { cat bad.log; fail "the unknown prefix is not named"; }

# --resume restores the frozen layers: conv1/conv2 stay A's through both runs.
"$train" -q --epochs 1 --batch 10 --weights pre/best.safetensors --freeze conv \
    --out rz "$cfg" B > rz.log 2>&1 || { cat rz.log; fail "frozen run"; }
"$train" -q --resume rz/last.safetensors --epochs 2 > rz2.log 2>&1 || { cat rz2.log; fail "resume"; }
python3 - pre/best.safetensors rz/last.safetensors <<'PY' || fail "frozen weights changed"
import json, struct, sys
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return h, {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
               for k, v in h.items() if k != "__metadata__"}
(_, a), (h, b) = tensors(sys.argv[1]), tensors(sys.argv[2])
assert h["__metadata__"]["train.frozen"] == "conv1,conv1_act,conv2,conv2_act", h["__metadata__"]["train.frozen"]
for k in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"):
    assert a[k] == b[k], k + " changed"
assert a["fc1.weight"] != b["fc1.weight"], "fc1 did not train"
PY
echo "fine-tuning: ok"
