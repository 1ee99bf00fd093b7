"""Run configs of the sweep chapter ("η/S across a thousand minima"), built from its parameters.

The design (He, Liu and Tao, NeurIPS 2019, made matched and cheap):

- batch sizes S from ``batch_sizes`` (log-spaced);
- per seed s, ``n_lrs`` learning rates drawn log-uniformly from [``lr_min``, ``lr_max``], stratified
  (one draw in each of ``n_lrs`` equal slices of log η: ``u_j = (j + U_j) / n_lrs``,
  η_j = lr_min · (lr_max / lr_min)^{u_j}, U_j ~ U(0, 1) from the generator seeded with
  (``draw_seed``, s)), so the box is covered without a grid's ties;
- every (S, η_j, s) is one run: seed s fixes the initialization and the batch order, so the runs of
  one (S, s) differ in η alone (a group at fixed S) and the runs of one (η_j, s) in S alone (a
  group at fixed η); the runs of one S share a vmapped ensemble (:mod:`replication.ensemble`);
- every run trains until its full training-set loss reaches ``target_loss`` (the matched point of
  training), with ``max_epochs`` as the cap; λ_max is probed where it stopped (or at the cap).

``runs = len(batch_sizes) · n_lrs · seeds``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...params import (ParameterError, check_at_most, check_increasing_pair, check_largest_at_most, check_split,
                       throughput)
from ...train import DATASET_INFO


def lr_draws(params, seed: int) -> tuple[float, ...]:
    """The ``n_lrs`` learning rates of seed ``seed`` (stratified log-uniform, ascending)."""
    rng = np.random.default_rng([int(params.draw_seed), int(seed)])
    u = (np.arange(params.n_lrs) + rng.random(params.n_lrs)) / params.n_lrs
    lo, hi = float(params.lr_min), float(params.lr_max)
    return tuple(float(f"{v:.6g}") for v in lo * (hi / lo) ** u)


def model_options(params) -> dict:
    if params.model == "mlp":
        return {"hidden": tuple(params.widths)}
    if params.model == "small_cnn":
        return {"channels": tuple(params.widths)}
    return {"width": params.width_multiplier}          # resnet32 / resnet56 / vgg11


def base_config(params):
    from ...train import TrainConfig

    return TrainConfig(dataset=params.dataset, n_train=params.n_train, n_val=params.n_val,
                       n_test=params.n_test or None, model=params.model, model_options=model_options(params),
                       lr=params.lr_max, batch_size=min(params.batch_sizes), momentum=params.momentum,
                       weight_decay=params.weight_decay, augment=params.augment, epochs=params.max_epochs,
                       target_loss=params.target_loss, hessian_epochs=(params.max_epochs,),
                       hessian_samples=params.hessian_samples, hessian_tol=params.lanczos_tol,
                       hessian_max_iter=params.lanczos_max_iter, device=params.device,
                       accept_unverified_data=params.accept_unverified_data, **throughput(params, params.model))


def configs(params) -> list[tuple[dict, object]]:
    """``[(labels, TrainConfig), ...]``: every batch size × seed × drawn learning rate."""
    base = base_config(params)
    out = []
    for S in params.batch_sizes:
        for seed in range(params.seeds):
            for j, lr in enumerate(lr_draws(params, seed)):
                cfg = dataclasses.replace(base, lr=lr, batch_size=int(S), seed=seed)
                out.append((dict(batch_size=int(S), seed=seed, draw=j, lr=lr, ratio=lr / S), cfg))
    return out


def check(values: dict) -> None:
    """Cross-parameter rules (a one-line ParameterError before any compute)."""
    check_increasing_pair(values, "lr_min", "lr_max")
    sizes = list(values["batch_sizes"])
    if len(set(sizes)) != len(sizes) or sizes != sorted(sizes):
        raise ParameterError(f"batch_sizes={sizes!r}: strictly increasing batch sizes")
    check_split(values, DATASET_INFO[values["dataset"]][1])
    if values["n_val"] < 1:
        raise ParameterError(f"n_val={values['n_val']!r}: the sweep compares validation accuracy; must be >= 1")
    check_largest_at_most(values, "batch_sizes")
    check_at_most(values, ("hessian_samples",))
    from types import SimpleNamespace

    from ...config import ConfigError

    try:                    # every run config validates (model, data) before any compute
        configs(SimpleNamespace(**values))
    except (ConfigError, ValueError) as error:
        raise ParameterError(f"model={values['model']!r}: the run configs do not validate: "
                             f"{' '.join(str(error).split())}") from None
