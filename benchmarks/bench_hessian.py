"""Benchmark: top Hessian eigenvalues, our Lanczos vs PyHessian's power iteration, on one CPU.

Model: 784-400-400-400-10 ReLU MLP trained a couple of epochs on Fashion-MNIST (plain SGD).
Hessian: cross-entropy averaged over 10,000 training samples, eval mode, one batch (both
libraries reuse one gradient graph, so one HVP costs the same in both: one backward pass).

Reference: a long Lanczos run (float64 by default) to residual ≤ 1e-7·|λ|.
Measured, in this one process on the same CPU, for λ_max and for the top-5:

1. "until 1e-3": HVPs and wall time until the running estimate is, and stays, within 1e-3
   relative of the reference (ours: the Ritz values after each Lanczos step; PyHessian: the
   Rayleigh quotient after each HVP of its power iteration, recorded by wrapping its
   ``hessian_vector_product``; for top-5 its cost is the sum, over the five deflated power
   iterations, of the HVPs each needs to get there, i.e. PyHessian with an ideal stopping rule).
2. "as run": the values returned by each library with its own stopping rule (ours: residual
   tol=1e-3; PyHessian: its default relative-change tol=1e-3, maxIter=100, and a tighter tol),
   their largest relative error, HVP count and time.

Each seed (``--seeds``, default 0 1 2) trains its own model, draws its own 10,000 samples and
start vectors.  Exits with status 1 when ours does not reach 1e-3 of the reference for some
target on some seed.

Usage:  .venv/bin/python benchmarks/bench_hessian.py [--threads 2] [--seeds 0 1 2] [--no-pyhessian]
Writes the markdown tables to benchmarks/results/hessian_<host>.md.
"""
from __future__ import annotations

import argparse
import copy
import gzip
import platform
import socket
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replication.hessian import HessianOperator, lanczos  # noqa: E402

REL = 1e-3
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530


def load_fashion_mnist() -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        from replication.data import load_dataset

        ds = load_dataset("fashion-mnist", allow_download=False)
        return ds.x_train.reshape(ds.n_train, -1), ds.y_train, f"replication.data ({ds.source})"
    except Exception as error:  # the package's loader is optional here
        print(f"replication.data unavailable ({type(error).__name__}: {error}); reading idx files")

    def idx(name, magic):
        with gzip.open(DEBIAN / name, "rb") as f:
            data = f.read()
        head = np.frombuffer(data, ">i4", count=4 if magic == 2051 else 2)
        assert head[0] == magic, f"{name}: bad magic {head[0]}"
        return np.frombuffer(data, np.uint8, offset=4 * head.size)

    pixels = idx("train-images-idx3-ubyte.gz", 2051).reshape(-1, 784)
    labels = idx("train-labels-idx1-ubyte.gz", 2049)
    x = (torch.from_numpy(pixels.astype(np.float32)) / 255.0 - MEAN) / STD
    return x, torch.from_numpy(labels.astype(np.int64)), str(DEBIAN)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                         nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 10))


def train(model, x, y, epochs, lr=0.05, batch=128, seed=0):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for s in range(0, len(x), batch):
            i = order[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[i]), y[i]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    return acc


def first_within(trajectory, ref):
    """(n_hvp, time) of the first record after which every estimate stays within REL of ref."""
    hit = None
    for n, t, values in trajectory:
        ok = len(values) == len(ref) and all(abs(v - r) <= REL * abs(r) for v, r in zip(values, ref))
        if ok and hit is None:
            hit = (n, t)
        elif not ok:
            hit = None
    return hit


def rel_err(values, ref):
    values = sorted(values, reverse=True)
    return max(abs(v - r) / abs(r) for v, r in zip(values, ref))


