"""The bill before the work: how many runs a profile needs, how many are stored, how many optimizer
steps and floating-point operations they take, and how long they would take on this machine's CPU
and on one H100-class GPU.

**What is measured and what is assumed.**  Per network/dataset *shape* (model, its options with
defaults filled in, input shape, classes):

- FLOPs per example, **counted** by ``torch.utils.flop_counter.FlopCounterMode`` on a batch of
  :data:`FLOP_BATCH` examples and divided by it (the counted operations — matrix products and
  convolutions — are linear in the batch, so a step at batch S costs S times that;
  ``tests/test_planning.py`` checks the linearity): a training step's forward + backward, and an
  evaluation forward.  Elementwise work (activations, batch norm, the SGD update, augmentation) is
  not counted.  For a Linear layer of ``i`` inputs and ``o`` outputs the counter gives 2·i·o per
  example forward (a multiply-add per weight), and 2·i·o each for the gradient of the weight and of
  the input in the backward pass, except the first layer, whose input needs no gradient: an MLP's
  training step costs 3·F − 2·i₁·o₁ per example, F its forward FLOPs.
- the aten operators one training step dispatches (views excluded), **counted** with a
  ``TorchDispatchMode``: the kernel launches a GPU pays a fixed cost for, whatever the batch.
- seconds per training step on this machine's CPU, **measured** by ``benchmarks/bench_plan.py`` at
  two batch sizes (8 and a power of two up to 512; the median CPU time of a few steps after warm-up
  steps, one thread) and fitted as
  t(S) = a + b·S (a per-step cost plus a per-example cost), written with the machine and torch
  version to ``benchmarks/results/plan_calibration.json``.  The bill reads that file; a shape it
  lacks gets its FLOPs counted here (cheap) and its CPU time from :data:`ASSUMED_CPU_FLOPS`,
  and the output says so.

Per run (epochs are the config's ``epochs``: a cap for runs trained to a ``target_loss``, so their
bill is an upper bound):

    steps  = Σ_e floor(N / S_e)                                   (S_e: the batch-size schedule)
    FLOPs  = Σ_e floor(N / S_e)·S_e·f_train + E·(N + n_val + n_test)·f_eval
             + probes · hessian_max_iter · min(hessian_samples, N) · 2·f_train

(one Hessian-vector product ≈ two gradients, :data:`HVP_FACTOR`; every probe is billed at its HVP cap).

- **device seconds** (assumed throughput): FLOPs / :data:`ASSUMED_DEVICE_FLOPS` [precision] plus
  :data:`LAUNCH_S` per dispatched operator of every step (and of every HVP batch of
  :data:`HESSIAN_BATCH` examples, at twice a step's operators), shared by the members of a vmapped
  ensemble (runs that differ only in η and seed train as one, at most :data:`MAX_ENSEMBLE`).  When a
  GPU-check record exists (``benchmarks/results/gpu-check_*.json``, written by
  ``benchmarks/gpu_check.py`` on a CUDA machine, read by :mod:`replication.gpu_records`), its
  measured epoch times replace the training steps' estimate for the networks it measured (each
  model at its default options only).
- **CPU seconds** (measured step): Σ_e steps_e·(a + b·S_e), evaluation and HVPs at the measured
  per-example cost b scaled by their FLOPs relative to a training example; one thread, no ensembles.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Iterable

from .gpu_records import measured_epoch_seconds   # noqa: F401  (the bill's measured epoch times; also planning's name)
from .hessian.operator import BATCH as HESSIAN_BATCH   # examples per HVP batch: the one batching rule

#: the device class the bill is for, and the throughput assumed for it (FLOP/s sustained by the
#: counted operations, per training precision): H100 SXM / H200 peaks (dense) are 67 TFLOP/s FP32,
#: 495 TF32 (cuDNN runs float32 convolutions on TF32 tensor cores by default), 989 BF16
DEVICE_CLASS = "one H100-class GPU (H100 SXM / H200)"
PEAK_FLOPS = {"float32": 67e12, "tf32": 495e12, "bf16": 989e12}
ASSUMED_DEVICE_FLOPS = {"float32": 40e12, "bf16": 150e12}
LAUNCH_S = 10e-6          # seconds per dispatched aten operator in eager PyTorch (launch + dispatch)
ASSUMED_CPU_FLOPS = 20e9  # one CPU thread, for shapes the calibration file lacks
MAX_ENSEMBLE = 64         # members of one vmapped ensemble (replication.runs.train_all's default)
HVP_FACTOR = 2.0          # one Hessian-vector product ~ two gradients (forward + backward) per example
FLOP_BATCH = 2            # the batch FLOPs are counted at (then divided by it)
TEST_SIZE = {"fashion-mnist": 10_000, "mnist": 10_000, "cifar10": 10_000}
GOAL_HOURS = {"paper": 8.0}   # the paper profile's target on one H100-class GPU (issue 21)
CALIBRATION_NAME = "plan_calibration.json"


# -- shapes and their counted costs -------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Shape:
    """A network on an input shape: what FLOPs and step times depend on (not η, S, seeds, data)."""
    model: str
    options: str                      # JSON of the model's options, defaults filled in
    in_shape: tuple[int, int, int]
    n_classes: int

    @property
    def key(self) -> str:
        c, h, w = self.in_shape
        return f"{self.model} {self.options} {c}x{h}x{w}->{self.n_classes}"

    @classmethod
    def of(cls, cfg) -> "Shape":
        from . import models

        opts, shape, n_classes = models._resolve(cfg.model, cfg.n_classes, cfg.in_shape, cfg.options)
        return cls(cfg.model, json.dumps(opts, sort_keys=True, default=list), tuple(shape), n_classes)

    def build(self):
        from . import models

        return models.build(self.model, n_classes=self.n_classes, in_shape=self.in_shape, seed=0,
                            **json.loads(self.options))


def count_step(shape: Shape, batch: int) -> dict:
    """FLOPs of one training step (forward + backward of the mean cross-entropy) and of one
    evaluation forward at ``batch`` examples, and the aten operators the training step dispatches
    (views excluded), counted on the CPU with random inputs."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    class Ops(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not getattr(func, "is_view", False):
                self.n += 1
            return func(*args, **(kwargs or {}))

    net = shape.build().train()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch,) + shape.in_shape, generator=gen)
    y = torch.randint(0, shape.n_classes, (batch,), generator=gen)
    with FlopCounterMode(display=False) as train:
        torch.nn.functional.cross_entropy(net(x), y).backward()
    net.zero_grad(set_to_none=True)
    with Ops() as ops:
        torch.nn.functional.cross_entropy(net(x), y).backward()
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as evaluate:
        net(x)
    return {"train_flops": train.get_total_flops(), "eval_flops": evaluate.get_total_flops(), "ops": ops.n}


