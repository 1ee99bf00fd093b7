"""The gpu and paper profiles before anyone pays for a GPU: every chapter's parameters resolve, every
training run they declare builds as a validated config, and each distinct network / input shape /
precision / layout / augmentation among them takes one SGD step on the CPU at a batch of two.

Synthetic inputs of the dataset's shape stand in for the data (the step checks the configuration
and the network, not the data; the CIFAR-10 download is the user's), so this runs offline in CI."""
import dataclasses
import math

import pytest
import torch

from replication import chapters, train
from replication.data import random_crop_flip
from replication.chapters import resolve_spec as resolve

PROFILES = ("gpu", "paper")


def declared_runs(profile: str) -> list:
    runs = []
    for name in chapters.names():
        params = resolve(chapters.get(name).SPEC, profile)       # a bad profile value fails here, one line
        runs += chapters.planned_runs(name, params) or []
    return runs


def shape_key(cfg) -> tuple:
    return (cfg.model, cfg.model_options, cfg.in_shape, cfg.n_classes, cfg.precision, cfg.channels_last, cfg.augment)


def one_step(cfg, batch: int = 2) -> float:
    """One SGD step of ``cfg``'s network, optimizer and input pipeline on a synthetic batch (CPU)."""
    torch.manual_seed(0)
    model = train.build_model(cfg)
    layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr_at(0), momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    x = torch.randn(batch, *cfg.in_shape)
    y = torch.arange(batch) % cfg.n_classes
    if cfg.augment:
        x = random_crop_flip(x, padding=4, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=layout) if x.dim() == 4 else x
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    with autocast:
        loss = torch.nn.functional.cross_entropy(model(x).float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters())), f"{cfg.model}: step changed nothing"
    return float(loss.detach())


@pytest.mark.parametrize("profile", PROFILES)
def test_every_declared_run_of_the_profile_builds_and_takes_a_step(profile):
    runs = declared_runs(profile)
    assert runs, f"{profile}: no chapter declares its training runs"
    shapes: dict = {}
    for cfg in runs:
        shapes.setdefault(shape_key(cfg), cfg)
    for key, cfg in shapes.items():
        loss = one_step(dataclasses.replace(cfg, device="cpu"))
        assert math.isfinite(loss), f"{profile}: {key}: loss {loss}"


@pytest.mark.parametrize("profile", PROFILES)
def test_the_resnet_figures_are_declared_and_every_cifar_run_is_augmented(profile):
    """The appendix's Fig. 1 (sharpness) and Fig. 7 (invariance) run a ResNet on CIFAR-10 at this profile,
    so the step above covers their shapes; every CIFAR-10 run uses the paper's crop-and-flip augmentation."""
    runs = declared_runs(profile)
    for chapter, field in (("sharpness", "cifar_model"), ("invariance", "fig7_model")):
        model = resolve(chapters.get(chapter).SPEC, profile)[field]
        assert model.startswith("resnet"), f"{profile}: {chapter}.{field} = {model}"
        mine = [c for c in chapters.planned_runs(chapter, resolve(chapters.get(chapter).SPEC, profile))
                if c.model == model]
        assert mine and all(c.dataset == "cifar10" for c in mine), f"{profile}: {chapter} declares no {model} run"
    cifar = [c for c in runs if c.dataset == "cifar10"]
    assert cifar and all(c.augment for c in cifar), \
        f"{profile}: CIFAR-10 runs without augmentation: {sorted({c.model for c in cifar if not c.augment})}"


def test_the_laptop_fig7_network_takes_a_step():
    """The laptop analogue of Fig. 7 (a small CNN on Fashion-MNIST, vmapped over seeds) builds and steps."""
    params = resolve(chapters.get("invariance").SPEC, "laptop")
    runs = [c for c in chapters.planned_runs("invariance", params) if c.model == params.fig7_model]
    assert params.fig7_model == "small_cnn" and runs
    for cfg in {shape_key(c): c for c in runs}.values():
        assert math.isfinite(one_step(cfg))
