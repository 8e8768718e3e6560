#!/usr/bin/env bash
# Train each local recipe for 3 steps on a small model, where a GPU and Unsloth exist.
#   bench/local_gpu_smoke.sh /path/to/unsloth-env/bin/python [WORKDIR]
# Exit 0: every recipe trained and saved its adapter (and the Alpaca one merged to 16-bit);
# exit 1: a run failed (its train.log says why); exit 2: no GPU or no Unsloth here, nothing was run.
set -euo pipefail
PY=${1:?usage: bench/local_gpu_smoke.sh /path/to/unsloth-env/bin/python [WORKDIR]}
OUT=${2:-$(mktemp -d -t bailian-gpu-smoke.XXXXXX)}
HERE=$(cd "$(dirname "$0")/.." && pwd)
if ! "$PY" -c "import unsloth, trl, torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; then
    echo "local_gpu_smoke: $PY has no Unsloth/TRL/torch or sees no CUDA GPU: nothing was run" >&2
    exit 2
fi
echo "local_gpu_smoke: runs in $OUT"
cd "$HERE"
exec "${APP_PYTHON:-python3}" bench/local_gpu_smoke.py --python "$PY" --out "$OUT"
