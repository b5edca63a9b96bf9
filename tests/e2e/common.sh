# Sourced by the e2e scripts with their arguments (BUILD_DIR SOURCE_DIR ...):
# the paths every script uses, a scratch directory removed on exit, fail, and
# import_fashion N DIR (the first N Fashion-MNIST training images as class
# folders, through clnet-import-idx).
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
