"""Training: plain (momentum) SGD with the whole dataset resident on the device.

**TrainConfig** (kind ``"train"``): the one training config every chapter uses::

    cfg = TrainConfig(dataset="fashion-mnist", n_train=10_000, n_val=2_000, model="mlp",
                      model_options={"hidden": (400, 400, 400)}, lr=0.05, batch_size=128, epochs=5,
                      hessian_epochs=(5,), hessian_samples=2_000)
    payload = train(cfg)                          # history, Hessian probes, parameters
    result = runs.train_stored(cfg, store)        # the same through the result store (replication.runs)
    model = load_model(cfg, result.payload, which="best")   # or "final"

What one run does, exactly:

- Data: :func:`replication.data.load_dataset` (``accept_unverified_data=True``, or
  ``REPLICATION_ACCEPT_UNVERIFIED=1`` when it is False, accepts non-canonical data, e.g. the
  CIFAR-10 JPEG stand-in; the result's provenance then says ``canonical=False``), split by
  :func:`replication.data.prepare` (``n_train`` / ``n_val`` / ``label_noise`` / ``data_seed``: a
  clean validation set held out of the training split, uniform random labels on a fraction of the
  training subset).  Everything is moved to ``device`` once; batches are gathered by index.
- Model: :func:`replication.models.build` (``model``, ``model_options``, ``seed``).
- Batches: one CPU ``torch.Generator`` seeded with ``seed`` draws a permutation of the N training
  examples per epoch (epochs differ); an epoch walks it in consecutive batches of S_e examples,
  ``floor(N / S_e)`` steps.  **The last N mod S_e examples of the permutation are not used in that
  epoch** (a different random set each epoch), so every step averages exactly S_e examples and
  has exactly the noise scale η_e / S_e.  With a batch-size schedule the number of steps changes
  from epoch to epoch; every epoch is still one permutation of the N examples.
- Augmentation (``augment``, CIFAR-10 only): :func:`replication.data.random_crop_flip` (pad 4,
  fill 0 = the mean colour, random crop, horizontal flip) per training batch, from a generator on
  the device seeded from ``seed``.
- Step: ``torch.optim.SGD(lr=η_e, momentum, weight_decay)`` on the mean cross-entropy of the
  batch (weight decay on every parameter; momentum as PyTorch: v ← μ v + g, θ ← θ − η v), with
  η_e = ``lr * lr_schedule.at(e)`` and S_e = ``round(batch_size * bs_schedule.at(e))``
  (:mod:`replication.schedules`).
- Throughput options (part of the config, so of its key; left out of ``to_dict`` at their defaults):
  ``precision="bf16"`` runs the forward and backward pass of each training step under bfloat16
  autocast (parameters, optimizer and evaluation stay float32); ``channels_last=True`` stores
  convolutional nets and their batches in NHWC layout.  Both run as single runs, never vmapped.
- After every epoch, in eval mode, over whole sets: training loss/accuracy (against the labels
  trained on), validation loss/accuracy (clean labels), test loss/accuracy; under label noise also
  the accuracy on the corrupted training examples against their noisy labels (``memorized_acc``:
  memorization), against their true labels (``corrupted_true_acc``) and on the uncorrupted ones
  (``clean_acc``); and η_e, S_e, η_e/S_e, steps, the mean minibatch loss.  The test set is the
  whole test split, or its first ``n_test`` examples (quick profiles).
- Hessian probes after the epochs in ``hessian_epochs`` (0 = at initialization): λ_max of the
  training loss by :func:`replication.hessian.lanczos` (tolerance ``hessian_tol``, at most
  ``hessian_max_iter`` HVPs), mode="eval", on a fixed subset of min(``hessian_samples``, N) training
  examples (their trained-on labels) drawn from ``data_seed`` (so every run of a grid on the same
  data probes the same examples), with its residual, convergence flag and HVP count.  **Warm
  starts**: a run's first probe starts Lanczos from a random vector seeded with ``seed``; every later
  probe of the same run starts from the previous probe's top eigenvector (``warm_start`` in the
  record), which cuts the HVPs of tracking λ_max over training (``benchmarks/bench_tracking.py``).
  The value agrees with a cold start to the tolerance; the HVP count depends on the start.
- Parameters: ``state_dict`` (CPU) at the end and ``best_state_dict`` at the epoch of best
  validation accuracy (the first one on ties; ``None`` without a validation set).
- Divergence: a run whose mean minibatch loss or training loss becomes non-finite stops after that
  epoch with ``diverged=True`` and its history so far; nothing raises.
- Training to a target (``target_loss``, optional): the run stops at the end of the first epoch k
  whose full training-set loss (the evaluated ``train_loss``, not the minibatch mean) is
  ``<= target_loss``; ``epochs`` is then a cap.  The payload records ``target_loss`` and
  ``stopped_epoch`` (= k, or ``None`` when the cap was reached first or the run diverged).  Hessian
  probes of epochs up to k run as listed; the probes listed after k are replaced by one probe at
  k, so "measure at the end" (``hessian_epochs=(epochs,)``) measures where the run stopped.  With
  ``target_loss=None`` (the default, left out of the config's key) nothing changes.
- Same config, same device and thread count: bit-identical history (CPU).

Many runs: :mod:`replication.runs` (grids, the store, vmapped ensembles of
:mod:`replication.ensemble`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import time
from typing import ClassVar

import torch
from torch import nn

from . import models, provenance
from .config import ConfigError, RunConfig, _canonical, require
from .config import is_int as _is_int
from .config import is_number as _is_num
from .schedules import Constant, Schedule
from .schedules import parse as parse_schedule

EVAL_BATCH = 10_000
PRECISIONS = ("float32", "bf16")
THROUGHPUT_DEFAULTS = {"precision": "float32", "channels_last": False}
#: fields left out of ``to_dict`` (so of the key) at these defaults: runs made before they existed keep their keys
OPTIONAL_DEFAULTS = {**THROUGHPUT_DEFAULTS, "target_loss": None}


def train(cfg: "TrainConfig", progress=None) -> dict:
    """Train ``cfg`` as the module docstring says; the payload the store keeps.

    ``progress(n)``, if given, is called with the number of epochs just finished."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"train: expected a TrainConfig, got {type(cfg).__name__}")
    return _train_config(cfg, progress)


