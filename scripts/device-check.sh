#!/usr/bin/env bash
# The one command of a session lent a GPU machine: benchmarks/gpu_check.py, every section in the
# order the check takes them (chapters at smoke on CUDA, then epoch and HVP timings, then the
# precision bound: cheapest and newest first), inside a wall-clock guard, its report and JSON written
# into $OUT (after every section, and on the guard's SIGTERM: what finished comes back) with the log.
#
# Prepare on the development machine first: bash scripts/device-data.sh (the data, into the gitignored
# shared/data/). Then, as documented in README.md ("A lent GPU machine") and benchmarks/README.md:
#   run(command="bash scripts/device-check.sh", carry=["shared"], timeout_s=540)
# and copy the returned gpu-check_<host>.md/.json into benchmarks/results/.
#   bash scripts/device-check.sh                          # all sections
#   bash scripts/device-check.sh --sections chapters      # any gpu_check.py options pass through
#   GUARD_S=300 bash scripts/device-check.sh              # a shorter guard (default 480 s)
# No model, network or chapter starts in the guard's last 60 s (a quarter of a short guard:
# --time-limit); at GUARD_S the check gets SIGTERM, writes what finished and stops (SIGKILL 15 s
# later if it does not). Exit status: the check's, 124 when the guard stopped it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
PYTHON=${PYTHON:-python3}
GUARD_S=${GUARD_S:-480}
mkdir -p "$OUT"
log="$OUT/gpu-check.log"
{
  echo "[device-check] $(date -Is) on $("$PYTHON" -c 'import socket; print(socket.gethostname())'); guard ${GUARD_S} s; $PYTHON $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -c 'import torch; print(f"[device-check] torch {torch.__version__}, CUDA {torch.version.cuda}, available {torch.cuda.is_available()}")'
  echo "[device-check] shared/data: $(ls shared/data 2>/dev/null | tr '\n' ' ' || true)"
  [ -d shared/data ] || echo "[device-check] no shared/data: run scripts/device-data.sh here before the call and carry [\"shared\"]; data falls back to random pixels"
} 2>&1 | tee "$log"
start=$(date +%s)
soft=$(( GUARD_S - 60 > GUARD_S * 3 / 4 ? GUARD_S - 60 : GUARD_S * 3 / 4 ))
timeout -k 15 "$GUARD_S" "$PYTHON" benchmarks/gpu_check.py --time-limit "$soft" --output "$OUT/" "$@" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
{
  [ "$status" = 124 ] && echo "[device-check] the guard stopped the check at ${GUARD_S} s: the report has what finished"
  echo "[device-check] exit $status after $(( $(date +%s) - start )) s; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
} 2>&1 | tee -a "$log"
exit "$status"
