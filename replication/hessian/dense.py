"""The exact Hessian, for checking the matrix-free estimators on small networks.

H = ∇²_θ L(θ) of the mean loss L over (X, y), formed densely in float64 by ``torch.func.hessian``
of the flattened parameter vector (eval mode, so batch norm uses its running statistics), and
symmetrized.  Memory grows as the square of the parameter count: tiny networks only.
"""
from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


def dense_hessian(model: nn.Module, loss_fn, X, y) -> torch.Tensor:
    """The exact Hessian of the mean loss in float64 by ``torch.func.hessian`` of the flat θ (eval mode)."""
    m = copy.deepcopy(model).to(torch.float64).eval()
    named = list(m.named_parameters())
    sizes = [p.numel() for _, p in named]
    theta = torch.cat([p.detach().reshape(-1) for _, p in named])
    Xd = X.to(torch.float64)

    def loss(flat):
        params = {n: c.view(p.shape) for (n, p), c in zip(named, torch.split(flat, sizes))}
        return loss_fn(torch.func.functional_call(m, params, (Xd,)), y)

    with warnings.catch_warnings():  # torch.func's decompositions call the deprecated torch.jit.script
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
        H = torch.func.hessian(loss)(theta)
    return 0.5 * (H + H.T)
