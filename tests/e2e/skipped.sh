#!/usr/bin/env bash
# Unusable files in a class-folder dataset (issue 13): twelve bad files of
# several kinds among good images. clnet-train (with a validation split, so
# a new validation loader meets some of them every epoch) and clnet-predict
# must report each once: the total they print equals the bad files and the
# warnings, and its split by stage and cause adds up to it. The report says
# the same. Usage: skipped.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
train=$build/tools/train/clnet-train
predict=$build/tools/train/clnet-predict
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fm=/usr/share/datasets/fashion-mnist
fail() { echo "FAIL: $*"; exit 1; }

"$build/tools/clnet-import-idx" -q --fashion --limit 4 "$fm/train-images-idx3-ubyte.gz" \
    "$fm/train-labels-idx1-ubyte.gz" "$work/data"
d=$work/data
good=$(find "$d/Bag" -name '*.png' | sort | head -n 1)
size=$(stat -c %s "$good")

# Refused when the folder is opened (8): by the scan, then the header check.
mkfifo "$d/Coat/bad_fifo.png"                               # not a regular file
ln -s missing.png "$d/Trouser/bad_dangling.png"             # unreadable
: > "$d/Bag/bad_empty.png"                                  # empty
: > "$d/Coat/bad_empty.jpg"                                 # empty
printf 'hello, world\n' > "$d/Dress/bad_text.png"           # not an image
head -c 600 "$train" > "$d/Pullover/bad_binary.png"         # not an image (an ELF)
printf 'BM this is not a bitmap header' > "$d/Sandal/bad_junk.bmp" # not an image
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x00\x00\x00\x00\x00\x00\x00\x00' \
    > "$d/Shirt/bad_huge.png"                               # 100000x100000: too large
# Headers that pass, data that does not decode (4): found by the loaders.
head -c $((size * 6 / 10)) "$good" > "$d/Sneaker/bad_trunc.png"
head -c $((size / 2)) "$good" > "$d/Ankle_boot/bad_trunc.png"
head -c 33 "$good" > "$d/T-shirt_top/bad_no_data.png"        # signature + IHDR only
printf '\xff\xd8\xff\xc0\x00\x0b\x08\x00\x1c\x00\x1c\x01\x01\x11\x00' \
    > "$d/Bag/bad_trunc.jpg"                                # cut after its frame header
nbad=12
want_open="8 refused when the folder was opened (1 unreadable, 1 not a regular file, 2 empty, 3 not an image, 1 too large)"
want_load="4 failed to load (4 corrupt)"
want="$nbad unusable images skipped: $want_open, $want_load"

# The sentence's numbers must add up: total = opened + loaded, and each
# stage's causes sum to it. $1: the line, $2: what printed it.
check_sentence() {
    local line=$1 who=$2 total opened loaded
    total=$(sed -n 's/^\([0-9]*\) unusable images\{0,1\} skipped: .*/\1/p' <<< "$line")
    [ -n "$total" ] || fail "$who: no 'N unusable images skipped' line"
    opened=$(sed -n 's/.*: \([0-9]*\) refused when the folder was opened (.*/\1/p' <<< "$line")
    loaded=$(sed -n 's/.* \([0-9]*\) failed to load (.*/\1/p' <<< "$line")
    [ $((${opened:-0} + ${loaded:-0})) = "$total" ] \
        || fail "$who: $opened + $loaded is not the total $total: $line"
    local part sum n
    for part in "opened (" "load ("; do
        n=$([ "$part" = "opened (" ] && echo "${opened:-0}" || echo "${loaded:-0}")
        sum=$(grep -o "$part[^)]*)" <<< "$line" | grep -o '[0-9][0-9]*' \
              | awk '{ s += $1 } END { print s + 0 }')
        [ "${sum:-0}" = "$n" ] || fail "$who: the causes of '$part' sum to $sum, not $n: $line"
    done
    [ "$total" = "$nbad" ] || fail "$who: reports $total unusable images, there are $nbad: $line"
}

# 1. clnet-train: batch 1 so every training image is read (drop_last), two
#    epochs so the validation side gets two loaders.
"$train" --epochs 2 --batch 1 --val-split 0.3 --out "$work/run" "$src/models/lenet.cfg" "$d" \
    > "$work/train.log" 2> "$work/train.err" \
    || { cat "$work/train.log" "$work/train.err"; fail "clnet-train failed"; }
warned=$(grep -c "^clnet: warning: skipping '" "$work/train.err" || true)
line=$(grep "unusable image" "$work/train.log" || true)
[ "$warned" = "$nbad" ] || { cat "$work/train.err"; fail "clnet-train warned $warned times about $nbad bad files"; }
check_sentence "$line" clnet-train
[ "$line" = "$want" ] || fail "clnet-train says '$line', want '$want'"
grep -qF "$want. The run's warnings name each file." "$work/run/report.html" \
    || fail "report.html does not say '$want'"

# 2. clnet-predict on the same tree: the same total, after the accuracy.
"$predict" --quiet-files "$work/run/best.safetensors" "$d" > "$work/predict.log" 2> "$work/predict.err" \
    || { cat "$work/predict.log" "$work/predict.err"; fail "clnet-predict failed"; }
warned=$(grep -c "^clnet: warning: skipping '" "$work/predict.err" || true)
line=$(sed -n "s|^$d: \(.*unusable image.*\)|\1|p" "$work/predict.log")
[ "$warned" = "$nbad" ] || { cat "$work/predict.err"; fail "clnet-predict warned $warned times about $nbad bad files"; }
check_sentence "$line" clnet-predict
[ "$line" = "$want" ] || fail "clnet-predict says '$line', want '$want'"
echo "skipped: clnet-train and clnet-predict: $want"