def run_ours(model, loss_fn, x, y, k, ref, seed):
    trajectory = []
    start = time.perf_counter()

    def record(n_iter, n_hvp, values, residuals):
        trajectory.append((n_hvp, time.perf_counter() - start, [float(v) for v in values]))

    H = HessianOperator(model, loss_fn, x, y, mode="eval")  # graph built inside the timing
    result = lanczos(H, k=k, tol=REL, seed=seed, callback=record, return_eigenvectors=False)
    elapsed = time.perf_counter() - start
    return result, elapsed, first_within(trajectory, ref[:k])


class PyHessianProbe:
    """Wraps pyhessian's module-level HVP and orthnormal to count HVPs and record
    (eigen-index, time, Rayleigh quotient) after each HVP; stops nothing."""

    def __init__(self):
        import pyhessian  # noqa: F401  (the package re-exports the class under the module's name)

        ph = sys.modules["pyhessian.hessian"]
        self.ph = ph
        self._hvp, self._orth = ph.hessian_vector_product, ph.orthnormal
        self.records = []
        self.index = 0
        self.t_graph = 0.0
        self.start = time.perf_counter()

        def orthnormal(w, v_list):
            self.index = len(v_list)  # how many eigenvectors PyHessian has already found
            return self._orth(w, v_list)

        def hessian_vector_product(gradsH, params, v):
            hv = self._hvp(gradsH, params, v)
            rq = float(sum(torch.sum(a * b) for a, b in zip(hv, v)))
            self.records.append((self.index, time.perf_counter() - self.start, rq))
            return hv

        ph.orthnormal, ph.hessian_vector_product = orthnormal, hessian_vector_product

    def restore(self):
        self.ph.hessian_vector_product, self.ph.orthnormal = self._hvp, self._orth


def run_pyhessian(model, loss_fn, x, y, top_n, tol, max_iter, ref, seed):
    from pyhessian import hessian

    torch.manual_seed(seed)  # PyHessian draws its start vectors from the global generator
    work = copy.deepcopy(model)
    probe = PyHessianProbe()
    try:
        start = time.perf_counter()
        probe.start = start
        comp = hessian(work, loss_fn, data=(x, y), cuda=False)
        probe.t_graph = time.perf_counter() - start
        values, _ = comp.eigenvalues(top_n=top_n, tol=tol, maxIter=max_iter)
        elapsed = time.perf_counter() - start
    finally:
        probe.restore()
    del comp, work
    # ideal stopping rule: per deflated power iteration i, the first HVP after which its Rayleigh
    # quotient stays within REL of the reference eigenvalue of the same rank.  Time: the
    # durations of the HVPs counted (the graph build is added by the caller).
    durations = np.diff([probe.t_graph] + [t for _, t, _ in probe.records])
    blocks = []
    for i in range(top_n):
        block = [j for j, (idx, _, _) in enumerate(probe.records) if idx == i]
        hit = None
        for pos, j in enumerate(block):
            ok = abs(probe.records[j][2] - ref[i]) <= REL * abs(ref[i])
            if ok and hit is None:
                hit = pos
            elif not ok:
                hit = None
        spent = float(sum(durations[j] for j in block[: (hit if hit is not None else len(block) - 1) + 1]))
        blocks.append((None if hit is None else hit + 1, spent, len(block)))
    return list(values), elapsed, len(probe.records), probe.t_graph, blocks


def pyhessian_oracle(runs, k):
    """Cheapest (HVPs, time) over the PyHessian runs whose first k power iterations all reached
    REL, or None with the largest number of HVPs spent trying."""
    best, tried = None, 0
    for _, _, _, t_graph, blocks in runs:
        if len(blocks) < k:
            continue
        if all(b[0] is not None for b in blocks[:k]):
            cost = (sum(b[0] for b in blocks[:k]), t_graph + sum(b[1] for b in blocks[:k]))
            if best is None or cost[0] < best[0]:
                best = cost
        else:
            tried = max(tried, sum(b[0] if b[0] is not None else b[2] for b in blocks[:k]))
    return best, tried


