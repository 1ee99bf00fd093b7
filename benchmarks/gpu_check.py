"""GPU check: does every model train on this CUDA machine, does every chapter compute there, and how fast?

Three sections (``--sections``; run in the order given, by default the cheapest first):

**chapters**: every chapter of ``replication.chapters.names()`` that tests claims (has ``verdicts``;
``--chapters NAME ...`` for a subset, or to add intro/claims/appendix) computed at the ``smoke``
profile with ``device=cuda`` (``--device cpu``) where its SPEC has a ``device`` parameter, as
``python -m replication run <chapter> --profile smoke -p device=cuda`` would: training runs,
measurements and verdicts through ``replication.chapters.evaluate``, not the notebook, one after
another into the check's temporary store.  Per chapter: wall seconds, the runner's tally of results
computed and read from the store, the verdicts and their outcomes, the peak GPU memory, the data it
trained on; a chapter that raises is one line (its exception) and the check goes on.

**timings**: for every model of ``replication.models.build`` (mlp, small_cnn on Fashion-MNIST; vgg11,
resnet20/32/56 on CIFAR-10 with crop + flip augmentation):

1. seconds per epoch of the training steps at batch 128 and 1024 (the second of two epochs on
   ``--n-train`` examples, scaled to a full epoch of the dataset's training split less 5000
   validation examples), and the evaluation time per epoch (train + val + test sets, measured);
2. λ_max by Lanczos on ``--hessian-samples`` training examples after the run: seconds per HVP;
3. the smoke grid (2 learning rates x 2 seeds, 1 epoch) through ``replication.runs.train_all`` in a
   temporary store (vmapped ensembles for the models without batch norm);
4. checks for the MLP: an ensemble member equals its single run (max relative difference of the
   training loss), and the same config twice gives the same history (bit-identical or not).

**precision**: the precision bound, for the CIFAR-10 networks the gpu and paper profiles train under
bf16 + channels-last (vgg11, resnet32, resnet56) and the MLP for reference: the same config (seed 0,
same data order, crop + flip on CIFAR-10; lr 0.05, batch 128, plain SGD, ``--precision-epochs``
epochs on ``--n-train`` examples) trained as float32 NCHW and as bf16 autocast + channels-last
(the MLP: bf16 only), and once more as float32 with seed 1 (how far a new seed moves the same
numbers); side by side: final training loss, test accuracy (whole test split), λ_max by the
project's Lanczos on ``--hessian-samples`` training examples, their differences, seconds per
epoch (the epochs after the first, scaled to a full epoch) and the speed-up, with the verdict
against ``replication.gpu_records.PRECISION_TOL`` per network ("not measured" where it did not
run).  On random pixels, or in quick mode, the numbers bound nothing and the verdict says so.

Data: never downloaded (REPLICATION_OFFLINE=1); each section obtains the datasets it needs before it
starts (the chapters: those of their planned runs at smoke, Fashion-MNIST and MNIST).  A dataset is
canonical when the data cache or REPLICATION_DATA_DIR holds it, or when the checkout's
``shared/data/`` (or ../shared/data beside it: ``replication.data.standin.shared_folders``) holds its
idx files (gz or not) in ``<FashionMNIST|MNIST>/raw/``, as ``scripts/device-data.sh`` puts them there
before a GPU machine is lent; they are verified by content like any mirror's.  CIFAR-10 is otherwise
the JPEG stand-in (already written there, or built from ``--cifar-archive``, default
``shared/data/cifar10-jpeg-q75.tar.gz`` in this checkout or in ../shared/data beside it:
``replication.data.standin``) with the explicit override ``accept_unverified_data=True``; otherwise
any dataset is random pixels of the right shape (timings only).  A chapter on data that is not
canonical runs with it accepted explicitly: its ``accept_unverified_data`` parameter where it has
one, else REPLICATION_ACCEPT_UNVERIFIED=1 around its compute.  The report says which, per dataset
and per chapter.

Usage::

    python benchmarks/gpu_check.py                       # on a CUDA machine (see below for the time)
    bash scripts/device-check.sh                         # the same on a lent GPU machine, time-guarded, into $OUT
    python benchmarks/gpu_check.py --sections precision  # the precision bound only (gpu-check_<host>-precision.md)
    python benchmarks/gpu_check.py --sections chapters --chapters width sde   # two chapters at smoke
    python benchmarks/gpu_check.py --device cpu --quick  # a tiny CPU run of every code path (tests)

Time on an H100, estimated (no run has timed it yet): about 3 min for the timings, a few more for
the precision bound (12 runs of 312 steps, 6 of them ResNets, each with a Lanczos probe), one or two
for the chapters (about 1 min for all of them on one CPU thread); the report gives the whole check's
seconds and each section's.  ``--time-limit S``: no model, network or chapter starts after S seconds
(each one left is reported "not run: time limit"); SIGTERM (``timeout``) writes what finished.

Without CUDA (and without ``--device cpu``) it says so and exits 0.  Writes
``benchmarks/results/gpu-check_<host>.md`` (or ``--output``: a file, or a folder for that name) for
people and the same numbers as JSON beside it (``.json``), after every section, which
``replication.gpu_records`` reads (the bill's epoch times, the captions' precision bound; the
chapters section is for people and for the session that ran it); records made on a CPU or in quick
mode are ignored there.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime
import json
import math
import os
import shutil
import signal
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
#: the sections, in the order a plain run takes them: the cheapest and newest first
SECTIONS = ("chapters", "timings", "precision")
#: the networks of the precision bound: the CIFAR-10 ones the gpu/paper profiles train under bf16 +
#: channels-last, and the MLP (Fashion-MNIST, bf16 only) for reference
PRECISION_MODELS = ("vgg11", "resnet32", "resnet56", "mlp")
PRECISION_LR = 0.05
CHAPTER_PROFILE = "smoke"
#: environment variables the check sets for itself, restored when it ends
ENVIRONMENT = ("REPLICATION_OFFLINE", "REPLICATION_DATA_DIR", "REPLICATION_STORE", "REPLICATION_ACCEPT_UNVERIFIED")


class Stopped(BaseException):
    """SIGTERM (``timeout``) arrived: write what finished and stop."""


def cpu_name() -> str:
    from replication.provenance import cpu_model

    return cpu_model()


def one_line(error: BaseException, limit: int = 300) -> str:
    """An exception as one table-safe line: ``Type: message``, whitespace collapsed, cut at ``limit``."""
    return " ".join(f"{type(error).__name__}: {error}".replace("|", "/").split())[:limit]


def out_of_time(args) -> bool:
    """Past ``--time-limit`` (measured from the check's start): nothing new starts."""
    return time.perf_counter() > args.deadline


def time_limit_words(args) -> str:
    return f"time limit of {args.time_limit:g} s reached"


# -- data ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _env(name: str, value: str | None):
    """``os.environ[name] = value`` (``None``: unset) for the block."""
    before = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _use_mirror(mirror: Path, name: str) -> None:
    """Point REPLICATION_DATA_DIR at the check's own ``mirror``, where dataset ``name`` is about to be
    written; the folders of the mirror it replaces stay reachable (linked in), so that data found there
    before (e.g. a user's CIFAR-10 stand-in) is still found, but ``name``'s own folder is the check's."""
    from replication.data.specs import SPECS

    mirror.mkdir(parents=True, exist_ok=True)
    current = os.environ.get("REPLICATION_DATA_DIR")
    if current and Path(current).is_dir() and Path(current).resolve() != mirror.resolve():
        for entry in Path(current).iterdir():
            if entry.is_dir() and not os.path.lexists(mirror / entry.name):
                (mirror / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
    own = mirror / SPECS[name].folder
    if own.is_symlink():
        own.unlink()
    os.environ["REPLICATION_DATA_DIR"] = str(mirror)


def _obtain(name: str, mirror: Path, quick: bool, small: bool, archive: Path | None) -> tuple[bool, str]:
    from replication.data import DataVerificationError, DatasetNotFoundError, load_dataset, standin

    missing = (DatasetNotFoundError, DataVerificationError)
    try:
        ds = load_dataset(name, allow_download=False, allow_unverified=False)
        return False, f"canonical ({ds.source})"
    except missing:
        pass
    for folder in standin.shared_folders():          # the checkout's shared/data/ (scripts/device-data.sh)
        with _env("REPLICATION_DATA_DIR", str(folder)):
            try:                                      # verified by content, then kept in the data cache
                ds = load_dataset(name, allow_download=False, allow_unverified=False)
                return False, f"canonical ({ds.source})"
            except missing:
                pass
    try:
        ds = load_dataset(name, allow_download=False, allow_unverified=True)
        return True, f"NOT canonical: {ds.source}"
    except missing:
        pass
    _use_mirror(mirror, name)
    if name == "cifar10" and not quick and archive is not None:
        print(f"[gpu-check] writing the CIFAR-10 JPEG stand-in from {archive} ...", flush=True)
        try:
            standin.write_standin(archive, mirror)
        except RuntimeError as error:
            print(f"[gpu-check] the stand-in failed: {error}")
        else:
            ds = load_dataset(name, allow_download=False, allow_unverified=True)
            return True, f"NOT canonical: {ds.source}"
    if name == "cifar10":
        standin.write_random(name, mirror, 40 if small else 10_000, 100 if small else 10_000)
    else:
        standin.write_random(name, mirror, 200 if small else 60_000, 100 if small else 10_000)
    load_dataset(name, allow_download=False, allow_unverified=True)
    return True, "NOT canonical: random pixels and labels of the right shape (timings only)"


def obtain_data(mirror: Path, quick: bool, archive: Path | None, names=("fashion-mnist", "cifar10"),
                found: dict | None = None, full=()) -> dict:
    """``found`` with ``{dataset: (accept_unverified_data, description)}`` added for each of ``names``
    it lacks; may point REPLICATION_DATA_DIR at ``mirror``.  ``quick``: the stand-in is not built and
    random pixels are few, except for the datasets in ``full`` (the chapters': their splits need them)."""
    found = {} if found is None else found
    for name in names:
        if name not in found:
            found[name] = _obtain(name, mirror, quick, quick and name not in full, archive)
    return found


# -- the checks ---------------------------------------------------------------------------------------
def model_options(name: str, quick: bool) -> dict:
    if quick and name in ("vgg11", "resnet20", "resnet32", "resnet56"):
        return {"width": 0.25}
    return {}


def data_kind(accept: bool, how: str) -> str:
    """"canonical", "non-canonical" (e.g. the JPEG stand-in) or "random" (pixels: timings only)."""
    return "random" if "random pixels" in how else ("non-canonical" if accept else "canonical")


def new_state(sections) -> dict:
    """What the check found so far; filled section by section, written after each (and on SIGTERM)."""
    return {"sections": list(sections), "done": [], "data": {}, "rows": [], "notes": [], "precision": None,
            "chapters": None, "stopped": None, "seconds": {}}


def section_datasets(section: str, args, device: str) -> list[str]:
    """The datasets ``section`` trains on (the chapters': those of their planned runs at smoke)."""
    from replication import models

    if section == "chapters":
        out = set()
        for name in chapter_names(args):
            try:
                out |= set(chapter_datasets(name, device))
            except Exception:                 # the chapter's own row says what is wrong with it
                pass
        return sorted(out)
    names = args.models or list(getattr(models, "MODEL_NAMES", ("mlp",)))
    if section == "precision":
        names = [n for n in PRECISION_MODELS if not args.models or n in args.models]
    return sorted({DATASET_OF.get(n, "cifar10") for n in names})


def run_checks(args, device: str, state: dict, checkpoint=lambda: None) -> dict:
    """Fill ``state`` (:func:`new_state`) section by section, in the order of ``state["sections"]``,
    calling ``checkpoint()`` after each; the datasets each needs are obtained just before it."""
    from replication.data import standin

    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    try:
        archive = args.cifar_archive or standin.find_archive()
        os.environ["REPLICATION_STORE"] = str(tmp / "store")       # whatever reaches the default store
        full = section_datasets("chapters", args, device) if "chapters" in state["sections"] else ()
        for section in state["sections"]:
            start = time.perf_counter()
            obtain_data(tmp / "mirror", args.quick, archive, section_datasets(section, args, device), state["data"],
                        full)
            if section == "timings":
                _run_checks(args, device, tmp, state["data"], state["rows"], state["notes"])
            elif section == "precision":
                state["precision"] = {}
                precision_section(args, device, state["data"], state["precision"])
            elif section == "chapters":
                state["chapters"] = {}
                chapters_section(args, device, tmp, state["data"], state["chapters"])
            state["seconds"][section] = time.perf_counter() - start
            state["done"].append(section)
            checkpoint()
        return state
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_checks(args, device: str, tmp: Path, data: dict, rows: list, notes: list) -> tuple[list[dict], list[str]]:
    from replication import models, runs
    from replication.ensemble import can_ensemble, train_ensemble
    from replication.store import ResultStore
    from replication.train import TrainConfig, train

    quick = args.quick
    store = ResultStore(tmp / "store")
    batch_sizes = (16, 32) if quick else (128, 1024)
    n_train = 64 if quick else args.n_train
    sizes = dict(n_val=16 if quick else 5_000, n_test=64 if quick else None)
    names = args.models or list(getattr(models, "MODEL_NAMES", ("mlp",)))
    skipped = []
    for name in names:
        if out_of_time(args):
            skipped.append(name)
            continue
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
    if skipped:
        notes.append(f"Timings not measured for {', '.join(skipped)}: {time_limit_words(args)}.")
    if "mlp" in names and "mlp" not in skipped and not out_of_time(args):
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
    return rows, notes


# -- the chapters at the smoke profile ------------------------------------------------------------------
def chapter_names(args) -> list[str]:
    """``--chapters``, else every chapter that tests claims (has ``verdicts``), in reading order."""
    from replication import chapters

    if args.chapters:
        return list(args.chapters)
    return [n for n in chapters.names() if hasattr(chapters.get(n), "verdicts")]


def chapter_params(name: str, device: str, accept: bool = False):
    """Chapter ``name``'s parameters at the smoke profile, with ``device`` where its SPEC has the
    parameter and ``accept_unverified_data=True`` where asked and it has that one."""
    from replication import chapters

    names = chapters.get(name).SPEC.names
    explicit = {}
    if "device" in names:
        explicit["device"] = device
    if accept and "accept_unverified_data" in names:
        explicit["accept_unverified_data"] = True
    return chapters.resolve(name, CHAPTER_PROFILE, explicit or None)


def chapter_datasets(name: str, device: str) -> list[str]:
    """The datasets of chapter ``name``'s planned training runs at smoke (none: it trains nothing)."""
    from replication import chapters

    return sorted({cfg.dataset for cfg in chapters.planned_runs(name, chapter_params(name, device)) or ()})


def chapters_section(args, device: str, tmp: Path, data: dict, section: dict) -> dict:
    """Each chapter of :func:`chapter_names` computed at smoke into one temporary store: seconds, the
    runner's tally, the verdicts' outcomes, peak GPU memory; a failure is one line (see the docstring)."""
    from replication import chapters
    from replication.runs import counting
    from replication.store import ResultStore

    cuda = device.startswith("cuda")
    store = ResultStore(tmp / "store")
    section.update({"profile": CHAPTER_PROFILE, "device": device, "store": "temporary", "runs": []})
    start = time.perf_counter()
    for name in chapter_names(args):
        entry = {"chapter": name, "status": "not run", "why": "interrupted while it ran"}
        section["runs"].append(entry)
        if out_of_time(args):
            entry["why"] = time_limit_words(args)
            continue
        print(f"[gpu-check] chapter {name} at {CHAPTER_PROFILE} ...", flush=True)
        began = time.perf_counter()
        try:
            datasets = chapter_datasets(name, device)
            entry["device"] = device if "device" in chapters.get(name).SPEC.names else "cpu"
            entry["data"] = {d: data_kind(*data[d]) for d in datasets}
            unverified = any(data[d][0] for d in datasets)
            if unverified:
                entry["accepted"] = ("accept_unverified_data=True"
                                     if "accept_unverified_data" in chapters.get(name).SPEC.names
                                     else "REPLICATION_ACCEPT_UNVERIFIED=1")
            params = chapter_params(name, device, accept=unverified)
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            accept_env = "1" if entry.get("accepted") == "REPLICATION_ACCEPT_UNVERIFIED=1" else \
                os.environ.get("REPLICATION_ACCEPT_UNVERIFIED")
            with counting() as tally, _env("REPLICATION_ACCEPT_UNVERIFIED", accept_env):
                _, verdicts = chapters.evaluate(name, params, store=store, progress=False)
        except Exception as error:    # one chapter failing (out of memory, a CUDA-only bug, ...) leaves the others
            entry.update(status="failed", why=one_line(error))
            if cuda:
                torch.cuda.empty_cache()
        else:
            del entry["why"]
            entry.update(status="done", computed=tally.computed, stored=tally.stored, verdicts=len(verdicts),
                         outcomes=dict(collections.Counter(v.outcome for v in verdicts)),
                         verdict_ids={v.id: v.outcome for v in verdicts})
        entry["seconds"] = time.perf_counter() - began
        if cuda:
            entry["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    section["seconds"] = time.perf_counter() - start
    return section


def _data_words(entry: dict) -> str:
    if not entry.get("data"):
        return "none" if "data" in entry else ""
    words = ", ".join(f"{d} {'random pixels' if k == 'random' else k}" for d, k in entry["data"].items())
    return words + (f" (accepted: {entry['accepted']})" if entry.get("accepted") else "")


def chapters_report(section: dict, quick: bool) -> list[str]:
    dev = section["device"]
    lines = ["", f"## Chapters at the {section['profile']} profile", "",
             f"Each chapter's compute as `python -m replication run CHAPTER --profile {section['profile']} -p device={dev}` "
             "runs it (training runs, measurements and verdicts through `replication.chapters.evaluate`; not the "
             f"notebook), on {dev} where the chapter has a device parameter (else on the CPU), one after another into "
             "one fresh temporary store (a result two chapters share is computed once and read back the second "
             "time). Results: the runner's tally of results computed and read from the store; peak: GPU memory "
             "allocated by torch. Data that is not canonical is accepted explicitly, as the data column says; on "
             "random pixels the verdicts mean nothing. A chapter that failed is one line; the check went on."
             + (" Quick mode changes nothing here: the smoke profile is the smallest." if quick else ""), "",
             "| chapter | device | data | s | results computed, stored | verdicts | outcomes | peak GPU MiB | status |",
             "|---|---|---|---|---|---|---|---|---|"]
    for e in section["runs"]:
        cells = [e["chapter"], e.get("device", ""), _data_words(e), f"{e['seconds']:.1f}" if "seconds" in e else ""]
        if e["status"] == "done":
            cells += [f"{e['computed']}, {e['stored']}", str(e["verdicts"]),
                      ", ".join(f"{k} {n}" for k, n in sorted(e["outcomes"].items())) or "none"]
        else:
            cells += ["", "", ""]
        cells.append(f"{e['peak_mib']:.0f}" if "peak_mib" in e else ("n/a" if "seconds" in e else ""))
        cells.append({"done": "done", "failed": f"**failed**: {e.get('why')}"}.get(e["status"], f"not run ({e.get('why')})"))
        lines.append("|" + "|".join(f" {c} " if c else " " for c in cells) + "|")
    done = sum(e["status"] == "done" for e in section["runs"])
    total = f"{section['seconds']:.0f} s" if "seconds" in section else "interrupted"
    lines += ["", f"Chapters: {done} of {len(section['runs'])} computed without error; {total}."]
    return lines


# -- the precision bound --------------------------------------------------------------------------------
def _summary(out: dict, cfg, dataset: str) -> dict:
    """One run of the bound: its final numbers, λ_max probe and seconds per full epoch."""
    final, h = out["final"], out["hessian"][-1] if out["hessian"] else {}
    steps = out["history"]["steps"]
    seconds = out["timing"]["train_seconds"]
    later = list(range(1, len(seconds))) or [0]            # the first epoch pays the warm-up
    per_step = sum(seconds[k] for k in later) / sum(steps[k] for k in later)
    return {"train_loss": final["train_loss"], "test_acc": final["test_acc"],
            "lambda_max": h.get("lambda_max", float("nan")),
            "lambda_converged": h.get("converged"), "n_hvp": h.get("n_hvp"), "diverged": out["diverged"],
            "epoch_s": per_step * (FULL_EPOCH[dataset] // cfg.batch_size), "steps": sum(steps)}


def precision_section(args, device: str, data: dict, section: dict | None = None) -> dict:
    """Float32 NCHW against bf16 + channels-last (the MLP: bf16), same seed and data order, and
    float32 under another seed, for every network of :data:`PRECISION_MODELS` (see the docstring);
    into ``section`` as each network finishes."""
    from replication import gpu_records
    from replication.train import TrainConfig, train

    quick = args.quick
    start = time.perf_counter()
    S, epochs = (16, 2) if quick else (128, args.precision_epochs)
    section = {} if section is None else section
    section.update({"device": device, "lr": PRECISION_LR, "batch_size": S, "epochs": epochs,
               "n_train": 64 if quick else args.n_train,
               "hessian_samples": 16 if quick else args.hessian_samples, "hessian_max_iter": 3 if quick else 100,
               "hessian_tol": 1e-3, "tolerance": dict(gpu_records.PRECISION_TOL), "runs": []})
    for name in PRECISION_MODELS:
        if args.models and name not in args.models:
            section["runs"].append({"model": name, "status": "not measured", "why": "left out by --models"})
            continue
        if out_of_time(args):
            section["runs"].append({"model": name, "status": "not measured", "why": time_limit_words(args)})
            continue
        dataset = DATASET_OF.get(name, "cifar10")
        accept, how = data[dataset]
        conv = name != "mlp"
        base = TrainConfig(dataset=dataset, n_train=section["n_train"], n_val=16 if quick else 5_000,
                           n_test=64 if quick else None, model=name, model_options=model_options(name, quick),
                           lr=PRECISION_LR, batch_size=S, epochs=epochs, seed=0, device=device,
                           augment=dataset == "cifar10", accept_unverified_data=accept, hessian_epochs=(epochs,),
                           hessian_samples=section["hessian_samples"], hessian_max_iter=section["hessian_max_iter"],
                           hessian_tol=section["hessian_tol"])
        variants = {"float32": base, "bf16": dataclasses.replace(base, precision="bf16", channels_last=conv),
                    "reference": dataclasses.replace(base, seed=1)}
        entry = {"model": name, "dataset": dataset, "options": base.options, "data": data_kind(accept, how),
                 "variant": "bf16 + channels-last" if conv else "bf16", "status": "measured"}
        try:
            for key, cfg in variants.items():
                print(f"[gpu-check] precision bound: {name} {key} ...", flush=True)
                entry[key] = _summary(train(cfg), cfg, dataset)
        except Exception as error:   # one network failing (out of memory, ...) leaves the others measured
            entry = {"model": name, "status": "not measured", "why": one_line(error)}
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
        else:
            entry["steps"] = entry["float32"]["steps"]
            entry["deltas"] = gpu_records.differences(entry["float32"], entry["bf16"])
            entry["seed_deltas"] = gpu_records.differences(entry["float32"], entry["reference"])
            entry["within"] = gpu_records.within(entry["deltas"], section["tolerance"])
        section["runs"].append(entry)
    section["seconds"] = time.perf_counter() - start
    return section


def precision_verdict(entry: dict, quick: bool) -> str:
    if entry["status"] != "measured":
        return f"not measured ({entry['why']})"
    word = "within" if entry["within"] else "**outside**"
    if quick:
        return f"{word} (quick mode: not a bound)"
    if entry["data"] == "random":
        return f"{word} (random pixels: not a bound)"
    return word


def _rel(x: float) -> str:
    from replication.wording import signed

    return "n/a" if x is None or not math.isfinite(x) else f"{signed(100 * x, '+.1f')} %"


def _points(x: float) -> str:
    from replication.wording import signed

    return "n/a" if x is None or not math.isfinite(x) else signed(x, "+.2f")


def precision_report(section: dict, quick: bool) -> list[str]:
    from replication.gpu_records import tolerance_words

    tf32 = ("cuDNN TF32 convolutions " + ("allowed" if torch.backends.cudnn.allow_tf32 else "off") + ", matmul "
            f"precision {torch.get_float32_matmul_precision()!r}") if section["device"].startswith("cuda") else "on CPU"
    lines = ["", "## Precision bound: bf16 + channels-last against float32", "",
             f"Each network trained three times from the same config: lr {section['lr']:g}, batch "
             f"{section['batch_size']}, plain SGD, {section['epochs']} epochs on {section['n_train']:,} examples, crop + "
             "flip on CIFAR-10, seed 0 (so the same initialization, data order and augmentation): float32 NCHW "
             f"(PyTorch's defaults; {tf32}), bf16 autocast with channels-last (the MLP: "
             "bf16 only; weights, optimizer and evaluation float32), and float32 with seed 1, which shows how far a "
             "new seed moves the same numbers. Test accuracy on the whole test split"
             + (" (quick mode: its first 64)" if quick else "") + f"; λ_max by Lanczos (tol {section['hessian_tol']:g}, "
             f"at most {section['hessian_max_iter']} HVPs) on {section['hessian_samples']:,} training examples after the "
             "last epoch; s/epoch: the epochs after the first, scaled to a full epoch. Δ: bf16 minus float32 "
             f"(relative; test accuracy in points). Tolerance of the bound: {tolerance_words(section['tolerance'])}.",
             "",
             "| model | compared | steps | train loss f32 → bf16 (Δ) | test acc % f32 → bf16 (Δ pts) "
             "| λ_max f32 → bf16 (Δ) | seed 1 f32: Δloss, Δacc, Δλ_max | s/epoch f32 → bf16 (speed-up) | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for e in section["runs"]:
        if e["status"] != "measured":
            lines.append(f"| {e['model']} | | | | | | | | {precision_verdict(e, quick)} |")
            continue
        a, b, d, r = e["float32"], e["bf16"], e["deltas"], e["seed_deltas"]
        opts = f" {e['options']}" if e["options"] else ""
        lines.append(
            f"| {e['model']}{opts} | {e['variant']} | {e['steps']} | {a['train_loss']:.4f} → {b['train_loss']:.4f} "
            f"({_rel(d['train_loss'])}) | {100 * a['test_acc']:.2f} → {100 * b['test_acc']:.2f} "
            f"({_points(d['test_acc'])}) | {a['lambda_max']:.4g} → {b['lambda_max']:.4g} ({_rel(d['lambda_max'])}) "
            f"| {_rel(r['train_loss'])}, {_points(r['test_acc'])}, {_rel(r['lambda_max'])} "
            f"| {a['epoch_s']:.2f} → {b['epoch_s']:.2f} ({a['epoch_s'] / b['epoch_s']:.2f}×) "
            f"| {precision_verdict(e, quick)} |")
    unconverged = [f"{e['model']} {k}" for e in section["runs"] if e["status"] == "measured"
                   for k in ("float32", "bf16", "reference") if not e[k]["lambda_converged"]]
    if unconverged:
        lines += ["", "λ_max not converged to the tolerance within the HVP cap: " + ", ".join(unconverged) + "."]
    lines += ["", f"Precision bound: {section['seconds']:.0f} s." if "seconds" in section else
              "Precision bound: interrupted (the networks above finished)."]
    return lines


def device_words(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    return f"CPU {cpu_name()}, {torch.get_num_threads()} threads"


def all_notes(state: dict) -> list[str]:
    """The data each section used, what is unfinished, then the sections' own notes."""
    notes = [f"Data {dataset}: {how}" + (" (accept_unverified_data=True)." if accept else ".")
             for dataset, (accept, how) in state["data"].items()]
    left = [s for s in state["sections"] if s not in state["done"]]
    if state["stopped"]:
        notes.append(f"Stopped by {state['stopped']}: " + (f"not finished: {', '.join(left)}." if left else
                                                         "every section had finished."))
    notes += state["notes"]
    if state["seconds"]:
        notes.append("Seconds per section: " + ", ".join(f"{s} {t:.0f}" for s, t in state["seconds"].items()) + ".")
    return notes


def report(rows: list[dict], notes: list[str], device: str, quick: bool, batch_sizes, precision: dict | None = None,
           date: str | None = None, chapters: dict | None = None) -> str:
    dev = device_words(device)
    lo, hi = batch_sizes
    date = date or datetime.datetime.now().isoformat(timespec="seconds")
    lines = [f"# GPU check: {dev}" + (" (quick mode: tiny sizes, numbers mean nothing)" if quick else ""), "",
             f"Device: {dev}; host {socket.gethostname()}; CPU {cpu_name()}; torch {torch.__version__}; "
             f"date {date}.", ""]
    lines += [f"- {n}" for n in notes]
    if rows:
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
    if chapters:
        lines += chapters_report(chapters, quick)
    if precision:
        lines += precision_report(precision, quick)
    return "\n".join(lines) + "\n"


def record(checks: dict, device: str, quick: bool, batch_sizes, date: str) -> dict:
    """The JSON beside the report: what ``replication.gpu_records`` reads (timings, precision; the
    chapters section is there for people and the session that ran the check)."""
    from replication.gpu_records import FORMAT

    return {"format": FORMAT, "device": "cuda" if device.startswith("cuda") else device,
            "card": torch.cuda.get_device_name(0) if device.startswith("cuda") else f"CPU {cpu_name()}",
            "cuda": torch.version.cuda, "torch": torch.__version__, "host": socket.gethostname(), "cpu": cpu_name(),
            "date": date, "quick": quick, "batch_sizes": list(batch_sizes),
            "sections": checks.get("sections", []), "finished": checks.get("done", []),
            "stopped": checks.get("stopped"),
            "data": {d: {"kind": data_kind(accept, how), "how": how} for d, (accept, how) in checks["data"].items()},
            "timings": checks["rows"], "notes": checks["notes"], "precision": checks["precision"],
            "chapters": checks.get("chapters")}


def output_path(args) -> Path:
    """``--output`` (a folder: the default name in it), else ``benchmarks/results/gpu-check_<host>[-<sections>].md``."""
    sections = args.sections or SECTIONS
    part = "" if set(sections) == set(SECTIONS) else "-" + "-".join(sections)
    name = f"gpu-check_{socket.gethostname()}{part}.md"
    if args.output is None:
        return ROOT / "benchmarks" / "results" / name
    if args.output.endswith(("/", os.sep)) or Path(args.output).is_dir():
        return Path(args.output) / name
    return Path(args.output)


def main(argv=None) -> int:
    from replication import chapters as chapter_registry

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: every code path in seconds")
    parser.add_argument("--models", nargs="*", help="default: every model of replication.models")
    parser.add_argument("--n-train", type=int, default=10_000, help="training examples of the timed runs")
    parser.add_argument("--hessian-samples", type=int, default=2_000)
    parser.add_argument("--precision-epochs", type=int, default=4,
                        help="epochs of each precision-bound run (4 x 78 steps at batch 128 on 10,000 examples)")
    parser.add_argument("--sections", nargs="*", choices=SECTIONS,
                        help=f"run in the order given; default: all ({', '.join(SECTIONS)})")
    parser.add_argument("--chapters", nargs="*", choices=chapter_registry.names(), metavar="CHAPTER",
                        help="the chapters section: these chapters (default: every chapter with verdicts)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds from the start after which no model, network or chapter starts")
    parser.add_argument("--cifar-archive", type=Path, default=None, help="the JPEG stand-in archive")
    parser.add_argument("--output", default=None,
                        help="the report (.md; the .json beside it), or a folder (existing, or ending in /) for it")
    args = parser.parse_args(argv)
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"gpu_check: CUDA is not available on this machine (torch {torch.__version__}); nothing to check. "
              "Run it on a CUDA machine, or with --device cpu --quick to exercise the script.")
        return 0
    start = time.perf_counter()
    args.deadline = start + args.time_limit if args.time_limit is not None else math.inf
    state = new_state(list(dict.fromkeys(args.sections or SECTIONS)))
    batch_sizes = (16, 32) if args.quick else (128, 1024)
    out = output_path(args)

    def checkpoint(final: bool = False) -> None:
        """The report and its JSON as they stand (after every section; at the end with the whole time)."""
        notes = all_notes(state) + ([f"Whole check: {time.perf_counter() - start:.0f} s."] if final else [])
        date = datetime.datetime.now().isoformat(timespec="seconds")
        text = report(state["rows"], notes, device, args.quick, batch_sizes, state["precision"], date,
                      state["chapters"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        out.with_suffix(".json").write_text(json.dumps(record({**state, "notes": notes}, device, args.quick,
                                                              batch_sizes, date), indent=1, default=list) + "\n")
        if final:
            print(text)
        print(f"[gpu-check] written to {out} and {out.with_suffix('.json').name}", flush=True)

    def stop(signum, frame):
        raise Stopped(signal.Signals(signum).name)

    saved = {k: os.environ.get(k) for k in ENVIRONMENT}
    os.environ["REPLICATION_OFFLINE"] = "1"
    threads = torch.get_num_threads()
    if args.quick and device == "cpu":
        torch.set_num_threads(1)   # tiny ops: one thread avoids OpenMP stalls on a busy machine
    try:
        handler = signal.signal(signal.SIGTERM, stop)
    except ValueError:                 # not the main thread: no guard, as before
        handler = None
    try:
        run_checks(args, device, state, checkpoint)
    except Stopped as why:
        state["stopped"] = f"{why.args[0]} (a time guard such as `timeout`)"
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)
        torch.set_num_threads(threads)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    checkpoint(final=True)
    return 1 if state["stopped"] else 0


if __name__ == "__main__":
    sys.exit(main())
