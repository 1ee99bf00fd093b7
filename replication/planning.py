"""The bill before the work: how many runs a profile needs, how many are stored, and how long the
rest will take on a device.

For every chapter that declares its training runs (``plan(params)`` in its folder) this counts the
runs stored and to compute, their epochs, and estimates device time per run as

    epochs x (steps per epoch x step time + evaluation time) + Hessian probes,

from one of two sources, always named in the output:

- **measured**: seconds per epoch of that model at that batch size on that device, from a GPU-check
  record (``benchmarks/results/gpu-check_*.md``, written by ``benchmarks/gpu_check.py``), scaled to
  the run's training-set size;
- **unmeasured estimate**: the model's floating-point operations per example (counted once with
  ``torch.utils.flop_counter`` on a two-example batch: forward + backward for training, forward
  for evaluation) divided by an assumed sustained rate (:data:`ASSUMED_FLOPS` for the device
  class), plus :data:`STEP_OVERHEAD_S` of launch overhead per optimizer step, shared by the members
  of a vmapped ensemble (runs that differ only in η and seed train as one).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
from pathlib import Path
from typing import Iterable

#: assumed sustained training throughput (FLOP/s) when nothing is measured: a fraction of peak
ASSUMED_FLOPS = {"cuda": 60e12, "cpu": 50e9}
STEP_OVERHEAD_S = {"cuda": 2e-3, "cpu": 2e-4}
MAX_ENSEMBLE = 64     # members of one vmapped ensemble (replication.runs.train_all's default)
HVP_FACTOR = 2.0      # one Hessian-vector product ~ two forward+backward passes per example


@dataclasses.dataclass
class ChapterBill:
    chapter: str
    runs: int
    stored: int
    epochs: int            # epochs of the runs still to compute
    seconds: float         # estimated device seconds of the runs still to compute
    seconds_all: float     # ... of every run (as if the store were empty)
    basis: str             # "measured", "unmeasured estimate", "mixed" or "not planned"
    models: tuple[str, ...] = ()
    epochs_all: int = 0    # epochs of every run


def _dataset_shape(dataset: str) -> tuple[int, ...]:
    return (3, 32, 32) if dataset.startswith("cifar") else (1, 28, 28)


@functools.lru_cache(maxsize=None)
def flops_per_example(model: str, options_json: str, dataset: str) -> tuple[float, float]:
    """(training FLOPs, evaluation FLOPs) per example of ``model`` on ``dataset``'s input shape."""
    import json

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from . import models

    opts = json.loads(options_json)
    net = models.build(model, seed=0, **opts) if opts else models.build(model, seed=0)
    x = torch.zeros((2,) + _dataset_shape(dataset))
    with FlopCounterMode(display=False) as fwd:
        out = net(x)
    with FlopCounterMode(display=False) as both:
        torch.nn.functional.cross_entropy(net(x), torch.zeros(2, dtype=torch.long)).backward()
    return both.get_total_flops() / 2, fwd.get_total_flops() / 2


def measured_epoch_seconds(folder: Path | None = None) -> dict[str, tuple[int, float, int, float]]:
    """``{model: (S_lo, seconds per full epoch at S_lo, S_hi, seconds at S_hi)}`` from the CUDA
    GPU-check records (``benchmarks/gpu_check.py`` times two batch sizes); empty when none exists."""
    from .paths import checkout_root

    root = checkout_root()
    folder = folder or (root / "benchmarks" / "results" if root else None)
    found: dict[str, tuple[int, float, int, float]] = {}
    if folder is None or not Path(folder).is_dir():
        return found
    for path in sorted(Path(folder).glob("gpu-check_*.md")):
        text = path.read_text()
        head = re.search(r"s/epoch @(\d+) \| s/epoch @(\d+)", text)
        if head is None or "quick mode" in text or not re.search(r"Device: .*(cuda|NVIDIA|H100|H200|A100)", text):
            continue
        lo, hi = int(head.group(1)), int(head.group(2))
        for m in re.finditer(r"^\| ([a-z0-9_]+)[^|]*\|[^|]*\|[^|]*\| ([0-9.]+) \| ([0-9.]+) \|", text, re.M):
            found[m.group(1)] = (lo, float(m.group(2)), hi, float(m.group(3)))
    return found


def epoch_seconds_at(measured: tuple[int, float, int, float], batch_size: int) -> float:
    """Seconds per epoch at ``batch_size`` from two measured batch sizes, by t(S) = a + b/S (a fixed
    cost per example plus a cost per step), never below zero."""
    lo, t_lo, hi, t_hi = measured
    b = (t_lo - t_hi) / (1 / lo - 1 / hi)
    a = t_lo - b / lo
    return max(a + b / batch_size, 0.0)


