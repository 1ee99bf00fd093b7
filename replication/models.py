"""Models.  For now one: a ReLU multilayer perceptron (the full model zoo comes with a later chapter).

    model = mlp(784, (400, 400, 400), 10, seed=0)   # 784-400-400-400-10

Initialization: PyTorch's default for ``nn.Linear`` (weights and biases uniform in
±1/sqrt(fan_in), i.e. ``kaiming_uniform_(a=sqrt(5))``), but drawn from a ``torch.Generator``
seeded with ``seed`` so that the global random state is neither read nor changed.  The same seed
gives the same parameters on every call and device.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def mlp(in_features: int, hidden: tuple[int, ...], n_classes: int, *, seed: int) -> nn.Sequential:
    """Flatten → [Linear → ReLU] per hidden width → Linear to ``n_classes`` logits (float32, CPU)."""
    if in_features < 1 or n_classes < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"layer widths must be positive: {in_features}, {tuple(hidden)}, {n_classes}")
    widths = [int(in_features), *map(int, hidden), int(n_classes)]
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out, device="meta"))  # no storage, no draw from the global RNG
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers).to_empty(device="cpu")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                nn.init.uniform_(layer.weight, -bound, bound, generator=gen)
                nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
    return model


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe(in_features: int, hidden: tuple[int, ...], n_classes: int) -> str:
    """``"784-400-400-400-10"``."""
    return "-".join(str(w) for w in (in_features, *hidden, n_classes))
