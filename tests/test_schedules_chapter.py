"""Chapter "batch-size schedules": parameters and their cross-checks, the schedules (η/S equal at
every epoch for CLR and CBS, η/√S for the √-rule), the warm-started λ_max tracking of the engine,
the rules on synthetic results (each outcome reachable), and the chapter at the smoke profile."""
import gc
import math

import numpy as np

from replication import claims as claims_mod
import pytest
import torch

from replication.chapters import schedules as chapter
from replication.chapters.schedules import claims, experiment
from replication.chapters import resolve_spec as resolve
from replication.params import ParameterError
from replication.store import Tally


def test_every_profile_resolves_and_gpu_paper_are_the_papers_network():
    for profile in ("smoke", "laptop", "gpu", "paper"):
        p = resolve(chapter.SPEC, profile)
        assert len(experiment.configs(p)) == p.seeds * len(experiment.schedules(p))
    gpu, paper = resolve(chapter.SPEC, "gpu"), resolve(chapter.SPEC, "paper")
    for p in (gpu, paper):
        assert (p.model, p.dataset, p.device) == ("vgg11", "cifar10", "cuda")
        assert (p.lr_low, p.lr_high, p.bs_low, experiment.bs_high(p)) == (0.001, 0.005, 128, 640)
    assert gpu.seeds >= 3
    assert paper.seeds == 8 and tuple(paper.step_sizes) == (4, 15)


@pytest.mark.parametrize("override, fragment", [
    ({"lr_high": 0.01, "lr_low": 0.02}, "lr_high"),
    ({"epochs": 6}, "epochs"),
    ({"fig4_step_size": 3}, "fig4_step_size"),
    ({"step_sizes": [2, 1]}, "step_sizes"),
    ({"bs_low": 40}, "bs_low"),                 # √-rule batches up to 40 * 25 = 1000 > n_train = 400
    ({"lr_low": 0.03}, "bs_low"),               # 8 * 0.1 / 0.03 is not an integer
    ({"model": "vgg11"}, "model"),              # VGG-11 needs 32 × 32 images
])
def test_bad_parameters_fail_before_compute(override, fragment):
    with pytest.raises(ParameterError) as info:
        resolve(chapter.SPEC, "smoke", override)
    assert str(info.value).startswith(fragment)