def run_seconds(cfg, measured: dict | None = None, *, share: int = 1) -> tuple[float, str]:
    """(estimated device seconds, basis) of one training config; ``share``: the members of the vmapped
    ensemble it trains in (they share each step's launch overhead)."""
    import json

    device = "cuda" if str(cfg.device).startswith("cuda") else "cpu"
    n = cfg.n_train or 50_000
    n_eval = n + cfg.n_val + (cfg.n_test or 10_000)
    epochs = cfg.epochs
    if measured and cfg.model in measured and device == "cuda":
        full = 45_000 if cfg.dataset.startswith("cifar") else 55_000
        return epochs * epoch_seconds_at(measured[cfg.model], int(cfg.batch_size)) * n / full, "measured"
    options = dict(cfg.model_options) if cfg.model_options else {}
    train_flops, eval_flops = flops_per_example(cfg.model, json.dumps(options, sort_keys=True, default=list),
                                                cfg.dataset)
    rate = ASSUMED_FLOPS[device]
    steps = n // max(1, int(cfg.batch_size))
    per_epoch = (n * train_flops + n_eval * eval_flops) / rate + steps * STEP_OVERHEAD_S[device] / share
    probes = len(getattr(cfg, "hessian_epochs", ()) or ())
    hvp = probes * cfg.hessian_max_iter * min(cfg.hessian_samples, n) * HVP_FACTOR * train_flops / rate
    return epochs * per_epoch + hvp, "unmeasured estimate"


def bill(chapter: str, configs: Iterable | None, store) -> ChapterBill:
    if configs is None:
        return ChapterBill(chapter, 0, 0, 0, 0.0, 0.0, "not planned")
    from .ensemble import can_ensemble, group_key

    configs = list({c.key: c for c in configs}.values())
    measured = measured_epoch_seconds()
    groups: dict = {}
    for cfg in configs:
        if can_ensemble(cfg):
            groups.setdefault(group_key(cfg), []).append(cfg.key)
    share = {k: min(len(keys), MAX_ENSEMBLE) for keys in groups.values() for k in keys}
    seconds = seconds_all = 0.0
    epochs = stored = 0
    bases = set()
    for cfg in configs:
        s, basis = run_seconds(cfg, measured, share=share.get(cfg.key, 1))
        bases.add(basis)
        seconds_all += s
        if cfg in store:
            stored += 1
        else:
            seconds += s
            epochs += cfg.epochs
    basis = bases.pop() if len(bases) == 1 else ("mixed" if bases else "nothing to run")
    return ChapterBill(chapter, len(configs), stored, epochs, seconds, seconds_all, basis,
                       tuple(sorted({c.model for c in configs})), sum(c.epochs for c in configs))


def table(bills: list[ChapterBill], *, device: str) -> str:
    """The bill as text: one line per chapter and a total, in device-hours."""
    lines = [f"{'chapter':<14} {'runs':>6} {'stored':>7} {'to run':>7} {'epochs':>8} {'hours':>8} "
             f"{'all (h)':>8}  basis (models)", "-" * 96]
    for b in bills:
        if b.basis == "not planned":
            lines.append(f"{b.chapter:<14} {'-':>6} {'-':>7} {'-':>7} {'-':>8} {'-':>8} {'-':>8}  "
                         "not planned (no training runs declared)")
            continue
        lines.append(f"{b.chapter:<14} {b.runs:>6} {b.stored:>7} {b.runs - b.stored:>7} {b.epochs:>8} "
                     f"{b.seconds / 3600:>8.2f} {b.seconds_all / 3600:>8.2f}  {b.basis} ({', '.join(b.models)})")
    total = sum(b.seconds for b in bills)
    total_all = sum(b.seconds_all for b in bills)
    lines.append("-" * 96)
    lines.append(f"{'total':<14} {sum(b.runs for b in bills):>6} {sum(b.stored for b in bills):>7} "
                 f"{sum(b.runs - b.stored for b in bills):>7} {sum(b.epochs for b in bills):>8} "
                 f"{total / 3600:>8.2f} {total_all / 3600:>8.2f}  device-hours on {device}")
    if any(b.basis in ("unmeasured estimate", "mixed") for b in bills):
        rate = ASSUMED_FLOPS["cuda" if device.startswith("cuda") else "cpu"]
        lines.append(f"unmeasured: FLOP counts at an assumed {rate / 1e12:g} TFLOP/s sustained plus "
                     f"{STEP_OVERHEAD_S['cuda' if device.startswith('cuda') else 'cpu'] * 1e3:g} ms per step; "
                     "run benchmarks/gpu_check.py on the target GPU to measure")
    return "\n".join(lines)
