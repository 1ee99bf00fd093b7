#!/usr/bin/env bash
# Before a lent GPU machine runs the device check (scripts/device-check.sh): put the data it cannot
# download into this checkout's gitignored shared/data/, which the `run` call then carries along
# (carry: ["shared"]). Only the checkout travels there; ../shared/data and the data cache do not.
#   1. the CIFAR-10 JPEG stand-in archive and its script, from ../shared/data/ (20 MB; the check
#      builds the stand-in from it there, accepted as NOT canonical)
#   2. Fashion-MNIST and MNIST: the four idx files of each from the verified data cache, gzip -9, in
#      shared/data/<FashionMNIST|MNIST>/raw/ (31 + 11 MB), where benchmarks/gpu_check.py reads them
#      as a local mirror and verifies them by content: canonical there too
# and prints what the run call carries in all (tree + shared/) against the run tool's 64 MiB.
#   bash scripts/device-data.sh             # all of it (about 62 MB of data)
#   bash scripts/device-data.sh --no-mnist  # without MNIST (the memorization chapter then runs on random pixels)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
names=(fashion-mnist mnist)
[ "${1:-}" = --no-mnist ] && names=(fashion-mnist)
mkdir -p shared/data
git check-ignore -q shared/data || { echo "[device-data] shared/ is not gitignored: refusing" >&2; exit 1; }
for f in cifar10-jpeg-q75.tar.gz cifar10_standin.py; do
  if [ -f "../shared/data/$f" ]; then
    cp -f --preserve=timestamps "../shared/data/$f" shared/data/ && chmod u+w "shared/data/$f"
  else
    echo "[device-data] ../shared/data/$f not found: the check will use random pixels for CIFAR-10" >&2
  fi
done
[ "${1:-}" = --no-mnist ] && rm -rf shared/data/MNIST
REPLICATION_OFFLINE=1 PYTHONPATH=$PWD "$PYTHON" - "${names[@]}" <<'PY'
import gzip
import sys
from pathlib import Path

from replication import paths
from replication.data import load_dataset
from replication.data.specs import FILES, SPECS

for name in sys.argv[1:]:
    load_dataset(name, allow_download=False, allow_unverified=False)   # canonical, in the verified cache
    cache = paths.data_root() / SPECS[name].folder / "raw"
    out = Path("shared/data") / SPECS[name].folder / "raw"
    out.mkdir(parents=True, exist_ok=True)
    for fname in FILES:
        source, target = cache / fname, out / f"{fname}.gz"
        if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        with open(source, "rb") as f, gzip.GzipFile(target, "wb", compresslevel=9, mtime=0) as g:
            g.write(f.read())
    print(f"[device-data] {name}: {out} (from {cache})")
PY
tree=$(git ls-files -z -co --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
data=$(du -sb shared | cut -f1)
total=$((tree + data))
limit=$((64 * 1024 * 1024))
awk -v t="$tree" -v d="$data" 'BEGIN { m = 1048576; printf "[device-data] carry: tree %.1f MiB + shared/ %.1f MiB = %.1f MiB of 64 MiB\n", t / m, d / m, (t + d) / m }'
if [ "$total" -gt "$limit" ]; then
  echo "[device-data] over the limit: run again with --no-mnist" >&2
  exit 1
fi
