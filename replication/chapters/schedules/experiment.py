"""Run configs of the "batch-size schedules" chapter, built from its parameters.

Eight schedules, each trained with ``seeds`` seeds for ``epochs`` epochs (plain or momentum SGD,
:class:`replication.train.TrainConfig`):

- ``clr-<s>`` / ``cbs-<s>`` for every stage length ``s`` in ``step_sizes``: the paper's pair
  (:func:`replication.schedules.clr_cbs_pair`): a triangular cyclic learning rate between ``lr_low``
  and ``lr_high`` at batch size ``bs_low``, against a cyclic batch size between ``bs_low`` and
  ``bs_high = bs_low * lr_high / lr_low`` at ``lr_high``; η/S equal in both at every epoch.
  λ_max is probed at the end of every stage (every ``s`` epochs, from the end of the first epoch).
- ``sqrt-<s>`` (``s = fig4_step_size``): the √-rule batch schedule, the contrast that should not match:
  η = ``lr_high`` fixed and S(e) = bs_low · (lr_high / η_CLR(e))², so η/√S equals CLR's at every
  epoch (η/S does not: it falls to lr_low² / (lr_high · bs_low) in the low-noise stages).
- ``const-low`` / ``const-high``: constant (S, η) = (bs_low, lr_low) and (bs_high, lr_high), the
  same η/S (the paper's Fig. 4, right).
- ``const-control``: constant (S, η) = (bs_low, lr_high), η/S larger by lr_high / lr_low: the negative
  control of the constant pair (a pair the claim says differ).  It is compared with ``const-low`` at
  equal SDE time t = epochs·N·η/S, i.e. after epochs·lr_low/lr_high of its epochs
  (:func:`control_epochs` trains the whole epochs that cover it; the accuracy there is interpolated in t).

Stages: epoch e (0-based) of a triangular schedule with stage length s is a low-noise extreme when
e is a multiple of 2s and a high-noise extreme when e ≡ s (mod 2s).  ``epochs - 1`` is a multiple
of 2s for every s, so every run ends on a low-noise epoch (as a decayed learning rate would).
"""
from __future__ import annotations

import dataclasses

from ...params import ParameterError, check_at_most, check_increasing_pair, check_split, throughput
from ...train import DATASET_INFO
from ...schedules import Table, clr_cbs_pair

DATASET_SIZE = {name: size for name, (_, size, _) in DATASET_INFO.items()}   # training-split sizes
SCHEDULES = ("clr", "cbs", "sqrt", "const-low", "const-high", "const-control")


def bs_high(params) -> int:
    return int(round(params.bs_low * params.lr_high / params.lr_low))


def sqrt_bs_max(params) -> int:
    return int(round(params.bs_low * (params.lr_high / params.lr_low) ** 2))


def control_epoch(params) -> float:
    """The (fractional) epoch at which ``const-control`` has covered the SDE time of ``const-low``:
    epochs · lr_low / lr_high (same N and S, η larger by lr_high / lr_low)."""
    return params.epochs * params.lr_low / params.lr_high


def control_epochs(params) -> int:
    """Whole epochs ``const-control`` trains: the first that reaches :func:`control_epoch`."""
    import math

    return max(1, math.ceil(control_epoch(params) - 1e-9))


def check(values: dict) -> None:
    """Cross-parameter rules (a one-line ParameterError before any compute)."""
    lo, hi, S = values["lr_low"], values["lr_high"], values["bs_low"]
    check_increasing_pair(values, "lr_low", "lr_high")
    factor = hi / lo
    if abs(S * factor - round(S * factor)) > 1e-6 * S * factor:
        raise ParameterError(f"bs_low={S!r}: bs_low * lr_high / lr_low must be an integer (the CBS batch-size "
                             f"range), got {S * factor:g}")
    check_split(values, DATASET_SIZE[values["dataset"]])
    biggest = int(round(S * factor ** 2))
    if biggest > values["n_train"]:
        raise ParameterError(f"bs_low={S!r}: the √-rule schedule needs batch sizes up to bs_low·(lr_high/lr_low)² = "
                             f"{biggest}, which must be <= n_train={values['n_train']}")
    steps = values["step_sizes"]
    if len(set(steps)) != len(steps) or list(steps) != sorted(steps):
        raise ParameterError(f"step_sizes={list(steps)!r}: strictly increasing stage lengths (short first)")
    if values["fig4_step_size"] not in steps:
        raise ParameterError(f"fig4_step_size={values['fig4_step_size']!r}: must be one of step_sizes={list(steps)}")
    bad = [s for s in steps if (values["epochs"] - 1) % (2 * s)]
    if bad:
        raise ParameterError(f"epochs={values['epochs']!r}: epochs - 1 must be a multiple of 2 × every stage length "
                             f"(so every run ends on a low-noise epoch); not for step size {bad[0]}")
    check_at_most(values, ("hessian_samples",))
    from types import SimpleNamespace

    from ...config import ConfigError

    try:                    # every run config validates (model, data, schedules) before any compute
        configs(SimpleNamespace(**values))
    except (ConfigError, ValueError) as error:
        raise ParameterError(f"model={values['model']!r}: the run configs do not validate: "
                             f"{' '.join(str(error).split())}") from None