def load_model(cfg: "TrainConfig", payload: dict, device: str | torch.device = "cpu",
               which: str = "final") -> nn.Module:
    """The trained network of ``payload`` (from :func:`train`), in eval mode on ``device``:
    ``which="final"`` (the end of training) or ``"best"`` (the epoch of best validation accuracy)."""
    if which not in ("final", "best"):
        raise ValueError(f"which={which!r}: 'final' or 'best'")
    state = payload["state_dict"] if which == "final" else payload["best_state_dict"]
    if state is None:
        raise ValueError(f"which={which!r}: this run has no best-validation parameters (n_val=0)")
    model = build_model(cfg)
    model.load_state_dict(state)
    return model.to(device).eval()


# =====================================================================================================
# The general engine: TrainConfig
# =====================================================================================================

#: (input shape, training-split size, classes) of each dataset, to validate configs before any data is read.
DATASET_INFO = {"fashion-mnist": ((1, 28, 28), 60_000, 10), "mnist": ((1, 28, 28), 60_000, 10),
                "cifar10": ((3, 32, 32), 50_000, 10)}
CONV_EVAL_BATCH = 1_000   # examples per evaluation forward pass for convolutional models
HESSIAN_BATCH = 2_500     # Hessian probes on more samples than this are computed in batches of it


