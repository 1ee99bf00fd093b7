"""Chapter "η/S, the width of the minimum and generalization": parameters, the designs (fixed epochs,
factorial at equal SDE time), the rules that turn runs into verdicts (three outcomes, through
replication.stats), the chapter's compute at a tiny size through the store, and the notebook's prose."""
import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from replication.chapters import sharpness
from replication import stats
from replication.chapters.sharpness import claims, controls, experiment
from replication.claims import OUTCOMES
from replication.chapters import resolve_spec as resolve
from replication.params import ParameterError
from replication.store import ResultStore

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:FutureWarning")
ROOT = Path(__file__).resolve().parents[1]


def test_every_profile_resolves_and_the_laptop_grids():
    for profile in ("smoke", "laptop", "gpu", "paper"):
        resolve(sharpness.SPEC, profile)
    laptop = resolve(sharpness.SPEC, "laptop")
    assert set(zip(laptop.lrs, laptop.batch_sizes)) == set(experiment.CHALLENGE_PAIRS)
    assert laptop.depth == 20 and laptop.width == 50 and laptop.seeds >= 3 and laptop.factorial_seeds >= 3
    # the factorial design separates η from η/S (the challenge pairs do not)
    fac = [(lab["eta"], lab["S"]) for lab, _ in experiment.grids(laptop)["factorial"]]
    e, r = np.log([a for a, _ in fac]), np.log([a / b for a, b in fac])
    assert abs(np.corrcoef(e, r)[0, 1]) < 0.9
    e, r = np.log(laptop.lrs), np.log(np.array(laptop.lrs) / np.array(laptop.batch_sizes))
    assert np.corrcoef(e, r)[0, 1] > 0.5


@pytest.mark.parametrize("explicit, pattern", [
    ({"lrs": [0.1, 0.2, 0.3, 0.4]}, r"^lrs=\[0.1, 0.2, 0.3, 0.4\]: must have one entry per batch size"),
    ({"batch_sizes": [20, 20, 20], "lrs": [0.01, 0.01, 0.01]}, r"pairs must differ"),
    ({"lrs": [0.01, 0.02, 0.03], "batch_sizes": [10, 20, 30]}, r"at least two ratios"),
    ({"batch_sizes": [20, 40, 1000]}, r"every batch size must be <= n_train=400"),
    ({"rescale_betas": [0.5, 1.0, 100.0]}, r"beta=100 gives batch size 2000"),
    ({"rescale_betas": [0.5, 2.0]}, r"must include 1"),
    ({"factorial_lrs": [0.1, 0.1]}, r"^factorial_lrs=\[0.1, 0.1\]: 0.1 is listed twice"),
    ({"factorial_batch_sizes": [20, 1000]}, r"every batch size must be <= factorial_n_train=400"),
    ({"hessian_samples": 1000}, r"^hessian_samples=1000: must be <= n_train=400"),
    ({"v3_depth": 3}, r"^v3_depth=3: must be below depth=3"),
    ({"n_train": 59_000, "n_val": 2000}, r"n_train \+ n_val must be <= 60000"),
    ({"init": "orthogonal"}, r"^init='orthogonal': must be a string, one of torch, he, xavier"),
])
def test_bad_parameters_fail_with_one_line(explicit, pattern):
    with pytest.raises(ParameterError, match=pattern) as info:
        resolve(sharpness.SPEC, "smoke", explicit)
    assert "\n" not in str(info.value)


def test_grids_pair_the_fixed_epoch_runs_and_train_the_factorial_to_equal_sde_time():
    p = resolve(sharpness.SPEC, "smoke", {"rescale_lr": 0.02, "rescale_batch_size": 40})
    g = experiment.grids(p)
    assert [(lab["eta"], lab["S"]) for lab, _ in g["main"][::p.seeds]] == list(zip(p.lrs, p.batch_sizes))
    assert all(c.lr == lab["eta"] and c.batch_size == lab["S"] and c.seed == lab["seed"] for lab, c in g["main"])
    assert {c.options["hidden"] for _, c in g["v3"]} == {(p.width,) * p.v3_depth}
    keys_main = {c.key for _, c in g["main"]}
    assert any(lab["beta"] == 1.0 and c.key in keys_main for lab, c in g["rescale"])
    assert "v3" not in experiment.grids(resolve(sharpness.SPEC, "smoke", {"v3_depth": 0}))
    laptop = resolve(sharpness.SPEC, "laptop")
    fac = experiment.grids(laptop)["factorial"]
    assert len(fac) == len(laptop.factorial_lrs) * len(laptop.factorial_batch_sizes) * laptop.factorial_seeds
    for lab, c in fac:     # every cell covers the same SDE time t = E N η / S, and is probed at 0 and at E
        assert c.epochs * laptop.factorial_n_train * c.lr / c.batch_size == pytest.approx(laptop.sde_time)
        assert c.hessian_epochs[0] == 0 and c.hessian_epochs[-1] == c.epochs and c.n_train == laptop.factorial_n_train
    assert experiment.probe_epochs(8) == (0, 1, 2, 4, 6, 8)


