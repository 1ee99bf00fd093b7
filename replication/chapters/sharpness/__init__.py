"""Chapter "η/S, the width of the minimum and generalization" (the paper's Fig. 1): parameters,
run configs, compute, and the rules that turn the runs into the chapter's statements.

Three grids of training runs (:class:`replication.train.TrainConfig`, all trained through
:func:`replication.runs.train_all`: result store, resume, vmapped ensembles over lr and seed):

1. ``main``: a deep ReLU MLP (ICLR: 20 hidden layers; width 50 as the reproducibility challenge
   guessed) on Fashion-MNIST over (η, S) pairs spread across η/S, several seeds per pair.
2. ``v3``: the same pairs with a shallow MLP (v3/ICANN: a "4-layer MLP"); skipped if ``v3_depth=0``.
3. ``rescale``: Kaur et al.'s test, pairs (β η₀, β S₀) at one ratio η₀/S₀ over several β.

At the end of training (the parameters after the last epoch) an ``AnalysisRun`` (its own kind in
the store, keyed by the training config's key and the analysis settings) measures, in eval mode,
on a fixed random subset of the training examples: λ_max (Lanczos), Tr H (Hutch++), ‖H‖_F, the
loss, and Tr C, the trace of the per-example gradient covariance (per-example gradients by
``torch.func.vmap(grad)``).  For two runs the same measures over the whole training set check the
subset size.  :func:`summary` computes every number the page quotes; :func:`verdicts` applies the
rules stated on the page before the numbers.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ... import stats
from ...config import RunConfig, require
from ...hessian import HessianOperator, width_measures
from ...hessian.covariance import gradient_covariance_trace
from ...params import ChapterSpec, Param, ParameterError
from ...store import ResultStore

MODE = "eval"
#: the sixteen (η, S) pairs of the ICLR 2018 reproducibility challenge (shenyangHuang/FashionableML)
CHALLENGE_PAIRS = ((0.05, 50), (0.05, 1000), (0.025, 500), (0.04, 1000), (0.02, 500), (0.02, 100), (0.01, 50),
                   (0.01, 100), (0.02, 200), (0.005, 1000), (0.03, 50), (0.02, 50), (0.06, 75), (0.015, 100),
                   (0.011, 100), (0.0075, 100))
DATASET_SIZE = 60_000           # Fashion-MNIST / MNIST training split
HESSIAN_BATCH = 2_500           # Hessians over more samples than this are computed in batches
LANCZOS_SEED, TRACE_SEED, FROBENIUS_SEED = 0, 1, 2   # probe seeds shared by every run


def rescale_pairs(values: dict) -> list[tuple[float, int, float]]:
    """(η, S, β) of the rescaling experiment: η = β η₀, S = round(β S₀)."""
    return [(values["rescale_lr"] * b, int(round(values["rescale_batch_size"] * b)), b)
            for b in values["rescale_betas"]]


def _check(values: dict) -> None:
    n, n_val = values["n_train"], values["n_val"]
    if n + n_val > DATASET_SIZE:
        raise ParameterError(f"n_train={n!r}: n_train + n_val must be <= {DATASET_SIZE} (n_val={n_val})")
    if len(values["lrs"]) != len(values["batch_sizes"]):
        raise ParameterError(f"lrs={list(values['lrs'])!r}: must have one entry per batch size "
                             f"(batch_sizes has {len(values['batch_sizes'])})")
    pairs = list(zip(values["lrs"], values["batch_sizes"]))
    if len(set(pairs)) != len(pairs):
        raise ParameterError(f"batch_sizes={list(values['batch_sizes'])!r}: the (lr, batch size) pairs must differ")
    if len({lr / S for lr, S in pairs}) < 2:
        raise ParameterError(f"lrs={list(values['lrs'])!r}: the pairs must span at least two ratios lr/batch size")
    if max(values["batch_sizes"]) > n:
        raise ParameterError(f"batch_sizes={list(values['batch_sizes'])!r}: every batch size must be <= n_train={n}")
    for lr, S, b in rescale_pairs(values):
        if not 1 <= S <= n:
            raise ParameterError(f"rescale_betas={list(values['rescale_betas'])!r}: beta={b:g} gives batch size {S}; "
                                 f"every round(beta * rescale_batch_size) must be in [1, n_train={n}]")
    if len({S for _, S, _ in rescale_pairs(values)}) != len(values["rescale_betas"]):
        raise ParameterError(f"rescale_betas={list(values['rescale_betas'])!r}: two betas give the same batch size")
    if values["hessian_samples"] > n:
        raise ParameterError(f"hessian_samples={values['hessian_samples']!r}: must be <= n_train={n}")
    if values["v3_depth"] >= values["depth"]:
        raise ParameterError(f"v3_depth={values['v3_depth']!r}: must be below depth={values['depth']} "
                             "(0 skips the shallow network)")


SPEC = ChapterSpec("sharpness", "η/S, the width of the minimum and generalization", (
    Param("device", "str", "device the networks are trained and measured on", choices=("cpu", "cuda")),
    Param("dataset", "str", "training data", choices=("fashion-mnist", "mnist")),
    Param("n_train", "int", "training examples (a seeded random subset of the training split)", low=100,
          high=59_900),
    Param("n_val", "int", "validation examples, held out of the training split", low=100, high=30_000),
    Param("depth", "int", "hidden layers of the deep MLP (ICLR Fig. 1: 20)", low=2, high=100),
    Param("width", "int", "units per hidden layer (not stated in the paper; 50 as the reproducibility "
          "challenge)", low=1, high=4096),
    Param("init", "str", "initialization of the MLPs' linear layers", choices=("torch", "he", "xavier")),
    Param("lrs", "float_list", "learning rates η of the (η, S) pairs", low=1e-5, high=10, min_len=2),
    Param("batch_sizes", "int_list", "batch sizes S of the (η, S) pairs, paired with lrs by position", low=1,
          high=60_000, min_len=2),
    Param("seeds", "int", "seeds (initialization and batch order) per (η, S) pair", low=2, high=1000),
    Param("epochs", "int", "training epochs of every run (plain SGD, constant η)", low=1, high=10_000),
    Param("v3_depth", "int", "hidden layers of the shallow MLP (v3: a 4-layer MLP); 0 skips it", low=0,
          high=99),
    Param("v3_seeds", "int", "seeds per pair for the shallow MLP", low=2, high=1000),
    Param("rescale_lr", "float", "η₀ of the rescaling test (pairs β η₀, β S₀)", low=1e-5, high=10),
    Param("rescale_batch_size", "int", "S₀ of the rescaling test", low=1, high=60_000),
    Param("rescale_betas", "float_list", "the factors β of the rescaling test", low=1e-3, high=1e3, min_len=2),
    Param("rescale_seeds", "int", "seeds per β", low=2, high=1000),
    Param("hessian_samples", "int", "training examples the Hessian and the gradient covariance average over",
          low=1, high=60_000),
    Param("lanczos_tol", "float", "Lanczos stopping rule for λ_max: residual <= tol·λ", low=1e-10, high=0.5),
    Param("lanczos_max_iter", "int", "HVP cap of one λ_max", low=2, high=10_000),
    Param("trace_hvp", "int", "HVPs of one Hutch++ trace estimate", low=6, high=100_000),
    Param("frobenius_probes", "int", "probes of one Frobenius-norm estimate", low=2, high=100_000),
), check=_check)


# -- training configs -----------------------------------------------------------------------------------
def model_options(params, depth: int) -> dict:
    opts: dict = {"hidden": (params.width,) * depth}
    if params.init != "torch":      # the registry's default: left out so keys match other chapters
        opts["init"] = params.init
    return opts


def base_config(params, depth: int):
    from ...train import TrainConfig

    return TrainConfig(dataset=params.dataset, n_train=params.n_train, n_val=params.n_val, model="mlp",
                       model_options=model_options(params, depth), epochs=params.epochs, device=params.device,
                       lr=params.lrs[0], batch_size=params.batch_sizes[0])


def grids(params) -> dict[str, list[tuple[dict, object]]]:
    """``{group: [(labels, TrainConfig), ...]}`` for the groups main, v3 (if any) and rescale."""
    out: dict[str, list] = {}
    deep = base_config(params, params.depth)
    out["main"] = [(dict(eta=lr, S=S, seed=s), dataclasses.replace(deep, lr=lr, batch_size=S, seed=s))
                   for lr, S in zip(params.lrs, params.batch_sizes) for s in range(params.seeds)]
    if params.v3_depth > 0:
        shallow = base_config(params, params.v3_depth)
        out["v3"] = [(dict(eta=lr, S=S, seed=s), dataclasses.replace(shallow, lr=lr, batch_size=S, seed=s))
                     for lr, S in zip(params.lrs, params.batch_sizes) for s in range(params.v3_seeds)]
    out["rescale"] = [(dict(eta=lr, S=S, seed=s, beta=b), dataclasses.replace(deep, lr=lr, batch_size=S, seed=s))
                      for lr, S, b in rescale_pairs(params) for s in range(params.rescale_seeds)]
    return out


# -- the end-of-training analysis -----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class AnalysisRun(RunConfig):
    """λ_max, Tr H, ‖H‖_F and Tr C at the end of one training run (``train_key``), over
    ``n_samples`` training examples drawn with ``sample_seed`` (``n_samples`` >= n_train: all)."""

    kind: ClassVar[str] = "sharpness-analysis"
    train_key: str
    n_samples: int
    lanczos_tol: float
    lanczos_max_iter: int
    trace_hvp: int
    frobenius_probes: int
    sample_seed: int = 0
    which: str = "final"

    def validate(self) -> None:
        require(isinstance(self.train_key, str) and len(self.train_key) > 0, "train_key", self.train_key,
                "the key of a stored training run")
        require(self.n_samples >= 1, "n_samples", self.n_samples, ">= 1")
        require(self.trace_hvp >= 6, "trace_hvp", self.trace_hvp, ">= 6 (Hutch++)")
        require(self.frobenius_probes >= 2, "frobenius_probes", self.frobenius_probes, ">= 2")
        require(self.which in ("final", "best"), "which", self.which, "final or best")


def sample_indices(n_total: int, n: int, seed: int) -> torch.Tensor | None:
    """The n training examples of the analysis (ascending; a seeded permutation's first n), None: all."""
    if n >= n_total:
        return None
    gen = torch.Generator().manual_seed(10_007 + int(seed))
    return torch.randperm(n_total, generator=gen)[:n].sort().values


def run_analysis(cfg: AnalysisRun, train_cfg, payload: dict) -> dict:
    """The measures of :class:`AnalysisRun` for the trained network of ``payload``."""
    from ...train import load_model, prepare_split

    device = torch.device(train_cfg.device)
    model = load_model(train_cfg, payload, device, which=cfg.which)
    split = prepare_split(train_cfg, device)
    X, y = split.x_train, split.y_train
    idx = sample_indices(split.n_train, cfg.n_samples, cfg.sample_seed)
    n = split.n_train if idx is None else int(idx.shape[0])
    start = time.perf_counter()
    H = HessianOperator(model, nn.CrossEntropyLoss(), X, y, mode=MODE,
                        indices=None if idx is None else idx.to(device),
                        batch_size=None if n <= HESSIAN_BATCH else HESSIAN_BATCH)
    built = time.perf_counter() - start
    top, tr, fro, seconds = width_measures(H, lanczos_tol=cfg.lanczos_tol, trace_hvp=cfg.trace_hvp,
                                           frobenius_probes=cfg.frobenius_probes, lanczos_seed=LANCZOS_SEED,
                                           trace_seed=TRACE_SEED, frobenius_seed=FROBENIUS_SEED,
                                           lanczos_max_iter=min(H.dim, cfg.lanczos_max_iter))
    seconds["lam_max"] += built  # as before: λ_max's time includes building the operator
    loss = H.loss()
    info = H.info()
    H.release()
    start = time.perf_counter()
    Xs, ys = (X, y) if idx is None else (X[idx.to(device)], y[idx.to(device)])
    cov = gradient_covariance_trace(model, Xs, ys)
    seconds["trace_C"] = time.perf_counter() - start
    return {"info": info, "n_samples": n, "loss": loss,
            "lam_max": float(top.eigenvalues[0]), "lam_residual": float(top.residuals[0]),
            "lam_converged": bool(top.converged[0]), "lanczos": top.to_dict(),
            "trace": tr.estimate, "trace_stderr": tr.stderr,
            "frobenius": fro.estimate, "frobenius_stderr": fro.stderr,
            **cov, "seconds": seconds, "n_hvp": {"lam_max": top.n_hvp, "trace": tr.n_hvp, "frobenius": fro.n_hvp}}


def analysis_config(params, train_cfg, n_samples: int | None = None) -> AnalysisRun:
    return AnalysisRun(train_key=train_cfg.key, n_samples=n_samples or params.hessian_samples,
                       lanczos_tol=params.lanczos_tol, lanczos_max_iter=params.lanczos_max_iter,
                       trace_hvp=params.trace_hvp, frobenius_probes=params.frobenius_probes)


def _usable(payload: dict) -> bool:
    """A run whose end point can be measured: it did not diverge and its final loss is finite."""
    loss = payload.get("final", {}).get("train_loss")
    return not payload.get("diverged") and loss is not None and math.isfinite(loss)


# -- compute --------------------------------------------------------------------------------------------
MEASURES = ("lam_max", "trace", "frobenius")
RUN_KEYS = ("lam_max", "lam_converged", "trace", "trace_stderr", "frobenius", "frobenius_stderr", "loss",
            "trace_C", "trace_F", "grad_norm2", "n_samples")


@dataclasses.dataclass
class SharpnessResults:
    """Everything the chapter shows: one row (a dict) per training run, plus the sample check."""

    runs: dict                # group → list of rows
    check: list[dict]         # the subset against the whole training set, for two runs
    architectures: dict       # group → description
    n_parameters: dict        # group → parameter count
    epochs: int
    n_train: int
    n_val: int
    hessian_samples: int
    seeds: dict               # group → seeds per pair
    provenance: dict          # of the training runs (data, device, code)
    analysis_provenance: dict
    train_wall_time: float
    analysis_wall_time: float
    wall_time: float
    stored: int
    computed: int


def _row(labels: dict, group: str, train_result, analysis) -> dict:
    p = train_result.payload
    final = p["final"]
    row = dict(group=group, **labels, ratio=labels["eta"] / labels["S"], diverged=bool(p["diverged"]),
               epochs_completed=p["epochs_completed"], train_loss=final.get("train_loss"),
               train_acc=final.get("train_acc"), val_acc=final.get("val_acc"), test_acc=final.get("test_acc"),
               best_val_acc=p.get("best_val_acc"), key=train_result.key,
               steps=int(sum(p["history"]["steps"])))
    if analysis is not None:
        row.update({k: analysis.payload[k] for k in RUN_KEYS})
    else:
        row.update({k: math.nan for k in RUN_KEYS})
        row["lam_converged"] = False
    row["eta_lam"] = labels["eta"] * row["lam_max"]
    return row


def _run_analyses(store, items, params, *, progress, desc, n_samples=None):
    """AnalysisRun results (None for unusable runs), computed through the store."""
    from tqdm import tqdm

    from ...train import data_provenance

    todo = []
    results: list = [None] * len(items)
    for i, (cfg, res) in enumerate(items):
        if not _usable(res.payload):
            continue
        acfg = analysis_config(params, cfg, n_samples)
        found = store.get(acfg)
        if found is not None:
            results[i] = found
        else:
            todo.append((i, cfg, res, acfg))
    for i, cfg, res, acfg in tqdm(todo, desc=f"{desc} ({len(items) - len(todo)} stored or skipped)",
                                  disable=not progress or not todo, unit="run", dynamic_ncols=True):
        results[i] = store.get_or_compute(acfg, lambda c, cfg=cfg, res=res: run_analysis(c, cfg, res.payload),
                                          device=cfg.device, data=data_provenance(cfg))
    return results


def check_runs(rows: list[dict]) -> list[int]:
    """Indices of the two runs whose subset is checked against the whole training set: seed 0 of
    the lowest- and of the highest-ratio pair that trained."""
    ok = [i for i, r in enumerate(rows) if not math.isnan(r["lam_max"]) and r["seed"] == 0]
    if not ok:
        return []
    lo = min(ok, key=lambda i: rows[i]["ratio"])
    hi = max(ok, key=lambda i: rows[i]["ratio"])
    return sorted({lo, hi})


def compute(params, *, store: ResultStore | None = None, progress: bool = True) -> SharpnessResults:
    from ...runs import train_all

    store = store or ResultStore()
    if params.device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device='cuda': no CUDA device is available here (use device=cpu, or profile laptop)")
    groups = grids(params)
    flat = [(g, labels, cfg) for g, items in groups.items() for labels, cfg in items]
    trained = train_all([cfg for _, _, cfg in flat], store=store, progress=progress)
    items = [(cfg, res) for (_, _, cfg), res in zip(flat, trained)]
    analyses = _run_analyses(store, items, params, progress=progress, desc="Hessian and Tr C at the end")
    runs: dict = {g: [] for g in groups}
    for (g, labels, _), res, an in zip(flat, trained, analyses):
        runs[g].append(_row(labels, g, res, an))
    main_items = [(cfg, res) for (g, _, cfg), res in zip(flat, trained) if g == "main"]
    picked = check_runs(runs["main"])
    full = _run_analyses(store, [main_items[i] for i in picked], params, progress=progress,
                         desc="whole-training-set check", n_samples=params.n_train)
    check = []
    for i, f in zip(picked, full):
        if f is None:
            continue
        r = runs["main"][i]
        check.append(dict(eta=r["eta"], S=r["S"], ratio=r["ratio"], seed=r["seed"], n_full=f.payload["n_samples"],
                          subset={k: r[k] for k in MEASURES + ("trace_C",)},
                          full={k: f.payload[k] for k in MEASURES + ("trace_C",)},
                          stderr={"trace": f.payload["trace_stderr"], "frobenius": f.payload["frobenius_stderr"]}))
    analysed = [a for a in analyses + full if a is not None]
    first = {g: (cfg, res) for (g, _, cfg), res in reversed(list(zip(flat, trained)))}
    architectures = {g: cfg.architecture for g, (cfg, _) in first.items()}
    n_params = {g: res.payload["n_parameters"] for g, (_, res) in first.items()}
    unique_train: dict = {}
    unique_analysis: dict = {}
    for r in trained:                   # a run in two grids counts once, as it was first obtained
        unique_train.setdefault(r.key, r)
    for r in analysed:
        unique_analysis.setdefault(r.key, r)
    unique_train, unique_analysis = list(unique_train.values()), list(unique_analysis.values())
    train_wall = sum(r.wall_time for r in unique_train)
    analysis_wall = sum(r.wall_time for r in unique_analysis)
    everything = unique_train + unique_analysis
    return SharpnessResults(
        runs=runs, check=check, architectures=architectures, n_parameters=n_params, epochs=params.epochs,
        n_train=params.n_train, n_val=params.n_val, hessian_samples=params.hessian_samples,
        seeds={"main": params.seeds, "v3": params.v3_seeds, "rescale": params.rescale_seeds},
        provenance=trained[0].provenance, analysis_provenance=analysed[0].provenance if analysed else trained[0].provenance,
        train_wall_time=train_wall, analysis_wall_time=analysis_wall, wall_time=train_wall + analysis_wall,
        stored=sum(r.from_store for r in everything), computed=sum(not r.from_store for r in everything))


# -- what the prose quotes, computed -------------------------------------------------------------------
RHO = 0.5            # |Spearman ρ| asked of a claimed monotone trend (and a 95% CI excluding 0)
WIDTH_FACTOR = 1.5   # "the same width": every β's mean λ_max within this factor of β = 1's
ACC_POINTS = 0.01    # "the same accuracy": every β's mean validation accuracy within 1 point of β = 1's
CH_FACTOR = 2.0      # "C ≈ H": Tr C / Tr H within a factor 2 of 1 for every measured run
N_BOOT = 2000
QUANTITIES = ("frobenius", "lam_max", "trace", "val_acc")
LABELS = {"frobenius": "‖H‖_F", "lam_max": "λ_max", "trace": "Tr H", "val_acc": "validation accuracy",
          "train_loss": "training loss", "trace_C": "Tr C", "eta_lam": "η·λ_max"}


def _finite(rows, key):
    """The runs that did not diverge and have a finite ``key``."""
    return [r for r in rows if not r["diverged"] and r.get(key) is not None and np.isfinite(r[key])]


def pair_table(rows: list[dict], key=("eta", "S")) -> list[dict]:
    """Per (η, S) (or per β): runs, diverged runs, and the mean and 95% CI half-width over the seeds
    that did not diverge of each quantity."""
    out = []
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in key), []).append(r)
    for k, rs in groups.items():
        entry = dict(zip(key, k), ratio=rs[0]["ratio"], eta=rs[0]["eta"], S=rs[0]["S"], beta=rs[0].get("beta"),
                     n_runs=len(rs), n_diverged=sum(r["diverged"] for r in rs))
        for q in QUANTITIES + ("train_loss", "train_acc", "trace_C", "eta_lam"):
            v = np.array([r[q] for r in _finite(rs, q)], float)
            entry[q] = float(v.mean()) if len(v) else math.nan
            entry[q + "_ci"] = stats.mean_ci(v)[1] if len(v) >= 2 else math.inf
            entry[q + "_n"] = int(len(v))
        out.append(entry)
    return sorted(out, key=lambda e: (e["ratio"], e["S"]))


