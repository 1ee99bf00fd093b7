"""The Hessian of an averaged loss as a linear operator on flat parameter vectors.

The loss is the average over the N selected samples,

    L(θ) = (1/N) Σ_i ℓ(f_θ(x_i), y_i) = Σ_b (n_b / N) · loss_fn(f_θ(X_b), y_b),

where ``loss_fn`` returns the *mean* over its batch (``reduction="mean"``).  Batches are weighted
by their size n_b, so a short last batch does not bias the result.  ``matvec(v)`` returns ∇²L(θ) v
exactly (no finite differences), by one of two methods:

- ``"double_backward"``: g = ∂L/∂θ with ``create_graph=True``, then Hv = ∂(g·v)/∂θ.  When the
  data fit in one batch the gradient graph is built once and every HVP is one backward pass.
- ``"func"``: forward-over-reverse, ``jvp(grad(L), θ, v)`` with ``torch.func.functional_call``.

``method="auto"`` picks ``"double_backward"`` (measured faster on CPU: 0.33 s vs 0.68 s per HVP at
10k samples for a 784-400-400-400-10 MLP; no GPU measurement was made).

Mode is never switched silently: ``mode`` ("eval" or "train") must be given.  ``mode="train"``
with active dropout raises (the Hessian would be random); ``mode="train"`` with batch norm is
allowed (batch statistics are used, so the Hessian depends on the batching) and recorded in
:meth:`HessianOperator.info`.  The model's own mode flags are restored after every call and its
buffers (batch-norm running statistics) are never updated.  θ is a snapshot taken at construction.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import torch
from torch import nn

METHODS = ("double_backward", "func")
MODES = ("eval", "train")
BATCH = 2_500   # Hessians over more samples than this are computed in batches of it (bounded memory)


def batch_size_for(n_samples: int) -> int | None:
    """The ``batch_size`` for a :class:`HessianOperator` over ``n_samples`` examples: ``None`` (one
    batch) up to :data:`BATCH` samples, else batches of :data:`BATCH` — the one batching rule of the
    training probes, the measurements and the interpolation endpoints."""
    return None if n_samples <= BATCH else BATCH

_DROPOUT_TYPES = tuple(
    getattr(nn, name)
    for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")
    if hasattr(nn, name)
)


def active_dropout(model: nn.Module) -> list[str]:
    """Names of submodules that drop activations at random in train mode (p > 0)."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, _DROPOUT_TYPES) and module.p > 0:
            found.append(name or type(module).__name__)
        elif isinstance(module, nn.MultiheadAttention) and module.dropout > 0:
            found.append(name or type(module).__name__)
    return found