def model_options(params) -> dict:
    if params.model == "mlp":
        return {"hidden": tuple(params.widths)}
    if params.model == "small_cnn":
        return {"channels": tuple(params.widths)}
    return {"width": params.width_multiplier}          # vgg11


def base_config(params):
    from ...train import TrainConfig

    return TrainConfig(dataset=params.dataset, n_train=params.n_train, n_val=params.n_val,
                       n_test=params.n_test or None, model=params.model, model_options=model_options(params),
                       lr=params.lr_high, batch_size=params.bs_low, momentum=params.momentum,
                       weight_decay=params.weight_decay, augment=params.augment, epochs=params.epochs,
                       device=params.device, hessian_samples=params.hessian_samples,
                       hessian_tol=params.lanczos_tol, hessian_max_iter=params.lanczos_max_iter,
                       accept_unverified_data=params.accept_unverified_data, **throughput(params, params.model))


def stage_ends(step_size: int, epochs: int) -> list[tuple[int, str]]:
    """(1-based epoch after which to probe, "low"|"high"): the end of every stage's extreme epoch."""
    out = []
    for e in range(0, epochs, step_size):
        out.append((e + 1, "low" if (e // step_size) % 2 == 0 else "high"))
    return out


def schedules(params) -> dict[str, dict]:
    """``{name: {"overrides": TrainConfig fields, "kind": ..., "step_size": s or None, "probes": [...]}}``."""
    out: dict[str, dict] = {}
    end = ((params.epochs, "end"),)
    for s in params.step_sizes:
        clr, cbs = clr_cbs_pair(params.lr_low, params.lr_high, params.bs_low, bs_high(params), s)
        ends = tuple(stage_ends(s, params.epochs))
        out[f"clr-{s}"] = dict(overrides=clr, kind="clr", step_size=s, probes=ends)
        out[f"cbs-{s}"] = dict(overrides=cbs, kind="cbs", step_size=s, probes=ends)
        if s == params.fig4_step_size:
            mult = clr["lr_schedule"].values           # η_CLR(e) / lr_high over one period
            sizes = tuple(round(params.bs_low / m ** 2) / params.bs_low for m in mult)
            out[f"sqrt-{s}"] = dict(overrides={"lr": params.lr_high, "batch_size": params.bs_low,
                                               "bs_schedule": Table(sizes)},
                                    kind="sqrt", step_size=s, probes=end)
    out["const-low"] = dict(overrides={"lr": params.lr_low, "batch_size": params.bs_low}, kind="const-low",
                            step_size=None, probes=end)
    out["const-high"] = dict(overrides={"lr": params.lr_high, "batch_size": bs_high(params)}, kind="const-high",
                             step_size=None, probes=end)
    out["const-control"] = dict(overrides={"lr": params.lr_high, "batch_size": params.bs_low,
                                           "epochs": control_epochs(params)},
                                kind="const-control", step_size=None, probes=())
    return out


def configs(params) -> list[tuple[dict, object]]:
    """``[(labels, TrainConfig), ...]``: every schedule × seed, with its probe epochs."""
    base = base_config(params)
    out = []
    for name, spec in schedules(params).items():
        probes = tuple(sorted({e for e, _ in spec["probes"]}))
        for seed in range(params.seeds):
            cfg = dataclasses.replace(base, **spec["overrides"], seed=seed, hessian_epochs=probes)
            out.append((dict(schedule=name, kind=spec["kind"], step_size=spec["step_size"], seed=seed), cfg))
    return out
