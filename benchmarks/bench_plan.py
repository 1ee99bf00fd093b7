"""Benchmark: the calibration of ``python -m replication plan`` (the bill before the work).

For every distinct network/dataset shape (model, options with defaults filled in, input shape,
classes) in the planned training runs of the chosen profiles (``replication.chapters.planned_runs``
of every chapter), on this machine's CPU, in one process:

1. FLOPs per example of a training step (forward + backward of the mean cross-entropy) and of an
   evaluation forward, counted by ``torch.utils.flop_counter.FlopCounterMode`` at a batch of
   ``replication.planning.FLOP_BATCH`` and again at twice that (the script stops if the count is not
   linear in the batch, since the bill scales it linearly), and the aten operators one training step
   dispatches (views excluded);
2. seconds per training step (forward, backward, ``torch.optim.SGD`` step, random inputs, train
   mode) at two small batch sizes (8, and a power of two in [32, 512] near ``--step-flops`` = 5·10⁸
   FLOPs per step, so that a small network's per-example cost stands out of its per-step cost):
   ``--warmup`` steps, then the median CPU time of ``--steps`` timed steps (more for fast shapes,
   up to ``--min-seconds``), on ``--threads`` threads (default 1), fitted as t(S) = a + b·S (a
   per-step cost plus a per-example cost).  CPU time, not wall time, because this machine is
   shared: waiting for a core stretches the wall time (recorded too) but not the CPU time of a
   one-thread process.

Writes ``benchmarks/results/plan_calibration.json`` (with the CPU, host, threads, torch version and
date), which ``plan`` and the appendix read.  About four minutes on 2 shared cores.

Usage:  .venv/bin/python benchmarks/bench_plan.py [--profiles smoke laptop gpu paper] [--threads 1]
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402


def cpu_name() -> str:
    from replication.provenance import cpu_model

    return cpu_model()


def shapes_of(profiles: list[str]) -> dict:
    """{Shape: sorted profiles whose planned runs use it}."""
    from replication import chapters, planning
    from replication.chapters import resolve_spec as resolve

    found: dict = {}
    for profile in profiles:
        for name in chapters.names():
            runs = chapters.planned_runs(name, resolve(chapters.get(name).SPEC, profile)) or []
            for cfg in runs:
                found.setdefault(planning.Shape.of(cfg), set()).add(profile)
    return {s: sorted(p) for s, p in sorted(found.items(), key=lambda kv: kv[0].key)}


def step_seconds(shape, batch: int, warmup: int, steps: int, min_seconds: float) -> tuple[float, float]:
    """(median CPU seconds, median wall seconds) of one SGD training step of ``shape`` at ``batch``:
    ``steps`` timed steps, more while they add up to less than ``min_seconds`` of CPU time.  CPU time
    (``time.process_time``) is what the fit uses: on a shared machine, waiting for a core stretches
    the wall time but not the CPU time of a one-thread process."""
    net = shape.build().train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch,) + shape.in_shape, generator=gen)
    y = torch.randint(0, shape.n_classes, (batch,), generator=gen)
    cpu, wall = [], []
    k = 0
    while k < warmup + steps or sum(cpu) < min_seconds:
        c0, w0 = time.process_time(), time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        if k >= warmup:
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
        k += 1
    return statistics.median(cpu), statistics.median(wall)


def larger_batch(flops_per_example: float, lo: int, least: int, step_flops: float, most: int = 512) -> int:
    """The second timed batch: a power of two near ``step_flops`` per step, in [least, most], so
    that the per-example cost of small networks stands out of the per-step cost and its noise."""
    want = 2 ** round(math.log2(max(step_flops / flops_per_example, 1.0)))
    return max(least, min(most, want), lo + 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["smoke", "laptop", "gpu", "paper"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs=2, default=[8, 32],
                        help="the small batch, and the least second batch (raised to about --step-flops per step)")
    parser.add_argument("--step-flops", type=float, default=5e8, help="FLOPs per step the second batch aims at")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.5, help="time more steps until this much CPU time")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "plan_calibration.json")
    args = parser.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return calibrate(args, parser)
    finally:
        torch.set_num_threads(threads)


def calibrate(args, parser) -> int:
    from replication import planning

    lo = args.batches[0]
    if not 1 <= lo < args.batches[1]:
        parser.error(f"--batches {args.batches}: two batch sizes, 1 <= the first < the second")
    shapes = {}
    start = time.perf_counter()
    for shape, profiles in shapes_of(args.profiles).items():
        one = planning.count_step(shape, planning.FLOP_BATCH)
        two = planning.count_step(shape, 2 * planning.FLOP_BATCH)
        if two["train_flops"] != 2 * one["train_flops"] or two["eval_flops"] != 2 * one["eval_flops"]:
            raise SystemExit(f"{shape.key}: FLOPs not linear in the batch ({one} at {planning.FLOP_BATCH}, "
                             f"{two} at {2 * planning.FLOP_BATCH}); the bill's scaling would be wrong")
        per_example = one["train_flops"] / planning.FLOP_BATCH
        hi = larger_batch(per_example, lo, args.batches[1], args.step_flops)
        t_lo, w_lo = step_seconds(shape, lo, args.warmup, args.steps, args.min_seconds)
        t_hi, w_hi = step_seconds(shape, hi, args.warmup, args.steps, args.min_seconds)
        b = max((t_hi - t_lo) / (hi - lo), 0.0)
        a = max(t_lo - b * lo, 0.0)
        shapes[shape.key] = {
            "model": shape.model, "options": json.loads(shape.options), "in_shape": list(shape.in_shape),
            "n_classes": shape.n_classes, "profiles": profiles,
            "train_flops_per_example": one["train_flops"] / planning.FLOP_BATCH,
            "eval_flops_per_example": one["eval_flops"] / planning.FLOP_BATCH,
            "ops_per_step": one["ops"], "flop_batch": planning.FLOP_BATCH,
            "cpu_batches": [lo, hi], "cpu_step_s": [t_lo, t_hi], "wall_step_s": [w_lo, w_hi],
            "cpu_step_a_s": a, "cpu_step_b_s": b,
            "cpu_gflops_at_hi": one["train_flops"] / planning.FLOP_BATCH * hi / t_hi / 1e9,
        }
        print(f"[bench-plan] {shape.key}: {one['train_flops'] / planning.FLOP_BATCH / 1e6:.3f} MFLOP/example "
              f"train, {one['ops']} ops/step; CPU step {t_lo * 1e3:.1f} ms @{lo}, {t_hi * 1e3:.1f} ms @{hi} "
              f"(a={a * 1e3:.2f} ms, b={b * 1e3:.3f} ms/example)", flush=True)
    record = {
        "benchmark": "plan calibration (benchmarks/bench_plan.py)",
        "machine": {"cpu": cpu_name(), "host": socket.gethostname(), "threads": args.threads,
                    "torch": torch.__version__, "python": platform.python_version(),
                    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "seconds": round(time.perf_counter() - start, 1)},
        "method": {"flops": f"FlopCounterMode at batch {planning.FLOP_BATCH}, divided by it (checked linear at "
                            f"{2 * planning.FLOP_BATCH}); train = forward + backward, eval = forward",
                   "ops": "aten operators dispatched by one forward + backward (views excluded)",
                   "cpu_step": f"median CPU time (process_time, {args.threads} thread(s)) of >= {args.steps} SGD steps "
                               f"(and >= {args.min_seconds:g} s) after {args.warmup} warm-up steps at batch {lo} "
                               f"and at cpu_batches[1] (a power of two in [{args.batches[1]}, 512] near "
                               f"{args.step_flops:g} FLOPs per step); t(S) = a + b*S fitted through the two",
                   "profiles": args.profiles},
        "shapes": shapes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"[bench-plan] {len(shapes)} shapes in {record['machine']['seconds']} s; written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
