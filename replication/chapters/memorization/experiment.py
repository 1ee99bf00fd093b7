"""The runs of the memorization chapter (the paper's Fig. 5): a factorial grid of plain-SGD and
momentum-SGD runs of an MLP on MNIST with part of the training labels replaced by random ones.

One run = :class:`replication.train.TrainConfig` with ``label_noise`` (``round(noise * n_train)``
training labels redrawn uniformly from the ten classes, so about one in ten keeps its true label;
the engine's ``memorized_acc`` is measured on the examples whose label actually changed),
``n_val = 0`` and the clean held-out accuracy measured on the first ``n_test`` examples of the
MNIST test split (the engine's ``test_acc``; the paper calls it validation accuracy).

The grid: noise level × momentum setting × S × η × seed.  Plain SGD uses ``lrs``; momentum
``momentum`` uses ``momentum_lrs`` (the paper drops η above 0.02 with momentum 0.9; the default
η ∈ {0.005, 0.01, 0.02} gives η/(1−m) ∈ {0.05, 0.1, 0.2}, the plain grid, so every momentum run
has a plain partner with the same effective ratio η/((1−m)S)).  Runs that differ only in η and
seed are trained as one vmapped ensemble by :func:`replication.runs.train_all`.
"""
from __future__ import annotations

import dataclasses

DATASET = "mnist"
DATASET_SIZE = 60_000
TEST_SIZE = 10_000


def model_options(params) -> dict:
    return {"hidden": (params.width,) * params.depth}


def base_config(params):
    from ...train import TrainConfig

    return TrainConfig(dataset=DATASET, n_train=params.n_train, n_val=0,
                       n_test=None if params.n_test >= TEST_SIZE else params.n_test,
                       label_noise=params.noise_levels[0], model="mlp", model_options=model_options(params),
                       lr=params.lrs[0], batch_size=params.batch_sizes[0], epochs=params.epochs,
                       device=params.device)


def momentum_settings(params) -> list[tuple[float, tuple[float, ...]]]:
    """``[(momentum, learning rates), ...]``: plain SGD, then momentum SGD unless ``momentum == 0``."""
    out = [(0.0, tuple(params.lrs))]
    if params.momentum > 0:
        out.append((float(params.momentum), tuple(params.momentum_lrs)))
    return out


def runs(params) -> list[tuple[dict, object]]:
    """``[(labels, TrainConfig), ...]`` of the whole grid; labels: noise, momentum, eta, S, seed,
    ratio (η/S) and eff_ratio (η/((1−m)S))."""
    base = base_config(params)
    out = []
    for noise in params.noise_levels:
        for m, lrs in momentum_settings(params):
            for S in params.batch_sizes:
                for lr in lrs:
                    for seed in range(params.seeds):
                        cfg = dataclasses.replace(base, label_noise=noise, momentum=m, batch_size=S, lr=lr,
                                                  seed=seed)
                        labels = dict(noise=noise, momentum=m, eta=lr, S=S, seed=seed, ratio=lr / S,
                                      eff_ratio=lr / ((1 - m) * S))
                        out.append((labels, cfg))
    return out