@pytest.mark.parametrize("profile", ["smoke", "laptop", "paper"])
def test_clr_and_cbs_have_equal_ratio_every_epoch_and_sqrt_rule_equal_eta_over_root_s(profile):
    p = resolve(chapter.SPEC, profile)
    cfgs = {labels["schedule"]: cfg for labels, cfg in experiment.configs(p) if labels["seed"] == 0}
    for s in p.step_sizes:
        clr, cbs = cfgs[f"clr-{s}"], cfgs[f"cbs-{s}"]
        for e in range(p.epochs):
            assert clr.batch_size_at(e) == p.bs_low and cbs.lr_at(e) == p.lr_high
            assert clr.ratio_at(e) == pytest.approx(cbs.ratio_at(e), rel=1e-12)
        ratios = [clr.ratio_at(e) for e in range(p.epochs)]
        assert min(ratios) == pytest.approx(p.lr_low / p.bs_low) and max(ratios) == pytest.approx(p.lr_high / p.bs_low)
        ends = experiment.stage_ends(s, p.epochs)
        assert [t for _, t in ends] == ["low", "high"] * (len(ends) // 2) + ["low"]
        for epoch, kind in ends:               # probes after the extreme epochs; the run ends low
            assert clr.ratio_at(epoch - 1) == pytest.approx(max(ratios) if kind == "high" else min(ratios))
        assert tuple(e for e, _ in ends) == clr.hessian_epochs
    s = p.fig4_step_size
    clr, sq = cfgs[f"clr-{s}"], cfgs[f"sqrt-{s}"]
    for e in range(p.epochs):
        S = sq.batch_size_at(e)
        assert sq.lr_at(e) / math.sqrt(S) == pytest.approx(clr.lr_at(e) / math.sqrt(p.bs_low), rel=2 / S + 1e-9)
    assert max(sq.batch_size_at(e) for e in range(p.epochs)) == experiment.sqrt_bs_max(p)
    lo, hi = cfgs["const-low"], cfgs["const-high"]
    assert lo.ratio_at(0) == pytest.approx(hi.ratio_at(0)) and hi.batch_size > lo.batch_size


def _tiny(**kw):
    from replication.train import TrainConfig

    base = dict(dataset="fashion-mnist", n_train=300, n_val=0, n_test=100, model="mlp",
                model_options={"hidden": (12,)}, lr=0.1, batch_size=30, epochs=3, hessian_epochs=(1, 2, 3),
                hessian_samples=64, hessian_tol=1e-3)
    return TrainConfig(**{**base, **kw})


def test_probes_warm_start_from_the_previous_eigenvector_and_agree_with_cold(one_thread):
    from torch import nn

    from replication import train as T
    from replication.hessian import HessianOperator, lanczos

    cfg = _tiny()
    payload = T.train(cfg)
    probes = payload["hessian"]
    assert [q["warm_start"] for q in probes] == [False, True, True]
    model = T.load_model(cfg, payload)
    split = T.prepare_split(cfg, "cpu")
    H = HessianOperator(model, nn.CrossEntropyLoss(), split.x_train, split.y_train, mode="eval",
                        indices=T.hessian_indices(cfg))
    cold = lanczos(H, k=1, tol=1e-6, seed=99).eigenvalues[0]
    assert probes[-1]["lambda_max"] == pytest.approx(cold, rel=1e-3)
    del split
    gc.collect()
    assert T._WARM_STARTS == {}, "warm starts are dropped with the training call's data split"


def test_vmapped_ensembles_warm_start_each_member_from_its_own_eigenvector(one_thread):
    from replication import train as T
    from replication.ensemble import train_ensemble

    cfgs = [_tiny(seed=s) for s in (0, 1)]
    payloads = train_ensemble(cfgs)
    for cfg, p in zip(cfgs, payloads):
        assert [q["warm_start"] for q in p["hessian"]] == [False, True, True]
        single = T.train(cfg)["hessian"]
        for a, b in zip(p["hessian"], single):
            assert a["lambda_max"] == pytest.approx(b["lambda_max"], rel=1e-2)
    gc.collect()
    assert T._WARM_STARTS == {}


# -- the rules on synthetic results -------------------------------------------------------------------
def _fake(params, acc: dict, lam_high: float = 1.0, lam_low: float = 2.0, noise: float = 0.1, seed: int = 0,
          dip: dict | None = None, lam=None):
    """A ScheduleResults whose final test accuracies are ``acc[schedule]`` (points) ± noise, and whose
    cyclic runs have λ_max = lam_high / lam_low at high / low stage ends (``lam(kind, epoch, stage)``
    overrides it).  ``dip[schedule]``: points the curve sags by in its middle epochs (same end point)."""
    rng = np.random.default_rng(seed)
    specs = experiment.schedules(params)
    runs, schedules = [], {}
    for name, spec in specs.items():
        schedules[name] = dict(kind=spec["kind"], step_size=spec["step_size"], lr=[0.1] * params.epochs,
                               batch_size=[8] * params.epochs, ratio=[0.01] * params.epochs,
                               probes=[list(p) for p in spec["probes"]])
        for s in range(params.seeds):
            final = (acc[name] + noise * rng.standard_normal()) / 100
            curve = np.linspace(0.5, final, params.epochs)
            if dip and name in dip:
                curve[1:-1] -= dip[name] / 100
            curve = list(curve)
            probes = [dict(epoch=e, lambda_max=(lam(spec["kind"], e, t) if lam else lam_high if t == "high" else lam_low)
                           * (1 + 0.01 * rng.random()),
                           residual=0.0, converged=True, n_hvp=5, warm_start=i > 0)
                      for i, (e, t) in enumerate(spec["probes"])]
            runs.append(dict(schedule=name, kind=spec["kind"], step_size=spec["step_size"], seed=s, diverged=False,
                             epoch=list(range(1, params.epochs + 1)), train_acc=curve, test_acc=curve,
                             train_loss=[1.0] * params.epochs, lr=[0.1] * params.epochs, batch_size=[8] * params.epochs,
                             ratio=[0.01] * params.epochs, steps_per_epoch=[10] * params.epochs, final_test_acc=final,
                             final_train_acc=final, updates=10 * params.epochs, train_seconds=1.0, wall_time=1.0,
                             shared_by=1, trained_as="single run", probes=probes, key=f"{name}{s}"))
    res = chapter.ScheduleResults(runs=runs, schedules=schedules, architecture="mlp", n_parameters=1, provenance={},
                                  canonical=True, train_wall_time=0.0)
    res.tally = _tally(stored=0, computed=len(runs))
    return res


def _tally(stored: int, computed: int) -> Tally:
    """A tally of that many results read and computed (what chapters.compute attaches)."""
    return Tally({("train", f"{i:020x}"): (i < stored, 0.0) for i in range(stored + computed)})


def _verdicts(params, **kw):
    return {v.id: v for v in chapter.verdicts(_fake(params, **kw), params)}


def _outcomes(params, **kw):
    return {k: v.outcome for k, v in _verdicts(params, **kw).items()}


def _raw(params, **kw):
    return {k: v.raw_outcome for k, v in _verdicts(params, **kw).items()}


def test_rules_reach_every_outcome_they_claim():
    p = resolve(chapter.SPEC, "smoke", {"seeds": 6, "equivalence_margin": 1.0})
    s0, s1 = p.step_sizes
    same = {n: 80.0 for n in experiment.schedules(p)}
    world = dict(acc=same | {f"sqrt-{p.fig4_step_size}": 70.0, f"clr-{s1}": 81.0, f"cbs-{s1}": 81.0})
    out, raw = _outcomes(p, **world), _raw(p, **world)
    assert out["claim-8-cbs-equals-clr"] == "holds" and out["claim-8-constant-pair"] == "holds"
    assert out["schedules-sqrt-rule-differs"] == "holds"
    assert raw["claim-12-long-beats-short"] == "holds"
    assert out["claim-12-sharpness-oscillates"] == "holds"
    world = dict(acc=same | {f"cbs-{p.fig4_step_size}": 75.0, "const-high": 70.0, f"clr-{s1}": 79.0,
                             f"cbs-{s1}": 79.0 if p.fig4_step_size != s1 else 75.0}, lam_high=2.0, lam_low=1.0)
    out = _outcomes(p, **world)
    assert out["claim-8-cbs-equals-clr"] == "fails" and out["claim-8-constant-pair"] == "fails"
    assert out["claim-12-long-beats-short"] == "fails"
    assert out["claim-12-sharpness-oscillates"] == "fails"
    out = _outcomes(p, acc=same, noise=3.0)
    assert out["claim-8-cbs-equals-clr"] == "inconclusive" and out["claim-12-long-beats-short"] == "inconclusive"
    assert out["schedules-sqrt-rule-differs"] in ("inconclusive", "fails")


def test_claim_8_control_the_sqrt_rule_and_the_amendment():
    """Issue 20: the √-rule schedule ends where CLR ends but its path differs.  The rule as first
    registered (final accuracy only) calls it equivalent too: not discriminating; the amended rule
    (curves as well) rejects it and holds on CBS."""
    p = resolve(chapter.SPEC, "smoke", {"seeds": 6, "equivalence_margin": 1.0})
    s = p.fig4_step_size
    same = {n: 80.0 for n in experiment.schedules(p)}
    v = _verdicts(p, acc=same, dip={f"sqrt-{s}": 20.0})["claim-8-cbs-equals-clr"]
    assert v.original["outcome"] == "not discriminating"
    assert v.control["outcome"] == "fails" and v.outcome == "holds"
    # a √ schedule indistinguishable along the whole path: the amended rule cannot tell either
    v = _verdicts(p, acc=same)["claim-8-cbs-equals-clr"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "holds" and v.outcome == "not discriminating"
    # and CBS with the √ schedule's dip fails the amended rule while the original holds
    v = _verdicts(p, acc=same, dip={f"cbs-{s}": 20.0, f"sqrt-{s}": 20.0})["claim-8-cbs-equals-clr"]
    assert v.raw_outcome == "fails" and v.original["outcome"] == "not discriminating"


def test_constant_pair_control_is_a_different_ratio_at_equal_sde_time():
    p = resolve(chapter.SPEC, "smoke", {"seeds": 6})
    same = {n: 80.0 for n in experiment.schedules(p)}
    res = _fake(p, acc=same)
    e = experiment.control_epoch(p)
    assert e == pytest.approx(p.epochs * p.lr_low / p.lr_high)
    for r in res.runs:                 # the control run reaches 80 points exactly at equal SDE time
        if r["schedule"] == "const-control":
            r["test_acc"] = [min(0.8, 0.8 * (i + 1) / e) for i in range(p.epochs)]
    v = {x.id: x for x in chapter.verdicts(res, p)}["claim-8-constant-pair"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "holds" and v.outcome == "not discriminating"
    assert claims.acc_at_epoch({"test_acc": [0.1, 0.3, 0.5]}, 2.5) == pytest.approx(40.0)
    assert claims.acc_at_epoch({"test_acc": [0.1, 0.3, 0.5]}, 0.4) == pytest.approx(10.0)


def test_sharpness_is_judged_for_cyclic_s_and_cyclic_eta_separately():
    p = resolve(chapter.SPEC, "smoke", {"seeds": 4})
    same = {n: 80.0 for n in experiment.schedules(p)}

    def only_cbs(kind, epoch, stage):        # CBS oscillates, CLR does not (but pooled they would)
        return (1.0 if stage == "high" else 3.0) if kind == "cbs" else 2.0

    v = _verdicts(p, acc=same, lam=only_cbs)["claim-12-sharpness-oscillates"]
    assert v.evidence["cbs_outcome"] == "holds" and v.evidence["clr_outcome"] != "holds"
    assert v.outcome != "holds" and v.original["outcome"] == "holds"


def test_sharpness_control_catches_a_curving_drift():
    """λ_max growing ever faster in log with no oscillation: the neighbours' geometric mean exceeds the
    middle value at every stage end, so the rule alone says holds; the swapped control says so too."""
    p = resolve(chapter.SPEC, "smoke", {"seeds": 4})
    v = _verdicts(p, acc={n: 80.0 for n in experiment.schedules(p)},
                  lam=lambda kind, epoch, stage: math.exp(0.3 * epoch ** 2))["claim-12-sharpness-oscillates"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "holds" and v.outcome == "not discriminating"


def test_long_stages_control_scrambles_the_labels():
    p = resolve(chapter.SPEC, "smoke", {"seeds": 6})
    s0, s1 = p.step_sizes
    same = {n: 80.0 for n in experiment.schedules(p)}
    v = _verdicts(p, acc=same | {f"clr-{s1}": 81.0, f"cbs-{s1}": 81.0})["claim-12-long-beats-short"]
    assert v.raw_outcome == "holds" and v.control["outcome"] != "holds"
    assert v.outcome == claims_mod.judge("holds", v.control["outcome"])
    assert v.power or v.outcome == "holds"


def test_inconclusive_verdicts_say_what_the_runs_could_have_seen():
    p = resolve(chapter.SPEC, "smoke", {"seeds": 3})
    out = _verdicts(p, acc={n: 80.0 for n in experiment.schedules(p)}, noise=3.0)
    for v in out.values():
        if v.outcome == "inconclusive":
            assert "80% power" in v.power and ("profile" in v.power or "seeds" in v.power or "runs" in v.power)


def test_oscillation_cancels_a_steady_drift():
    """λ_max halving every stage with no oscillation: the rule must not call it one."""
    p = resolve(chapter.SPEC, "smoke", {"seeds": 4})
    res = _fake(p, acc={n: 80.0 for n in experiment.schedules(p)})
    for r in res.runs:
        for q in r["probes"]:
            q["lambda_max"] = 100.0 * 0.5 ** q["epoch"] * (1 + 1e-3 * r["seed"])
    o = claims.oscillation(res)
    assert abs(o["mean_log"]) < 1e-2 and o["lower"] < o["pairs"]


def test_paper_numbers_come_from_the_data_table():
    p = resolve(chapter.SPEC, "smoke")
    table = claims.table_rows(_fake(p, acc={n: 80.0 for n in experiment.schedules(p)}), p)
    csv_rows = claims.paper_numbers()
    assert len(table) == len(csv_rows)
    for t, c in zip(table, csv_rows):
        assert t["paper"] == c["test_acc"] and t["source"] == c["source"] and "ICLR 2018" in c["source"]
    assert {(c["setting"], c["schedule"]) for c in csv_rows} >= {("fig4-cyclic", "cbs"), ("fig4-cyclic", "clr"),
                                                                ("long-stage", "cbs"), ("long-stage", "clr")}


def test_chapter_at_smoke_through_the_store(store, one_thread):
    from replication import chapters
    from replication.chapters.schedules import figures

    p = resolve(chapter.SPEC, "smoke")
    results, verdicts = chapters.evaluate("schedules", p, store=store, progress=False)
    assert results.computed == len(results.runs) and not any(r["diverged"] for r in results.runs)
    assert {v.id for v in verdicts} == {"claim-8-cbs-equals-clr", "claim-8-constant-pair", "schedules-sqrt-rule-differs",
                                        "claim-12-long-beats-short", "claim-12-sharpness-oscillates"}
    cyclic = [r for r in results.runs if r["kind"] in ("clr", "cbs")]
    for r in cyclic:
        assert [q["epoch"] for q in r["probes"]] == [e for e, _ in experiment.stage_ends(r["step_size"], p.epochs)]
        assert [q["warm_start"] for q in r["probes"]][1:] == [True] * (len(r["probes"]) - 1)
    cost = {c["schedule"]: c for c in claims.cost(results)}
    s = p.fig4_step_size
    assert cost[f"cbs-{s}"]["updates"] < cost[f"clr-{s}"]["updates"]
    again, _ = chapters.evaluate("schedules", p, store=store, progress=False)
    assert again.computed == 0
    import matplotlib

    matplotlib.use("Agg")
    for make in (figures.cyclic, figures.constant, figures.stages):
        fig = make(results, p)
        assert fig.get_size_inches()[0] == pytest.approx(6.6)


# -- the page's numbers and sentences -------------------------------------------------------------------------
def test_numbers_are_rounded_to_their_uncertainty_with_a_real_minus():
    assert [claims.decimals(u) for u in (0.3, 0.17, 1.04, 4.2, None)] == [1, 2, 1, 0, 2]
    assert claims.mean_sd(84.27, 0.30) == "84.3 ± 0.3"
    assert claims.mean_sd(82.37, 1.04) == "82.4 ± 1.0"
    assert claims.with_interval(-0.26, -0.72, 0.20) == "−0.3 [−0.7, +0.2]"
    assert "-" not in claims.with_interval(-0.99, -3.01, 1.04)          # a typographic minus, never a hyphen
    assert claims.schedule_label("cbs-3") == "CBS, stages of 3 epochs"
    assert claims.schedule_label("clr-1") == "CLR, stages of 1 epoch"


def test_page_sentences_read_as_written_and_say_nothing_computed():
    from replication.chapters.schedules import page

    assert page.verdict_clause("claim 8", "holds") == "claim 8 **holds**"
    assert page.verdict_clause("claim 8", "inconclusive") == "claim 8 is **inconclusive**"
    p = resolve(chapter.SPEC, "smoke")
    res = _fake(p, acc={n: 80.0 for n in experiment.schedules(p)})
    res.tally = _tally(stored=21, computed=0)
    line = page.runs_line(res, p)
    assert "all read back from the result store" in line and "0 computed" not in line and "trained now" not in line
    facts = claims.summary(res, p)
    verdicts = chapter.verdicts(res, p)
    text = page.findings(facts, verdicts, p) + page.stage_findings(facts, verdicts)
    assert ": holds" not in text and "is **holds**" not in text and "np." not in text
    table = page.paper_table(facts, res, p, "data/schedules/paper_numbers.csv")
    assert "ICLR 2018 submission," not in table.split("\n\n", 1)[1]      # the source is named once, in the caption
    assert " lr " not in table and "128-640" not in table


def test_one_hidden_layer_is_one_layer_on_the_page():
    """The MLP of the laptop profile has one hidden layer: the "Runs:" line, the design's glued network
    and the mapping table say "1 hidden layer", as models.describe_model's "1 hidden layers" is not."""
    from replication.chapters.schedules import page

    p = resolve(chapter.SPEC, "smoke")
    res = _fake(p, acc={n: 80.0 for n in experiment.schedules(p)})
    res.architecture = "ReLU MLP 3072-64-10 (1 hidden layers; 0.20M params)"
    res.provenance = {"device": "cpu", "code_version": "abc"}
    verdicts = chapter.verdicts(res, p)
    shown = [page.runs_line(res, p), page.design_values(res, p, verdicts)["sc_arch"], page.mapping_table(res, p)]
    for text in shown:
        assert "(1 hidden layer; 0.20M params)" in text and "hidden layers" not in text
    res.architecture = "ReLU MLP 3072-64-64-10 (2 hidden layers; 0.20M params)"
    assert "(2 hidden layers; " in page.runs_line(res, p)


def test_each_deciding_number_lies_where_its_rule_put_the_outcome():
    """A verdict's ``decision`` (its number, interval and the rule's regions) gives the outcome the
    rule gave, in worlds where the rules hold and where they fail."""
    p = resolve(chapter.SPEC, "smoke", {"seeds": 6, "equivalence_margin": 1.0})
    s0, s1 = p.step_sizes
    same = {n: 80.0 for n in experiment.schedules(p)}
    worlds = [dict(acc=same | {f"sqrt-{p.fig4_step_size}": 70.0, f"clr-{s1}": 81.0, f"cbs-{s1}": 81.0}),
              dict(acc=same | {f"cbs-{p.fig4_step_size}": 75.0, "const-high": 70.0, f"clr-{s1}": 79.0,
                               f"cbs-{s1}": 79.0 if p.fig4_step_size != s1 else 75.0}, lam_high=2.0, lam_low=1.0)]
    seen = set()
    for world in worlds:
        for v in _verdicts(p, **world).values():
            if v.decision:
                assert claims_mod.decided(v.decision) == v.raw_outcome, (v.id, v.decision, v.raw_outcome)
                seen.add((v.id, v.raw_outcome))
    assert {("claim-8-constant-pair", "holds"), ("claim-8-constant-pair", "fails"),
            ("claim-12-long-beats-short", "holds"), ("claim-12-long-beats-short", "fails")} <= seen