def host_tag() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return cpu, socket.gethostname()


def run_seed(args, seed, x_all, y_all, source):
    """Markdown lines for one seed, and whether ours reached 1e-3 for every target."""
    torch.manual_seed(seed)
    model = mlp()
    cache = None if args.model_cache is None else args.model_cache / f"mlp_seed{seed}.pt"
    t0 = time.perf_counter()
    if cache is not None and cache.exists():
        model.load_state_dict(torch.load(cache))
        acc, t_train = float("nan"), 0.0
    else:
        acc = train(model, x_all, y_all, args.epochs, seed=seed)
        t_train = time.perf_counter() - t0
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), cache)
    model.eval()
    pick = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(seed))[: args.n_samples]
    x, y = x_all[pick].contiguous(), y_all[pick].contiguous()
    loss_fn = nn.CrossEntropyLoss()
    print(f"seed {seed}: data {source}; trained {args.epochs} epochs in {t_train:.0f} s, train accuracy {acc:.3f}")

    # reference
    t0 = time.perf_counter()
    dtype = torch.float64 if args.reference_dtype == "float64" else None
    H_ref = HessianOperator(model, loss_fn, x, y, mode="eval", dtype=dtype)
    ref = lanczos(H_ref, k=6, tol=args.reference_tol, seed=seed + 1000, max_iter=400,
                  return_eigenvectors=False)
    del H_ref
    t_ref = time.perf_counter() - t0
    ref_values = list(ref.eigenvalues)
    print(f"reference ({args.reference_dtype}, {ref.n_hvp} HVPs, {t_ref:.0f} s): "
          f"{np.round(ref_values, 5).tolist()}  residual/|λ| ≤ "
          f"{max(r / abs(v) for r, v in zip(ref.residuals, ref.eigenvalues)):.1e}")
    if not ref.all_converged:
        print("WARNING: reference did not converge to the requested tolerance")

    rows, summary = [], {}
    for k in (1, 5):
        res, t, hit = run_ours(model, loss_fn, x, y, k, ref_values, seed)
        err = rel_err(res.eigenvalues, ref_values)
        rows.append(("ours: Lanczos", f"top-{k}, tol=1e-3 (residual)", res.eigenvalues, err,
                     res.n_hvp, t, hit))
        summary[("ours", k)] = hit
        print(rows[-1])

    ph_runs = []
    if not args.no_pyhessian:
        runs = [(1, 1e-3, 100), (5, 1e-3, 100), (5, args.pyhessian_tight_tol, args.pyhessian_max_iter)]
        for top_n, tol, max_iter in runs:
            out = run_pyhessian(model, loss_fn, x, y, top_n, tol, max_iter, ref_values, seed)
            ph_runs.append(out)
            values, t, n, _, blocks = out
            rows.append(("PyHessian: power", f"top-{top_n}, tol={tol:g}, maxIter={max_iter}", values,
                         rel_err(values, ref_values), n, t, None))
            print(rows[-1], blocks)
    for k in (1, 5):
        summary[("pyhessian", k)] = pyhessian_oracle(ph_runs, k) if ph_runs else (None, 0)

    lines = [
        f"## Seed {seed}",
        "",
        f"Model 784-400-400-400-10 ReLU, {args.epochs} epochs SGD on Fashion-MNIST (train acc {acc:.3f}); "
        f"Hessian of the mean cross-entropy over {len(x)} training samples, eval mode, "
        f"{sum(p.numel() for p in model.parameters())} parameters, float32.",
        f"Reference: Lanczos in {args.reference_dtype}, {ref.n_hvp} HVPs, residual ≤ "
        f"{args.reference_tol:g}·|λ|: λ1..λ6 = {', '.join(f'{v:.5f}' for v in ref_values)}.",
        "",
        "### Cost until within 1e-3 relative of the reference (and staying there)",
        "",
        "| target | ours: HVPs | ours: time (s) | PyHessian: HVPs | PyHessian: time (s) | HVP ratio | time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    reached = True
    for k in (1, 5):
        o, (p, tried) = summary[("ours", k)], summary[("pyhessian", k)]
        target = "λ_max" if k == 1 else "top-5"
        if o is None:
            reached = False
            lines.append(f"| {target} | not reached | | | | | |")
        elif not ph_runs:
            lines.append(f"| {target} | {o[0]} | {o[1]:.1f} | not run | | | |")
        elif p is None:
            lines.append(f"| {target} | {o[0]} | {o[1]:.1f} | not reached within {tried} HVPs | | "
                         f"> {tried / o[0]:.1f}× | |")
        else:
            lines.append(f"| {target} | {o[0]} | {o[1]:.1f} | {p[0]} | {p[1]:.1f} | {p[0] / o[0]:.1f}× | "
                         f"{p[1] / o[1]:.1f}× |")
    lines += [
        "",
        "### As run (each library's own stopping rule)",
        "",
        "| method | setting | eigenvalues returned | max rel. error | HVPs | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, setting, values, err, n, t, _ in rows:
        vals = ", ".join(f"{v:.4f}" for v in values)
        lines.append(f"| {name} | {setting} | {vals} | {err:.1e} | {n} | {t:.1f} |")
    stopped = {k: next(r[4] for r in rows if r[1] == f"top-{k}, tol=1e-3 (residual)") for k in (1, 5)}
    return lines + [""], reached, summary, stopped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--reference-dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--reference-tol", type=float, default=1e-7)
    parser.add_argument("--pyhessian-max-iter", type=int, default=100,
                        help="cap per eigenvalue for the tight-tolerance PyHessian top-5 run")
    parser.add_argument("--pyhessian-tight-tol", type=float, default=1e-5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="one trained model, sample and start vector per seed")
    parser.add_argument("--no-pyhessian", action="store_true", help="measure ours only")
    parser.add_argument("--model-cache", type=Path, default=None,
                        help="folder to load/save the trained weights (development only)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct, got {args.seeds}")

    torch.set_num_threads(args.threads)
    t_all = time.perf_counter()
    x_all, y_all, source = load_fashion_mnist()
    cpu, host = host_tag()
    lines = [
        "# Hessian top eigenvalues: ours (Lanczos) vs PyHessian (power iteration)",
        "",
        f"CPU: {cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads (shared machine: "
        f"timings are noisy); host {host}. Seeds: {', '.join(map(str, args.seeds))}.",
        "",
        "PyHessian's cost assumes an ideal stopping rule: each deflated power iteration stopped at the "
        "first HVP after which its Rayleigh quotient stays within 1e-3 of the reference, best over the runs "
        "listed (graph build included for both). Ours is the Lanczos run listed, whose own stopping rule "
        "(tol=1e-3) stops it. Times include building the gradient graph.",
        "",
        "| seed | ours λ_max: HVPs to 1e-3 | (stopped at) | ours top-5: HVPs to 1e-3 | (stopped at) |",
        "|---|---|---|---|---|",
    ]
    per_seed, failed = [], []
    for seed in args.seeds:
        seed_lines, reached, summary, stopped = run_seed(args, seed, x_all, y_all, source)
        per_seed += seed_lines
        if not reached:
            failed.append(seed)
        cells = [str(summary[("ours", k)][0]) if summary[("ours", k)] else "not reached" for k in (1, 5)]
        lines.append(f"| {seed} | {cells[0]} | {stopped[1]} | {cells[1]} | {stopped[5]} |")
    lines += [""] + per_seed + [f"Total benchmark wall time: {time.perf_counter() - t_all:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = args.out or ROOT / "benchmarks" / "results" / f"hessian_{host.split('.')[0] or 'cpu'}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"written to {out}")
    if failed:
        print(f"FAILED: ours did not reach 1e-3 of the reference on seed(s) {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
