"""Chapter "η/S across a thousand minima": the design (log-uniform draws shared by every batch size,
groups of fixed S and fixed η, one ensemble per S), its parameter checks, the rules on synthetic
results (each control able to catch a rule that cannot tell η/S from η), and the chapter at the smoke
profile (every compared run measured where it reached the target loss)."""
import dataclasses
import math

import numpy as np
import pytest

from replication import claims as C
from replication import rules
from replication.chapters import sweep as chapter
from replication.chapters.sweep import claims, experiment
from replication.chapters import resolve_spec as resolve
from replication.params import ParameterError


def test_every_profile_resolves_with_the_same_design_and_paper_is_a_cifar_resnet():
    for profile in ("smoke", "laptop", "gpu", "paper"):
        p = resolve(chapter.SPEC, profile)
        assert len(experiment.configs(p)) == len(p.batch_sizes) * p.n_lrs * p.seeds
    laptop = resolve(chapter.SPEC, "laptop")
    assert len(experiment.configs(laptop)) >= 500 and laptop.device == "cpu" and laptop.dataset == "fashion-mnist"
    paper = resolve(chapter.SPEC, "paper")
    assert (paper.model, paper.dataset, paper.device, paper.augment) == ("resnet32", "cifar10", "cuda", True)


def test_learning_rates_are_stratified_log_uniform_and_shared_by_every_batch_size():
    from replication.ensemble import group_key

    p = resolve(chapter.SPEC, "laptop")
    draws = experiment.lr_draws(p, 0)
    u = np.log(np.array(draws) / p.lr_min) / math.log(p.lr_max / p.lr_min)
    assert np.all(np.diff(u) > 0) and 0 <= u[0] and u[-1] <= 1
    assert np.array_equal(np.floor(u * p.n_lrs), np.arange(p.n_lrs))        # one draw per slice of log η
    assert experiment.lr_draws(p, 1) != draws and experiment.lr_draws(p, 0) == draws
    items = experiment.configs(p)
    for S in p.batch_sizes:
        mine = [(lab, cfg) for lab, cfg in items if lab["batch_size"] == S]
        assert len({group_key(cfg) for _, cfg in mine}) == 1                  # one vmapped ensemble per S
        assert tuple(cfg.lr for lab, cfg in mine if lab["seed"] == 0) == draws
    cfg = items[0][1]
    assert cfg.target_loss == p.target_loss and cfg.epochs == p.max_epochs and cfg.hessian_epochs == (p.max_epochs,)
    assert cfg.hessian_samples == p.hessian_samples


@pytest.mark.parametrize("override, fragment", [
    ({"lr_min": 0.5, "lr_max": 0.1}, "lr_max"),
    ({"batch_sizes": [40, 20, 10]}, "batch_sizes"),
    ({"batch_sizes": [10, 20, 400]}, "batch_sizes"),      # > n_train = 300
    ({"hessian_samples": 301}, "hessian_samples"),
    ({"model": "vgg11"}, "model"),                        # VGG-11 needs 32 × 32 images
    ({"target_loss": 0}, "target_loss"),
])
def test_bad_parameters_fail_before_compute(override, fragment):
    with pytest.raises(ParameterError) as info:
        resolve(chapter.SPEC, "smoke", override)
    assert str(info.value).startswith(fragment)


# -- the rules on synthetic results ---------------------------------------------------------------------
def _results(acc_of, lam_of=lambda r: 0.01 / r["ratio"] ** 0.5, seeds=3, n_lrs=9, sizes=(16, 32, 64, 128, 256),
             noise=0.2, unreached=lambda r: False):
    rng = np.random.default_rng(0)
    runs = []
    for seed in range(seeds):
        lrs = np.exp(np.linspace(np.log(0.01), np.log(1.0), n_lrs) + rng.uniform(-0.1, 0.1, n_lrs))
        for S in sizes:
            for j, lr in enumerate(lrs):
                r = dict(batch_size=S, seed=seed, draw=j, lr=float(lr), ratio=float(lr / S), diverged=False)
                reached = not unreached(r)
                acc = (acc_of(r) + noise * rng.standard_normal()) / 100
                lam = lam_of(r) * math.exp(0.05 * rng.standard_normal())
                runs.append(r | dict(reached=reached, val_acc=acc, train_acc=acc + 0.05, gap=5.0 - 10 * r["ratio"],
                                     lam_max=lam, eta_lam=lr * lam, lam_converged=True, epochs=3, steps=10))
    return dataclasses.make_dataclass("R", ["runs"])(runs)