@functools.lru_cache(maxsize=None)
def counted(shape: Shape) -> dict:
    """Per-example training and evaluation FLOPs and ops per training step of ``shape`` (counted)."""
    c = count_step(shape, FLOP_BATCH)
    return {"train_flops_per_example": c["train_flops"] / FLOP_BATCH,
            "eval_flops_per_example": c["eval_flops"] / FLOP_BATCH, "ops_per_step": c["ops"]}


def calibration_path() -> Path | None:
    from .paths import checkout_root

    root = checkout_root()
    return root / "benchmarks" / "results" / CALIBRATION_NAME if root else None


def load_calibration(path: Path | None = None) -> dict:
    """The calibration file as ``{"machine": {...}, "shapes": {key: entry}}`` (JSON only; nothing read
    executes); empty shapes when the file is missing.  An entry with a CPU timing has ``cpu_step_a_s``
    and ``cpu_step_b_s`` (t(S) = a + b·S seconds per training step on one thread)."""
    path = path if path is not None else calibration_path()
    if path is None or not Path(path).is_file():
        return {"machine": {}, "shapes": {}}
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), dict):
        raise ValueError(f"{path}: not a plan calibration (a JSON object with 'machine' and 'shapes')")
    return data


@dataclasses.dataclass(frozen=True)
class ShapeCost:
    train_flops: float          # per example, forward + backward
    eval_flops: float           # per example, forward
    ops: int                    # aten operators per training step
    cpu_a: float | None         # seconds per CPU step: a + b·S (None: not measured)
    cpu_b: float | None
    flops_source: str           # "calibration file" or "counted now"


