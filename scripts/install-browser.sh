#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser tests (tests/service/test_browser*.py).
# Playwright drives it via executable_path=/usr/bin/chromium; `playwright install` is never used
# (it downloads its own browser build, which this project's machines cannot fetch).
# Idempotent: does nothing when /usr/bin/chromium already runs.  Needs root (or sudo) and apt.
set -euo pipefail

if /usr/bin/chromium --version >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: apt-get not found; install Chromium by hand (browser tests will skip)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-browser: not root and no sudo; browser tests will skip" >&2
    exit 0
  fi
fi
echo "install-browser: installing Debian's chromium (about 250 MB, once)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >&2