def _rows(values: dict, *, diverged=(), loss=None, group="main"):
    """Runs with measure values per (eta, S) and seed; everything else derived."""
    rows = []
    for (eta, S), vals in values.items():
        for seed, v in enumerate(vals):
            rows.append(dict(group=group, eta=eta, S=S, ratio=eta / S, seed=seed, diverged=(eta, S, seed) in diverged,
                             frobenius=v, lam_max=v, trace=v, val_acc=0.5 + 0.01 * math.log(eta / S) + 0.001 * seed,
                             train_loss=loss(eta, S, seed) if loss else 1.0 + 0.1 * seed, trace_C=v, eta_lam=eta * v,
                             train_acc=0.9, epochs=4, probes=[]))
    return rows


def test_trend_rule_has_three_outcomes_and_drops_diverged_runs():
    falling = _rows({(0.01, 100): [10.0, 11.0, 10.5], (0.02, 100): [8.0, 8.5, 8.2], (0.04, 100): [5.0, 6.0, 5.5],
                     (0.08, 100): [2.0, 2.5, 2.2]})
    t = claims.trend(falling, "frobenius")
    assert t["rho"] == pytest.approx(-1.0) and t["hi"] < 0
    from replication import stats

    assert stats.trend_outcome(t, -1) == "holds" and stats.trend_outcome(t, +1) == "fails"
    noisy = _rows({(0.01, 100): [1.0, 9.0, 5.0], (0.02, 100): [2.0, 10.0, 4.0], (0.04, 100): [7.0, 1.0, 3.0],
                   (0.08, 100): [6.0, 5.0, 2.0]})
    assert stats.trend_outcome(claims.trend(noisy, "frobenius"), -1) == "inconclusive"
    div = _rows({(0.01, 100): [10.0, 1e9], (0.02, 100): [8.0, 8.5], (0.04, 100): [5.0, 6.0]}, diverged={(0.01, 100, 1)})
    assert claims.trend(div, "frobenius")["n_runs"] == 5
    assert claims.pair_table(div)[0]["frobenius"] == 10.0 and claims.pair_table(div)[0]["n_diverged"] == 1


PAIRS = [(eta, S) for eta in (0.01, 0.02, 0.04) for S in (25, 50, 100)]


def _by(rule, rng):
    return _rows({(eta, S): list(rule(eta, S) * np.exp(0.03 * rng.standard_normal(3))) for eta, S in PAIRS},
                 loss=lambda eta, S, seed: 0.5 + 0.1 * ((seed + int(eta * 100)) % 3))


def _check(dev: float) -> list[dict]:
    """Two checked runs whose sample is off the whole set by ``dev`` (relative) in every width."""
    full = [dict(lam_max=10.0, trace=50.0, frobenius=20.0, trace_C=5.0), dict(lam_max=40.0, trace=90.0, frobenius=70.0,
                                                                             trace_C=9.0)]
    return [dict(eta=0.01, S=50, ratio=2e-4, seed=0, n_full=400, full=f, subset={k: v * (1 + dev) for k, v in f.items()})
            for f in full]


def _facts(runs, dev: float = 0.0):
    @dataclasses.dataclass
    class R:
        runs: dict
        check: list
        check_equal_time: list

    return claims.summary(R(runs=runs, check=_check(dev), check_equal_time=_check(dev)), None)


def _rescale(lams, accs):
    rows = []
    for beta, lam, acc in zip((0.5, 1.0, 2.0), lams, accs):
        for seed in range(4):
            rows.append(dict(group="rescale", eta=0.01 * beta, S=int(50 * beta), ratio=2e-4, beta=beta, seed=seed,
                             diverged=False, frobenius=lam, lam_max=lam * (1 + 0.01 * seed), trace=lam,
                             val_acc=acc + 0.001 * seed, train_loss=0.5, train_acc=0.9, trace_C=lam,
                             eta_lam=0.01 * beta * lam, epochs=4, probes=[]))
    return rows


def _verdicts(runs, dev: float = 0.0):
    p = resolve(sharpness.SPEC, "smoke")
    return {v.id: v for v in claims.verdicts(_facts(runs, dev), p)}


