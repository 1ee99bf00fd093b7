"""Benchmark: runs per CPU-minute of the sweep chapter's runs, vmapped ensemble vs one run at a time.

The runs are the chapter's own (``python -m replication params sweep --profile laptop``): the MLP on
the Fashion-MNIST subset, each trained to the target training loss with the epoch cap, λ_max probed
where it stopped.  For the smallest and the largest batch size, every ``--every``-th learning rate
of seed 0 is trained (a) as one vmapped ensemble (``replication.ensemble.train_ensemble``) and (b)
one run at a time (``replication.train.train``), side by side in this one process, never through
the store.  CPU time is ``time.process_time`` (all threads of the process), so a loaded machine
stretches the wall time more than the CPU time; the load average is printed before and after.

The laptop grid's CPU time is estimated from the mean CPU seconds per run of the two batch sizes.

Usage:  .venv/bin/python benchmarks/bench_sweep.py [--threads 1] [--every 2] [--profile laptop]
Writes benchmarks/results/sweep_<host>.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, default=2, help="every n-th learning rate of seed 0")
    parser.add_argument("--profile", default="laptop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from replication.chapters.sweep import SPEC, experiment
    from replication.ensemble import train_ensemble
    from replication.chapters import resolve_spec as resolve
    from replication.train import load_data, train
    from replication.wording import architecture

    p = resolve(SPEC, args.profile)
    items = experiment.configs(p)
    load_data(items[0][1])                                  # read and verify the data before timing
    before = uptime()
    rows = []
    for S in (min(p.batch_sizes), max(p.batch_sizes)):
        cfgs = [cfg for lab, cfg in items if lab["batch_size"] == S and lab["seed"] == 0][:: args.every]
        together, cpu_e, wall_e = timed(lambda: train_ensemble(cfgs))
        alone = []
        cpu_s = wall_s = 0.0
        for cfg in cfgs:
            out, c, w = timed(lambda cfg=cfg: train(cfg))
            alone.append(out)
            cpu_s, wall_s = cpu_s + c, wall_s + w
        same = sum(a["stopped_epoch"] == b["stopped_epoch"] for a, b in zip(together, alone))
        epochs = sum(a["epochs_completed"] for a in together)
        reached = sum(a["stopped_epoch"] is not None for a in together)
        rows.append(dict(S=S, k=len(cfgs), cpu_e=cpu_e, wall_e=wall_e, cpu_s=cpu_s, wall_s=wall_s, same=same,
                         epochs=epochs, reached=reached))
        print(rows[-1], flush=True)
    after = uptime()
    n_runs = len(items)
    per_run = sum(r["cpu_e"] for r in rows) / sum(r["k"] for r in rows)
    per_run_single = sum(r["cpu_s"] for r in rows) / sum(r["k"] for r in rows)
    host = socket.gethostname()
    lines = [
        "# Sweep: runs per CPU-minute, vmapped ensemble vs one run at a time",
        "",
        f"torch {torch.__version__}; {torch.get_num_threads()} thread(s); host {host}; "
        f"date {datetime.datetime.now().isoformat(timespec='seconds')}; profile `{args.profile}`: "
        f"{architecture(items[0][1].architecture)}, {p.n_train} training examples, target loss {p.target_loss:g}, cap "
        f"{p.max_epochs} epochs, λ_max on {p.hessian_samples} examples where each run stopped.",
        f"Load before: `{before}`.",
        f"Load after: `{after}` ({os.cpu_count()} CPUs). CPU time counts this process only; the wall time "
        "is stretched by the other processes.",
        "",
        "Columns: the batch size; epochs trained by its runs in all (runs that reached the target); CPU and wall "
        "seconds as one vmapped ensemble / one run at a time; runs per CPU-minute both ways and their ratio; "
        f"runs whose stopping epoch is the same both ways (of {rows[0]['k']} learning rates per batch size).",
        "",
        "| S | epochs (reached) | CPU s | wall s | runs/CPU-min | ratio | same stop |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['S']} | {r['epochs']} ({r['reached']}) | {r['cpu_e']:.1f} / {r['cpu_s']:.1f} | "
                     f"{r['wall_e']:.1f} / {r['wall_s']:.1f} | {60 * r['k'] / r['cpu_e']:.0f} / "
                     f"{60 * r['k'] / r['cpu_s']:.0f} | {r['cpu_s'] / r['cpu_e']:.2f}× | {r['same']} of {r['k']} |")
    lines += [
        "",
        f"The `{args.profile}` grid has {n_runs} runs: at the mean of the two batch sizes, "
        f"{n_runs * per_run / 60:.1f} CPU-minutes as ensembles against {n_runs * per_run_single / 60:.1f} "
        "one run at a time (the analysis after training is not included).",
    ]
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / f"sweep_{host}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
