"""The chapter's run configs, built from its parameters.

Four groups of :class:`replication.train.TrainConfig` runs (trained by :func:`replication.runs.train_all`):

- ``main``: the paper-comparable variant: the deep MLP over (η, S) pairs, every run for the same
  number of ``epochs`` (the paper's design; η/S and η move together across these pairs).
- ``v3``: the same pairs and epochs with the shallow MLP of the later version (``v3_depth`` > 0).
- ``rescale``: pairs (β η₀, β S₀) at one ratio η₀/S₀ over several β (fixed epochs: equal SDE time).
- ``cifar`` (only when ``cifar_model`` is not "none"): the appendix's version of Fig. 1, a CIFAR-10 ResNet
  over the (η, S) pairs of ``cifar_lrs`` / ``cifar_batch_sizes``, every run for ``cifar_epochs`` epochs
  (with crop-and-flip augmentation when ``cifar_augment``); measured like the others, shown as a figure,
  read by no verdict.
- ``factorial``: every η of ``factorial_lrs`` with every S of ``factorial_batch_sizes``, so that η,
  S and η/S are not collinear, each trained to the same **SDE time** t = E·N·η/S (``sde_time``):
  E = t·S/(N·η) epochs.  λ_max is probed during training at :func:`probe_epochs`.

Why equal SDE time rather than a training-loss target: under the paper's SDE, runs with equal η/S
follow the same dynamics in the time t = steps·η, so equal t is the end at which the theory
compares them; a loss target would stop the high-η/S runs (whose stationary loss is higher, by the
theory itself) at a different point of their dynamics and tie the end to a quantity under test.
"""
from __future__ import annotations

import dataclasses
import math

from ...params import ParameterError, check_at_most, check_largest_at_most, check_split, throughput

#: the sixteen (η, S) pairs of the ICLR 2018 reproducibility challenge (shenyangHuang/FashionableML)
CHALLENGE_PAIRS = ((0.05, 50), (0.05, 1000), (0.025, 500), (0.04, 1000), (0.02, 500), (0.02, 100), (0.01, 50),
                   (0.01, 100), (0.02, 200), (0.005, 1000), (0.03, 50), (0.02, 50), (0.06, 75), (0.015, 100),
                   (0.011, 100), (0.0075, 100))
DATASET_SIZE = 60_000           # Fashion-MNIST / MNIST training split
CIFAR_SIZE = 50_000             # CIFAR-10 training split
CIFAR = "cifar"                 # the group of the ResNet runs
#: fractions of a factorial run at which λ_max is probed (0 = initialization)
PROBE_FRACTIONS = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0)


def rescale_pairs(values) -> list[tuple[float, int, float]]:
    """(η, S, β) of the rescaling experiment: η = β η₀, S = round(β S₀)."""
    return [(values["rescale_lr"] * b, int(round(values["rescale_batch_size"] * b)), b)
            for b in values["rescale_betas"]]


def factorial_epochs(values, lr: float, S: int) -> int:
    """Epochs of the factorial cell (η, S): E = t·S/(N·η) rounded (at least 1)."""
    return max(1, int(round(values["sde_time"] * S / (values["factorial_n_train"] * lr))))


def probe_epochs(epochs: int) -> tuple[int, ...]:
    """The epochs after which λ_max is probed in a run of ``epochs`` epochs."""
    return tuple(sorted({int(math.ceil(f * epochs)) for f in PROBE_FRACTIONS}))


def check(values: dict) -> None:
    """Cross-parameter rules (one-line ParameterError before any compute)."""
    n = values["n_train"]
    check_split(values, DATASET_SIZE)
    check_split(values, DATASET_SIZE, train="factorial_n_train")
    if len(values["lrs"]) != len(values["batch_sizes"]):
        raise ParameterError(f"lrs={list(values['lrs'])!r}: must have one entry per batch size "
                             f"(batch_sizes has {len(values['batch_sizes'])})")
    pairs = list(zip(values["lrs"], values["batch_sizes"]))
    if len(set(pairs)) != len(pairs):
        raise ParameterError(f"batch_sizes={list(values['batch_sizes'])!r}: the (lr, batch size) pairs must differ")
    if len({lr / S for lr, S in pairs}) < 2:
        raise ParameterError(f"lrs={list(values['lrs'])!r}: the pairs must span at least two ratios lr/batch size")
    check_largest_at_most(values, "batch_sizes")
    for lr, S, b in rescale_pairs(values):
        if not 1 <= S <= n:
            raise ParameterError(f"rescale_betas={list(values['rescale_betas'])!r}: beta={b:g} gives batch size {S}; "
                                 f"every round(beta * rescale_batch_size) must be in [1, n_train={n}]")
    if len({S for _, S, _ in rescale_pairs(values)}) != len(values["rescale_betas"]):
        raise ParameterError(f"rescale_betas={list(values['rescale_betas'])!r}: two betas give the same batch size")
    if 1.0 not in values["rescale_betas"]:
        raise ParameterError(f"rescale_betas={list(values['rescale_betas'])!r}: must include 1 (the reference)")
    for name in ("factorial_lrs", "factorial_batch_sizes"):
        if len(set(values[name])) != len(values[name]):
            raise ParameterError(f"{name}={list(values[name])!r}: the values must differ")
    check_largest_at_most(values, "factorial_batch_sizes", "factorial_n_train")
    check_at_most(values, ("hessian_samples",))
    _check_cifar(values)
    if values["v3_depth"] >= values["depth"]:
        raise ParameterError(f"v3_depth={values['v3_depth']!r}: must be below depth={values['depth']} "
                             "(0 skips the shallow network)")