def test_the_fit_tells_eta_over_s_from_eta_alone():
    rng = np.random.default_rng(0)
    same = _rescale((10.0, 10.0, 10.0), (0.8, 0.8, 0.8))
    v = _verdicts({"factorial": _by(lambda eta, S: 0.01 * (eta / S) ** -0.5, rng), "main": _by(lambda e, S: 1.0, rng),
                   "rescale": same})
    assert v["sharpness-ratio-not-eta-equal-time"].raw_outcome == "holds"
    assert v["sharpness-ratio-alone-equal-time"].outcome == "holds"      # d within the margin; b is not: control fails
    assert v["sharpness-ratio-alone-equal-time"].control["outcome"] == "fails"
    assert v["sharpness-ratio-not-eta-equal-time"].evidence["b"] == pytest.approx(-0.5, abs=0.05)
    v = _verdicts({"factorial": _by(lambda eta, S: 1.0 / eta, rng), "main": _by(lambda e, S: 1.0, rng),
                   "rescale": same})
    assert v["sharpness-ratio-not-eta-equal-time"].outcome == "inconclusive"   # b = 0: η alone
    assert v["sharpness-ratio-alone-equal-time"].outcome == "fails"            # d = -1: η matters at fixed η/S
    assert all(x.outcome in OUTCOMES for x in v.values())
    assert len(v) == len(set(v)) and all(x.chapter == "sharpness" and x.profile == "smoke" for x in v.values())
    # nothing moves: d and b both within the margin, so "only η/S" cannot tell (its control holds too)
    v = _verdicts({"factorial": _by(lambda eta, S: 1.0, rng), "main": _by(lambda e, S: 1.0, rng), "rescale": same})
    assert v["sharpness-ratio-alone-equal-time"].raw_outcome == "holds"
    assert v["sharpness-ratio-alone-equal-time"].outcome == "not discriminating"