def batchnorm_modules(model: nn.Module) -> list[str]:
    """Names of batch-norm submodules (their train-mode output depends on the whole batch)."""
    return [name or type(m).__name__ for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def resolve_method(method: str, device: torch.device | str = "cpu") -> str:
    if method == "auto":
        return "double_backward"
    if method not in METHODS:
        raise ValueError(f"method must be 'auto', 'double_backward' or 'func', got {method!r}")
    return method


class HessianOperator:
    """∇²L(θ) of the size-weighted average loss over ``(X, y)`` (or ``X[indices], y[indices]``).

    Parameters
    ----------
    model, loss_fn
        ``loss_fn(model(X_b), y_b)`` must return the mean loss over the batch.
    X, y
        The data as tensors (moved to the parameters' device; X cast to ``dtype`` if floating).
    mode
        ``"eval"`` or ``"train"``; required (see module docstring).
    batch_size
        ``None``: one batch.  Otherwise batches of this size, weighted by their size.
    method
        ``"auto"`` | ``"double_backward"`` | ``"func"``.
    dtype
        ``None`` keeps the parameters' dtype; another dtype evaluates a cast deep copy of the model
        (the user's model is not touched).
    indices
        Optional subset of sample indices.
    cache_graph
        Keep the gradient graph between HVPs (double backward only).  ``None``: only when one batch.

    Flat vectors follow ``model.named_parameters()`` order over parameters with ``requires_grad``.
    ``n_hvp`` counts full-data HVPs performed (``to_dense`` included).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable,
        X: torch.Tensor,
        y: torch.Tensor,
        *,
        mode: str | None = None,
        batch_size: int | None = None,
        method: str = "auto",
        dtype: torch.dtype | None = None,
        indices: Sequence[int] | torch.Tensor | None = None,
        cache_graph: bool | None = None,
    ):
        if mode is None:
            raise ValueError(
                "mode must be given explicitly: 'eval' (model.eval(): dropout off, batch norm uses "
                "running statistics) or 'train' (model.train()); it is never chosen silently")
        if mode not in MODES:
            raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
        if getattr(loss_fn, "reduction", "mean") != "mean":
            raise ValueError("loss_fn must average over the batch (reduction='mean'); "
                             f"got reduction={loss_fn.reduction!r}")
        dropout = active_dropout(model)
        if mode == "train" and dropout:
            raise ValueError(
                f"mode='train' with active dropout ({', '.join(dropout)}) makes the Hessian random: "
                "use mode='eval' or set dropout p=0")
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("model has no parameters with requires_grad=True")
        param_dtype = named[0][1].dtype
        self.dtype = dtype if dtype is not None else param_dtype
        if not self.dtype.is_floating_point:
            raise ValueError(f"dtype must be floating point, got {self.dtype}")
        if self.dtype != param_dtype or any(p.dtype != self.dtype for _, p in named):
            model = copy.deepcopy(model).to(self.dtype)  # never cast the user's model
            named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.device = named[0][1].device
        self.method = resolve_method(method, self.device)
        self.mode = mode
        self.batchnorm = batchnorm_modules(model)
        if self.method == "func" and mode == "train" and self.batchnorm:
            # torch.func cannot update running statistics in place; in train mode they are unused,
            # so a private copy without them computes the same function.
            model = copy.deepcopy(model)
            torch.func.replace_all_batch_norm_modules_(model)
            named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.model = model
        self.loss_fn = loss_fn
        self._names = [n for n, _ in named]
        self._shapes = [p.shape for _, p in named]
        self._numels = [p.numel() for _, p in named]
        self._params = [p.detach().clone() for _, p in named]  # θ: a snapshot
        self._buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
        self.dim = int(sum(self._numels))

        if indices is not None:
            index = torch.as_tensor(indices, dtype=torch.long, device=X.device)
            X, y = X[index], y[index.to(y.device)]
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
        if X.shape[0] == 0:
            raise ValueError("no samples")
        X = X.to(self.device, dtype=self.dtype if X.is_floating_point() else None)
        y = y.to(self.device, dtype=self.dtype if y.is_floating_point() else None)
        self.n_samples = int(X.shape[0])
        self.batch_size = None if batch_size is None else int(batch_size)
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        size = self.n_samples if self.batch_size is None else min(self.batch_size, self.n_samples)
        self._batches = [(X[s:s + size], y[s:s + size]) for s in range(0, self.n_samples, size)]
        self.n_batches = len(self._batches)
        if cache_graph is None:
            cache_graph = self.n_batches == 1
        self.cache_graph = bool(cache_graph) and self.method == "double_backward"
        self._graph: list | None = None
        self.n_hvp = 0

    # ------------------------------------------------------------------ bookkeeping
    def info(self) -> dict:
        """What this Hessian is: stored next to every result computed from it."""
        return {
            "mode": self.mode,
            "method": self.method,
            "dtype": str(self.dtype).replace("torch.", ""),
            "dim": self.dim,
            "n_samples": self.n_samples,
            "batch_size": self.batch_size,
            "n_batches": self.n_batches,
            "batchnorm_in_train_mode": bool(self.batchnorm) and self.mode == "train",
        }

    def reset_counter(self) -> None:
        self.n_hvp = 0

    def release(self) -> None:
        """Free the cached gradient graph."""
        self._graph = None

    def flatten(self, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in tensors])

    def unflatten(self, vector: torch.Tensor) -> list[torch.Tensor]:
        if vector.shape != (self.dim,):
            raise ValueError(f"expected a flat vector of length {self.dim}, got shape {tuple(vector.shape)}")
        return [c.view(s) for c, s in zip(torch.split(vector, self._numels), self._shapes)]

    def parameters_vector(self) -> torch.Tensor:
        """θ, the point at which the Hessian is evaluated, as a flat vector."""
        return self.flatten(self._params)

    # ------------------------------------------------------------------ evaluation
    @contextmanager
    def _model_mode(self):
        saved = [(m, m.training) for m in self.model.modules()]
        self.model.train(self.mode == "train")
        try:
            yield
        finally:
            for module, training in saved:
                module.training = training

    def _loss(self, params: Sequence[torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        state = dict(zip(self._names, params))
        # the operator's own buffer copies: a train-mode batch norm updates them in place, but
        # train mode never reads them, and the user's model is never touched
        state.update(self._buffers)
        out = torch.func.functional_call(self.model, state, (X,))
        return self.loss_fn(out, y)

    def _weight(self, X: torch.Tensor) -> float:
        return X.shape[0] / self.n_samples

    def _gradient_graph(self, X, y):
        leaves = [p.detach().requires_grad_(True) for p in self._params]
        loss = self._loss(leaves, X, y) * self._weight(X)
        grads = torch.autograd.grad(loss, leaves, create_graph=True, allow_unused=True)
        return leaves, grads

    @staticmethod
    def _backward(leaves, grads, vs, retain: bool) -> list[torch.Tensor]:
        keep = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
        out = [torch.zeros_like(p) for p in leaves]
        if keep:
            hv = torch.autograd.grad([grads[i] for i in keep], leaves, grad_outputs=[vs[i] for i in keep],
                                     retain_graph=retain, allow_unused=True)
            out = [h if h is not None else o for h, o in zip(hv, out)]
        return out

    def _hvp_double_backward(self, vs):
        total = None
        with self._model_mode():
            if self.cache_graph and self._graph is None:
                self._graph = [self._gradient_graph(X, y) for X, y in self._batches]
            for b, (X, y) in enumerate(self._batches):
                if self.cache_graph:
                    leaves, grads = self._graph[b]
                    hv = self._backward(leaves, grads, vs, retain=True)
                else:
                    with torch.enable_grad():
                        leaves, grads = self._gradient_graph(X, y)
                    hv = self._backward(leaves, grads, vs, retain=False)
                total = hv if total is None else [t.add_(h) for t, h in zip(total, hv)]
        return total

    def _hvp_func(self, vs):
        total = None
        params = tuple(self._params)
        with self._model_mode(), warnings.catch_warnings():
            # torch.func's jvp decompositions call the deprecated torch.jit.script internally
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            for X, y in self._batches:
                w = self._weight(X)

                def loss(*p, X=X, y=y):
                    return self._loss(p, X, y)

                grad_fn = torch.func.grad(loss, argnums=tuple(range(len(params))))
                _, hv = torch.func.jvp(grad_fn, params, tuple(vs))
                hv = [h.detach() * w for h in hv]
                total = hv if total is None else [t.add_(h) for t, h in zip(total, hv)]
        return total

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for a flat vector v (any dtype/device; returned in this operator's dtype/device)."""
        v = torch.as_tensor(v).to(self.device, self.dtype).reshape(-1)
        vs = self.unflatten(v)
        with torch.enable_grad():
            if self.method == "double_backward":
                hv = self._hvp_double_backward(vs)
            else:
                hv = self._hvp_func(vs)
        self.n_hvp += 1
        return self.flatten([h.detach() for h in hv])

    __call__ = matvec

    def __matmul__(self, v):
        return self.matvec(v)

    def loss(self) -> float:
        """L(θ), the size-weighted average loss."""
        with torch.no_grad(), self._model_mode():
            return float(sum(self._loss(self._params, X, y).double() * self._weight(X) for X, y in self._batches))

    def gradient(self) -> torch.Tensor:
        """∇L(θ) as a flat vector."""
        total = None
        with torch.enable_grad(), self._model_mode():
            for X, y in self._batches:
                leaves = [p.detach().requires_grad_(True) for p in self._params]
                loss = self._loss(leaves, X, y) * self._weight(X)
                g = torch.autograd.grad(loss, leaves, allow_unused=True)
                g = [torch.zeros_like(p) if gi is None else gi for gi, p in zip(g, leaves)]
                total = g if total is None else [t.add_(gi) for t, gi in zip(total, g)]
        return self.flatten(total)

    def to_dense(self) -> torch.Tensor:
        """The full dim × dim Hessian (dim HVPs; small models only), symmetrized."""
        if self.dim > 20000:
            raise ValueError(f"to_dense would need {self.dim} HVPs and {self.dim}^2 entries")
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        H = torch.stack([self.matvec(e) for e in eye], dim=1)
        return 0.5 * (H + H.T)

    def as_scipy(self):
        """A ``scipy.sparse.linalg.LinearOperator`` (float64 numpy in and out)."""
        import numpy as np
        from scipy.sparse.linalg import LinearOperator

        def mv(x):
            x = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1))
            return self.matvec(x).double().cpu().numpy()

        return LinearOperator((self.dim, self.dim), matvec=mv, rmatvec=mv, dtype=np.float64)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v}" for k, v in self.info().items())
        return f"HessianOperator({items})"


def hvp(model, loss_fn, X, y, v, *, mode: str | None = None, **kwargs) -> torch.Tensor:
    """One Hessian-vector product (convenience wrapper around :class:`HessianOperator`)."""
    return HessianOperator(model, loss_fn, X, y, mode=mode, **kwargs).matvec(v)
