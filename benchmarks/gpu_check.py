"""GPU check: does every model train on this CUDA machine, and how fast?

For every model of ``replication.models.build`` (mlp, small_cnn on Fashion-MNIST; vgg11, resnet20/32/56
on CIFAR-10 with crop + flip augmentation):

1. seconds per epoch of the training steps at batch 128 and 1024 (the second of two epochs on
   ``--n-train`` examples, scaled to a full epoch of the dataset's training split less 5000
   validation examples), and the evaluation time per epoch (train + val + test sets, measured);
2. λ_max by Lanczos on ``--hessian-samples`` training examples after the run: seconds per HVP;
3. the smoke grid (2 learning rates x 2 seeds, 1 epoch) through ``replication.runs.train_all`` in a
   temporary store (vmapped ensembles for the models without batch norm);
4. checks for the MLP: an ensemble member equals its single run (max relative difference of the
   training loss), and the same config twice gives the same history (bit-identical or not).

Data: never downloaded (REPLICATION_OFFLINE=1).  CIFAR-10 is the real one when the data cache or
REPLICATION_DATA_DIR holds it; otherwise the JPEG stand-in (already written there, or built from
``--cifar-archive``, default ``shared/data/cifar10-jpeg-q75.tar.gz`` in this checkout or in
/work/shared/data: ``replication.data.standin``) with the explicit override
``accept_unverified_data=True``; otherwise random pixels of the right shape (timings only).  The
report says which.  The same for Fashion-MNIST.

Usage::

    python benchmarks/gpu_check.py                       # on a CUDA machine (about 3 min on an H100)
    python benchmarks/gpu_check.py --device cpu --quick  # a tiny CPU run of every code path (tests)

Without CUDA (and without ``--device cpu``) it says so and exits 0.  Writes
``benchmarks/results/gpu-check_<host>.md`` (or ``--output``).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

DATASET_OF = {"mlp": "fashion-mnist", "small_cnn": "fashion-mnist"}   # the others: cifar10
FULL_EPOCH = {"fashion-mnist": 55_000, "cifar10": 45_000}            # training split less 5000 validation


def cpu_name() -> str:
    from replication.provenance import cpu_model

    return cpu_model()


# -- data ---------------------------------------------------------------------------------------------
def obtain_data(mirror: Path, quick: bool, archive: Path | None) -> dict:
    """{dataset: (accept_unverified_data, description)}; may point REPLICATION_DATA_DIR at ``mirror``."""
    from replication.data import DataVerificationError, DatasetNotFoundError, load_dataset, standin

    found = {}
    for name in ("fashion-mnist", "cifar10"):
        try:
            ds = load_dataset(name, allow_download=False, allow_unverified=False)
            found[name] = (False, f"canonical ({ds.source})")
            continue
        except (DatasetNotFoundError, DataVerificationError):
            pass
        try:
            ds = load_dataset(name, allow_download=False, allow_unverified=True)
            found[name] = (True, f"NOT canonical: {ds.source}")
            continue
        except (DatasetNotFoundError, DataVerificationError):
            pass
        os.environ["REPLICATION_DATA_DIR"] = str(mirror)
        if name == "cifar10" and not quick and archive is not None:
            print(f"[gpu-check] writing the CIFAR-10 JPEG stand-in from {archive} ...", flush=True)
            try:
                standin.write_standin(archive, mirror)
            except RuntimeError as error:
                print(f"[gpu-check] the stand-in failed: {error}")
            else:
                ds = load_dataset(name, allow_download=False, allow_unverified=True)
                found[name] = (True, f"NOT canonical: {ds.source}")
                continue
        if name == "cifar10":
            standin.write_random(name, mirror, 40 if quick else 10_000, 100 if quick else 10_000)
        else:
            standin.write_random(name, mirror, 200 if quick else 60_000, 100 if quick else 10_000)
        load_dataset(name, allow_download=False, allow_unverified=True)
        found[name] = (True, "NOT canonical: random pixels and labels of the right shape (timings only)")
    return found


# -- the checks ---------------------------------------------------------------------------------------
def model_options(name: str, quick: bool) -> dict:
    if quick and name in ("vgg11", "resnet20", "resnet32", "resnet56"):
        return {"width": 0.25}
    return {}


def run_checks(args, device: str) -> tuple[list[dict], list[str]]:
    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    try:
        return _run_checks(args, device, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_checks(args, device: str, tmp: Path) -> tuple[list[dict], list[str]]:
    from replication import models, runs
    from replication.data import standin
    from replication.ensemble import can_ensemble, train_ensemble
    from replication.store import ResultStore
    from replication.train import TrainConfig, train

    quick = args.quick
    archive = args.cifar_archive or standin.find_archive()
    data = obtain_data(tmp / "mirror", quick, archive)
    store = ResultStore(tmp / "store")
    batch_sizes = (16, 32) if quick else (128, 1024)
    n_train = 64 if quick else args.n_train
    sizes = dict(n_val=16 if quick else 5_000, n_test=64 if quick else None)
    names = args.models or list(getattr(models, "MODEL_NAMES", ("mlp",)))
    rows, notes = [], []
    for name in names:
        dataset = DATASET_OF.get(name, "cifar10")
        accept, _ = data[dataset]
        base = TrainConfig(dataset=dataset, n_train=n_train, model=name, model_options=model_options(name, quick),
                           lr=0.01, batch_size=batch_sizes[0], epochs=1 if quick else 2, seed=0, device=device, augment=dataset == "cifar10",
                           accept_unverified_data=accept, hessian_samples=16 if quick else args.hessian_samples,
                           hessian_max_iter=3 if quick else 20, hessian_tol=1e-12, **sizes)
        row = {"model": name, "dataset": dataset, "options": base.options}
        for S in batch_sizes:
            cfg = dataclasses.replace(base, batch_size=S, hessian_epochs=(base.epochs,) if S == batch_sizes[0] else ())
            print(f"[gpu-check] {name} batch {S} ...", flush=True)
            out = train(cfg)
            steps = out["history"]["steps"][-1]
            per_step = out["timing"]["train_seconds"][-1] / steps
            row[f"epoch_s_{S}"] = per_step * (FULL_EPOCH[dataset] // S)
            row[f"eval_s_{S}"] = out["timing"]["eval_seconds"][-1]
            row["params"] = out["n_parameters"]
            if out["hessian"]:
                h = out["hessian"][0]
                row["hvp_s"], row["hvp_n"], row["hvp_samples"] = h["seconds_per_hvp"], h["n_hvp"], h["n_samples"]
                row["lambda_max"] = h["lambda_max"]
        smoke = runs.grid(dataclasses.replace(base, epochs=1, batch_size=batch_sizes[0],
                                              n_train=64 if quick else 2_000, hessian_epochs=()),
                          lr=[0.01, 0.05], seed=[0, 1] if not quick or can_ensemble(base) else [0])
        start = time.perf_counter()
        results = runs.train_all(smoke, store=store, progress=False)
        row["smoke_s"] = time.perf_counter() - start
        row["smoke_runs"] = len(results)
        row["smoke_diverged"] = sum(r.payload["diverged"] for r in results)
        row["smoke_how"] = results[0].payload["trained_as"]
        rows.append(row)
    if "mlp" in names:
        base = TrainConfig(dataset="fashion-mnist", model="mlp", n_train=n_train, epochs=2, batch_size=batch_sizes[0],
                           device=device, accept_unverified_data=data["fashion-mnist"][0], **sizes)
        members = [dataclasses.replace(base, lr=lr, seed=s) for lr, s in ((0.01, 0), (0.05, 1))]
        together = train_ensemble(members)
        alone = train(members[1])
        again = train(members[1])
        diff = max(abs(a - b) / abs(b) for a, b in zip(together[1]["history"]["train_loss"],
                                                       alone["history"]["train_loss"]))
        notes.append(f"MLP ensemble member vs its single run: max relative difference of the training loss "
                     f"{diff:.1e} over 2 epochs.")
        same = again["history"] == alone["history"]
        notes.append(f"MLP single run repeated: history {'bit-identical' if same else 'NOT bit-identical'}.")
    for dataset, (accept, how) in data.items():
        notes.insert(0, f"Data {dataset}: {how}" + (" (accept_unverified_data=True)." if accept else "."))
    return rows, notes


def report(rows: list[dict], notes: list[str], device: str, quick: bool, batch_sizes) -> str:
    if device.startswith("cuda"):
        dev = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    else:
        dev = f"CPU {cpu_name()}, {torch.get_num_threads()} threads"
    lo, hi = batch_sizes
    lines = [f"# GPU check: {dev}" + (" (quick mode: tiny sizes, numbers mean nothing)" if quick else ""), "",
             f"Device: {dev}; host {socket.gethostname()}; CPU {cpu_name()}; torch {torch.__version__}; "
             f"date {datetime.datetime.now().isoformat(timespec='seconds')}.", ""]
    lines += [f"- {n}" for n in notes]
    lines += ["", f"Seconds per epoch: the training steps of the last epoch (the 2nd; quick mode: the only one), scaled to a full epoch "
              f"({', '.join(f'{d} {n}' for d, n in FULL_EPOCH.items())} examples); eval: one evaluation of "
              "train + val + test sets as measured; HVP: seconds per Hessian-vector product of the λ_max "
              "Lanczos run (float32, eval mode).", "",
              f"| model | params | data | s/epoch @{lo} | s/epoch @{hi} | eval s (@{lo} run) | HVP s (samples) "
              f"| smoke grid: runs, s, diverged, how |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        hvp = f"{r['hvp_s']:.3f} ({r['hvp_samples']})" if "hvp_s" in r else "n/a"
        lines.append(f"| {r['model']}{' ' + str(r['options']) if r['options'] else ''} | {r['params']:,} | "
                     f"{r['dataset']} | {r[f'epoch_s_{lo}']:.2f} | {r[f'epoch_s_{hi}']:.2f} | "
                     f"{r[f'eval_s_{lo}']:.3f} | {hvp} | {r['smoke_runs']}, {r['smoke_s']:.1f}, "
                     f"{r['smoke_diverged']}, {r['smoke_how']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: every code path in seconds")
    parser.add_argument("--models", nargs="*", help="default: every model of replication.models")
    parser.add_argument("--n-train", type=int, default=10_000, help="training examples of the timed runs")
    parser.add_argument("--hessian-samples", type=int, default=2_000)
    parser.add_argument("--cifar-archive", type=Path, default=None, help="the JPEG stand-in archive")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"gpu_check: CUDA is not available on this machine (torch {torch.__version__}); nothing to check. "
              "Run it on a CUDA machine, or with --device cpu --quick to exercise the script.")
        return 0
    saved = {k: os.environ.get(k) for k in ("REPLICATION_OFFLINE", "REPLICATION_DATA_DIR")}
    os.environ["REPLICATION_OFFLINE"] = "1"
    threads = torch.get_num_threads()
    if args.quick and device == "cpu":
        torch.set_num_threads(1)   # tiny ops: one thread avoids OpenMP stalls on a busy machine
    start = time.perf_counter()
    try:
        rows, notes = run_checks(args, device)
    finally:
        torch.set_num_threads(threads)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    notes.append(f"Whole check: {time.perf_counter() - start:.0f} s.")
    text = report(rows, notes, device, args.quick, (16, 32) if args.quick else (128, 1024))
    out = args.output or ROOT / "benchmarks" / "results" / f"gpu-check_{socket.gethostname()}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"[gpu-check] written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
