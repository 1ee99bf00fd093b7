"""Vmapped ensembles: K training runs that share everything but the learning rate and the seed,
trained together as one batched computation with ``torch.func``.

    payloads = train_ensemble([replace(base, lr=lr, seed=s) for lr in lrs for s in seeds])

Each member is exactly the run :func:`replication.train.train` would do alone, only batched:

- initialization: the member's own model built with its seed (:func:`replication.train.build_model`),
  the K parameter sets stacked along a new leading dimension;
- data order: a CPU generator per member seeded with its seed, one permutation per epoch, batches of
  S_e examples, ``floor(N / S_e)`` steps (the last N mod S_e examples unused), as the single run;
- step: ``vmap(functional_call)`` computes all K forward passes on their own batches at once
  (a batched matmul for an MLP); the sum over members of each member's mean cross-entropy is
  differentiated by autograd (member k's parameters only affect member k's loss, so each gets the
  gradient of its own loss); then plain / momentum SGD with weight decay, as ``torch.optim.SGD``,
  with a learning rate per member (η_k · lr_schedule.at(e));
- metrics, best-validation parameters, Hessian probes and divergence per member, as the single run;
  a diverged member is dropped from the batch and the others continue;
- training to a target (``target_loss``): a member whose training loss reaches the target at the
  end of an epoch takes its Hessian probes there (as the single run) and leaves the batch, as a
  diverged member does, so its parameters stop changing and the others continue.

So a member's history equals the single run's up to float rounding (batched kernels sum in another
order): within ~1e-5 relative after a few epochs on CPU; accuracies can differ by an example at a
tie.  The payloads say ``trained_as="vmapped ensemble of K"``; their ``timing`` is the whole
ensemble's (``timing_shared_by`` = K).

Who can be batched (:func:`can_ensemble`): models without batch norm or other buffers, no
augmentation, the same batch size, schedules, data, model and epochs (:func:`group_key`).
"""
from __future__ import annotations

import copy
import hashlib
import time
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from . import models, provenance
from .config import canonical_json
from .train import (Recorder, TrainConfig, synchronize, build_model, epoch_metrics,
                    eval_batch, evaluate_sets, hessian_indices, hessian_probe, prepare_split)

#: the fields in which members of one ensemble may differ
MEMBER_FIELDS = ("lr", "seed")



def group_key(cfg: TrainConfig) -> str:
    """Configs with equal group keys differ at most in lr and seed (and can share an ensemble)."""
    d = cfg.to_dict()
    for name in MEMBER_FIELDS:
        d.pop(name)
    return hashlib.sha256(canonical_json({"kind": cfg.kind, "v": cfg.algorithm_version, **d}).encode()).hexdigest()


