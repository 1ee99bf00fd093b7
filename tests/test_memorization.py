"""The memorization chapter (paper Fig. 5, claim 11): parameters, grid, readouts and rules."""
import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from replication import claims as claims_mod
from replication import verdict_files
from replication import profiles
from replication.chapters import memorization as chapter
from replication.chapters.memorization import claims, experiment
from replication.chapters import resolve_spec as resolve
from replication.params import ParameterError


# -- parameters and grid ---------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", profiles.NAMES)
def test_every_profile_validates(profile):
    p = resolve(chapter.SPEC, profile)
    assert p.n_train <= experiment.DATASET_SIZE
    if profile in ("gpu", "paper"):
        assert (p.n_train, p.n_test, p.epochs) == (60_000, 10_000, 300)
        assert tuple(p.batch_sizes) == (50, 100, 200, 400, 800) and tuple(p.lrs) == (0.05, 0.1, 0.2)
        assert tuple(p.noise_levels) == (0.25, 0.5) and p.momentum == 0.9


@pytest.mark.parametrize("change, message", [
    ({"batch_sizes": [50, 5000]}, "batch_sizes="),
    ({"train_acc_levels": [0.9, 0.8]}, "train_acc_levels="),
    ({"lrs": [0.1, 0.1]}, "lrs="),
    ({"seeds": 1}, "seeds=1"),
    ({"noise_levels": [0.0]}, "noise_levels="),
])
def test_bad_parameters_fail_before_compute(change, message):
    with pytest.raises(ParameterError) as info:
        resolve(chapter.SPEC, "laptop", change)
    assert str(info.value).startswith(message)


def test_grid_is_factorial_and_momentum_runs_have_plain_partners():
    from replication.ensemble import group_key

    p = resolve(chapter.SPEC, "laptop")
    grid = experiment.runs(p)
    n_settings = len(p.batch_sizes) * (len(p.lrs) + len(p.momentum_lrs))
    assert len(grid) == len(p.noise_levels) * n_settings * p.seeds
    assert len({cfg.key for _, cfg in grid}) == len(grid)
    for labels, cfg in grid:
        assert cfg.dataset == "mnist" and cfg.n_val == 0 and cfg.label_noise == labels["noise"]
        assert (cfg.lr, cfg.batch_size, cfg.momentum, cfg.seed) == (labels["eta"], labels["S"], labels["momentum"],
                                                                   labels["seed"])
        assert cfg.options["hidden"] == (p.width,) * p.depth
    rows = [dict(labels, diverged=False) for labels, _ in grid if labels["noise"] == p.noise_levels[0]]
    pairs = claims.momentum_pairs(rows, p)
    assert len(pairs) == len(p.batch_sizes) * len(p.momentum_lrs) * p.seeds
    for m, q in pairs:
        assert m["momentum"] > 0 and q["momentum"] == 0 and m["S"] == q["S"] and m["seed"] == q["seed"]
        assert math.isclose(m["eff_ratio"], q["ratio"])
    # the vmapped ensembles: one per (noise, momentum, S), all lrs and seeds together
    groups = {group_key(cfg) for _, cfg in grid}
    assert len(groups) == len(p.noise_levels) * 2 * len(p.batch_sizes)


def test_no_momentum_half_when_momentum_is_zero():
    p = resolve(chapter.SPEC, "smoke", {"momentum": 0.0})
    assert {labels["momentum"] for labels, _ in experiment.runs(p)} == {0.0}


# -- readouts ---------------------------------------------------------------------------------------------
def test_read_at_level_interpolates_at_the_first_crossing():
    h = {"train_acc": [0.5, 0.7, 0.9, 0.8, 0.95], "test_acc": [0.6, 0.8, 0.7, 0.1, 0.2]}
    assert claims.read_at_level(h, 0.8) == pytest.approx(0.75)     # halfway between epochs 2 and 3
    assert claims.read_at_level(h, 0.4) == pytest.approx(0.6)      # reached at epoch 1
    assert claims.read_at_level(h, 0.96) is None
    assert claims.first_epoch(h["train_acc"], 0.9) == 3
    assert claims.best_epoch(h) == 2


def test_epochs_to_memorization_counts_never_as_after_the_end():
    row = {"history": {"memorized_acc": [0.0, 0.1, 0.3]}}
    assert claims.epochs_to(row, 0.3, 3) == 3
    assert claims.epochs_to(row, 0.5, 3) == 4


# -- rules on synthetic runs --------------------------------------------------------------------------------
def _params(**kw):
    base = dict(train_acc_levels=(0.8, 0.9), min_ratios=3, memorization_level=0.5, onset_level=0.2, epochs=10,
                epoch_factor=1.25, momentum=0.9, noise_levels=(0.25,), profile="test")
    return SimpleNamespace(**{**base, **kw})


