"""The per-example gradient covariance C of a loss, next to its Hessian H.

With g_n the gradient of example n's loss and ḡ their mean over the n examples,

    C = (1/n) Σ_n (g_n − ḡ)(g_n − ḡ)ᵀ,        Tr C = mean_n ‖g_n‖² − ‖ḡ‖².

SGD with batch size S (examples drawn independently) has gradient noise of covariance C/S; the
paper's v3 theory assumes C ≈ H near a minimum.  Tr C needs only the per-example squared norms and
the mean gradient, so it is computed without forming C:

- networks of ``nn.Linear`` layers: one forward and one backward pass per chunk; a layer with input
  a_n and output gradient δ_n has weight gradient δ_n a_nᵀ, so ‖g_n‖² = Σ_layers ‖δ_n‖²(‖a_n‖² + 1[bias]);
- any other model: per-example gradients by ``torch.func.vmap(grad(ℓ))``.

The gradient noise scale of McCandlish et al. (2018), B_noise = Tr C / ‖ḡ‖², follows from the same
numbers (:func:`gradient_noise_scale`).
"""
from __future__ import annotations

import torch
from torch import nn

LINEAR_CHUNK = 2_500   # examples per forward/backward pass of the outer-product method
GRAD_CHUNK = 128       # examples per vmapped per-example-gradient call


def _linear_only(model: nn.Module) -> bool:
    """Whether every module holding parameters is an ``nn.Linear`` (then per-example gradients
    factor as outer products, and their norms need no per-example backward pass)."""
    holders = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    return bool(holders) and all(isinstance(m, nn.Linear) for m in holders)


def _per_example_sq_norms_linear(model: nn.Module, X: torch.Tensor, y: torch.Tensor):
    """(Σ_i ‖g_i‖², Σ_i g_i) for a network of ``nn.Linear`` layers on 2-D inputs, from one forward and
    one backward pass: a layer with input a_i and output gradient δ_i has per-example weight gradient
    δ_i a_iᵀ and bias gradient δ_i, so ‖g_i‖² = Σ_layers ‖δ_i‖² (‖a_i‖² + 1[bias])."""
    inputs: dict = {}
    outputs: dict = {}
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]

    def keep(module, args, out):
        if args[0].dim() != 2:
            raise ValueError("per-example gradient norms by outer products need 2-D layer inputs")
        inputs[module] = args[0].detach()
        outputs[module] = out

    handles = [m.register_forward_hook(keep) for m in layers]
    try:
        params = [p for p in model.parameters() if p.requires_grad]
        loss = nn.functional.cross_entropy(model(X), y, reduction="sum")   # d loss / d z_i = δ_i of example i
        grads = torch.autograd.grad(loss, params + [outputs[m] for m in layers])
    finally:
        for h in handles:
            h.remove()
    deltas = dict(zip(layers, grads[len(params):]))
    sq = torch.zeros((), dtype=torch.float64, device=X.device)
    for m in layers:
        a2 = inputs[m].double().pow(2).sum(1) + (1.0 if m.bias is not None else 0.0)
        sq += (deltas[m].double().pow(2).sum(1) * a2).sum()
    total = torch.cat([g.reshape(-1) for g in grads[:len(params)]]).double()
    return sq, total


def _per_example_sq_norms_vmap(model: nn.Module, X: torch.Tensor, y: torch.Tensor):
    """(Σ_i ‖g_i‖², Σ_i g_i) from per-example gradients ``vmap(grad(ℓ))`` (any model)."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, x, t):
        out = functional_call(model, p, (x.unsqueeze(0),))
        return nn.functional.cross_entropy(out, t.unsqueeze(0))

    g = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X, y)
    flat = torch.cat([v.reshape(v.shape[0], -1) for v in g.values()], 1).double()
    return (flat * flat).sum(), flat.sum(0)


def gradient_covariance_trace(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, chunk: int | None = None,
                              method: str = "auto") -> dict:
    """Tr C with C = (1/n) Σ (g_n − ḡ)(g_n − ḡ)ᵀ over the n examples of (X, y), in eval mode:
    Tr C = mean ‖g_n‖² − ‖ḡ‖².  Also returns mean ‖g_n‖² (the trace of the empirical Fisher) and
    ‖ḡ‖².  ``method``: ``"vmap"`` (per-example gradients by ``torch.func``, any model),
    ``"linear"`` (outer-product norms, networks of linear layers only), ``"auto"`` (linear when
    possible)."""
    if method == "auto":
        method = "linear" if _linear_only(model) else "vmap"
    if method not in ("linear", "vmap"):
        raise ValueError(f"method={method!r}: 'auto', 'linear' or 'vmap'")
    fn = _per_example_sq_norms_linear if method == "linear" else _per_example_sq_norms_vmap
    chunk = chunk or (LINEAR_CHUNK if method == "linear" else GRAD_CHUNK)
    was_training = model.training
    model.eval()
    n = X.shape[0]
    sq, total = 0.0, None
    try:
        for s in range(0, n, chunk):
            part_sq, part_sum = fn(model, X[s:s + chunk], y[s:s + chunk])
            sq += float(part_sq)
            total = part_sum if total is None else total + part_sum
    finally:
        model.train(was_training)
    mean_sq = sq / n
    mean_g2 = float((total / n).pow(2).sum())
    return {"trace_C": mean_sq - mean_g2, "trace_F": mean_sq, "grad_norm2": mean_g2, "n": int(n), "method": method}


def gradient_noise_scale(stats: dict) -> float:
    """B_noise = Tr C / ‖ḡ‖² from :func:`gradient_covariance_trace`'s result (inf when ḡ = 0)."""
    return stats["trace_C"] / stats["grad_norm2"] if stats["grad_norm2"] > 0 else float("inf")
