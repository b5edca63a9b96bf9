#!/usr/bin/env bash
# Faults through clnet-train (issue 7): a batch too large for the device, a
# run directory that cannot be written, a disk that fills during a save, a
# diverging run, class folders whose names are not UTF-8, and the temp file
# of a killed save. The cases that need a mount (root) say so and are
# skipped without one. Usage: faults.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
train=$build/tools/train/clnet-train
predict=$build/tools/train/clnet-predict
work=$(mktemp -d)
mounts=()
cleanup() {
    for m in "${mounts[@]+"${mounts[@]}"}"; do umount "$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fm=/usr/share/datasets/fashion-mnist
fail() { echo "FAIL: $*"; exit 1; }
# Runs a command that must fail with status $1; its output goes to $2.
expect_rc() {
    local want=$1 log=$2 rc=0
    shift 2
    "$@" > "$log" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { cat "$log"; fail "$* exited $rc, not $want"; }
}
# A tmpfs of size $2 at $1 (root only); returns 1 when it cannot be mounted.
small_disk() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null || return 1
    mounts+=("$1")
}
lenet=$src/models/lenet.cfg
"$build/tools/clnet-import-idx" -q --fashion --limit 20 "$fm/train-images-idx3-ubyte.gz" \
    "$fm/train-labels-idx1-ubyte.gz" "$work/data"

# 1. A batch too large for the device: refused before training (no run
#    directory yet) with the bytes and a batch that fits; on a 16 MiB
#    device (CLNET_FAULT=devmem) that batch then trains.
expect_rc 1 "$work/big.log" "$train" --batch 65536 --out "$work/big" \
    "$src/models/resnet20.cfg" "$work/data"
grep -q "needs [0-9.]* MiB of device memory" "$work/big.log" || fail "no bytes needed: $(cat "$work/big.log")"
grep -q "batch [0-9]* would fit" "$work/big.log" || fail "no batch suggested"
[ ! -e "$work/big" ] || fail "a run directory was made for a model that cannot load"
expect_rc 1 "$work/small.log" env CLNET_FAULT=devmem:16M "$train" --batch 4096 \
    --out "$work/small" "$lenet" "$work/data"
grep -q "has 16.0 MiB" "$work/small.log" || fail "device size missing: $(cat "$work/small.log")"
fit=$(sed -n 's/.*batch \([0-9]*\) would fit.*/\1/p' "$work/small.log")
[ -n "$fit" ] && [ "$fit" -le 200 ] || fail "suggested batch '$fit'"
CLNET_FAULT=devmem:16M "$train" -q --epochs 1 --batch "$fit" --out "$work/small" \
    "$lenet" "$work/data" > "$work/small-run.log" 2>&1 \
    || { cat "$work/small-run.log"; fail "the suggested batch $fit does not train"; }
echo "faults: batch 4096 on a 16 MiB device refused, suggested batch $fit trains"

# 2. A run directory that cannot be written: an error before training.
expect_rc 1 "$work/proc.log" "$train" --epochs 1 --out /proc/clnet-fault-run "$lenet" "$work/data"
grep -q "cannot write to the run directory /proc/clnet-fault-run" "$work/proc.log" \
    || fail "no run-directory error: $(cat "$work/proc.log")"
! grep -q "epoch 1/1" "$work/proc.log" || fail "training started before the run directory was checked"
if small_disk "$work/rw" 4m; then
    "$train" -q --epochs 1 --out "$work/rw/run" "$lenet" "$work/data" > "$work/rw.log" 2>&1 \
        || { cat "$work/rw.log"; fail "training on the tmpfs"; }
    cp "$work/rw/run/last.safetensors" "$work/last.copy"
    mount -o remount,ro "$work/rw"
    expect_rc 1 "$work/ro.log" "$train" --epochs 2 --resume "$work/rw/run/last.safetensors" \
        "$lenet" "$work/data"
    grep -q "cannot write to the run directory .*Read-only file system" "$work/ro.log" \
        || fail "no read-only error: $(cat "$work/ro.log")"
    ! grep -q "epoch 2/2" "$work/ro.log" || fail "training started in a read-only directory"
    cmp -s "$work/rw/run/last.safetensors" "$work/last.copy" || fail "last.safetensors changed"
    echo "faults: read-only run directory refused before training, checkpoint intact"
else
    echo "faults: cannot mount a tmpfs (not root?): read-only and full-disk cases skipped"
fi

# 3. The disk fills at the second save of an epoch (best.safetensors): a
#    clear error, and last.safetensors, written before, still loads.
if small_disk "$work/full" 760k; then
    expect_rc 1 "$work/full.log" "$train" -q --epochs 1 --out "$work/full/run" "$lenet" "$work/data"
    grep -q "saving .*best.safetensors.*No space left on device" "$work/full.log" \
        || fail "no full-disk error: $(cat "$work/full.log")"
    grep -q "previous file, if any, is unchanged" "$work/full.log" || fail "no reassurance"
    "$predict" --quiet-files "$work/full/run/last.safetensors" "$work/data" > "$work/full-predict.log" \
        || { cat "$work/full-predict.log"; fail "last.safetensors does not load after the full disk"; }
    ! ls -A "$work/full/run" | grep -q "tmp" || fail "a temp file was left on the full disk"
    echo "faults: full disk during a save: $(grep -o 'writing.*' "$work/full.log")"
fi

# 4. A diverging run stops with exit 3 and names where it began.
expect_rc 3 "$work/nan.log" "$train" -q --epochs 1 --batch 32 --lr 100 --out "$work/nan" \
    "$lenet" "$work/data"
grep -Eq "(gradient of|every gradient from) [A-Za-z0-9_]+\.(weight|bias)" "$work/nan.log" \
    || fail "no layer named: $(cat "$work/nan.log")"
echo "faults: divergence: $(grep -Eo '(gradient of|the loss became)[^:]*' "$work/nan.log")"

# 5. Class folders and files whose names are not UTF-8: the checkpoint
#    saves (its metadata is UTF-8), and clnet-predict finds the folders.
cp -r "$work/data" "$work/bytes"
mv "$work/bytes/Coat" "$work/bytes/caf$(printf '\351')"
cp "$work/bytes/Bag/$(ls "$work/bytes/Bag" | head -n 1)" "$work/bytes/Bag/$(printf '\377\376').png"
"$train" -q --epochs 1 --out "$work/bytes-run" "$lenet" "$work/bytes" > "$work/bytes.log" 2>&1 \
    || { cat "$work/bytes.log"; fail "training on non-UTF-8 names"; }
"$predict" --quiet-files "$work/bytes-run/best.safetensors" "$work/bytes" > "$work/bytes-predict.log" 2>&1
grep -q "201 images, accuracy" "$work/bytes-predict.log" \
    || fail "clnet-predict did not evaluate the tree: $(cat "$work/bytes-predict.log")"

# 6. A save killed mid-write leaves its temp file beside the checkpoint; the
#    resumed run removes it.
touch "$work/bytes-run/.last.safetensors.tmp-AbCdEf"
"$train" -q --epochs 2 --resume "$work/bytes-run/last.safetensors" "$lenet" "$work/bytes" \
    > "$work/resume.log" 2>&1 || { cat "$work/resume.log"; fail "resume"; }
grep -q "removed 1 partial checkpoint" "$work/resume.log" || fail "stale temp file not reported"
[ ! -e "$work/bytes-run/.last.safetensors.tmp-AbCdEf" ] || fail "stale temp file left"
echo "faults: non-UTF-8 class names train, save and predict; stale temp file removed"