def _check_cifar(values: dict) -> None:
    """The ResNet pairs (only when ``cifar_model`` is not "none")."""
    if values["cifar_model"] == "none":
        return
    n = values["cifar_n_train"]
    if n + values["n_val"] > CIFAR_SIZE:
        raise ParameterError(f"cifar_n_train={n!r}: cifar_n_train + n_val must be <= {CIFAR_SIZE} "
                             f"(n_val={values['n_val']})")
    if len(values["cifar_lrs"]) != len(values["cifar_batch_sizes"]):
        raise ParameterError(f"cifar_lrs={list(values['cifar_lrs'])!r}: must have one entry per batch size "
                             f"(cifar_batch_sizes has {len(values['cifar_batch_sizes'])})")
    pairs = list(zip(values["cifar_lrs"], values["cifar_batch_sizes"]))
    if len(set(pairs)) != len(pairs):
        raise ParameterError(f"cifar_batch_sizes={list(values['cifar_batch_sizes'])!r}: the (lr, batch size) "
                             "pairs must differ")
    if len({lr / S for lr, S in pairs}) < 2:
        raise ParameterError(f"cifar_lrs={list(values['cifar_lrs'])!r}: the pairs must span at least two ratios")
    if max(values["cifar_batch_sizes"]) > n:
        raise ParameterError(f"cifar_batch_sizes={list(values['cifar_batch_sizes'])!r}: every batch size must be "
                             f"<= cifar_n_train={n}")
    if values["hessian_samples"] > n:
        raise ParameterError(f"hessian_samples={values['hessian_samples']!r}: must be <= cifar_n_train={n}")


def cifar_grid(params) -> list[tuple[dict, object]]:
    """The ResNet runs on CIFAR-10: every (η, S) pair of ``cifar_lrs`` / ``cifar_batch_sizes`` with every
    seed; empty when ``cifar_model`` is "none"."""
    from ...train import TrainConfig

    if params.cifar_model == "none":
        return []
    base = TrainConfig(dataset="cifar10", n_train=params.cifar_n_train, n_val=params.n_val, model=params.cifar_model,
                       epochs=params.cifar_epochs, device=params.device, augment=params.cifar_augment,
                       accept_unverified_data=params.accept_unverified_data, lr=params.cifar_lrs[0],
                       batch_size=params.cifar_batch_sizes[0], **throughput(params, params.cifar_model, prefix="cifar_"))
    return [(dict(eta=lr, S=S, seed=s), dataclasses.replace(base, lr=lr, batch_size=S, seed=s))
            for lr, S in zip(params.cifar_lrs, params.cifar_batch_sizes) for s in range(params.cifar_seeds)]


def model_options(params, depth: int) -> dict:
    opts: dict = {"hidden": (params.width,) * depth}
    if params.init != "torch":      # the registry's default: left out so keys match other chapters
        opts["init"] = params.init
    return opts


def base_config(params, depth: int, **changes):
    from ...train import TrainConfig

    cfg = TrainConfig(dataset=params.dataset, n_train=params.n_train, n_val=params.n_val, model="mlp",
                      model_options=model_options(params, depth), epochs=params.epochs, device=params.device,
                      lr=params.lrs[0], batch_size=params.batch_sizes[0])
    return dataclasses.replace(cfg, **changes) if changes else cfg


def grids(params) -> dict[str, list[tuple[dict, object]]]:
    """``{group: [(labels, TrainConfig), ...]}`` for the groups main, v3 (if any), rescale, factorial, cifar
    (if any)."""
    out: dict[str, list] = {}
    deep = base_config(params, params.depth)
    out["main"] = [(dict(eta=lr, S=S, seed=s), dataclasses.replace(deep, lr=lr, batch_size=S, seed=s))
                   for lr, S in zip(params.lrs, params.batch_sizes) for s in range(params.seeds)]
    if params.v3_depth > 0:
        shallow = base_config(params, params.v3_depth)
        out["v3"] = [(dict(eta=lr, S=S, seed=s), dataclasses.replace(shallow, lr=lr, batch_size=S, seed=s))
                     for lr, S in zip(params.lrs, params.batch_sizes) for s in range(params.v3_seeds)]
    out["rescale"] = [(dict(eta=lr, S=S, seed=s, beta=b), dataclasses.replace(deep, lr=lr, batch_size=S, seed=s))
                      for lr, S, b in rescale_pairs(params) for s in range(params.rescale_seeds)]
    fac = base_config(params, params.factorial_depth, n_train=params.factorial_n_train,
                      hessian_samples=params.probe_samples, hessian_max_iter=params.probe_max_iter,
                      hessian_tol=params.probe_tol)
    out["factorial"] = []
    for lr in params.factorial_lrs:
        for S in params.factorial_batch_sizes:
            E = factorial_epochs(params, lr, S)
            cfg = dataclasses.replace(fac, lr=lr, batch_size=S, epochs=E, hessian_epochs=probe_epochs(E))
            out["factorial"] += [(dict(eta=lr, S=S, seed=s, epochs=E), dataclasses.replace(cfg, seed=s))
                                 for s in range(params.factorial_seeds)]
    if params.cifar_model != "none":
        out[CIFAR] = cifar_grid(params)
    return out


def measure_settings(params, n_samples: int | None = None) -> dict:
    """The :class:`replication.measure.MeasureConfig` fields of the chapter's end-of-training measures."""
    return dict(n_samples=n_samples or params.hessian_samples, which="final", lanczos_tol=params.lanczos_tol,
                lanczos_max_iter=params.lanczos_max_iter, trace_hvp=params.trace_hvp,
                frobenius_probes=params.frobenius_probes)
