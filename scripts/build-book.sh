#!/usr/bin/env bash
# Set up, execute every chapter at a profile (default: laptop), build the HTML book.
#   bash scripts/build-book.sh                 # laptop profile
#   bash scripts/build-book.sh --profile smoke # any `python -m replication book` options
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_BROWSER=0 bash scripts/setup.sh
exec .venv/bin/python -m replication book "$@"