def shape_cost(shape: Shape, calibration: dict) -> ShapeCost:
    entry = calibration.get("shapes", {}).get(shape.key)
    if entry and all(k in entry for k in ("train_flops_per_example", "eval_flops_per_example", "ops_per_step")):
        flops, source = entry, "calibration file"
    else:
        flops, source = counted(shape), "counted now"
    a = entry.get("cpu_step_a_s") if entry else None
    b = entry.get("cpu_step_b_s") if entry else None
    return ShapeCost(float(flops["train_flops_per_example"]), float(flops["eval_flops_per_example"]),
                     int(flops["ops_per_step"]), a, b, source)


def epoch_seconds_at(measured: tuple[int, float, int, float], batch_size: int) -> float:
    """Seconds per epoch at ``batch_size`` from two measured batch sizes, by t(S) = a + b/S (a fixed
    cost per example plus a cost per step), never below zero."""
    lo, t_lo, hi, t_hi = measured
    b = (t_lo - t_hi) / (1 / lo - 1 / hi)
    a = t_lo - b / lo
    return max(a + b / batch_size, 0.0)


# -- one run ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunCost:
    epochs: int
    steps: int
    flops: float
    device_s: float
    cpu_s: float
    device_basis: str     # "measured" (GPU-check epoch times) or "assumed" (FLOPs / assumed throughput)
    cpu_basis: str        # "measured" (calibrated CPU step) or "assumed"