def test_trend_rule_holds_on_eta_over_s_and_rejects_its_controls():
    """Claim 4 at equal SDE time: a pure η/S effect holds and its controls (scrambled η/S, η at fixed
    η/S) are rejected; a width set by η as much as by η/S is 'not discriminating'; every verdict
    carries the outcome under the rule as first registered."""
    rng = np.random.default_rng(5)
    same = _rescale((10.0, 10.0, 10.0), (0.8, 0.8, 0.8))
    v = _verdicts({"factorial": _by(lambda eta, S: 0.01 * (eta / S) ** -0.5, rng), "main": _by(lambda e, S: 1.0, rng),
                   "rescale": same})["claim-4-equal-time-frobenius"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "fails" and v.outcome == "holds"
    assert v.rule_id == "sharpness-width-trend" and v.original["outcome"] == "holds" and v.matched.startswith("design B")
    # η at fixed η/S moves the width as strongly: the rule finds the η trend too
    v = _verdicts({"factorial": _by(lambda eta, S: 1e-3 * (eta / S) ** -0.5 * eta ** -1.5, rng),
                   "main": _by(lambda e, S: 1.0, rng), "rescale": same})["claim-4-equal-time-frobenius"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "holds" and v.outcome == "not discriminating"
    assert "η at fixed η/S" in v.control["summary"]
    # the scrambled labels alone: a trend that is not over η/S is not found
    rows = controls.scrambled(_by(lambda eta, S: 0.01 * (eta / S) ** -0.5, rng))
    assert stats.trend_outcome(claims.trend(rows, "frobenius"), -1) == "fails"


def test_widths_only_from_stable_runs_and_a_passing_sample_check():
    """Runs with η λ_max >= 2 are left out of the width rules; a Hessian sample that fails the
    chapter's own check makes every width verdict inconclusive (with what would decide), while the
    rule as first registered (no check, every run) still says holds."""
    rng = np.random.default_rng(6)
    rows = _by(lambda eta, S: 0.01 * (eta / S) ** -0.5, rng)
    for r in rows[:3]:                                   # one cell bounces above the stability limit
        r["lam_max"] = r["frobenius"] = r["trace"] = 300.0 / r["eta"]
        r["eta_lam"] = 300.0
    runs = {"factorial": rows, "main": _by(lambda e, S: 1.0, rng), "rescale": _rescale((10.0,) * 3, (0.8,) * 3)}
    v = _verdicts(runs)
    assert v["claim-4-equal-time-frobenius"].evidence["runs"] == len(rows) - 3
    assert v["claim-4-equal-time-frobenius"].evidence["stable"] == len(rows) - 3
    bad = _verdicts(runs, dev=0.57)
    for vid in ("claim-4-equal-time-frobenius", "claim-4-equal-time-lam-max", "sharpness-ratio-not-eta-equal-time",
                "claim-7-rescale-width"):
        assert bad[vid].outcome == "inconclusive" and "57%" in bad[vid].power, vid
    assert bad["claim-4-equal-time-frobenius"].original["outcome"] in ("holds", "not discriminating")
    assert bad["claim-5-equal-time-val-acc"].outcome == v["claim-5-equal-time-val-acc"].outcome    # not a width
    assert bad["sharpness-sample-count-equal-time"].outcome == "fails"
    assert v["sharpness-sample-count-equal-time"].outcome == "holds"      # 0% off; two different runs are not equal
    assert v["sharpness-sample-count-equal-time"].control["outcome"] == "fails"


def test_equal_loss_rows_are_inconclusive_when_loss_and_ratio_are_collinear():
    rng = np.random.default_rng(1)
    rows = _by(lambda eta, S: 0.01 * (eta / S) ** -0.5, rng)
    for r in rows:
        r["train_loss"] = 0.01 / r["ratio"] ** 0.5      # collinear with η/S
    v = _verdicts({"factorial": rows, "rescale": _rescale((10.0,) * 3, (0.8,) * 3)})
    assert v["claim-4-equal-time-equal-loss"].outcome == "inconclusive"
    assert abs(v["claim-4-equal-time-equal-loss"].evidence["corr"]) > claims.rule_param("sharpness-equal-loss-width",
                                                                                         "collinear")
    rows = _by(lambda eta, S: 0.01 * (eta / S) ** -0.5, rng)      # loss varies independently of η/S
    v = _verdicts({"factorial": rows, "rescale": _rescale((10.0,) * 3, (0.8,) * 3)})
    assert v["claim-4-equal-time-equal-loss"].raw_outcome == "holds"


def test_claim_7_is_an_equivalence_test_with_a_margin():
    base = {"main": _by(lambda e, S: 1.0, np.random.default_rng(2))}      # another η/S at S₀ = 50: λ_max 1, not 10
    v = _verdicts(dict(base, rescale=_rescale((10.0, 10.0, 10.2), (0.8, 0.8, 0.8))))
    assert v["claim-7-rescale-width"].outcome == "holds" and v["claim-7-rescale-width"].control["outcome"] == "fails"
    v = _verdicts(dict(base, rescale=_rescale((30.0, 10.0, 3.0), (0.8, 0.8, 0.7))))
    assert v["claim-7-rescale-width"].outcome == "fails" and v["claim-7-rescale-val-acc"].outcome == "fails"
    assert v["claim-7-rescale-width"].original["outcome"] == "fails"
    noisy = _rescale((10.0, 10.0, 10.0), (0.8, 0.8, 0.8))
    for r, f in zip(noisy, np.tile([0.3, 3.0, 1.0, 0.5], 3)):
        r["lam_max"] *= f
    v = _verdicts(dict(base, rescale=noisy))["claim-7-rescale-width"]
    assert v.outcome == "inconclusive" and "runs per side" in v.power
    # the control: a different η/S at the same scale with the same λ_max is called equal -> not discriminating
    flat = {"main": _by(lambda e, S: 10.0, np.random.default_rng(3))}
    v = _verdicts(dict(flat, rescale=_rescale((10.0, 10.0, 10.2), (0.8, 0.8, 0.8))))["claim-7-rescale-width"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "holds" and v.outcome == "not discriminating"


def test_other_controls_reject_what_the_claim_says_differs():
    rng = np.random.default_rng(7)
    rows = _by(lambda eta, S: 1.0, rng)
    for r in rows:
        r["trace_C"] = r["trace"] * 1.1
    v = _verdicts({"factorial": rows, "main": _by(lambda e, S: 1.0, rng), "rescale": _rescale((10.0,) * 3, (0.8,) * 3)})
    c = v["sharpness-c-equals-h"]
    assert c.raw_outcome == "holds" and c.control["outcome"] == "fails" and c.outcome == "holds"


def test_width_set_reads_the_probes():
    row = dict(eta=0.1, epochs=8, probes=[(0, 5.0), (1, 40.0), (2, 22.0), (4, 20.0), (6, 19.0), (8, 20.0)])
    w = claims.width_set(row)
    assert w["set_fraction"] == pytest.approx(2 / 8) and w["late_eta_lam"] == pytest.approx(0.1 * 20.0)


def test_compute_at_a_tiny_size_through_the_store(tmp_path, one_thread):
    from replication import chapters

    p = resolve(sharpness.SPEC, "smoke", {"lrs": [0.05, 0.02, 0.01], "batch_sizes": [50, 100, 200],
                                          "seeds": 2, "v3_depth": 0, "rescale_betas": [1.0, 2.0],
                                          "rescale_seeds": 2, "rescale_lr": 0.05, "rescale_batch_size": 50,
                                          "n_train": 400, "hessian_samples": 32, "factorial_lrs": [0.05, 0.1],
                                          "factorial_batch_sizes": [50, 100], "factorial_n_train": 200,
                                          "sde_time": 1.0})
    store = ResultStore(tmp_path / "store")
    res = chapters.compute("sharpness", p, store=store, progress=False)
    assert set(res.runs) == {"main", "rescale", "factorial"} and len(res.runs["main"]) == 6
    row = res.runs["main"][0]
    assert row["n_samples"] == 32 and row["lam_max"] > 0 and row["trace_C"] > 0
    assert row["eta_lam"] == pytest.approx(row["eta"] * row["lam_max"])
    fac = res.runs["factorial"]
    assert all(r["probes"][0][0] == 0 and r["probes"][-1][0] == r["epochs"] for r in fac if not r["diverged"])
    # beta = 1 is the main grid's (0.05, 50): trained and measured once; two whole-set checks
    assert res.computed == (6 + 2 + 8) * 2 + 2 + 2 and len(res.check) == 2 and len(res.check_equal_time) == 2
    assert res.check_equal_time[0]["n_full"] == 200
    again = chapters.compute("sharpness", p, store=store, progress=False)
    assert again.computed == 0 and again.runs["main"][3]["frobenius"] == res.runs["main"][3]["frobenius"]
    verdicts = sharpness.verdicts(res, p)
    ids = [v.id for v in verdicts]
    assert len(ids) == len(set(ids)) and "claim-4-equal-time-frobenius" in ids and "claim-7-rescale-width" in ids
    assert not any("-deep-" in i or "-shallow-" in i for i in ids)      # fixed epochs: a secondary view only
    assert all(v.outcome in OUTCOMES for v in verdicts)
    import matplotlib.pyplot as plt

    from replication.chapters.sharpness import figures

    facts = claims.summary(res, p)
    for fig in (figures.against_ratio(res.runs["main"], facts["main"]["pairs"]), figures.probes(fac),
                figures.edge_of_stability(res.runs), figures.rescaling(res.runs["rescale"], facts["rescale"]["pairs"]),
                figures.c_versus_h(res.runs)):
        assert len(fig.axes) <= 5
        plt.close(fig)


def _prose(text: str) -> str:
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\$[^$]*\$", "", text)
    text = re.sub(r"\{[a-z:-]+\}`[^`]*`", "", text)
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"^```.*$", "", text, flags=re.M)
    return re.sub(r"^:[a-z-]+:.*$", "", text, flags=re.M)


def test_the_notebook_types_no_number_and_glues_verdicts_by_id():
    nb = json.loads((ROOT / "book" / "sharpness.ipynb").read_text())
    md = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    digits = [m.group() for t in md for m in re.finditer(r".{0,20}\d.{0,20}", _prose(t))]
    assert digits == []
    assert _prose("a 2 b $3$ {glue:text}`x1` `y2`").count("2") == 1   # the scan itself sees digits
    glued = {m for t in md for m in re.findall(r"\{glue:text\}`verdict-([a-z0-9-]+)`", t)}
    p = resolve(sharpness.SPEC, "smoke")
    rng = np.random.default_rng(0)
    ids = {v.id for v in claims.verdicts(_facts({"main": _by(lambda e, S: 1.0, rng),
                                                "v3": _by(lambda e, S: 1.0, rng),
                                                "factorial": _by(lambda e, S: 1.0, rng),
                                                "rescale": _rescale((10.0,) * 3, (0.8,) * 3)}), p)}
    assert glued and glued <= ids
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "nb.evaluate(params)" in code and "plots_sharpness" not in code


def _cells(line: str) -> int:
    """Cells of a markdown table row (escaped pipes do not split)."""
    return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))


