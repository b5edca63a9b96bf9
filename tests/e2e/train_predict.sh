#!/usr/bin/env bash
# End to end: import a Fashion-MNIST slice, train fashion-cnn with clnet-train,
# check the accuracy, check that clnet-predict agrees with it, then Ctrl-C and
# resume, and a diverging run. Usage: train_predict.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

mkdir -p "$work/data"
import_fashion 200 "$work/data/train"
"$bin/clnet-import-idx" -q --fashion --limit 100 "$fm/t10k-images-idx3-ubyte.gz" \
    "$fm/t10k-labels-idx1-ubyte.gz" "$work/data/test"

# 1. 2,000 training images, 3 epochs, validated on 1,000 test images.
"$bin/train/clnet-train" -q --epochs 3 --batch 32 --lr 0.02 --out "$work/run" \
    "$src/models/fashion-cnn.cfg" "$work/data" | tee "$work/train.log"
best=$(sed -n 's/.*best validation top-1 \([0-9.]*\)%.*/\1/p' "$work/train.log")
[ -n "$best" ] || fail "no best accuracy in the training log"
awk -v a="$best" 'BEGIN { exit !(a >= 75) }' || fail "validation top-1 $best% < 75%"
for f in last.safetensors best.safetensors metrics.csv report.html model.cfg recipe.txt; do
    [ -s "$work/run/$f" ] || fail "run directory lacks $f"
done

# 2. clnet-predict on the same images reports the same accuracy.
"$bin/train/clnet-predict" --quiet-files "$work/run/best.safetensors" "$work/data/test" \
    | tee "$work/predict.log"
acc=$(sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p' "$work/predict.log")
[ "$acc" = "$best" ] || fail "clnet-predict says $acc%, clnet-train said $best%"

# 3. SIGINT mid-run leaves a loadable checkpoint and the printed command resumes.
"$bin/train/clnet-train" --epochs 4 --batch 32 --log-every 1 --out "$work/int" \
    "$src/models/fashion-cnn.cfg" "$work/data" > "$work/int.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    grep -q "epoch 1/4 \[" "$work/int.log" 2>/dev/null && break
    sleep 0.1
done
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 130 ] || { cat "$work/int.log"; fail "interrupted run exited $rc, not 130"; }
[ -s "$work/int/last.safetensors" ] || fail "no last.safetensors after SIGINT"
resume=$(grep -A1 "resume with:" "$work/int.log" | tail -n 1)
[ -n "$resume" ] || fail "no resume command printed"
eval "$resume -q" > "$work/resume.log" || { cat "$work/resume.log"; fail "resume failed"; }
grep -q "done in" "$work/resume.log" || fail "resumed run did not finish"

# 4. A diverging run stops with a clear message and a non-zero status.
set +e
"$bin/train/clnet-train" -q --epochs 1 --batch 32 --lr 100 --limit 20 --out "$work/nan" \
    "$src/models/fashion-cnn.cfg" "$work/data" > "$work/nan.log" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || { cat "$work/nan.log"; fail "diverging run exited $rc, not 3"; }
grep -q "NaN" "$work/nan.log" || fail "no NaN message"
grep -q "lower learning rate" "$work/nan.log" || fail "no learning-rate hint"
echo "e2e: best $best%, predict $acc%, interrupt+resume ok, divergence caught"
