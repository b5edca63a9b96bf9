# Sourced by the e2e scripts with their arguments (BUILD_DIR SOURCE_DIR ...):
# the paths every script uses, a scratch directory removed on exit, fail, and
# import_fashion N DIR (the first N Fashion-MNIST training images as class
# folders, through clnet-import-idx), and train_to (below).
build=$1 src=$2
bin=$build/tools
train=$bin/train/clnet-train
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fm=/usr/share/datasets/fashion-mnist
fail() { echo "FAIL: $*"; exit 1; }
import_fashion() {
    "$bin/clnet-import-idx" -q --fashion --limit "$1" "$fm/train-images-idx3-ubyte.gz" \
        "$fm/train-labels-idx1-ubyte.gz" "$2"
}
# train_to OUT_DIR [flags...]: clnet-train on $cfg and $work/data into
# OUT_DIR, its output in OUT_DIR.log (printed when it fails).
train_to() {
    local out=$1
    shift
    "$train" --out "$out" "$@" "$cfg" "$work/data" > "$out.log" 2>&1 ||
        { cat "$out.log"; fail "clnet-train $*"; }
}
