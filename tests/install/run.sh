#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR, compiles every documented C
# example against it (doc_examples.py), then builds tests/install/use.c
# against it through pkg-config, linked shared and (whole archive) static,
# and runs both and the installed clnet-info. usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet
pc=$(find "$dest" -name clnet.pc)
[[ -n $pc ]] || { echo "clnet.pc not installed" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest
cc=${CC:-cc}

# The examples in the installed headers and the README compile and link.
incdir=$(find "$dest" -type d -path '*/include/clnet')
readme=$(realpath "$src/../../README.md")
python3 "$src/doc_examples.py" "$incdir" "$readme" "$dest/doctest"

"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "$src/use.c" -o "$dest/use" \
    $(pkg-config --cflags --libs clnet)
LD_LIBRARY_PATH=$libdir "$dest/use"

# Every object of the archive, so Requires.private/Libs.private must name
# every library any part of clnet needs.
"$cc" -std=c11 "$src/use.c" -o "$dest/use-static" $(pkg-config --cflags clnet) \
    -Wl,--whole-archive "$libdir/libclnet.a" -Wl,--no-whole-archive \
    $(pkg-config --static --libs clnet | sed 's/-lclnet//')
"$dest/use-static"

bin=$(find "$dest" -name clnet-info -type f)
LD_LIBRARY_PATH=$libdir "$bin" --version

# The example program trains, saves, reloads and resumes through the
# installed API only.
"$cc" -std=c11 -Wall -Wextra -Werror "$src/../../tools/example-train.c" -o "$dest/example-train" \
    $(pkg-config --cflags --libs clnet)
LD_LIBRARY_PATH=$libdir "$dest/example-train" "$dest/example.safetensors"
