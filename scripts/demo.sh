#!/usr/bin/env bash
# Set up (if needed) and run the main job on the embedded default: synthesise
# clips with known defects, score them, print the table, write demo-report/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/tfqa demo --out demo-report "$@"