def test_findings_read_as_prose_and_tables():
    """Presentation: counts are Python ints (no ``np.int64(48)`` on the page), numbers have no
    e-notation, zero divergences read as a sentence, every table row has its header's cells, and
    log-axis intervals (geometric) stay above zero with three seeds."""
    from replication.chapters.sharpness import page as report

    rng = np.random.default_rng(3)
    runs = {"main": _by(lambda e, S: 3.0 * (e / S) ** -0.5, rng), "v3": _by(lambda e, S: 1.0, rng),
            "factorial": _by(lambda e, S: 1.0 / e, rng), "rescale": _rescale((10.0, 10.0, 10.2), (0.8, 0.8, 0.8))}
    facts = _facts(runs)
    assert all(type(facts[g][k]) is int for g in ("main", "v3", "factorial") for k in ("n_measured", "n_diverged"))
    V = {v.id: v for v in claims.verdicts(facts, resolve(sharpness.SPEC, "smoke"))}
    pages = [report.findings(g, facts, V) for g in ("main", "v3", "factorial")]
    pages.append(report.rescale_findings(facts, V, facts["rescale"]["pairs"]))
    for md in pages:
        assert "np." not in md and not re.search(r"\de[-+]\d", md) and not re.search(r"(?<![\d.])0 of the", md)
        assert "No run diverged." in md
        for block in md.split("\n\n"):
            rows = [line for line in block.splitlines() if line.startswith("|")]
            assert len({_cells(line) for line in rows}) <= 1, block
    assert report.number(5e-6) == "5.0×10⁻⁶" and report.number(0.005) == "0.005"
    assert report.numbers([5e-6, 1e-3]) == ["5.0×10⁻⁶", "1.0×10⁻³"]
    assert report.diverged_sentence(2, 48) == "2 of the 48 runs diverged and are left out of the statistics."
    wide = _rows({(0.01, 100): [1.0, 50.0, 3.0], (0.02, 100): [2.0, 2.5, 2.2]})
    for p in claims.pair_table(wide):
        assert 0 < p["lam_max_glo"] < p["lam_max_gm"] < p["lam_max_ghi"]
    assert claims.pair_table(wide)[0]["lam_max"] - claims.pair_table(wide)[0]["lam_max_ci"] < 0   # arithmetic: < 0


