#!/usr/bin/env bash
# Set up and run the whole test suite: unit tests, every chapter at the smoke profile,
# the book built with warnings as errors, and a headless-Chromium check of the HTML.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -m "not slow"   # unit tests only (any pytest options)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
