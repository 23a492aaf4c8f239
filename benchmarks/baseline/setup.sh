#!/usr/bin/env bash
# Creates .venv-baseline (dicompyler-core 0.5.6 + pydicom<3) next to the repository root.
# Usage: bash benchmarks/baseline/setup.sh [PYTHON]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${1:-python3}"
venv="$root/.venv-baseline"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$root/benchmarks/baseline/requirements.txt"
"$venv/bin/python" -c "import dicompylercore, pydicom; print('baseline ready: dicompyler-core', dicompylercore.__version__, 'pydicom', pydicom.__version__)"