def _run(ratio, seed, *, slope, speed=1.0, momentum=0.0, best_first=True, noise=0.25):
    """A synthetic run: training accuracy climbs to 1; held-out accuracy at a given training
    accuracy = 0.9 + slope * log10(ratio) - (training accuracy - 0.75) + small seed noise."""
    E = 10
    train = np.minimum(1.0, 0.5 + 0.06 * speed * np.arange(1, E + 1))
    held = 0.9 + slope * math.log10(ratio) - np.clip(train - 0.75, 0, None) + 0.001 * seed
    if not best_first:
        held = np.sort(held)               # best at the end
    memo = np.clip((train - 0.75) / 0.25, 0, 1)
    return dict(noise=noise, momentum=momentum, eta=ratio * 100, S=100, seed=seed, ratio=ratio,
                eff_ratio=ratio / (1 - momentum), diverged=False, corrupted_fraction=0.225,
                history={"train_acc": list(train), "test_acc": list(held), "memorized_acc": list(memo)})


RATIOS = (1e-4, 3e-4, 1e-3, 3e-3)


@pytest.mark.parametrize("slope, outcome", [(0.05, "holds"), (-0.05, "fails")])
def test_rule_1_follows_the_sign_of_the_effect(slope, outcome):
    rows = [_run(r, s, slope=slope) for r in RATIOS for s in range(3)]
    levels = claims.level_trends(rows, _params())
    assert [l["level"] for l in levels] == [0.8, 0.9]            # both above the clean ceiling 0.775
    assert all(l["judged"] and l["outcome"] == outcome for l in levels)
    assert claims.combine([l["outcome"] for l in levels]) == outcome


def test_rule_1_skips_levels_below_the_ceiling_or_reached_by_too_few_ratios():
    rows = [_run(r, s, slope=0.05, speed=1.0 if r > 2e-4 else 0.5) for r in RATIOS for s in range(2)]
    levels = claims.level_trends(rows, _params(train_acc_levels=(0.7, 0.8, 0.95), min_ratios=4))
    assert [l["level"] for l in levels] == [0.8, 0.95]
    # the slow runs (speed 0.5) reach at most 0.8: 0.95 is reached by three ratios only
    assert levels[0]["judged"] and not levels[1]["judged"] and levels[1]["n_groups"] == 3


def test_combine_needs_half_the_levels_and_no_contrary_one():
    assert claims.combine(["holds", "inconclusive"]) == "holds"
    assert claims.combine(["holds", "inconclusive", "inconclusive"]) == "inconclusive"
    assert claims.combine(["holds", "holds", "fails"]) == "inconclusive"
    assert claims.combine(["fails", "fails", "inconclusive"]) == "fails"
    assert claims.combine([]) == "inconclusive"


def test_rule_2_slow_memorization():
    p = _params()
    fast_high = [_run(r, s, slope=0, speed=1 + 10 * math.log10(r / 1e-4) / 5) for r in RATIOS for s in range(2)]
    assert claims.speed_trend(fast_high, p)["outcome"] == "holds"
    slow_high = [_run(r, s, slope=0, speed=3 - 10 * math.log10(r / 1e-4) / 5) for r in RATIOS for s in range(2)]
    assert claims.speed_trend(slow_high, p)["outcome"] == "fails"


def test_rule_3_best_before_onset():
    p = _params()
    early = [_run(r, s, slope=0.01) for r in RATIOS for s in range(3)]
    o = claims.onset_check(early, p)
    assert o["n_reached"] == len(early) and o["outcome"] == "holds" and o["lo"] > 0.5
    late = [_run(r, s, slope=0.01, best_first=False) for r in RATIOS for s in range(3)]
    assert claims.onset_check(late, p)["outcome"] == "fails"
    assert claims.clopper_pearson(5, 10)[0] < 0.5 < claims.clopper_pearson(5, 10)[1]


@pytest.mark.parametrize("speed_factor, outcome", [(1.0, "holds"), (0.3, "fails")])
def test_rule_4_effective_ratio(speed_factor, outcome):
    p = _params(epochs=10)
    rows = []
    for r in RATIOS:
        for s in range(3):
            rows.append(_run(r, s, slope=0, speed=1.0 + 0.01 * s))
            mom = _run(r * (1 - 0.9), s, slope=0, speed=speed_factor * (1.0 + 0.01 * s), momentum=0.9)
            rows.append(mom)
    c = claims.momentum_check(rows, p)
    assert c["n_pairs"] == len(RATIOS) * 3
    assert c["outcome"] == outcome


