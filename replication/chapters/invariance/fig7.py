"""The breaking point on a second, convolutional network (the paper's Fig. 7: "a similar experiment is
performed on Resnets"), over several training-set sizes.

For every training-set size N of ``fig7_train_sizes`` and every β of ``fig7_betas`` with
round(β S₀) <= N, ``fig7_seeds`` runs of the network ``fig7_model`` at the **linear** rescaling

    η = β η₀,   S = round(β S₀)      (η₀ = ``fig7_base_lr``, S₀ = ``fig7_base_batch_size``),

each for ``fig7_epochs`` epochs (equal epochs are equal SDE time t = η·steps = E N η₀ / S₀ for every β),
on the chapter's dataset, validation split, momentum, augmentation and device.  The breaking point
β\\*(N) is the chapter's rule (:func:`.claims.breaking_point` on :func:`.claims.size_table`), so the
two networks' β\\* are read the same way.  ``fig7_model="none"`` runs nothing.

Runs that :func:`replication.ensemble.can_ensemble` allows (no batch norm, no augmentation: the small
CNN) train as vmapped ensembles of the seeds of one (N, β); the others one at a time.
"""
from __future__ import annotations

import dataclasses

import torch

from ...params import throughput
from ...store import ResultStore
from .experiment import LINEAR, _row

NONE = "none"


def enabled(params) -> bool:
    return params.fig7_model != NONE


def model_options(params) -> dict:
    return {"channels": tuple(params.fig7_channels)} if params.fig7_model == "small_cnn" else {}


def batch_size(params, beta: float) -> int:
    return int(round(beta * params.fig7_base_batch_size))


def grid(params) -> list[tuple[dict, object]]:
    """``[(labels, TrainConfig)]``: every (N, β, seed) of the linear rescaling; empty when disabled."""
    from ...train import TrainConfig

    if not enabled(params):
        return []
    out = []
    for n in params.fig7_train_sizes:
        base = TrainConfig(dataset=params.dataset, n_train=n, n_val=params.n_val, n_test=params.n_test,
                           model=params.fig7_model, model_options=model_options(params), lr=params.fig7_base_lr,
                           batch_size=params.fig7_base_batch_size, momentum=params.momentum,
                           augment=params.augment, epochs=params.fig7_epochs, device=params.device,
                           accept_unverified_data=params.accept_unverified_data,
                           **throughput(params, params.fig7_model))
        for beta in params.fig7_betas:
            S = batch_size(params, beta)
            if S > n:
                continue
            for s in range(params.fig7_seeds):
                cfg = dataclasses.replace(base, lr=params.fig7_base_lr * beta, batch_size=S, seed=s)
                out.append((dict(N=n, beta=beta, variant=LINEAR, seed=s, eta=cfg.lr, S=S), cfg))
    return out


@dataclasses.dataclass
class Fig7Results:
    runs: list            # one row per training run, as the chapter's main runs (experiment._row)
    architecture: str
    n_parameters: int
    wall_time: float
    stored: int
    computed: int
    provenance: dict = dataclasses.field(default_factory=dict)   # of the runs (data, device, code), for the caption


def compute(params, *, store: ResultStore | None = None, progress: bool = True) -> Fig7Results | None:
    """Train (through the store) the runs of :func:`grid`; ``None`` when ``fig7_model`` is "none"."""
    from ...runs import train_all

    runs = grid(params)
    if not runs:
        return None
    store = store or ResultStore()
    threads = torch.get_num_threads()
    if params.device == "cpu":      # as the chapter's main runs: one thread per small network on the CPU
        torch.set_num_threads(1)
    try:
        trained = train_all([c for _, c in runs], store=store, progress=progress, ensemble="auto")
    finally:
        torch.set_num_threads(threads)
    first = trained[0].payload
    return Fig7Results(runs=[_row(labels, r, 0.1) for (labels, _), r in zip(runs, trained)],
                       architecture=first["architecture"], n_parameters=first["n_parameters"],
                       wall_time=sum(r.wall_time for r in trained), stored=trained.tally.stored,
                       computed=trained.tally.computed, provenance=dict(trained[0].provenance))