def run_cost(cfg, cost: ShapeCost, *, share: int = 1, measured: dict | None = None) -> RunCost:
    """The cost of one training config (see the module docstring); ``share``: the members of the
    vmapped ensemble it trains in (they share each step's operator launches)."""
    n = cfg.n_train_total
    epochs = int(cfg.epochs)
    sizes = [cfg.batch_size_at(e) for e in range(epochs)]
    steps_e = [n // s for s in sizes]
    steps = sum(steps_e)
    examples = sum(k * s for k, s in zip(steps_e, sizes))
    n_eval = n + cfg.n_val + (cfg.n_test or TEST_SIZE.get(cfg.dataset, 10_000))
    probes = len(cfg.hessian_epochs or ())
    hvp_examples = probes * cfg.hessian_max_iter * min(cfg.hessian_samples, n)
    train_f = examples * cost.train_flops
    eval_f = epochs * n_eval * cost.eval_flops
    hvp_f = hvp_examples * HVP_FACTOR * cost.train_flops
    rate = ASSUMED_DEVICE_FLOPS["bf16" if cfg.precision == "bf16" else "float32"]
    hvp_batches = -(-min(cfg.hessian_samples, n) // HESSIAN_BATCH)     # the probe's examples, in batches
    launches = (steps + probes * cfg.hessian_max_iter * hvp_batches * HVP_FACTOR) * cost.ops * LAUNCH_S / share
    model_measured = (measured or {}).get(cfg.model)
    if model_measured is not None:
        full = 45_000 if cfg.dataset == "cifar10" else 55_000
        train_s = sum(epoch_seconds_at(model_measured, s) * n / full for s in sizes)
        device_s, device_basis = train_s + (eval_f + hvp_f) / rate, "measured"
    else:
        device_s, device_basis = (train_f + eval_f + hvp_f) / rate + launches, "assumed"
    if cost.cpu_a is not None and cost.cpu_b is not None:
        per_flop = cost.cpu_b / cost.train_flops          # CPU seconds per training FLOP, measured
        cpu_s = sum(k * (cost.cpu_a + cost.cpu_b * s) for k, s in zip(steps_e, sizes)) + (eval_f + hvp_f) * per_flop
        cpu_basis = "measured"
    else:
        cpu_s, cpu_basis = (train_f + eval_f + hvp_f) / ASSUMED_CPU_FLOPS, "assumed"
    return RunCost(epochs, steps, train_f + eval_f + hvp_f, device_s, cpu_s, device_basis, cpu_basis)


# -- one chapter ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class ChapterBill:
    chapter: str
    runs: int
    stored: int
    epochs: int            # epochs of the runs still to compute
    seconds: float         # device seconds of the runs still to compute
    seconds_all: float     # ... of every run (as if the store were empty)
    basis: str             # device basis: "measured", "assumed", "mixed", "nothing to run" or "not planned"
    models: tuple[str, ...] = ()
    epochs_all: int = 0    # epochs of every run
    steps_all: int = 0
    flops_all: float = 0.0
    cpu_seconds_all: float = 0.0
    cpu_basis: str = ""    # "measured", "assumed" or "mixed"
    shapes: tuple[str, ...] = ()      # the shape keys its runs use


@functools.lru_cache(maxsize=None)
def _default_options(model: str) -> str:
    """The JSON of ``model``'s default options: the network ``benchmarks/gpu_check.py`` times."""
    from . import models

    return json.dumps(models._resolve(model, 10, None, {})[0], sort_keys=True, default=list)


def _basis(values: set) -> str:
    return values.pop() if len(values) == 1 else ("mixed" if values else "nothing to run")


def bill(chapter: str, configs: Iterable | None, store, *, calibration: dict | None = None,
         measured: dict | None = None) -> ChapterBill:
    """The bill of one chapter's planned runs (``None``: the chapter declares none); duplicates
    count once; runs already in ``store`` are billed in the ``_all`` totals only."""
    if configs is None:
        return ChapterBill(chapter, 0, 0, 0, 0.0, 0.0, "not planned")
    from .ensemble import can_ensemble, group_key

    calibration = load_calibration() if calibration is None else calibration
    measured = measured_epoch_seconds() if measured is None else measured
    configs = list({c.key: c for c in configs}.values())
    groups: dict = {}
    for cfg in configs:
        if can_ensemble(cfg):
            groups.setdefault(group_key(cfg), []).append(cfg.key)
    share = {k: min(len(keys), MAX_ENSEMBLE) for keys in groups.values() for k in keys}
    shapes: dict = {}
    out = ChapterBill(chapter, len(configs), 0, 0, 0.0, 0.0, "")
    device_bases, cpu_bases = set(), set()
    for cfg in configs:
        shape = Shape.of(cfg)
        if shape not in shapes:
            shapes[shape] = shape_cost(shape, calibration)
        c = run_cost(cfg, shapes[shape], share=share.get(cfg.key, 1),
                     measured=measured if shape.options == _default_options(cfg.model) else None)
        device_bases.add(c.device_basis)
        cpu_bases.add(c.cpu_basis)
        out.seconds_all += c.device_s
        out.epochs_all += c.epochs
        out.steps_all += c.steps
        out.flops_all += c.flops
        out.cpu_seconds_all += c.cpu_s
        if cfg in store:
            out.stored += 1
        else:
            out.seconds += c.device_s
            out.epochs += c.epochs
    out.basis, out.cpu_basis = _basis(device_bases), _basis(cpu_bases)
    out.models = tuple(sorted({c.model for c in configs}))
    out.shapes = tuple(sorted(s.key for s in shapes))
    return out


# -- words and tables ---------------------------------------------------------------------------------------
def _planned(bills: list[ChapterBill]) -> list[ChapterBill]:
    return [b for b in bills if b.basis not in ("not planned", "nothing to run")]


def totals(bills: list[ChapterBill]) -> dict:
    rows = _planned(bills)
    return {"runs": sum(b.runs for b in rows), "stored": sum(b.stored for b in rows),
            "epochs": sum(b.epochs_all for b in rows), "steps": sum(b.steps_all for b in rows),
            "flops": sum(b.flops_all for b in rows), "cpu_hours": sum(b.cpu_seconds_all for b in rows) / 3600,
            "device_hours": sum(b.seconds_all for b in rows) / 3600,
            "device_hours_to_run": sum(b.seconds for b in rows) / 3600}


def assumptions(calibration: dict | None = None, measured: dict | None = None) -> list[str]:
    """What the bill measured and what it assumed, one sentence each."""
    calibration = load_calibration() if calibration is None else calibration
    measured = measured_epoch_seconds() if measured is None else measured
    m = calibration.get("machine", {})
    where = (f"on {m.get('cpu', '?')}, {m.get('threads', '?')} thread, torch {m.get('torch', '?')}, "
             f"{str(m.get('date', '?'))[:10]}") if m else "no calibration file found"
    lines = [
        f"FLOPs: counted with `torch.utils.flop_counter` (matrix products and convolutions; elementwise work "
        f"not counted) on a batch of {FLOP_BATCH}, scaled linearly to each run's batch size; forward + backward "
        f"per training example, forward per evaluated example (training, validation and test sets after "
        f"every epoch).",
        f"Hessian probes: every probe at its cap of `hessian_max_iter` HVPs on min(`hessian_samples`, N) "
        f"examples, one HVP = {HVP_FACTOR:g} gradients (forward + backward).",
        "Epochs: the config's epochs; for runs trained to a target loss (equal-progress stopping) that is "
        "the cap, so their bill is an upper bound.",
        "Not billed: what a chapter computes after training outside its planned runs (trace and Frobenius "
        "estimates, interpolation curves, theory simulations).",
        f"CPU-hours: training steps at t(S) = a + b·S seconds per step, fitted to steps measured by "
        f"`benchmarks/bench_plan.py` ({where}); evaluation and HVPs at the same cost per FLOP; one thread, "
        f"one run at a time. Shapes the calibration lacks: {ASSUMED_CPU_FLOPS / 1e9:g} GFLOP/s assumed.",
        f"Device-hours on {DEVICE_CLASS}: FLOPs / an assumed sustained {ASSUMED_DEVICE_FLOPS['float32'] / 1e12:g} "
        f"TFLOP/s for float32 runs (peaks: {PEAK_FLOPS['float32'] / 1e12:g} TFLOP/s FP32, "
        f"{PEAK_FLOPS['tf32'] / 1e12:g} TF32, which cuDNN uses for float32 convolutions) and "
        f"{ASSUMED_DEVICE_FLOPS['bf16'] / 1e12:g} TFLOP/s for bf16 runs (peak {PEAK_FLOPS['bf16'] / 1e12:g}), "
        f"plus {LAUNCH_S * 1e6:g} µs per dispatched aten operator (counted per step; no overlap with the "
        f"arithmetic assumed), shared by the members of a vmapped ensemble (up to {MAX_ENSEMBLE}); "
        f"channels-last assumed to change nothing.",
    ]
    if measured:
        lines.append("Measured on a GPU (`benchmarks/gpu_check.py`): training epoch times of "
                     + ", ".join(sorted(measured)) + " (default options, interpolated in the batch size as "
                     "t(S) = a + b/S per epoch); they replace the assumed throughput of those networks' training "
                     "steps; their evaluation and Hessian probes stay at the assumed throughput.")
    else:
        lines.append("No GPU-check record exists (`benchmarks/results/gpu-check_*.json`): every device number is "
                     "from the assumed throughput; run `benchmarks/gpu_check.py` on the target GPU to measure it.")
    return lines


def goal_sentence(profile: str, bills: list[ChapterBill]) -> str:
    """The profile's device-hours against its goal (if it has one) and the chapter that dominates."""
    t = totals(bills)
    name = Path(str(profile)).stem
    rows = sorted(_planned(bills), key=lambda b: -b.seconds_all)
    text = f"The `{name}` profile: {_hours(t['device_hours'])} device-hours on {DEVICE_CLASS}"
    goal = GOAL_HOURS.get(name)
    if goal is not None:
        if t["device_hours"] <= goal:
            text += f", within its goal of {goal:g}"
        else:
            text += (f", {t['device_hours'] - goal:.1f} h above its goal of {goal:g} "
                     f"({t['device_hours'] / goal:.1f} times the goal)")
    if rows and t["device_hours"] > 0:
        top = rows[0]
        text += (f"; {top.chapter} dominates with {_hours(top.seconds_all / 3600)} h "
                 f"({100 * top.seconds_all / 3600 / t['device_hours']:.0f} %)")
    return text + "."


def _flops(f: float) -> str:
    """FLOPs in PFLOP: whole numbers from 100 up, three significant digits below."""
    v = f / 1e15
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _hours(h: float) -> str:
    return f"{h:,.1f}" if h >= 0.1 else f"{h:.2g}"


def table(bills: list[ChapterBill], *, device: str = "cuda") -> str:
    """The bill as text: one line per chapter and a total (device-hours of every run and of the runs
    not yet stored, CPU-hours of every run)."""
    head = (f"{'chapter':<14} {'runs':>6} {'stored':>6} {'epochs':>8} {'steps':>11} {'PFLOP':>9} "
            f"{'CPU-h':>9} {'dev-h':>7} {'to run':>7}  basis dev/CPU (models)")
    lines = [head, "-" * len(head)]
    for b in bills:
        if b.basis in ("not planned",):
            lines.append(f"{b.chapter:<14} {'-':>6} {'-':>6} {'-':>8} {'-':>11} {'-':>9} {'-':>9} {'-':>7} "
                         f"{'-':>7}  not planned (no training runs declared)")
            continue
        lines.append(f"{b.chapter:<14} {b.runs:>6,} {b.stored:>6,} {b.epochs_all:>8,} {b.steps_all:>11,} "
                     f"{_flops(b.flops_all):>9} {_hours(b.cpu_seconds_all / 3600):>9} "
                     f"{_hours(b.seconds_all / 3600):>7} "
                     f"{_hours(b.seconds / 3600):>7}  {b.basis}/{b.cpu_basis} ({', '.join(b.models)})")
    t = totals(bills)
    lines.append("-" * len(head))
    lines.append(f"{'total':<14} {t['runs']:>6,} {t['stored']:>6,} {t['epochs']:>8,} {t['steps']:>11,} "
                 f"{_flops(t['flops']):>9} {_hours(t['cpu_hours']):>9} {_hours(t['device_hours']):>7} "
                 f"{_hours(t['device_hours_to_run']):>7}  runs' device: {device}")
    return "\n".join(lines)


def markdown_table(bills: list[ChapterBill], profile: str) -> str:
    """The bill of ``profile`` as a markdown table with a bold caption (chapters that train nothing
    are left out): runs, epochs, steps, FLOPs, CPU-hours and device-hours per chapter, and totals."""
    rows = _planned(bills)
    caption = (f"**Table: The bill of the `{profile}` profile.** Training runs, optimizer steps, "
               f"floating-point operations, hours on this machine's CPU (one thread, measured step) and "
               f"device-hours on one H100-class GPU at an assumed throughput")
    pairs = [(b.basis, b.cpu_basis) for b in rows]
    if rows:            # the basis in the caption, not as a column: the table fits a page's column
        common = max(set(pairs), key=pairs.count)
        others = [f"{b.chapter} {b.basis}/{b.cpu_basis}" for b in rows if (b.basis, b.cpu_basis) != common]
        caption += (f"; device/CPU basis {common[0]}/{common[1]} for "
                    + (f"every chapter but {', '.join(others)}." if others else "every chapter."))
    else:
        caption += "."
    head = "| chapter | training runs | epochs | steps | PFLOP | CPU-hours | device-hours |"
    rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    lines = [caption, "", head, rule]
    for b in rows:
        lines.append(f"| {b.chapter} | {b.runs:,} | {b.epochs_all:,} | {b.steps_all:,} | {_flops(b.flops_all)} | "
                     f"{b.cpu_seconds_all / 3600:,.1f} | {b.seconds_all / 3600:.2f} |")
    t = totals(bills)
    lines.append(f"| all chapters | {t['runs']:,} | {t['epochs']:,} | {t['steps']:,} | {_flops(t['flops'])} | "
                 f"{t['cpu_hours']:,.1f} | {t['device_hours']:.2f} |")
    return "\n".join(lines)

