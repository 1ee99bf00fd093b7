"""Benchmark: training throughput on one CPU, textbook loop vs ours (single run, vmapped grid).

Network 784-400-400-400-10 ReLU MLP, plain SGD (lr 0.05), batch 128, Fashion-MNIST; one process.

(a) textbook: ``torchvision.datasets.FashionMNIST(root, download=False, transform=ToTensor +
    Normalize)`` over the decompressed idx files that ``replication.data`` keeps in its cache, a
    ``DataLoader(batch_size=128, shuffle=True)`` (num_workers=0, the default), an ``nn.Sequential``
    MLP and ``torch.optim.SGD``; ``--steps`` steps after a few warm-up steps.
(b) ours, one run: ``replication.train.train`` (data resident as tensors, batches by index) for one
    epoch on ``--steps * 128`` examples; the training steps only (its per-epoch evaluation is
    timed separately and reported).
(c) ours, a grid of 16 runs (16 learning rates x seeds) trained as one vmapped ensemble by
    ``replication.ensemble.train_ensemble``, same examples and epoch; samples/s per
    run-equivalent = 16 x examples / time of the training steps.

Each measurement is repeated ``--rounds`` times, interleaved (a, b, c, a, b, c, ...), and the median
is reported, because the machine is shared.

Usage:  .venv/bin/python benchmarks/bench_training.py [--threads 2] [--steps 100] [--rounds 3]
Writes the markdown table to benchmarks/results/training_<host>.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

HIDDEN = (400, 400, 400)
BATCH = 128
LR = 0.05
MEMBERS = 16


def cpu_name() -> str:
    from replication.provenance import cpu_model

    return cpu_model()


def textbook(steps: int, seed: int) -> float:
    """(a): samples/s of the torchvision Dataset + DataLoader loop."""
    import torchvision
    from torchvision import transforms

    from replication import paths
    from replication.data import load_dataset

    ds = load_dataset("fashion-mnist")          # makes sure the verified idx files are in the cache
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((ds.mean,), (ds.std,))])
    train_set = torchvision.datasets.FashionMNIST(str(paths.data_root()), train=True, download=False, transform=tf)
    torch.manual_seed(seed)
    loader = torch.utils.data.DataLoader(train_set, batch_size=BATCH, shuffle=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                          nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    warmup, done, start = 5, 0, None
    model.train()
    for x, y in loader:
        if done == warmup:
            start = time.perf_counter()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += 1
        if done == warmup + steps:
            break
    return steps * BATCH / (time.perf_counter() - start)


def base_config(steps: int):
    from replication.train import TrainConfig

    return TrainConfig(dataset="fashion-mnist", n_train=steps * BATCH, n_val=0, n_test=1000, model="mlp",
                       model_options={"hidden": HIDDEN}, lr=LR, batch_size=BATCH, epochs=1, seed=0)


def ours_single(steps: int, seed: int) -> tuple[float, float]:
    """(b): samples/s of the training steps, and seconds of the epoch's evaluation."""
    from replication.train import train

    cfg = dataclasses.replace(base_config(steps), seed=seed)
    out = train(cfg)
    return cfg.n_train / out["timing"]["train_seconds"][0], out["timing"]["eval_seconds"][0]


def ours_grid(steps: int, seed: int) -> tuple[float, float]:
    """(c): samples/s per run-equivalent of a 16-member vmapped ensemble, and the evaluation seconds."""
    from replication.ensemble import train_ensemble

    base = base_config(steps)
    lrs = [0.01, 0.02, 0.05, 0.1]
    configs = [dataclasses.replace(base, lr=lrs[k % 4], seed=seed * MEMBERS + k) for k in range(MEMBERS)]
    out = train_ensemble(configs)
    return MEMBERS * base.n_train / out[0]["timing"]["train_seconds"][0], out[0]["timing"]["eval_seconds"][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100, help="training steps of batch 128 per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from replication.train import load_data

    load_data(base_config(args.steps))          # load (and verify) the data before timing
    a, b, c, b_eval, c_eval = [], [], [], [], []
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    for r in range(args.rounds):
        a.append(textbook(args.steps, r))
        rate, ev = ours_single(args.steps, r)
        b.append(rate)
        b_eval.append(ev)
        rate, ev = ours_grid(args.steps, r)
        c.append(rate)
        c_eval.append(ev)
        print(f"round {r + 1}: (a) {a[-1]:.0f}  (b) {b[-1]:.0f}  (c) {c[-1]:.0f} samples/s per run", flush=True)
    total = time.perf_counter() - start
    ma, mb, mc = statistics.median(a), statistics.median(b), statistics.median(c)
    host = socket.gethostname()
    n = args.steps * BATCH
    lines = [
        "# Training throughput: textbook DataLoader loop vs our single run vs our vmapped grid",
        "",
        f"CPU: {cpu_name()}; torch {torch.__version__}; {torch.get_num_threads()} threads; host {host}; "
        f"date {datetime.datetime.now().isoformat(timespec='seconds')}; shared machine, timings are noisy.",
        f"Network 784-400-400-400-10 ReLU MLP, plain SGD, batch {BATCH}, Fashion-MNIST; {args.steps} steps "
        f"({n} examples) per measurement, median of {args.rounds} interleaved rounds; whole benchmark {total:.0f} s; "
        f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"({os.cpu_count()} CPUs).",
        "",
        "| loop | samples/s per run (median) | rounds | vs (a) |",
        "|---|---|---|---|",
        f"| (a) torchvision FashionMNIST + DataLoader (num_workers=0) + nn.Sequential/SGD | {ma:,.0f} | "
        f"{', '.join(f'{v:,.0f}' for v in a)} | 1.00× |",
        f"| (b) `replication.train.train`, one run (training steps) | {mb:,.0f} | "
        f"{', '.join(f'{v:,.0f}' for v in b)} | {mb / ma:.2f}× |",
        f"| (c) `replication.ensemble.train_ensemble`, {MEMBERS} MLPs vmapped (per run-equivalent) | {mc:,.0f} | "
        f"{', '.join(f'{v:,.0f}' for v in c)} | {mc / ma:.2f}× |",
        "",
        f"Not in (b)/(c): the evaluation after the epoch (train set {n} + test 1000 examples, every member), "
        f"median {statistics.median(b_eval):.2f} s for (b) and {statistics.median(c_eval):.2f} s for the "
        f"{MEMBERS} members of (c).",
    ]
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / f"training_{host}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
