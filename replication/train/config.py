"""The one training config, :class:`TrainConfig` (kind ``"train"``): its fields, their validation,
its JSON form and what it derives per epoch (η_e, S_e, steps).  What a run does with it:
:mod:`replication.train`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from .. import models
from ..config import ConfigError, RunConfig, _canonical, require
from ..config import is_int as _is_int
from ..config import is_number as _is_num
from ..schedules import Constant, Schedule
from ..schedules import parse as parse_schedule

PRECISIONS = ("float32", "bf16")
THROUGHPUT_DEFAULTS = {"precision": "float32", "channels_last": False}
#: fields left out of ``to_dict`` (so of the key) at these defaults: runs made before they existed keep their keys
OPTIONAL_DEFAULTS = {**THROUGHPUT_DEFAULTS, "target_loss": None}

#: (input shape, training-split size, classes) of each dataset, to validate configs before any data is read.
DATASET_INFO = {"fashion-mnist": ((1, 28, 28), 60_000, 10), "mnist": ((1, 28, 28), 60_000, 10),
                "cifar10": ((3, 32, 32), 50_000, 10)}


#: The modules a computation executes to rebuild a training run's data split and network (its data
#: loaders for every dataset, the split, the model registry); part of the ``code`` of every config
#: that reads a trained network, with ``replication.train.loop`` if it calls ``load_model``
#: (replication.config).
DATA_CODE = ("replication.data.__init__", "replication.data.load", "replication.data.specs",
             "replication.data.verify", "replication.data.idx", "replication.data.cifar",
             "replication.data.dataset", "replication.data.subsets", "replication.data.search")
SETUP_CODE = ("replication.train.__init__", "replication.train.config", "replication.train.setup",
              "replication.models") + DATA_CODE
#: The modules a training run executes: the above, the loop, the schedules, its evaluation and record,
#: the vmapped ensemble, the augmentation, and the Hessian operator with Lanczos of the probes.
TRAIN_CODE = SETUP_CODE + ("replication.train.loop", "replication.schedules", "replication.train.evaluation",
                           "replication.train.record", "replication.ensemble", "replication.data.augment",
                           "replication.hessian.__init__", "replication.hessian.operator",
                           "replication.hessian.eigen", "replication.hessian._linop", "replication.hessian.results")


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
    #: the modules its computation executes (replication.config); not runs.py (orchestration), nor
    #: anything that only reads results
    code: ClassVar[tuple[str, ...]] = TRAIN_CODE
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

