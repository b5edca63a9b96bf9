#!/usr/bin/env bash
# Installs onnxruntime-node (a pinned version) from npm into PREFIX, once:
# PREFIX/node_modules/onnxruntime-node. --ignore-scripts skips its
# postinstall, which only downloads GPU providers (not needed, and not
# reachable here); the CPU binding for linux x64/arm64 ships in the package,
# which this checks. Safe to run from parallel tests (a lock).
# usage: ort_install.sh PREFIX     ($ORT_NODE_VERSION overrides the version)
set -euo pipefail
prefix=$1
version=${ORT_NODE_VERSION:-1.31.1}
mkdir -p "$prefix"
exec 9>"$prefix/.lock"
flock 9
stamp="$prefix/.installed-$version"
if [[ ! -f $stamp ]]; then
    command -v npm >/dev/null || { echo "ort_install: npm not found (tools/bootstrap installs it)" >&2; exit 1; }
    npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund --no-save \
        --loglevel=error "onnxruntime-node@$version" >&2
    touch "$stamp"
fi
case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) arch=$(uname -m) ;;
esac
binding=$(find "$prefix/node_modules/onnxruntime-node/bin" -path "*/linux/$arch/onnxruntime_binding.node" | head -n 1)
[[ -n $binding ]] || { echo "ort_install: onnxruntime-node $version has no native binding for linux/$arch" >&2; exit 1; }