def test_a_rule_with_pipes_keeps_its_verdict_row_whole():
    """The equal-loss rules contain |corr(...)|: each verdict stays whole in the shared verdict list."""
    from replication.figures import verdict_markdown

    rng = np.random.default_rng(4)
    vs = claims.verdicts(_facts({"factorial": _by(lambda e, S: 1.0, rng), "rescale": _rescale((10.0,) * 3, (0.8,) * 3)}),
                         resolve(sharpness.SPEC, "smoke"))
    assert any("|" in v.rule for v in vs)
    md = verdict_markdown(vs)
    items = [line for line in md.splitlines() if line.startswith("- **")]
    assert len(items) == len(vs)                                   # one list item per verdict
    assert md.count("*Rule") == len(vs) + sum(v.amended for v in vs)   # amended: the original rule too
    assert any("|corr(" in line for line in md.splitlines())     # no table: pipes need no escaping


def test_each_deciding_number_lies_where_its_rule_put_the_outcome():
    from replication import claims as verdict_rules

    rng = np.random.default_rng(5)
    same = _rescale((10.0, 10.0, 10.0), (0.8, 0.8, 0.8))
    seen = set()
    for width in (lambda eta, S: 0.01 * (eta / S) ** -0.5, lambda eta, S: 0.01 * (eta / S) ** 0.5):
        for v in _verdicts({"factorial": _by(width, rng), "main": _by(lambda e, S: 1.0, rng), "rescale": same}).values():
            if v.decision and v.raw_outcome in ("holds", "fails"):
                assert verdict_rules.decided(v.decision) == v.raw_outcome, (v.id, v.decision)
                seen.add((v.id, v.raw_outcome))
    assert {("claim-4-equal-time-frobenius", "holds"), ("claim-4-equal-time-frobenius", "fails")} <= seen


# -- the appendix's Fig. 1: a ResNet on CIFAR-10 at the gpu and paper profiles ----------------------------
def test_the_resnet_runs_at_gpu_and_paper_only_with_augmentation_and_the_pairs():
    for profile in ("smoke", "laptop"):
        p = resolve(sharpness.SPEC, profile)
        assert p.cifar_model == "none" and experiment.CIFAR not in experiment.grids(p)
    for profile in ("gpu", "paper"):
        p = resolve(sharpness.SPEC, profile)
        runs = experiment.grids(p)[experiment.CIFAR]
        assert len(runs) == len(p.cifar_lrs) * p.cifar_seeds
        assert {(c.model, c.dataset, c.augment, c.n_train, c.epochs) for _, c in runs} == {
            (p.cifar_model, "cifar10", True, p.cifar_n_train, p.cifar_epochs)}
        pairs = sorted((lab["eta"], lab["S"]) for lab, _ in runs[::p.cifar_seeds])
        assert pairs == sorted(zip(p.cifar_lrs, p.cifar_batch_sizes))
        assert all(c.lr == lab["eta"] and c.batch_size == lab["S"] for lab, c in runs)
        assert {c.key for _, c in runs} <= {c.key for c in sharpness.plan(p)}     # declared: dry run, planning


