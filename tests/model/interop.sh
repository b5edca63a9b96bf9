#!/usr/bin/env bash
# clnet checkpoint -> PyTorch: same outputs on the same batch.
# usage: interop.sh INTEROP_DUMP SOURCE_DIR
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$1" "$2/models/fashion-cnn.cfg" "$work/c.safetensors" "$work/x.f32" "$work/p.f32"
# Debian's python3 with its torch; OpenBLAS settings of this machine unset.
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 \
    "$2/tests/model/interop_torch.py" "$work/c.safetensors" "$work/x.f32" "$work/p.f32"
