#!/usr/bin/env bash
# Set up (if needed), lint, and run the default test suite (slow tests excluded;
# run them with: scripts/test.sh -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/install-browser.sh || echo "install-browser.sh failed: the browser tests will skip" >&2
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
if [ "$#" -eq 0 ]; then set -- -m "not slow"; fi
exec .venv/bin/python -m pytest "$@"
