"""Run configs of the interpolation chapter, and the two measurements made on trained networks.

Training runs (:class:`replication.train.TrainConfig`, through :func:`replication.runs.train_all`):

- **Fig. 2 analogue** (``fig2``): one run per (η, S) setting of ``fig2_lrs`` × ``fig2_batch_sizes``
  (the first is the baseline) and seed.  Panels: (a) setting 0 → 1, (b) 0 → 2, (c) 1 → 2.
- **Fig. 3 analogue** (``fig3``): η = β ``fig3_lr``, S = round(β ``fig3_batch_size``) (Python's
  ``round``: halves go to the even integer, so 12.5 → 12) for every β; panels β = 1 → each other β.
- Both endpoints of a pair use the same ``seed`` (``shared_init``: the same initialization; with
  the same S also the same batch order) or seeds ``s`` and ``s + INDEPENDENT_OFFSET`` (independent
  initializations).  ``init_variant`` adds panel (a) with the other choice.

Endpoints are the **early-stopped** networks: ``best_state_dict``, the parameters at the epoch of
best validation accuracy.

Two measurements, each its own kind in the result store:

- :class:`LineRun` (``interpolation-line``): the loss and accuracy of ``(1 − α) θ_a + α θ_b`` on
  ``eval_train`` training examples and on the test set at every α of ``alphas``, with the
  batch-norm statistics recomputed on ``bn_samples`` training examples at every α
  (``bn="recompute"``) or interpolated with the weights (``bn="interpolate"``).
- :class:`EndpointRun` (``interpolation-endpoint``): at one endpoint (batch-norm statistics
  recomputed as on the line): λ_max of the training loss (Lanczos, eval mode, ``hessian_samples``
  examples), and the training loss along ``directions`` filter-normalized random directions,
  ``θ + t d`` for ``direction_points`` values of t in [−1, 1] (and a 2-D grid over two of them when
  ``surface_points`` > 0 and the endpoint asks for it).
"""
from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ...config import RunConfig, require
from ...params import throughput
from ...train.config import SETUP_CODE
from . import landscape

INDEPENDENT_OFFSET = 1_000      # seed of the second endpoint when initializations are independent
# filter-normalized direction j draws from seed DIRECTION_SEED + j; the 2-D surface from SURFACE_SEED + 0, 1.
# Far from any training seed: models.build draws its initialization from a Generator seeded with the
# run's seed, and a direction drawn from the same seed would be the initial weights themselves.
DIRECTION_SEED = 7_919_000
SURFACE_SEED = 7_929_000
LANCZOS_SEED = 0
FIG2_NAMES = ("baseline", "large batch", "small learning rate")
#: the paper's settings (ICLR 2018): Fig. 2 (η, S) pairs, baseline first; Fig. 3 η₀, S₀ and β
PAPER_FIG2 = ((0.1, 128), (0.1, 1024), (0.01, 128))
PAPER_FIG3 = (0.1, 50, (0.25, 1.0, 4.0))
PAPER_NETWORKS = {"fig2": "ResNet-56 on CIFAR-10", "fig3": "VGG-11 on CIFAR-10"}


def paper_settings(params) -> bool:
    """Whether ``params`` use the paper's η and S for both figures."""
    return (tuple(zip(params.fig2_lrs, params.fig2_batch_sizes)) == PAPER_FIG2
            and (params.fig3_lr, params.fig3_batch_size) == PAPER_FIG3[:2]
            and sorted(params.fig3_betas) == sorted(PAPER_FIG3[2]))


# -- training configs ----------------------------------------------------------------------------------
def model_options(params, name: str) -> dict:
    if name == "small_cnn":
        return {"channels": tuple(params.channels), "batch_norm": params.batch_norm}
    if name == "mlp":
        return {}
    return {"width": params.model_width, "batch_norm": params.batch_norm}


def train_config(params, figure: str, lr: float, S: int, seed: int):
    from ...train import TrainConfig

    model = params.fig2_model if figure == "fig2" else params.fig3_model
    return TrainConfig(dataset=params.dataset, n_train=params.n_train, n_val=params.n_val,
                       n_test=params.n_test, augment=params.augment, model=model,
                       model_options=model_options(params, model), lr=lr, batch_size=S,
                       momentum=params.momentum, epochs=params.fig2_epochs if figure == "fig2" else params.fig3_epochs,
                       seed=seed, device=params.device, accept_unverified_data=params.accept_unverified_data,
                       **throughput(params, model))


def fig3_settings(params) -> list[tuple[float, int, float]]:
    """(η, S, β) of the equal-ratio runs: η = β η₀, S = round(β S₀)."""
    return [(params.fig3_lr * b, int(round(params.fig3_batch_size * b)), b) for b in params.fig3_betas]