@pytest.mark.parametrize("explicit, pattern", [
    ({"cifar_lrs": [0.1, 0.2, 0.3]}, r"^cifar_lrs=\[0.1, 0.2, 0.3\]: must have one entry per batch size"),
    ({"cifar_lrs": [0.1, 0.2], "cifar_batch_sizes": [100, 200]}, r"^cifar_lrs=.*at least two ratios"),
    ({"cifar_batch_sizes": [128, 128, 128, 128, 128, 128]}, r"^cifar_batch_sizes=.*pairs must differ"),
    ({"cifar_n_train": 49_000}, r"^cifar_n_train=49000: cifar_n_train \+ n_val must be <= 50000"),
    ({"cifar_model": "vgg11"}, r"^cifar_model='vgg11': must be a string, one of none, resnet20"),
])
def test_bad_resnet_parameters_fail_with_one_line(explicit, pattern):
    with pytest.raises(ParameterError, match=pattern):
        resolve(sharpness.SPEC, "gpu", explicit)


def test_the_resnet_group_is_measured_but_kept_out_of_every_verdict(tmp_path, one_thread, monkeypatch):
    """The group's routing, with a CPU-sized stand-in for the ResNet runs (no CIFAR-10 here): they are
    trained and measured like the others, land in ``results.cifar`` and change no verdict."""
    p = resolve(sharpness.SPEC, "smoke", {"lrs": [0.05, 0.02, 0.01], "batch_sizes": [50, 100, 200],
                                          "seeds": 2, "v3_depth": 0, "rescale_betas": [1.0, 2.0],
                                          "rescale_seeds": 2, "rescale_lr": 0.05, "rescale_batch_size": 50,
                                          "hessian_samples": 32, "factorial_lrs": [0.05, 0.1],
                                          "factorial_batch_sizes": [50, 100], "factorial_n_train": 200,
                                          "sde_time": 1.0})
    store = ResultStore(tmp_path / "store")
    without = sharpness.compute(p, store=store, progress=False)
    assert without.cifar == []
    from replication.chapters.sharpness import figures, page

    assert without.cifar_provenance == {} and "gpu and paper profiles run it" in page.cifar_text(without, p)
    stand_in = [(dict(eta=lr, S=S, seed=s), dataclasses.replace(cfg, model="small_cnn", model_options={"channels": (2,)},
                                                                lr=lr, batch_size=S, seed=s))
                for lr, S in ((0.05, 20), (0.05, 80), (0.02, 80)) for s in range(2)
                for cfg in [experiment.base_config(p, p.depth)]]
    monkeypatch.setattr(experiment, "cifar_grid", lambda params: stand_in)
    from replication.params import ChapterParams

    params = ChapterParams("sharpness", p.profile, {**dict(p), "cifar_model": "resnet20"}, p.sources)
    res = sharpness.compute(params, store=store, progress=False)
    assert experiment.CIFAR not in res.runs and len(res.cifar) == 6
    assert all(r["lam_max"] > 0 and r["group"] == experiment.CIFAR for r in res.cifar if not r["diverged"])
    assert res.architectures[experiment.CIFAR].startswith("small CNN")
    assert [(v.id, v.outcome) for v in sharpness.verdicts(res, params)] == \
        [(v.id, v.outcome) for v in sharpness.verdicts(without, p)]
    text = page.cifar_text(res, params)     # the ResNet group's provenance is its own runs', stamped on its CSV
    assert "3 pairs (η, S) with 2 seeds" in text and "ρ = " in text and "No verdict" in text
    assert res.cifar_provenance["code_version"] and res.cifar_provenance["data"]     # (the stand-in: design A's data)
    monkeypatch.chdir(tmp_path)
    csv = figures.export_cifar(res, {"profile": p.profile, "provenance": {"code_version": "MLP", "device": "MLP"}})
    rows = (tmp_path / csv).read_text().splitlines()
    assert len(rows) == 7 and "MLP" not in "\n".join(rows[1:])
    assert res.cifar_provenance["code_version"] in rows[1]


def _resnet_results(cifar_rows, *, canonical=False):
    """What the page reads of a chapter result with (or without) ResNet runs: design A's runs on
    Fashion-MNIST, the ResNet's on CIFAR-10 (the JPEG stand-in unless ``canonical``), on another device."""
    from types import SimpleNamespace

    mlp = {"data": {"name": "fashion-mnist", "canonical": True, "fingerprint": "f00d"}, "device": "cpu",
           "device_name": "cpu (x86, 2 threads)", "code_version": "0.1.0+gmlp"}
    data = ({"name": "cifar10", "canonical": True, "fingerprint": "c1fa"} if canonical else
            {"name": "cifar10", "canonical": False, "fingerprint": "c1fa",
             "source": "NOT canonical CIFAR-10: lossy JPEG stand-in (STANDIN.txt present) in /data/cifar10_standin"})
    resnet = {"data": data, "device": "cuda", "device_name": "cuda (NVIDIA H100 80GB HBM3)", "code_version": "0.1.0+gres"}
    return SimpleNamespace(cifar=cifar_rows, provenance=mlp, cifar_provenance=resnet if cifar_rows else {},
                           architectures={"main": "ReLU MLP 784-50×20-10 (20 hidden layers; He init; 88,210 params)",
                                          experiment.CIFAR: "ResNet-32 (CIFAR, shortcut A, BN; 0.46M params)"})