def _spearman_rows(x, Y) -> np.ndarray:
    """Spearman ρ between ``x`` and each row of ``Y`` (Pearson correlation of average ranks, so
    ties count as in ``scipy.stats.spearmanr``); nan where a row or x is constant."""
    from scipy.stats import rankdata

    rx = rankdata(np.asarray(x, float))
    ry = rankdata(np.atleast_2d(np.asarray(Y, float)), axis=1)
    rx, ry = rx - rx.mean(), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx ** 2).sum() * (ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ry @ rx) / np.where(den > 0, den, 1.0), np.nan)


def _spearman(x, y) -> float:
    if len(x) < 3:
        return math.nan
    return float(_spearman_rows(x, y)[0])


def spearman_ci(rows: list[dict], q: str, *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Spearman ρ between η/S and the per-pair mean of ``q`` over seeds, and its 95% bootstrap CI:
    each replicate redraws, within every pair, that pair's seeds with replacement."""
    groups: dict = {}
    for r in _finite(rows, q):
        groups.setdefault((r["eta"], r["S"]), []).append(r[q])
    keys = sorted(groups, key=lambda k: k[0] / k[1])
    ratios = np.array([k[0] / k[1] for k in keys])
    values = [np.array(groups[k], float) for k in keys]
    if len(keys) < 3:
        return dict(rho=math.nan, lo=math.nan, hi=math.nan, n_pairs=len(keys), n_runs=sum(map(len, values)))
    rho = _spearman(ratios, [v.mean() for v in values])
    rng = np.random.default_rng(seed)
    means = np.column_stack([v[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1) for v in values])
    reps = _spearman_rows(ratios, means)
    reps = reps[np.isfinite(reps)]
    lo, hi = (np.quantile(reps, [0.025, 0.975]) if len(reps) else (math.nan, math.nan))
    return dict(rho=rho, lo=float(lo), hi=float(hi), n_pairs=len(keys), n_runs=int(sum(map(len, values))))


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum(resid ** 2) / total) if total > 0 else math.nan


