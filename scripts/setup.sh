#!/usr/bin/env bash
# Set up tfqa in ./.venv: pinned pip packages (requirements.lock), mediapipe
# with --no-deps, and tfqa itself in editable mode.  Idempotent: re-running is
# instant unless requirements.lock or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "tfqa setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

stamp_want=$(cat requirements.lock pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -x .venv/bin/tfqa ] && [ "$(cat .venv/.tfqa-setup 2>/dev/null)" = "$stamp_want" ]; then
  exit 0
fi

echo "tfqa setup: creating .venv with $PY (first run takes about 2-3 minutes)" >&2
[ -d .venv ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q -r requirements.lock 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
# Fail loudly if the pinned set did not land (the grep above hides pip's noise, not its errors).
.venv/bin/python -c "import torch, av, speechmos, sklearn, fastapi; assert torch.__version__.startswith('2.13.0'), torch.__version__"
# mediapipe 0.10.21 declares numpy<2 but runs with numpy 2.x; 0.10.x are the
# last wheels that carry the face-mesh models.  protobuf stays <5 (pinned above).
.venv/bin/python -m pip install -q --no-deps mediapipe==0.10.21 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import mediapipe, tfqa" 
echo "$stamp_want" > .venv/.tfqa-setup
echo "tfqa setup: done (.venv/bin/tfqa)" >&2