def test_where_the_resnet_is_not_run_the_page_says_so_in_one_sentence_with_the_command():
    from replication.chapters.sharpness import page

    p = resolve(sharpness.SPEC, "laptop")
    res = _resnet_results([])
    text = page.cifar_text(res, p)
    assert text.startswith("The ResNet is not run at this profile (laptop: `cifar_model = none`")
    assert "the gpu and paper profiles run it" in text
    assert "`python -m replication figure sharpness fig-sh-cifar --profile gpu`" in text
    assert text.count(". ") == 0 and text.endswith("."), "one sentence"
    assert page.cifar_profiles() == ["gpu", "paper"]
    assert page.gpu_values()["sh_cifar_profiles"] == "`gpu` and `paper`"     # the deviations note, computed
    # no caption and no provenance where there is no figure (its cell leaves the page: tagged if-glued)
    assert page.cifar_values(res, p) == {"sh_cifar10": "CIFAR-10"}
    from types import SimpleNamespace        # a profile file is named without its folder
    assert "(mine.yaml: " in page.cifar_not_run(SimpleNamespace(profile="/home/someone/mine.yaml"))


def test_the_resnet_caption_names_its_own_runs_provenance_not_design_a():
    from replication.chapters.sharpness import page

    p = resolve(sharpness.SPEC, "gpu")
    rows = _rows({(0.1, 128): [5.0, 5.5], (0.1, 1024): [9.0, 9.5], (0.01, 128): [8.0, 8.2]}, group=experiment.CIFAR)
    values = page.cifar_values(_resnet_results(rows), p)
    prov = values["sh_cifar_prov"]
    runs_prov = prov.split(" Trained under")[0]          # the throughput note's CPU bound names its own data
    assert values["sh_cifar_arch"].startswith("ResNet-32")
    assert "CIFAR-10" in prov and "NOT canonical" in prov and "Fashion-MNIST" not in runs_prov
    assert "lossy JPEG stand-in (STANDIN.txt present);" in prov          # its folder left out, and the "in" with it
    assert "profile gpu" in prov and f"{p.cifar_seeds} seeds per setting" in prov
    assert "NVIDIA H100" in prov and "0.1.0+gres" in prov and "gmlp" not in prov and "/data" not in prov
    from types import SimpleNamespace        # a profile file is named without its folder
    assert "Trained under bf16 autocast with channels-last" in prov       # the gpu profile's throughput options
    mine = page.cifar_values(_resnet_results(rows), SimpleNamespace(profile="/home/x/mine.yaml", cifar_seeds=2,
                                                                    cifar_model="resnet32", cifar_precision="float32",
                                                                    cifar_channels_last=False))
    assert "profile mine.yaml;" in mine["sh_cifar_prov"] and "/home" not in mine["sh_cifar_prov"]
    assert "bf16" not in mine["sh_cifar_prov"]
    canonical = page.cifar_values(_resnet_results(rows, canonical=True), p)["sh_cifar_prov"]
    assert "CIFAR-10 (verified by checksum" in canonical and "NOT canonical" not in canonical
    text = page.cifar_text(_resnet_results(rows), p)
    assert text.startswith("A ResNet-32") and "3 pairs (η, S)" in text and "not run" not in text


def test_the_resnet_figure_cell_holds_only_the_figure_and_its_own_provenance():
    """The page's ResNet figure: alone in a cell tagged if-glued (so it leaves the page where the profile
    does not run it), its caption glued from the ResNet runs (sh_cifar_prov), never design A's sh_prov."""
    from replication import book

    nb = json.loads((ROOT / "book" / "sharpness.ipynb").read_text())
    (cell,) = [c for c in nb["cells"] if "fig-sh-cifar" in "".join(c["source"])]
    text = "".join(cell["source"])
    assert book.IF_GLUED in cell["metadata"].get("tags", [])
    assert text.startswith("```{glue:figure} sh_fig_cifar") and text.rstrip().endswith("```")
    assert "sh_cifar_prov" in text and "sh_prov" not in text.replace("sh_cifar_prov", "")
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "not_run" not in code