def fits(rows: list[dict], q: str, *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Over single runs: R² of log q on log η/S, on log η, on log S (each with an intercept), and the
    two-variable fit log q = a + b log η + c log S with a bootstrap CI (over runs) of b + c
    (η/S alone matters ⇔ b = −c)."""
    rs = [r for r in _finite(rows, q) if q == "val_acc" or r[q] > 0]
    if len(rs) < 4:
        return dict(n=len(rs), r2_ratio=math.nan, r2_eta=math.nan, r2_S=math.nan, b=math.nan, c=math.nan,
                    b_plus_c=math.nan, lo=math.nan, hi=math.nan, r2_both=math.nan)
    eta = np.log([r["eta"] for r in rs])
    S = np.log([r["S"] for r in rs])
    y = np.array([r[q] for r in rs], float)
    y = y if q == "val_acc" else np.log(y)
    X = np.column_stack([np.ones_like(eta), eta, S])

    def both(idx):
        coef, *_ = np.linalg.lstsq(X[idx], y[idx], rcond=None)
        return coef

    coef = both(np.arange(len(y)))
    resid = y - X @ coef
    total = np.sum((y - y.mean()) ** 2)
    rng = np.random.default_rng(seed)
    sums = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if len(set(eta[idx])) < 2 or len(set(S[idx])) < 2:
            continue
        c = both(idx)
        sums.append(c[1] + c[2])
    lo, hi = np.quantile(sums, [0.025, 0.975]) if sums else (math.nan, math.nan)
    return dict(n=len(rs), r2_ratio=_r2(eta - S, y), r2_eta=_r2(eta, y), r2_S=_r2(S, y),
                r2_both=float(1 - np.sum(resid ** 2) / total) if total > 0 else math.nan,
                b=float(coef[1]), c=float(coef[2]), b_plus_c=float(coef[1] + coef[2]), lo=float(lo), hi=float(hi))


def controlled(rows: list[dict], q: str, *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """The effect of η/S at equal training progress: over single runs, the fit
    q' = a + b log(η/S) + d log(final training loss) (q' = log q, or the accuracy itself), with a 95%
    bootstrap interval (over runs) of b."""
    rs = [r for r in _finite(_finite(rows, q), "train_loss") if (q == "val_acc" or r[q] > 0) and r["train_loss"] > 0]
    if len(rs) < 5:
        return dict(n=len(rs), b=math.nan, lo=math.nan, hi=math.nan, d=math.nan)
    x = np.log([r["ratio"] for r in rs])
    z = np.log([r["train_loss"] for r in rs])
    y = np.array([r[q] for r in rs], float)
    y = y if q == "val_acc" else np.log(y)
    X = np.column_stack([np.ones_like(x), x, z])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    rng = np.random.default_rng(seed)
    bs = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if len(set(x[idx])) < 2:
            continue
        bs.append(np.linalg.lstsq(X[idx], y[idx], rcond=None)[0][1])
    lo, hi = np.quantile(bs, [0.025, 0.975]) if bs else (math.nan, math.nan)
    return dict(n=len(rs), b=float(coef[1]), d=float(coef[2]), lo=float(lo), hi=float(hi))


def _trend(rows: list[dict]) -> dict:
    return {q: spearman_ci(rows, q) for q in QUANTITIES + ("train_loss",)}


def summary(results: SharpnessResults) -> dict:
    """The numbers the chapter states, computed from ``results``."""
    out: dict = {}
    for g, rows in results.runs.items():
        usable = [r for r in rows if not r["diverged"]]
        out[g] = dict(
            pairs=pair_table(rows, ("beta",) if g == "rescale" else ("eta", "S")),
            n_runs=len(rows), n_diverged=sum(r["diverged"] for r in rows),
            n_measured=sum(np.isfinite(r["lam_max"]) for r in rows),
            n_unconverged=sum(np.isfinite(r["lam_max"]) and not r.get("lam_converged", True) for r in rows),
            ratio_min=min(r["ratio"] for r in rows), ratio_max=max(r["ratio"] for r in rows),
            val_acc_min=min((r["val_acc"] for r in usable), default=math.nan),
            val_acc_max=max((r["val_acc"] for r in usable), default=math.nan),
            train_acc_min=min((r["train_acc"] for r in usable), default=math.nan),
            train_acc_max=max((r["train_acc"] for r in usable), default=math.nan),
        )
        if g != "rescale":
            out[g]["trend"] = _trend(rows)
            out[g]["fits"] = {q: fits(rows, q) for q in QUANTITIES}
            out[g]["controlled"] = {q: controlled(rows, q) for q in QUANTITIES}
    everything = [r for rows in results.runs.values() for r in rows if np.isfinite(r["lam_max"])]
    eta_lam = np.array([r["eta_lam"] for r in everything], float)
    out["edge"] = dict(n=len(everything), max=float(eta_lam.max()) if len(eta_lam) else math.nan,
                       median=float(np.median(eta_lam)) if len(eta_lam) else math.nan,
                       above_1=int(np.sum(eta_lam >= 1.0)), above_2=int(np.sum(eta_lam > 2.0)),
                       rho_S=_spearman([r["S"] for r in everything], eta_lam) if len(everything) >= 3 else math.nan)
    ch = [r for r in everything if np.isfinite(r["trace_C"]) and r["trace"] > 0]
    ratio = np.array([r["trace_C"] / r["trace"] for r in ch], float)
    out["ch"] = dict(n=len(ch), median=float(np.median(ratio)) if len(ch) else math.nan,
                     min=float(ratio.min()) if len(ch) else math.nan, max=float(ratio.max()) if len(ch) else math.nan,
                     rho=_spearman([r["trace"] for r in ch], [r["trace_C"] for r in ch]) if len(ch) >= 3 else math.nan,
                     slope=float(np.polyfit(np.log([r["trace"] for r in ch]), np.log(np.maximum([r["trace_C"] for r in ch], 1e-300)), 1)[0])
                     if len(ch) >= 3 and all(r["trace_C"] > 0 for r in ch) else math.nan,
                     within=int(np.sum((ratio >= 1 / CH_FACTOR) & (ratio <= CH_FACTOR))))
    resc = out["rescale"]["pairs"]
    base = min(resc, key=lambda p: abs(math.log(p["beta"])))
    out["rescale_base_beta"] = base["beta"]
    lam = [p["lam_max"] for p in resc if np.isfinite(p["lam_max"])]
    out["rescale_lam_factor"] = max(max(lam), base["lam_max"]) / min(min(lam), base["lam_max"]) if lam else math.nan
    out["rescale_lam_dev"] = max((max(p["lam_max"] / base["lam_max"], base["lam_max"] / p["lam_max"])
                                  for p in resc if np.isfinite(p["lam_max"])), default=math.nan)
    out["rescale_acc_dev"] = max((abs(p["val_acc"] - base["val_acc"]) for p in resc if np.isfinite(p["val_acc"])),
                                 default=math.nan)
    out["rescale_rho_lam"] = _spearman([p["beta"] for p in resc if np.isfinite(p["lam_max"])],
                                       [p["lam_max"] for p in resc if np.isfinite(p["lam_max"])])
    out["rescale_diverged"] = sum(p["n_diverged"] for p in resc)
    # the betas around beta = 1 over which the accuracy stays (an unbroken run of them), and lambda_max there
    ordered = sorted(resc, key=lambda p: p["beta"])
    i0 = ordered.index(base)
    same = lambda p: np.isfinite(p["val_acc"]) and abs(p["val_acc"] - base["val_acc"]) <= ACC_POINTS  # noqa: E731
    lo = i0
    while lo > 0 and same(ordered[lo - 1]):
        lo -= 1
    hi = i0
    while hi + 1 < len(ordered) and same(ordered[hi + 1]):
        hi += 1
    stable = ordered[lo:hi + 1]
    lam_stable = [p["lam_max"] for p in stable if np.isfinite(p["lam_max"])]
    out["rescale_stable"] = dict(beta_min=stable[0]["beta"], beta_max=stable[-1]["beta"], n=len(stable),
                                 lam_factor=max(lam_stable) / min(lam_stable) if lam_stable else math.nan)
    out["check"] = [dict(c, dev={k: c["subset"][k] / c["full"][k] - 1 for k in c["full"]}) for c in results.check]
    out["check_max_dev"] = max((abs(d) for c in out["check"] for k, d in c["dev"].items() if k in MEASURES),
                               default=math.nan)
    return out


def _trend_verdict(t: dict, sign: int) -> str:
    """``sign`` −1: a claimed decrease with η/S, +1: a claimed increase."""
    if not np.isfinite(t["rho"]):
        return "not testable at this profile"
    if sign * t["rho"] >= RHO and (t["lo"] > 0 if sign > 0 else t["hi"] < 0):
        return "holds"
    if (t["lo"] > 0 if sign < 0 else t["hi"] < 0):
        return "fails: the opposite trend"
    return "not shown"


def _rho_text(t: dict) -> str:
    return f"ρ = {t['rho']:+.2f} [{t['lo']:+.2f}, {t['hi']:+.2f}] over {t['n_pairs']} pairs"


def _controlled_row(claim: str, c: dict, sign: int, digits: int) -> dict:
    """Verdict on the slope b of log η/S at fixed training loss: its 95% CI on the side of ``sign``."""
    holds, opposite = (c["hi"] < 0, c["lo"] > 0) if sign < 0 else (c["lo"] > 0, c["hi"] < 0)
    return dict(claim=claim,
                rule=f"slope b on log η/S at fixed training loss: 95% CI {'below' if sign < 0 else 'above'} 0",
                evidence=f"b = {c['b']:+.{digits}f} [{c['lo']:+.{digits}f}, {c['hi']:+.{digits}f}], "
                         f"d = {c['d']:+.{digits}f}, {c['n']} runs",
                verdict="holds" if holds else ("fails: the opposite trend" if opposite else "not shown"))


def verdicts(facts: dict) -> list[dict]:
    """Claim, rule, evidence and verdict for each claim the chapter tests."""
    rows = []
    rule_down = f"ρ ≤ −{RHO:g}, 95% CI below 0"
    rule_up = f"ρ ≥ +{RHO:g}, 95% CI above 0"
    names = {"main": "deep MLP (ICLR)", "v3": "shallow MLP (v3)"}
    for g in ("main", "v3"):
        if g not in facts:
            continue
        t = facts[g]["trend"]
        for q, claim in (("frobenius", "‖H‖_F"), ("lam_max", "λ_max"), ("trace", "Tr H")):
            rows.append(dict(claim=f"4. {claim} falls as η/S grows: {names[g]}", rule=rule_down,
                             evidence=_rho_text(t[q]), verdict=_trend_verdict(t[q], -1)))
        rows.append(dict(claim=f"5. Validation accuracy rises with η/S: {names[g]}", rule=rule_up,
                         evidence=_rho_text(t["val_acc"]), verdict=_trend_verdict(t["val_acc"], +1)))
        for claim, key, sign, digits in (("4'. ‖H‖_F falls", "frobenius", -1, 2),
                                         ("5'. Validation accuracy rises", "val_acc", +1, 3)):
            c = facts[g]["controlled"][key]
            if np.isfinite(c["b"]):
                rows.append(_controlled_row(f"{claim} with η/S at equal training loss: {names[g]}", c, sign, digits))
    for g in ("main", "v3"):
        if g not in facts:
            continue
        f = facts[g]["fits"]["frobenius"]
        if not np.isfinite(f["r2_ratio"]):
            continue
        best = max((("η/S", f["r2_ratio"]), ("η alone", f["r2_eta"]), ("S alone", f["r2_S"])), key=lambda x: x[1])
        only_ratio = f["lo"] <= 0 <= f["hi"]
        verdict = (f"{best[0]} explains most" + ("; b = −c not rejected" if only_ratio else "; b = −c rejected"))
        rows.append(dict(claim=f"η/S, not η or S, sets ‖H‖_F: {names[g]}",
                         rule="largest R² of the three; log ‖H‖_F = a + b log η + c log S: does the 95% CI "
                              "of b + c contain 0?",
                         evidence=f"R² {f['r2_ratio']:.2f} (η/S), {f['r2_eta']:.2f} (η), {f['r2_S']:.2f} (S); "
                                  f"b = {f['b']:+.2f}, c = {f['c']:+.2f}, b + c in [{f['lo']:+.2f}, {f['hi']:+.2f}]",
                         verdict=verdict))
    lam_ok = facts["rescale_lam_dev"] <= WIDTH_FACTOR
    acc_ok = facts["rescale_acc_dev"] <= ACC_POINTS
    if not np.isfinite(facts["rescale_lam_dev"]):
        verdict = "not testable at this profile"
    elif lam_ok and acc_ok:
        verdict = "holds: same width, same accuracy"
    elif not lam_ok and acc_ok:
        verdict = "fails for width (as Kaur et al.): λ_max moves, accuracy stays"
    elif lam_ok:
        verdict = "width stays, accuracy moves"
    else:
        verdict = "fails: both move"
    st = facts["rescale_stable"]
    evidence = (f"λ_max up to ×{facts['rescale_lam_dev']:.2f} from β = {facts['rescale_base_beta']:g}; "
                f"accuracy up to {100 * facts['rescale_acc_dev']:.1f} points")
    if not acc_ok and st["n"] >= 2:
        evidence += (f"; over β = {st['beta_min']:g}–{st['beta_max']:g}, where the accuracy stays within "
                     f"{100 * ACC_POINTS:g} point, λ_max spans ×{st['lam_factor']:.2f}")
    rows.append(dict(claim="7. Same η/S, same width (rescaling η and S by β)",
                     rule=f"every β: mean λ_max within ×{WIDTH_FACTOR:g}, accuracy within {100 * ACC_POINTS:g} "
                          f"point of β = {facts['rescale_base_beta']:g}'s",
                     evidence=evidence, verdict=verdict))
    ch = facts["ch"]
    if ch["n"]:
        rows.append(dict(claim="C ≈ H at the end of training (the v3 trace relation's assumption)",
                         rule=f"Tr C / Tr H within ×{CH_FACTOR:g} of 1 for every run",
                         evidence=f"Tr C / Tr H from {ch['min']:.2g} to {ch['max']:.2g} (median {ch['median']:.2g}) "
                                  f"over {ch['n']} runs; {ch['within']} within ×{CH_FACTOR:g}",
                         verdict="holds" if ch["within"] == ch["n"] else
                         ("holds for most runs" if ch["within"] >= 0.5 * ch["n"] else "fails")))
    return rows


def verdict_table(facts: dict) -> str:
    lines = ["| claim | rule | evidence | verdict |", "| --- | --- | --- | --- |"]
    lines += [f"| {v['claim']} | {v['rule']} | {v['evidence']} | **{v['verdict']}** |" for v in verdicts(facts)]
    return "\n".join(lines)


def trend_table(facts: dict) -> str:
    """Spearman ρ with η/S (95% bootstrap CI) and the R² of the three one-variable fits, per network."""
    names = {"main": "deep", "v3": "shallow"}
    lines = ["| network | quantity | Spearman ρ with η/S [95% CI] | R² vs log η/S | R² vs log η | R² vs log S "
             "| slope on log η/S at equal training loss [95% CI] |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for g in ("main", "v3"):
        if g not in facts:
            continue
        for q in QUANTITIES:
            t, f, c = facts[g]["trend"][q], facts[g]["fits"][q], facts[g]["controlled"][q]
            what = f"log {LABELS[q]}" if q != "val_acc" else LABELS[q]
            lines.append(f"| {names[g]} | {what} | {t['rho']:+.2f} [{t['lo']:+.2f}, {t['hi']:+.2f}] | "
                         f"{f['r2_ratio']:.2f} | {f['r2_eta']:.2f} | {f['r2_S']:.2f} | "
                         f"{c['b']:+.3f} [{c['lo']:+.3f}, {c['hi']:+.3f}] |")
        t = facts[g]["trend"]["train_loss"]
        lines.append(f"| {names[g]} | final training loss | {t['rho']:+.2f} [{t['lo']:+.2f}, {t['hi']:+.2f}] | | | | |")
    return "\n".join(lines)


def pairs_table(pairs: list[dict], *, beta: bool = False) -> str:
    """Per pair: η, S, η/S, runs, and the mean (± 95% CI) of each quantity."""
    head = "| β | η | S | η/S |" if beta else "| η | S | η/S |"
    lines = [head + " seeds | λ_max | Tr H | ‖H‖_F | training loss | validation accuracy (%) |",
             "|" + " ---: |" * (head.count("|") - 1 + 6)]

    def fmt(p, q, f=".3g", scale=1.0):
        v, ci = p[q], p[q + "_ci"]
        if not np.isfinite(v):
            return "–"
        return f"{scale * v:{f}}" + (f" ± {scale * ci:{f}}" if np.isfinite(ci) else "")

    for p in pairs:
        lead = (f"| {p['beta']:g} " if beta else "") + f"| {p['eta']:g} | {p['S']} | {p['ratio']:.2g} |"
        div = f" ({p['n_diverged']} div.)" if p["n_diverged"] else ""
        lines.append(lead + f" {p['n_runs']}{div} | {fmt(p, 'lam_max')} | {fmt(p, 'trace')} | {fmt(p, 'frobenius')} | "
                     f"{fmt(p, 'train_loss', '.3f')} | {fmt(p, 'val_acc', '.1f', 100)} |")
    return "\n".join(lines)


def check_table(check: list[dict], n_samples: int) -> str:
    lines = [f"| run (η, S, seed) | quantity | {n_samples} samples | whole training set | difference |",
             "| --- | --- | ---: | ---: | ---: |"]
    for c in check:
        for i, k in enumerate(MEASURES + ("trace_C",)):
            lead = f"η = {c['eta']:g}, S = {c['S']}, seed {c['seed']}" if i == 0 else ""
            lines.append(f"| {lead} | {LABELS[k]} | {c['subset'][k]:.4g} | {c['full'][k]:.4g} | "
                         f"{100 * (c['subset'][k] / c['full'][k] - 1):+.1f}% |")
    return "\n".join(lines)


def plan(params) -> list:
    """The training runs of this chapter at ``params`` (for ``python -m replication plan`` and the
    distributed executors)."""
    return [cfg for runs in grids(params).values() for _, cfg in runs]