def _freeze(value):
    """Lists → tuples, recursively (hashable, JSON-able option values)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _model_names() -> tuple[str, ...]:
    return tuple(getattr(models, "MODEL_NAMES", ("mlp",)))


@dataclasses.dataclass(frozen=True)
class TrainConfig(RunConfig):
    """One SGD training run (see the module docstring).  Validated on construction.

    ``model_options``: the options of :func:`replication.models.build` as a mapping (stored as a
    sorted tuple of (name, value) pairs; lists become tuples); options left out take the registry's
    defaults (e.g. the MLP's 20 × 50 hidden layers).  ``lr_schedule`` / ``bs_schedule``: a
    :class:`replication.schedules.Schedule` or its ``to_dict()`` form, multipliers of ``lr`` /
    ``batch_size``.  ``n_train=None``: every training example not held out for validation.
    ``hessian_epochs``: epochs after which λ_max is measured (0 = at initialization).
    """

    kind: ClassVar[str] = "train"
    algorithm_version: ClassVar[int] = 1
    #: the code whose source determines a run's payload (its key holds their digest: replication.config);
    #: not runs.py (orchestration), nor anything that only reads results
    code: ClassVar[tuple[str, ...]] = ("replication.train", "replication.ensemble", "replication.models",
                                       "replication.data", "replication.schedules", "replication.hessian")
    dataset: str = "fashion-mnist"
    n_train: int | None = None
    n_val: int = 5_000
    n_test: int | None = None
    label_noise: float = 0.0
    data_seed: int = 0
    augment: bool = False
    model: str = "mlp"
    model_options: tuple = ()
    lr: float = 0.05
    batch_size: int = 128
    momentum: float = 0.0
    weight_decay: float = 0.0
    lr_schedule: Schedule = Constant()
    bs_schedule: Schedule = Constant()
    epochs: int = 10
    seed: int = 0
    device: str = "cpu"
    hessian_epochs: tuple = ()
    hessian_samples: int = 2_000
    hessian_tol: float = 1e-3
    hessian_max_iter: int = 100
    accept_unverified_data: bool = False
    precision: str = "float32"       # "bf16": the training step under bfloat16 autocast (evaluation stays float32)
    channels_last: bool = False      # convolutional nets: NHWC memory layout (faster convolutions on GPUs)
    target_loss: float | None = None  # stop at the end of the first epoch with training loss <= this (epochs: the cap)

    def __post_init__(self) -> None:
        opts = self.model_options
        if isinstance(opts, dict):
            pairs = list(opts.items())
        elif isinstance(opts, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in opts):
            pairs = [tuple(p) for p in opts]
        else:
            raise ConfigError(f"model_options={opts!r}: a mapping of option names to values")
        require(all(isinstance(k, str) for k, _ in pairs) and len({k for k, _ in pairs}) == len(pairs),
                "model_options", opts, "a mapping with distinct string keys")
        object.__setattr__(self, "model_options", tuple(sorted((k, _freeze(v)) for k, v in pairs)))
        for name in ("lr_schedule", "bs_schedule"):
            try:
                object.__setattr__(self, name, parse_schedule(getattr(self, name)))
            except ConfigError as error:
                raise ConfigError(f"{name}: {error}") from None
        for name in ("lr", "momentum", "weight_decay", "label_noise", "hessian_tol", "target_loss"):
            value = getattr(self, name)
            if _is_num(value):
                object.__setattr__(self, name, float(value))   # 1 and 1.0: one key
        if isinstance(self.hessian_epochs, (list, tuple)) and all(_is_int(e) for e in self.hessian_epochs):
            object.__setattr__(self, "hessian_epochs", tuple(sorted(set(self.hessian_epochs))))
        super().__post_init__()

    # -- validation ------------------------------------------------------------------------------
    def validate(self) -> None:
        require(self.dataset in DATASET_INFO, "dataset", self.dataset, f"one of {', '.join(DATASET_INFO)}")
        _, size, _ = DATASET_INFO[self.dataset]
        require(_is_int(self.n_val) and 0 <= self.n_val < size, "n_val", self.n_val,
                f"an integer in [0, {size - 1}] ({self.dataset} has {size} training examples)")
        require(self.n_train is None or (_is_int(self.n_train) and 1 <= self.n_train <= size - self.n_val),
                "n_train", self.n_train, f"null (all) or an integer in [1, {size - self.n_val}] "
                f"({self.dataset}: {size} training examples, n_val={self.n_val} held out)")
        require(self.n_test is None or (_is_int(self.n_test) and self.n_test >= 1), "n_test", self.n_test,
                "null (the whole test split) or an integer >= 1 (its first n_test examples)")
        require(_is_num(self.label_noise) and 0.0 <= self.label_noise <= 1.0, "label_noise", self.label_noise,
                "a fraction in [0, 1] of training labels replaced by uniform random ones")
        require(_is_int(self.data_seed) and self.data_seed >= 0, "data_seed", self.data_seed, "an integer >= 0")
        require(isinstance(self.augment, bool), "augment", self.augment, "true or false")
        require(not self.augment or self.dataset == "cifar10", "augment", self.augment,
                "false unless dataset='cifar10' (crop + flip is a CIFAR augmentation)")
        require(self.model in _model_names(), "model", self.model, f"one of {', '.join(_model_names())}")
        describe = getattr(models, "describe_model", None)
        if describe is not None:
            try:
                describe(self.model, n_classes=self.n_classes, in_shape=self.in_shape, **self.options)
            except (ValueError, TypeError) as error:
                raise ConfigError(f"model_options={self.options!r}: {error}") from None
        else:
            require(set(self.options) <= {"hidden"}, "model_options", self.options, "only 'hidden' for mlp")
        require(_is_num(self.lr) and self.lr > 0, "lr", self.lr, "a finite number > 0")
        N = self.n_train_total
        require(_is_int(self.batch_size) and 1 <= self.batch_size <= N, "batch_size", self.batch_size,
                f"an integer in [1, {N}] (the training-set size)")
        require(_is_num(self.momentum) and 0.0 <= self.momentum < 1.0, "momentum", self.momentum, "in [0, 1)")
        require(_is_num(self.weight_decay) and self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        require(_is_int(self.epochs) and self.epochs >= 1, "epochs", self.epochs, "an integer >= 1")
        for e in range(self.epochs):
            S = self.batch_size_at(e)
            require(1 <= S <= N, "bs_schedule", self.bs_schedule.describe(),
                    f"batch sizes in [1, {N}] at every epoch; epoch {e} gives {S}")
        require(_is_int(self.seed) and self.seed >= 0, "seed", self.seed, "an integer >= 0")
        require(isinstance(self.device, str) and (self.device in ("cpu", "cuda") or
                                                  (self.device.startswith("cuda:") and self.device[5:].isdigit())),
                "device", self.device, "cpu, cuda or cuda:N")
        require(isinstance(self.hessian_epochs, tuple) and all(_is_int(e) and 0 <= e <= self.epochs
                                                               for e in self.hessian_epochs),
                "hessian_epochs", self.hessian_epochs, f"a list of epochs in [0, {self.epochs}] (0 = initialization)")
        require(_is_int(self.hessian_samples) and self.hessian_samples >= 1, "hessian_samples",
                self.hessian_samples, "an integer >= 1 (training examples; at most N are used)")
        require(_is_num(self.hessian_tol) and self.hessian_tol > 0, "hessian_tol", self.hessian_tol, "> 0")
        require(_is_int(self.hessian_max_iter) and self.hessian_max_iter >= 2, "hessian_max_iter",
                self.hessian_max_iter, "an integer >= 2 (HVPs)")
        require(isinstance(self.accept_unverified_data, bool), "accept_unverified_data",
                self.accept_unverified_data, "true or false")
        require(self.precision in PRECISIONS, "precision", self.precision,
                f"one of {', '.join(PRECISIONS)} (bf16: training step under bfloat16 autocast)")
        require(isinstance(self.channels_last, bool) and (not self.channels_last or self.model != "mlp"),
                "channels_last", self.channels_last, "true or false; true only for convolutional models")
        require(self.target_loss is None or (_is_num(self.target_loss) and math.isfinite(self.target_loss)
                                             and self.target_loss > 0),
                "target_loss", self.target_loss,
                "null (train all epochs) or a finite number > 0 (stop at the first epoch whose training loss is <= it)")

    # -- JSON form -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Every field, except the throughput options and ``target_loss`` at their defaults (so
        float32, NCHW, fixed-epoch runs keep their keys; a bf16, channels-last or train-to-target run
        is another run, with another key)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in OPTIONAL_DEFAULTS and value == OPTIONAL_DEFAULTS[f.name]:
                continue
            if isinstance(value, Schedule):
                value = value.to_dict()
            elif f.name == "model_options":
                value = dict(value)
            out[f.name] = _canonical(value)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The config of ``to_dict()`` (e.g. a stored record's ``config``)."""
        return cls(**d)

    # -- derived ---------------------------------------------------------------------------------
    @property
    def options(self) -> dict:
        return dict(self.model_options)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return DATASET_INFO[self.dataset][0]

    @property
    def n_classes(self) -> int:
        return DATASET_INFO[self.dataset][2]

    @property
    def n_train_total(self) -> int:
        """The training-set size N (``n_train``, or all examples not held out)."""
        _, size, _ = DATASET_INFO[self.dataset]
        return self.n_train if self.n_train is not None else size - self.n_val

    def lr_at(self, epoch: int) -> float:
        """η during epoch ``epoch`` (0 = the first)."""
        return self.lr * self.lr_schedule.at(epoch)

    def batch_size_at(self, epoch: int) -> int:
        """S during epoch ``epoch`` (0 = the first)."""
        return int(round(self.batch_size * self.bs_schedule.at(epoch)))

    def ratio_at(self, epoch: int) -> float:
        """η/S during epoch ``epoch``."""
        return self.lr_at(epoch) / self.batch_size_at(epoch)

    def steps_at(self, epoch: int) -> int:
        return self.n_train_total // self.batch_size_at(epoch)

    def probe_after(self, epoch: int, stopped: bool) -> bool:
        """Whether a Hessian probe runs after epoch ``epoch`` (1-based): a listed epoch, or, for a run
        that stops there (reached ``target_loss``), any listed epoch after it."""
        return epoch in self.hessian_epochs or (stopped and any(h > epoch for h in self.hessian_epochs))

    def reached_target(self, train_loss: float) -> bool:
        """Whether a full training-set loss meets ``target_loss`` (never, without a target)."""
        return self.target_loss is not None and math.isfinite(train_loss) and train_loss <= self.target_loss

    @property
    def architecture(self) -> str:
        describe = getattr(models, "describe_model", None)
        if describe is None:
            return models.describe(784, self.options.get("hidden", (400, 400, 400)), 10)
        return describe(self.model, n_classes=self.n_classes, in_shape=self.in_shape, **self.options)

    def describe(self) -> str:
        return (f"{self.model} on {self.dataset} N={self.n_train_total} eta={self.lr:g} S={self.batch_size} "
                f"seed={self.seed}")


# -- data ---------------------------------------------------------------------------------------------
_DATA_CACHE: dict = {}


def load_data(cfg: TrainConfig):
    """The dataset of ``cfg`` on the CPU (kept in this process: one per (name, override, location))."""
    from . import paths
    from .data import load_dataset

    # accept_unverified_data=True accepts; False leaves it to REPLICATION_ACCEPT_UNVERIFIED (None)
    allow = True if cfg.accept_unverified_data else None
    key = (cfg.dataset, allow, os.environ.get("REPLICATION_ACCEPT_UNVERIFIED"), str(paths.data_root()),
           str(paths.data_mirror()))
    if key not in _DATA_CACHE:
        ds = load_dataset(cfg.dataset, "cpu", allow_unverified=allow)
        if len(_DATA_CACHE) >= 2:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = ds
    return _DATA_CACHE[key]


def data_provenance(cfg: TrainConfig) -> dict:
    """What the store records about the data of ``cfg`` (fingerprint, canonical flag, source)."""
    from .data import dataset_provenance

    return dataset_provenance(load_data(cfg))


def prepare_split(cfg: TrainConfig, device: str | torch.device | None = None):
    """The :class:`replication.data.Split` of ``cfg`` on ``device`` (default ``cfg.device``)."""
    from .data import prepare

    split = prepare(load_data(cfg), n_train=cfg.n_train, n_val=cfg.n_val, label_noise=cfg.label_noise,
                    seed=cfg.data_seed)
    if cfg.n_test is not None and cfg.n_test < split.n_test:
        split = dataclasses.replace(split, x_test=split.x_test[: cfg.n_test], y_test=split.y_test[: cfg.n_test])
    return split.to(device or cfg.device)


def _derived_seed(seed: int, stream: str) -> int:
    digest = hashlib.sha256(f"replication.train:{stream}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def hessian_indices(cfg: TrainConfig) -> torch.Tensor:
    """The fixed training-example subset of the Hessian probes (CPU, ascending), drawn from ``data_seed``."""
    gen = torch.Generator(device="cpu").manual_seed(_derived_seed(cfg.data_seed, "hessian"))
    return torch.randperm(cfg.n_train_total, generator=gen)[: min(cfg.hessian_samples, cfg.n_train_total)].sort().values


def build_model(cfg: TrainConfig) -> nn.Module:
    """A freshly initialized CPU model of ``cfg`` (its seed)."""
    build = getattr(models, "build", None)
    if build is None:
        return models.mlp(784, cfg.options.get("hidden", (400, 400, 400)), 10, seed=cfg.seed)
    return build(cfg.model, n_classes=cfg.n_classes, in_shape=cfg.in_shape, seed=cfg.seed, **cfg.options)


def synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA work on ``device`` (so wall times measure it); a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def eval_batch(cfg: TrainConfig) -> int:
    return EVAL_BATCH if cfg.model == "mlp" else CONV_EVAL_BATCH


@torch.no_grad()
def evaluate_sets(logits_fn, split, chunk: int) -> dict:
    """Per member: summed cross-entropy and predictions over the train/val/test sets.

    ``logits_fn(X)`` returns logits of shape (K, n, C) for K members.  Returns
    ``{set: (loss_sum (K,), predictions (K, n))}`` (val omitted when empty).
    """
    out = {}
    sets = {"train": (split.x_train, split.y_train), "val": (split.x_val, split.y_val),
            "test": (split.x_test, split.y_test)}
    for name, (X, y) in sets.items():
        if X.shape[0] == 0:
            continue
        losses, preds = None, []
        for s in range(0, X.shape[0], chunk):
            logits = logits_fn(X[s:s + chunk])
            K, n, C = logits.shape
            loss = nn.functional.cross_entropy(logits.reshape(K * n, C), y[s:s + chunk].repeat(K),
                                               reduction="none").view(K, n).sum(1, dtype=torch.float64)
            losses = loss if losses is None else losses + loss
            preds.append(logits.argmax(-1))
        out[name] = (losses.cpu(), torch.cat(preds, 1))
    return out


def epoch_metrics(evaluated: dict, split, member: int) -> dict:
    """The per-epoch metrics of one member from :func:`evaluate_sets`."""
    def acc(pred, y, mask=None):
        hit = pred == y
        if mask is not None:
            if not bool(mask.any()):
                return None
            hit = hit[mask]
        return int(hit.sum()) / hit.numel()

    loss, pred = evaluated["train"]
    pred = pred[member]
    m = {"train_loss": float(loss[member]) / split.n_train, "train_acc": acc(pred, split.y_train)}
    if split.label_noise > 0:
        noisy = split.noisy_mask
        m["memorized_acc"] = acc(pred, split.y_train, noisy)
        m["corrupted_true_acc"] = acc(pred, split.y_train_clean, noisy)
        m["clean_acc"] = acc(pred, split.y_train, ~noisy)
    if "val" in evaluated:
        loss, p = evaluated["val"]
        m["val_loss"], m["val_acc"] = float(loss[member]) / split.n_val, acc(p[member], split.y_val)
    else:
        m["val_loss"], m["val_acc"] = None, None
    loss, p = evaluated["test"]
    m["test_loss"], m["test_acc"] = float(loss[member]) / split.n_test, acc(p[member], split.y_test)
    return m


#: id(split) -> {run config key: the top eigenvector of that run's previous probe} (warm starts).
#: An entry lives as long as its split (one training call), so a run's first probe is always cold.
_WARM_STARTS: dict[int, dict] = {}


def _warm_starts(split) -> dict:
    import weakref

    key = id(split)
    if key not in _WARM_STARTS:
        _WARM_STARTS[key] = {}
        weakref.finalize(split, _WARM_STARTS.pop, key, None)
    return _WARM_STARTS[key]


def hessian_probe(model: nn.Module, split, idx: torch.Tensor, cfg: TrainConfig, epoch: int) -> dict:
    """λ_max (Lanczos) of the training loss of ``model`` on ``split.x_train[idx]``, eval mode.

    Warm start: Lanczos starts from the top eigenvector of the previous probe of the same run (same
    ``cfg.key`` within one training call on ``split``), or from a random vector seeded with
    ``cfg.seed`` at a run's first probe."""
    from .hessian import HessianOperator, lanczos

    device = split.x_train.device
    idx = idx.to(device)
    n = int(idx.shape[0])
    starts = _warm_starts(split)
    v0 = starts.get(cfg.key)
    start = time.perf_counter()
    H = HessianOperator(model, nn.CrossEntropyLoss(), split.x_train, split.y_train, mode="eval",
                        indices=idx, batch_size=None if n <= HESSIAN_BATCH else HESSIAN_BATCH)
    top = lanczos(H, k=1, tol=cfg.hessian_tol, max_iter=min(H.dim, cfg.hessian_max_iter), seed=cfg.seed,
                  v0=v0, return_eigenvectors=True)
    synchronize(device)
    seconds = time.perf_counter() - start
    starts[cfg.key] = top.eigenvectors[0].detach()
    info = H.info()
    H.release()
    return {"epoch": int(epoch), "lambda_max": float(top.eigenvalues[0]), "residual": float(top.residuals[0]),
            "converged": bool(top.converged[0]), "n_hvp": int(top.n_hvp), "n_iter": int(top.n_iter),
            "warm_start": v0 is not None,
            "tol": cfg.hessian_tol, "seconds": seconds, "seconds_per_hvp": seconds / max(1, top.n_hvp),
            "n_samples": n, "mode": info["mode"], "method": info["method"], "dtype": info["dtype"]}


HISTORY_KEYS = ("epoch", "lr", "batch_size", "ratio", "steps", "batch_loss", "train_loss", "train_acc",
                "val_loss", "val_acc", "test_loss", "test_acc")
NOISE_KEYS = ("memorized_acc", "corrupted_true_acc", "clean_acc")


class Recorder:
    """Collects one run's history, best-validation parameters and divergence; builds the payload."""

    def __init__(self, cfg: TrainConfig, split):
        self.cfg = cfg
        keys = HISTORY_KEYS + (NOISE_KEYS if split.label_noise > 0 else ())
        self.history: dict[str, list] = {k: [] for k in keys}
        self.timing: dict[str, list] = {"train_seconds": [], "eval_seconds": []}
        self.hessian: list[dict] = []
        self.best_epoch: int | None = None
        self.best_val_acc = -1.0
        self.best_state: dict | None = None
        self.diverged = False
        self.diverged_epoch: int | None = None
        self.stopped_epoch: int | None = None     # the epoch at which target_loss was reached
        self.split_meta = split.metadata()

    def add_epoch(self, epoch: int, batch_loss: float, metrics: dict, train_seconds: float,
                  eval_seconds: float, state_fn) -> bool:
        """Record epoch ``epoch`` (1-based); returns False when the run diverged (stop it).  A run that
        reached ``target_loss`` at this epoch gets ``stopped_epoch`` set (stop it after its probes)."""
        cfg, e = self.cfg, epoch - 1
        row = {"epoch": epoch, "lr": cfg.lr_at(e), "batch_size": cfg.batch_size_at(e), "ratio": cfg.ratio_at(e),
               "steps": cfg.steps_at(e), "batch_loss": batch_loss, **metrics}
        for k in self.history:
            self.history[k].append(row.get(k))
        self.timing["train_seconds"].append(train_seconds)
        self.timing["eval_seconds"].append(eval_seconds)
        if not (math.isfinite(batch_loss) and math.isfinite(metrics["train_loss"])):
            self.diverged, self.diverged_epoch = True, epoch
            return False
        val = metrics.get("val_acc")
        if val is not None and val > self.best_val_acc:
            self.best_val_acc, self.best_epoch = val, epoch
            self.best_state = state_fn()
        if cfg.reached_target(metrics["train_loss"]):
            self.stopped_epoch = epoch
        return True

    @property
    def stopped(self) -> bool:
        return self.stopped_epoch is not None

    def payload(self, final_state: dict, n_parameters: int, **extra) -> dict:
        h = self.history
        final = {k: v[-1] for k, v in h.items()} if h["epoch"] else {}
        return {
            "history": h, "final": final, "hessian": self.hessian,
            "diverged": self.diverged, "diverged_epoch": self.diverged_epoch,
            "epochs_completed": len(h["epoch"]),
            "best_epoch": self.best_epoch, "best_val_acc": None if self.best_epoch is None else self.best_val_acc,
            "best_state_dict": self.best_state, "state_dict": final_state,
            "timing": self.timing, "split": self.split_meta,
            "n_parameters": n_parameters, "architecture": self.cfg.architecture,
            "last_batch": "dropped: floor(N/S) steps of exactly S examples per epoch",
            "target_loss": self.cfg.target_loss, "stopped_epoch": self.stopped_epoch,
            **extra,
        }


def cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _train_config(cfg: TrainConfig, progress=None) -> dict:
    from .data import random_crop_flip

    device = torch.device(cfg.device)
    split = prepare_split(cfg, device)
    X, y = split.x_train, split.y_train
    N = split.n_train
    model = build_model(cfg).to(device)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16) if cfg.precision == "bf16"
                else contextlib.nullcontext())
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    gen = torch.Generator(device="cpu").manual_seed(int(cfg.seed))
    aug_gen = None
    if cfg.augment:
        aug_gen = torch.Generator(device=device).manual_seed(_derived_seed(cfg.seed, "augment"))
    rec = Recorder(cfg, split)
    h_idx = hessian_indices(cfg) if cfg.hessian_epochs else None
    chunk = eval_batch(cfg)

    def logits_fn(xb):
        return model(xb).unsqueeze(0)

    if 0 in cfg.hessian_epochs:
        rec.hessian.append(hessian_probe(model, split, h_idx, cfg, 0))
    for e in range(cfg.epochs):
        lr, S = cfg.lr_at(e), cfg.batch_size_at(e)
        for group in opt.param_groups:
            group["lr"] = lr
        steps = N // S
        order = torch.randperm(N, generator=gen).to(device)
        model.train()
        start = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for k in range(steps):
            idx = order[k * S:(k + 1) * S]
            xb = X[idx]
            if aug_gen is not None:
                xb = random_crop_flip(xb, padding=4, generator=aug_gen)
            if xb.dim() == 4:
                xb = xb.contiguous(memory_format=layout)
            with autocast:
                loss = nn.functional.cross_entropy(model(xb).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
        batch_loss = float(loss_sum) / steps
        synchronize(device)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model.eval()
        metrics = epoch_metrics(evaluate_sets(logits_fn, split, chunk), split, 0)
        eval_seconds = time.perf_counter() - start
        ok = rec.add_epoch(e + 1, batch_loss, metrics, train_seconds, eval_seconds, lambda: cpu_state(model))
        if ok and cfg.probe_after(e + 1, rec.stopped):
            rec.hessian.append(hessian_probe(model, split, h_idx, cfg, e + 1))
        if progress is not None:
            progress(1 if ok and not rec.stopped else cfg.epochs - e)
        if not ok or rec.stopped:
            break
    return rec.payload(cpu_state(model), models.n_parameters(model), trained_as="single run",
                       device_name=provenance.device_name(str(device)))