# -- end to end at the smoke profile ---------------------------------------------------------------------------
@pytest.mark.usefixtures("one_thread")
def test_smoke_compute_verdicts_and_figures(store):
    import matplotlib

    matplotlib.use("Agg")
    from replication import chapters
    from replication.chapters.memorization import figures

    p = resolve(chapter.SPEC, "smoke")
    results, verdicts = chapters.evaluate("memorization", p, store=store, progress=False)
    assert len(results.rows) == len(experiment.runs(p)) and results.computed == len(results.rows)
    for r in results.rows:
        h = r["history"]
        assert len(h["epoch"]) == p.epochs and all(0 <= x <= 1 for x in h["memorized_acc"])
        # a redrawn label equals the true one about once in ten: fewer labels change than were redrawn
        assert 0.6 * r["noise"] < r["corrupted_fraction"] < r["noise"]
    ids = [v.id for v in verdicts]
    assert len(ids) == len(set(ids))
    assert all(v.outcome in claims_mod.OUTCOMES for v in verdicts)
    assert sum(v.id.startswith("claim-11-equal-memorization-") for v in verdicts) == 2 * len(p.noise_levels)
    saved = verdict_files.load("memorization", "smoke", store_root=store.root)
    assert [v.id for v in saved["verdicts"]] == ids
    again, _ = chapters.evaluate("memorization", p, store=store, progress=False)
    assert again.computed == 0
    facts = claims.summary(results, p)
    for make in (figures.curves, figures.speed):
        fig = make(results, p, facts)
        assert fig.get_size_inches()[0] == pytest.approx(6.6)
    rows = figures.export_rows(results, p)
    assert len(rows) == len(results.rows) * p.epochs


# -- the page's numbers and sentences -------------------------------------------------------------------------
def test_small_numbers_and_correlations_for_people():
    from replication.chapters.memorization import page

    assert page.ratio_range(0.00025, 0.004) == "2.5×10⁻⁴ to 4.0×10⁻³"
    assert page.ratio_range(0.0025, 0.004) == "0.0025 to 0.004"
    assert claims.rho_text(-0.97, -0.97, -0.87) == "−0.97 [−0.97, −0.87]"
    assert claims.rho_text(0.0, -0.8, 0.8) == "0.00 [−0.80, +0.80]"
    assert page.verdict_clause("the observation", "holds") == "the observation **holds**"


def test_grid_table_never_says_zero_diverged():
    from replication.chapters.memorization import page

    p = resolve(chapter.SPEC, "laptop")
    rows = [dict(labels, diverged=False) for labels, _ in experiment.runs(p)]
    results = SimpleNamespace(rows=rows)
    text = page.grid_table(results, p, {"n_diverged": 0})
    assert "no run diverged" in text and "0 diverged" not in text
    assert "1 run diverged and is left out" in page.grid_table(results, p, {"n_diverged": 1})


# -- issue 20: matched progress and negative controls ------------------------------------------------------------
def _timed_run(eta, S, seed, *, rate, momentum=0.0, n=1000, E=20):
    """A run whose corrupted-label accuracy is a function of SDE time t = epoch·N·η/((1−m)S) alone,
    times ``rate`` (1: memorization set by the SDE clock only)."""
    per_epoch = n * eta / ((1 - momentum) * S)
    t = per_epoch * np.arange(1, E + 1)
    memo = np.clip(rate * t / 20, 0, 1) + 0.001 * seed
    train = 0.75 + 0.25 * memo
    held = 0.9 - 0.1 * memo
    return dict(noise=0.25, momentum=momentum, eta=eta, S=S, seed=seed, ratio=eta / S,
                eff_ratio=eta / ((1 - momentum) * S), diverged=False, corrupted_fraction=0.225,
                history={"train_acc": list(train), "test_acc": list(held), "memorized_acc": list(memo)})


GRID = [(eta, S) for eta in (0.05, 0.1, 0.2) for S in (50, 100, 200)]


def test_rule_2_as_first_registered_reads_training_speed_and_the_amended_rule_does_not():
    """Memorization set by SDE time alone: in epochs the high-η/S runs are faster (the original rule
    holds), at equal SDE time there is no trend (the amended rule must not hold)."""
    p = _params(n_train=1000, epochs=20)
    rows = [_timed_run(eta, S, s, rate=1.0) for eta, S in GRID for s in range(3)]
    assert claims.speed_trend(rows, p)["outcome"] == "holds"
    equal = claims.memorized_at_equal_time(rows, p)
    assert equal["t"] == pytest.approx(20 * 1000 * 0.05 / 200) and equal["n_early"] == 0
    assert equal["outcome"] != "holds"
    assert max(equal["means"].values()) - min(equal["means"].values()) < 1e-9
    # too few epochs for the fastest run to be read at the slowest run's end: the rule does not decide
    short = [_timed_run(eta, S, s, rate=1 + 3000 * eta / S, E=10) for eta, S in GRID for s in range(3)]
    early = claims.memorized_at_equal_time(short, _params(n_train=1000, epochs=10))
    assert early["n_early"] > 0 and early["outcome"] == "inconclusive"