PARAMS = dataclasses.make_dataclass("P", ["ratio_bins", "bootstrap", "profile", "target_loss", "max_epochs"])(
    8, 300, "smoke", 0.5, 10)


def _by(results):
    return {v.id: v for v in claims.verdicts(results, PARAMS)}


def test_a_ratio_effect_holds_and_its_controls_fail():
    v = _by(_results(lambda r: 80 + 3 * math.log(r["ratio"])))
    for vid in ("claim-5-sweep-accuracy-rises-with-ratio", "claim-4-sweep-sharpness-falls-with-ratio",
                "sweep-ratio-ranks-accuracy-pooled", "sweep-gap-falls-with-ratio"):
        assert v[vid].raw_outcome == C.HOLDS and v[vid].control["outcome"] == C.FAILS, vid
        assert v[vid].outcome == C.HOLDS and v[vid].rule_digest == rules.get(vid).digest


def test_the_amended_control_removes_what_the_registered_one_leaked_and_both_verdicts_are_kept():
    """Accuracy set by η/S alone: inside a bin of η/S the control as first registered still sees η
    'rising' (η/S grows with η inside the bin); partialling η/S out removes it.  The verdict keeps the
    outcome under the control as registered beside the amended one."""
    v = _by(_results(lambda r: 80 + 3 * math.log(r["ratio"])))["claim-5-sweep-accuracy-rises-with-ratio"]
    ev = v.evidence
    assert ev["registered_control_lo"] > 0 and abs(ev["control_mean_rho"]) < 0.5 * ev["registered_control_mean_rho"]
    assert v.control["outcome"] == C.FAILS and -0.3 < ev["control_lo"] and ev["control_hi"] < 0.3
    assert rules.get(v.rule_id).amended and v.outcome == C.HOLDS
    registered_control = claims.trend_outcome(dict(mean=ev["registered_control_mean_rho"], lo=ev["registered_control_lo"],
                                                   hi=ev["registered_control_hi"]), +1, 0.3, 6)
    assert registered_control == C.INCONCLUSIVE and v.original["outcome"] == C.judge(C.HOLDS, registered_control)
    assert "as registered" in v.original["control"]


def test_an_eta_effect_is_not_taken_for_a_ratio_effect():
    """Accuracy set by η alone: within fixed S it rises with η/S (η/S ∝ η there), so the rule alone
    would hold; the control (η at fixed η/S) holds too, so the verdict is 'not discriminating'."""
    v = _by(_results(lambda r: 80 + 6 * math.log(r["lr"]), noise=0.05))["claim-5-sweep-accuracy-rises-with-ratio"]
    assert v.control["outcome"] == C.HOLDS
    assert v.outcome in (C.NOT_DISCRIMINATING, C.INCONCLUSIVE, C.FAILS) and v.outcome != C.HOLDS


def test_no_effect_is_not_a_trend_and_says_what_it_could_have_seen():
    v = _by(_results(lambda r: 80.0, noise=1.0, seeds=1))
    acc = v["claim-5-sweep-accuracy-rises-with-ratio"]
    assert acc.outcome in (C.FAILS, C.INCONCLUSIVE)
    if acc.outcome == C.INCONCLUSIVE:
        assert "80% power" in acc.power


def test_widths_of_unstable_runs_and_runs_that_missed_the_target_are_left_out():
    # unstable runs (η·λ_max >= 2) with λ_max rising in η/S would reverse the trend if they were counted
    lam = lambda r: 0.01 / r["ratio"] ** 0.5 if r["lr"] < 0.2 else 3 / r["lr"] * (1 + r["ratio"])  # noqa: E731
    res = _results(lambda r: 80 + 3 * math.log(r["ratio"]), lam_of=lam,
                   unreached=lambda r: r["ratio"] > 0.03)
    rows = claims.included(res)
    assert all(r["reached"] for r in rows) and all(r["ratio"] <= 0.03 for r in rows)
    assert all(r["eta_lam"] < 2 for r in claims.stable(rows))
    c = claims.counts(res)
    assert c["reached"] + c["capped"] + c["diverged"] == c["total"] and c["capped"] > 0
    v = _by(res)["claim-4-sweep-sharpness-falls-with-ratio"]
    assert v.raw_outcome == C.HOLDS