def can_ensemble(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` can be a member of a vmapped ensemble: no augmentation, and a model without
    batch norm, hence without buffers (a pure function of its parameters), read from the config's
    model description (:func:`replication.models.has_batchnorm`; nothing is built)."""
    if cfg.augment or cfg.precision != "float32" or cfg.channels_last:
        return False                    # the throughput options run as single runs
    return not models.has_batchnorm(cfg.model, **cfg.options)


def train_ensemble(configs: Sequence[TrainConfig], progress: Callable[[float], None] | None = None,
                   checkpoint=None) -> list[dict]:
    """Train ``configs`` (same :func:`group_key`, :func:`can_ensemble`) together; one payload each, in order.

    ``progress(n)`` is called with the number of run-epochs just finished (on resuming, first with
    those the checkpoint had finished).  ``checkpoint`` (a :class:`replication.store.Checkpoint`, or
    None): its state is resumed when there is one, and ``checkpoint.maybe_save(state_fn)`` is offered
    the state at the end of every epoch: the stacked parameters and momentum buffers, each member's
    generator state and recorder, the rows still training.  A resumed ensemble computes exactly
    what the uninterrupted one would (same device, same thread count); its payloads say from which
    epoch it was resumed (``resumed_from_epoch``, None when it was not)."""
    configs = list(configs)
    if not configs:
        return []
    keys = {group_key(c) for c in configs}
    if len(keys) != 1:
        raise ValueError("train_ensemble: the configs differ in more than lr and seed; group them with "
                         "replication.runs.train_all")
    if not all(can_ensemble(c) for c in configs):
        raise ValueError(f"train_ensemble: model {configs[0].model!r} with options {configs[0].options} "
                         "(or augmentation) cannot be vmapped; train these runs one at a time")
    base = configs[0]
    device = torch.device(base.device)
    K = len(configs)
    split = prepare_split(base, device)
    X, y, N = split.x_train, split.y_train, split.n_train
    built = [build_model(c) for c in configs]
    names = [n for n, _ in built[0].named_parameters()]
    params = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in built]).to(device)
              for n in names}
    template = copy.deepcopy(built[0]).to("meta")
    probe_model = built[0].to(device)          # a module to load one member into for Hessian probes
    n_parameters = models.n_parameters(built[0])
    del built

    def member_forward(p, x):
        return functional_call(template, p, (x,))

    train_forward = vmap(member_forward, in_dims=(0, 0))
    eval_forward = vmap(member_forward, in_dims=(0, None))

    members = list(range(K))                    # original index of each row of the stacked tensors
    gens = [torch.Generator(device="cpu").manual_seed(int(c.seed)) for c in configs]
    recs = [Recorder(c, split) for c in configs]
    finals: list[dict | None] = [None] * K
    momentum, wd = base.momentum, base.weight_decay
    bufs: dict[str, torch.Tensor] | None = None
    h_idx = hessian_indices(base) if base.hessian_epochs else None
    chunk = max(256, eval_batch(base) * 4 // K) if base.model == "mlp" else max(64, eval_batch(base) // K)

    def member_state(row: int) -> dict:
        return {n: params[n][row].detach().cpu().clone() for n in names}

    def probe(row: int, epoch: int) -> None:
        probe_model.load_state_dict({n: params[n][row].detach() for n in names})
        recs[members[row]].hessian.append(hessian_probe(probe_model, split, h_idx, configs[members[row]], epoch))

    def state() -> dict:
        recorders = [{k: v for k, v in vars(r).items() if k != "cfg"} for r in recs]
        return {"epoch": e + 1, "keys": [c.key for c in configs], "members": list(members),
                "params": {n: params[n].detach() for n in names}, "bufs": bufs,
                "gens": [g.get_state() for g in gens], "recorders": recorders, "finals": finals}

    start_epoch, resumed_from = 0, None
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None and saved.get("keys") == [c.key for c in configs]:
        start_epoch = resumed_from = saved["epoch"]
        members, finals, bufs = list(saved["members"]), list(saved["finals"]), saved["bufs"]
        params = {n: saved["params"][n].to(device) for n in names}
        if bufs is not None:
            bufs = {n: b.to(device) for n, b in bufs.items()}
        for g, st in zip(gens, saved["gens"]):
            g.set_state(st)
        for r, fields in zip(recs, saved["recorders"]):
            vars(r).update(fields)
        if progress is not None:
            progress(sum(base.epochs if recs[i].diverged or recs[i].stopped else start_epoch for i in range(K)))
    elif 0 in base.hessian_epochs:
        for row in range(len(members)):
            probe(row, 0)
    for e in range(start_epoch, base.epochs):
        if not members:
            break
        S = base.batch_size_at(e)
        steps = N // S
        lr = torch.tensor([configs[i].lr_at(e) for i in members], dtype=X.dtype, device=device)
        orders = torch.stack([torch.randperm(N, generator=gens[i]) for i in members]).to(device)
        k_now = len(members)
        plist = [params[n].requires_grad_() for n in names]
        start = time.perf_counter()
        loss_sum = torch.zeros(k_now, device=device)
        for k in range(steps):
            idx = orders[:, k * S:(k + 1) * S]
            logits = train_forward(params, X[idx])
            C = logits.shape[-1]
            losses = nn.functional.cross_entropy(logits.reshape(k_now * S, C), y[idx].reshape(-1),
                                                 reduction="none").view(k_now, S).mean(1)
            grads = torch.autograd.grad(losses.sum(), plist)
            with torch.no_grad():
                loss_sum += losses
                for j, (n, g) in enumerate(zip(names, grads)):
                    p = params[n]
                    if wd:
                        g = g.add(p, alpha=wd)
                    if momentum:
                        if bufs is None:
                            bufs = {}
                        if n not in bufs:
                            bufs[n] = g.clone()
                        else:
                            bufs[n].mul_(momentum).add_(g)
                        g = bufs[n]
                    p.sub_(lr.view(-1, *([1] * (p.dim() - 1))) * g)
        batch_loss = (loss_sum / steps).tolist()
        synchronize(device)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        with torch.no_grad():
            frozen = {n: params[n].detach() for n in names}
            evaluated = evaluate_sets(lambda xb: eval_forward(frozen, xb), split, chunk)
        eval_seconds = time.perf_counter() - start
        keep = []
        for row, i in enumerate(members):
            ok = recs[i].add_epoch(e + 1, batch_loss[row], epoch_metrics(evaluated, split, row),
                                   train_seconds, eval_seconds, lambda row=row: member_state(row))
            if ok and configs[i].probe_after(e + 1, recs[i].stopped):
                probe(row, e + 1)
            if ok and not recs[i].stopped:
                keep.append(row)
            else:                               # diverged, or reached its target: leaves the batch
                finals[i] = member_state(row)
                if progress is not None:
                    progress(base.epochs - e - 1)
        if progress is not None:
            progress(k_now)
        if len(keep) < k_now:                   # drop diverged and finished members from the batch
            rows = torch.tensor(keep, dtype=torch.long, device=device)
            params = {n: params[n].detach()[rows] for n in names}
            if bufs is not None:
                bufs = {n: b[rows] for n, b in bufs.items()}
            members = [members[r] for r in keep]
        if checkpoint is not None:
            checkpoint.maybe_save(state)
    for row, i in enumerate(members):
        finals[i] = member_state(row)
    name = provenance.device_name(str(device))
    return [recs[i].payload(finals[i], n_parameters, trained_as=f"vmapped ensemble of {K}", device_name=name,
                            timing_shared_by=K, resumed_from_epoch=resumed_from) for i in range(K)]