def settings(params) -> dict[str, list[dict]]:
    """``{figure: [setting, ...]}``; a setting is a dict(name, eta, S, ratio[, beta])."""
    fig2 = [dict(name=FIG2_NAMES[i] if i < len(FIG2_NAMES) else f"setting {i}", eta=lr, S=S, ratio=lr / S)
            for i, (lr, S) in enumerate(zip(params.fig2_lrs, params.fig2_batch_sizes))]
    fig3 = [dict(name=f"β = {b:g}", eta=lr, S=S, ratio=lr / S, beta=b) for lr, S, b in fig3_settings(params)]
    return {"fig2": fig2, "fig3": fig3}


def panels(params) -> list[dict]:
    """Every interpolation: dict(id, figure, a, b (setting indices), shared (init), label)."""
    sets = settings(params)
    out = []
    n2 = len(sets["fig2"])
    letters = "abcdefghij"
    pairs2 = [(0, j) for j in range(1, n2)] + [(i, j) for i in range(1, n2) for j in range(i + 1, n2)]
    for k, (i, j) in enumerate(pairs2):
        out.append(dict(id=f"fig2-{letters[k]}", figure="fig2", a=i, b=j, shared=params.shared_init,
                        label=f"({letters[k]})"))
    base = next(i for i, s in enumerate(sets["fig3"]) if s["beta"] == 1.0)
    for j, s in enumerate(sets["fig3"]):
        if j != base:
            out.append(dict(id=f"fig3-beta-{s['beta']:g}".replace(".", "p"), figure="fig3", a=base, b=j,
                            shared=params.shared_init, label=f"β = 1 → {s['beta']:g}"))
    if params.init_variant:
        first = out[0]
        out.append(dict(first, id=first["id"] + "-other-init", shared=not params.shared_init,
                        label=first["label"] + (" independent init" if params.shared_init else " shared init")))
    return out


def endpoint_seed(seed: int, shared: bool, side: str) -> int:
    return seed if shared or side == "a" else seed + INDEPENDENT_OFFSET


# -- the two measurements ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LineRun(RunConfig):
    """Loss and accuracy along (1 − α) θ_a + α θ_b (see the module docstring)."""

    kind: ClassVar[str] = "interpolation-line"
    code: ClassVar[tuple[str, ...]] = (("replication.chapters.interpolation.experiment",
                                        "replication.chapters.interpolation.landscape") + SETUP_CODE)
    train_key_a: str
    train_key_b: str
    alphas: tuple
    bn: str = "recompute"
    bn_samples: int = 1_000
    eval_train: int = 2_000
    which: str = "best"

    def validate(self) -> None:
        require(len(self.alphas) >= 3, "alphas", self.alphas, "at least 3 values")
        require(self.bn in ("recompute", "interpolate"), "bn", self.bn, "recompute or interpolate")
        require(self.bn_samples >= 1, "bn_samples", self.bn_samples, ">= 1")
        require(self.eval_train >= 1, "eval_train", self.eval_train, ">= 1")
        require(self.which in ("best", "final"), "which", self.which, "best or final")


@dataclasses.dataclass(frozen=True)
class EndpointRun(RunConfig):
    """λ_max and filter-normalized 1-D (2-D) curves at one trained network."""

    kind: ClassVar[str] = "interpolation-endpoint"
    algorithm_version: ClassVar[int] = 2     # 2: direction seeds moved away from the training seeds
    code: ClassVar[tuple[str, ...]] = (LineRun.code + ("replication.hessian.__init__", "replication.hessian.operator",
                                                       "replication.hessian.eigen", "replication.hessian._linop",
                                                       "replication.hessian.results"))
    train_key: str
    bn_samples: int = 1_000
    eval_train: int = 2_000
    hessian_samples: int = 1_000
    lanczos_tol: float = 1e-3
    lanczos_max_iter: int = 100
    directions: int = 2
    direction_points: int = 21
    surface_points: int = 0
    which: str = "best"

    def validate(self) -> None:
        require(self.hessian_samples >= 1, "hessian_samples", self.hessian_samples, ">= 1")
        require(self.directions >= 0, "directions", self.directions, ">= 0")
        require(self.direction_points >= 3, "direction_points", self.direction_points, ">= 3")
        require(self.surface_points == 0 or self.surface_points >= 3, "surface_points", self.surface_points,
                "0 or >= 3")
        require(self.which in ("best", "final"), "which", self.which, "best or final")


def _state(cfg, payload: dict, which: str) -> dict:
    state = payload["best_state_dict"] if which == "best" else payload["state_dict"]
    if state is None:
        raise ValueError(f"run {cfg.key} has no best-validation parameters (n_val=0)")
    return state