def test_within_group_correlations_ignore_the_setting_held_fixed():
    res = _results(lambda r: 80 + 3 * math.log(r["ratio"]), noise=0.0)
    rows = claims.included(res)
    for g in claims.groups(rows, "fixed S", 8):
        assert len({r["batch_size"] for r in g}) == 1
        rho_ratio, _ = claims.correlations(g, "acc", "ratio")
        rho_lr, _ = claims.correlations(g, "acc", "lr")
        assert rho_ratio == pytest.approx(rho_lr) == pytest.approx(1.0)
    for g in claims.groups(rows, "fixed η", 8):
        assert len({(r["seed"], r["draw"]) for r in g}) == 1
        assert math.isnan(claims.correlations(g, "acc", "lr")[0])
    scrambled = [claims.correlations(g, "acc", "ratio", relabel=claims._scrambled)[0]
                 for g in claims.groups(rows, "fixed S", 8)]
    assert max(abs(x) for x in scrambled) < 0.5


# -- the chapter, end to end ----------------------------------------------------------------------------
def test_chapter_at_smoke_compares_every_run_where_it_reached_the_target(store, one_thread):
    from replication import chapters

    p = resolve(chapter.SPEC, "smoke")
    results, verdicts = chapters.evaluate("sweep", p, store=store, progress=False)
    assert len(results.runs) == len(p.batch_sizes) * p.n_lrs * p.seeds
    reached = [r for r in results.runs if r["reached"]]
    assert reached, "no smoke run reached the target: the smoke profile's target is too low"
    for r in reached:
        assert r["train_loss"] <= p.target_loss and r["epochs"] == r["stopped_epoch"] == r["lam_epoch"]
        assert r["trace"] is not None                      # Tr H measured where the run stopped
    for r in results.runs:
        if not r["reached"] and not r["diverged"]:
            assert r["epochs"] == p.max_epochs and r["train_loss"] > p.target_loss
    ids = {v.id for v in verdicts}
    assert ids == set(rules.for_chapter("sweep"))
    for v in verdicts:
        assert v.rule_id == v.id and v.control and v.matched.startswith("each run where")
        assert v.outcome != C.INCONCLUSIVE or v.power
    again, _ = chapters.evaluate("sweep", p, store=store, progress=False)
    assert again.computed == 0 and again.stored == results.stored + results.computed


def test_page_tables_say_what_each_profile_runs_and_quote_no_unsourced_paper_number():
    from replication.chapters.sweep import page

    table = page.scale_table()
    for profile in ("smoke", "laptop", "gpu", "paper"):
        assert f"`{profile}`" in table
    rows = claims.paper_numbers()
    assert all("paper notes" in r["source"] for r in rows)
    assert "not given" in page.paper_table(rows)


def test_vectorized_bootstrap_correlations_equal_scipy():
    from scipy.stats import kendalltau, spearmanr

    rng = np.random.default_rng(3)
    X = rng.integers(0, 6, size=(5, 30)).astype(float)        # ties on purpose
    Y = X + rng.normal(size=X.shape)
    Y[:, :4] = Y[:, 4:8]
    for x, y, rho, tau in zip(X, Y, claims._spearman_rows(X, Y), claims._kendall_rows(X, Y, chunk_pairs=500)):
        assert rho == pytest.approx(spearmanr(x, y).statistic) and tau == pytest.approx(kendalltau(x, y).statistic)


def test_each_deciding_number_lies_where_its_rule_put_the_outcome():
    seen = set()
    for accuracy in (lambda r: 80 + 3 * math.log(r["ratio"]), lambda r: 80 - 3 * math.log(r["ratio"])):
        for v in _by(_results(accuracy)).values():
            assert v.decision and v.decision["bounds"] == [-1, 1]
            if v.raw_outcome in (C.HOLDS, C.FAILS):
                assert C.decided(v.decision) == v.raw_outcome, (v.id, v.decision)
                seen.add((v.id, v.raw_outcome))
    assert ("claim-5-sweep-accuracy-rises-with-ratio", C.HOLDS) in seen
    assert ("claim-5-sweep-accuracy-rises-with-ratio", C.FAILS) in seen


def test_the_correlation_tables_are_spearman_then_kendall_each_narrow_enough_for_a_column():
    from replication.chapters.sweep import page

    results = _results(lambda r: 80 + 3 * math.log(r["ratio"]))
    facts = claims.summary(results, PARAMS)
    text = page.correlation_table(facts)
    tables = [block for block in text.split("\n\n") if block.startswith("|")]
    assert len(tables) == 2 and text.index("Spearman") < text.index("Kendall")
    for table in tables:
        rows = table.splitlines()
        assert all(row.count("|") == 7 for row in rows), "six columns"          # measure, groups, runs, η/S, η, S
        assert len(rows) == 2 + 10                                               # 2 measures × 5 groupings
    rho, tau = (float(t.splitlines()[2].split("|")[4].split()[0].replace("−", "-")) for t in tables)
    assert rho > tau > 0                 # pooled accuracy against η/S: τ below ρ for the same monotone order