def test_rule_2_amended_holds_when_low_ratio_memorizes_less_at_equal_sde_time():
    p = _params(n_train=1000, epochs=20)
    rows = [_timed_run(eta, S, s, rate=1 + 3000 * eta / S) for eta, S in GRID for s in range(3)]
    assert claims.memorized_at_equal_time(rows, p)["outcome"] == "holds"
    # its control: η alone among the runs of one η/S (η/S = 0.001 has three values of η)
    ctrl = claims.fixed_ratio_rows(rows)
    assert {r["eta"] for r in ctrl} == {0.05, 0.1, 0.2} and len({r["ratio"] for r in ctrl}) == 1
    assert claims.memorized_at_equal_time(ctrl, p, by="eta")["outcome"] != "holds"


def test_rule_2_control_holds_when_eta_alone_sets_the_speed():
    """Memorization set by η alone (not η/S): the control (η at fixed η/S) finds the trend too."""
    p = _params(n_train=1000, epochs=20)
    rows = [_timed_run(eta, S, s, rate=20 * eta * S / 1000) for eta, S in GRID for s in range(3)]
    ctrl = claims.memorized_at_equal_time(claims.fixed_ratio_rows(rows), p, by="eta")
    assert ctrl["n_groups"] == 3 and ctrl["rho"] == pytest.approx(1.0)


def test_momentum_runs_use_the_effective_clock():
    plain = _timed_run(0.1, 100, 0, rate=1.0)
    mom = _timed_run(0.01, 100, 0, rate=1.0, momentum=0.9)
    assert claims.sde_time_per_epoch(mom, 1000) == pytest.approx(claims.sde_time_per_epoch(plain, 1000))
    assert claims.value_at_epoch([0.1, 0.3, 0.5], 2.5) == pytest.approx(0.4)
    assert claims.value_at_epoch([0.1, 0.3, 0.5], 0.5) == pytest.approx(0.1)


def test_rule_1_control_scrambles_the_ratios():
    rows = [_run(r, s, slope=0.05) for r in RATIOS for s in range(3)]
    real = claims.level_trends(rows, _params())
    scrambled = claims.level_trends(rows, _params(), scramble=True)
    assert all(l["outcome"] == "holds" for l in real)
    assert all(l["outcome"] != "holds" and abs(l["rho"]) < abs(r["rho"]) for l, r in zip(scrambled, real))
    mapping = claims.scrambled_labels(RATIOS)
    assert sorted(mapping.values()) == sorted(RATIOS) and list(mapping.values()) != sorted(RATIOS)


def test_rule_3_control_tells_a_per_run_onset_from_runs_that_all_peak_early():
    p = _params()
    # identical runs: every run peaks before every onset, so the scrambled pairing holds too
    same = [_run(r, s, slope=0.01) for r in RATIOS for s in range(3)]
    assert claims.onset_check(same, p)["outcome"] == "holds"
    assert claims.onset_check(same, p, scramble=True)["outcome"] == "holds"
    # the best epoch is the epoch before each run's own onset, and onsets spread widely
    rows = []
    for i, speed in enumerate(np.linspace(0.7, 3.0, 12)):
        r = _run(1e-3, i, slope=0.0, speed=speed)
        onset = claims.first_epoch(r["history"]["memorized_acc"], p.onset_level)
        assert onset is not None
        r["history"]["test_acc"] = [0.9 if e == max(1, onset - 1) else 0.5 for e in range(1, 11)]
        rows.append(r)
    assert claims.onset_check(rows, p)["outcome"] == "holds"
    assert claims.onset_check(rows, p, scramble=True)["outcome"] != "holds"


def test_verdicts_carry_controls_original_outcomes_and_power():
    p = _params(n_train=1000, epochs=20, seeds=3, memorization_level=0.5, noise_levels=(0.25,), momentum=0.0)
    rows = [_timed_run(eta, S, s, rate=1.0) for eta, S in GRID for s in range(3)]
    vs = {v.id: v for v in claims.verdicts(SimpleNamespace(rows=rows), p)}
    b = vs["claim-11-slow-memorization-noise25-plain"]
    assert b.rule_id == "claim-11-slow-memorization" and b.original and b.matched.startswith("equal SDE time")
    # training speed alone: the rule as first registered holds on the runs, the amended one does not
    assert b.evidence["epochs_outcome"] == "holds" and b.raw_outcome != "holds"
    a = vs["claim-11-equal-memorization-noise25-plain"]
    assert "ρ(η/S, held-out accuracy) > 0" in a.statement and "higher η/S, higher held-out accuracy" in a.rule
    for v in vs.values():
        assert v.control.get("what") and v.control.get("outcome")
        if v.outcome == "inconclusive":
            assert v.power