def _data(train_cfg, n_bn: int, n_eval: int):
    from ...train import prepare_split

    split = prepare_split(train_cfg, train_cfg.device)
    X, y = split.x_train, split.y_train
    return X[:n_bn], X[:n_eval], y[:n_eval], split.x_test, split.y_test, X, y


def run_line(cfg: LineRun, cfg_a, payload_a: dict, payload_b: dict) -> dict:
    from ...train import build_model

    device = torch.device(cfg_a.device)
    X_bn, X_tr, y_tr, X_te, y_te, _, _ = _data(cfg_a, cfg.bn_samples, cfg.eval_train)
    model = build_model(cfg_a).to(device)
    use_bn = landscape.has_bn(model)
    sa = {k: v.to(device) for k, v in _state(cfg_a, payload_a, cfg.which).items()}
    sb = {k: v.to(device) for k, v in _state(cfg_a, payload_b, cfg.which).items()}
    out = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    start = time.perf_counter()
    for alpha in cfg.alphas:
        state = landscape.blend(sa, sb, alpha, model=model, bn=cfg.bn)
        landscape.load_state(model, state, X_bn if (use_bn and cfg.bn == "recompute") else None)
        tl, ta = landscape.evaluate(model, X_tr, y_tr)
        vl, va = landscape.evaluate(model, X_te, y_te)
        for k, v in zip(out, (tl, ta, vl, va)):
            out[k].append(v)
    distance = float(torch.sqrt(sum(((sb[k] - sa[k]) ** 2).sum() for k in sa
                                    if sa[k].is_floating_point() and k in dict(model.named_parameters()))))
    return dict(alphas=list(cfg.alphas), **out, distance=distance, batch_norm=use_bn,
                seconds=time.perf_counter() - start)


def run_endpoint(cfg: EndpointRun, train_cfg, payload: dict) -> dict:
    from ...hessian import HessianOperator, batch_size_for, lanczos
    from ...train import build_model

    device = torch.device(train_cfg.device)
    X_bn, X_tr, y_tr, _, _, X, y = _data(train_cfg, cfg.bn_samples, cfg.eval_train)
    model = build_model(train_cfg).to(device)
    use_bn = landscape.has_bn(model)
    state = {k: v.to(device) for k, v in _state(train_cfg, payload, cfg.which).items()}
    landscape.load_state(model, state, X_bn if use_bn else None)
    centre_state = {k: v.clone() for k, v in model.state_dict().items()}   # with recomputed statistics
    start = time.perf_counter()
    n_h = min(cfg.hessian_samples, X.shape[0])
    H = HessianOperator(model, nn.CrossEntropyLoss(), X[:n_h], y[:n_h], mode="eval",
                        batch_size=batch_size_for(n_h))
    top = lanczos(H, k=1, tol=cfg.lanczos_tol, max_iter=min(H.dim, cfg.lanczos_max_iter), seed=LANCZOS_SEED,
                  return_eigenvectors=False)
    h_loss = H.loss()
    H.release()
    lam_seconds = time.perf_counter() - start
    ts = np.linspace(-1.0, 1.0, cfg.direction_points)
    curves = []
    start = time.perf_counter()
    for j in range(cfg.directions):
        d = landscape.filter_normalized_direction(centre_state, model, torch.Generator().manual_seed(DIRECTION_SEED + j))
        row = []
        for t in ts:
            landscape.load_state(model, landscape.shifted(centre_state, [(t, d)]), X_bn if use_bn else None)
            row.append(landscape.evaluate(model, X_tr, y_tr)[0])
        curves.append(row)
    grid = None
    if cfg.surface_points > 0:
        d0, d1 = (landscape.filter_normalized_direction(centre_state, model, torch.Generator().manual_seed(SURFACE_SEED + j))
                  for j in range(2))
        us = np.linspace(-1.0, 1.0, cfg.surface_points)
        grid = dict(t=us.tolist(), loss=[[landscape.evaluate(landscape.load_state(
            model, landscape.shifted(centre_state, [(u, d0), (v, d1)]), X_bn if use_bn else None), X_tr, y_tr)[0]
            for u in us] for v in us])
    return dict(lam_max=float(top.eigenvalues[0]), lam_residual=float(top.residuals[0]),
                lam_converged=bool(top.converged[0]), n_hvp=int(top.n_hvp), hessian_loss=float(h_loss),
                hessian_samples=n_h, t=ts.tolist(), curves=curves, surface=grid, batch_norm=use_bn,
                seconds=dict(lam_max=lam_seconds, directions=time.perf_counter() - start))
