#!/usr/bin/env bash
# Install everything the tests need into .venv/ and run them.
#   bash tests/run.sh [pytest arguments]
# Installs Debian's chromium when it is missing (needs root, as in CI) and
# TF.js from npm; MNIST comes from $DIGITS_MNIST, else Keras' download.
set -euo pipefail
cd "$(dirname "$0")/.."

# python packages
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r requirements-test.txt
.venv/bin/pip check

# the browser and TF.js, for the TF.js runtime tests
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
npm ci --silent --no-audit --no-fund

# the tests
.venv/bin/python -m pytest -q "$@"
