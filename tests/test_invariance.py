"""Chapter "Same η/S, same dynamics, and where it breaks": parameters, the grid (linear and
square-root rescaling), the rules that turn runs into verdicts (on synthetic runs whose answer is
known), the predicted breaking batch, and the chapter's compute at a tiny size through the store."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from replication.chapters import invariance
from replication.chapters.invariance import claims, experiment
from replication.chapters import resolve_spec as resolve
from replication.params import ParameterError

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:FutureWarning")


def test_every_profile_resolves_and_gpu_paper_run_the_papers_sizes():
    for profile in ("smoke", "laptop", "gpu", "paper"):
        p = resolve(invariance.SPEC, profile)
        assert 1.0 in p.betas and set(p.sqrt_betas) <= set(p.betas)
    for profile in ("gpu", "paper"):
        p = resolve(invariance.SPEC, profile)
        assert p.dataset == "cifar10" and p.model == "vgg11"
        assert sorted(p.train_sizes) == [12_000, 22_500, 45_000]
        assert max(p.betas) * p.base_batch_size >= 45_000 / 8   # the range reaches large batches


@pytest.mark.parametrize("explicit, pattern", [
    ({"betas": [2.0, 4.0, 8.0]}, r"^betas=.*must contain 1"),
    ({"betas": [1.0, 4.0, 2.0]}, r"must be increasing"),
    ({"sqrt_betas": [3.0]}, r"^sqrt_betas=\[3.0\]: must be a subset of betas"),
    ({"train_sizes": [300, 59_900]}, r"every size \+ n_val must be <= 60000"),
    ({"model": "vgg11"}, r"need dataset=cifar10"),
    ({"base_batch_size": 400}, r"^base_batch_size=400: must be <= the smallest training-set size 300"),
    ({"noise_epochs": [0, 9]}, r"^noise_epochs=\[0, 9\]: must be <= epochs=2"),
    ({"small_beta": 1.0}, r"^small_beta=1.0: must be in \(1, 8\]"),
    ({"betas": [1.0, 1.01, 4.0]}, r"two betas give the same batch size"),
])
def test_bad_parameters_fail_with_one_line(explicit, pattern):
    with pytest.raises(ParameterError, match=pattern):
        resolve(invariance.SPEC, "smoke", explicit)


def test_grid_keeps_eta_over_s_for_linear_and_eta_over_sqrt_s_for_sqrt():
    p = resolve(invariance.SPEC, "smoke")
    rows = experiment.grid(p)
    eta0, S0 = p.base_lr, p.base_batch_size
    for labels, cfg in rows:
        assert cfg.batch_size == round(labels["beta"] * S0) <= labels["N"] == cfg.n_train
        if labels["variant"] == experiment.LINEAR:
            assert cfg.lr / cfg.batch_size == pytest.approx(eta0 / S0)
        else:
            assert cfg.lr / math.sqrt(cfg.batch_size) == pytest.approx(eta0 / math.sqrt(S0))
    # β = 1 is run once per (N, seed), never as a separate square-root run
    ones = [labels for labels, _ in rows if labels["beta"] == 1]
    assert len(ones) == len(p.train_sizes) * p.seeds
    # a β with β S0 > N is skipped for that N only
    big = resolve(invariance.SPEC, "smoke", {"betas": [1.0, 2.0, 4.0, 8.0, 20.0], "train_sizes": [300, 600]})
    Ns = {labels["N"] for labels, _ in experiment.grid(big) if labels["beta"] == 20}
    assert Ns == {600}


def test_predicted_batch_is_the_noise_scale_with_the_finite_n_correction():
    assert experiment.predicted_batch(50.0, 10**9) == pytest.approx(50.0, rel=1e-6)
    assert experiment.predicted_batch(1e12, 1000) == pytest.approx(1000, rel=1e-6)
    # at S_pred one step's noise equals its signal: Tr C (N - S)/(S (N - 1)) = |g|^2 with B = Tr C/|g|^2
    B, N = 80.0, 500
    S = experiment.predicted_batch(B, N)
    assert B * (N - S) / (S * (N - 1)) == pytest.approx(1.0)
    assert experiment.predicted_batch(80.0, 500) < experiment.predicted_batch(80.0, 5000)


def _runs(breaks: dict, *, betas=(1, 2, 4, 8, 16, 32), seeds=3, epochs=4, sqrt_extra=0.0, lin_extra=0.0,
          noise=0.002):
    """Synthetic runs: accuracy 0.8 up to the break β of each N, 0.5 beyond; square-root runs off
    the β = 1 curve by ``sqrt_extra``, linear ones (β > 1) by ``lin_extra``."""
    rng = np.random.default_rng(0)
    rows = []
    for N, b_break in breaks.items():
        for b in betas:
            for variant in ("linear", "sqrt"):
                if variant == "sqrt" and (b == 1 or b > 8):
                    continue
                for s in range(seeds):
                    acc = 0.8 if b < b_break else 0.5
                    if variant == "sqrt":
                        acc -= sqrt_extra(N, b) if callable(sqrt_extra) else sqrt_extra
                    elif b > 1:
                        acc -= lin_extra
                    acc += noise * rng.standard_normal()
                    curve = list(np.linspace(0.5, acc, epochs))
                    rows.append(dict(N=N, beta=float(b), variant=variant, seed=s, eta=0.01 * b, S=10 * b,
                                     diverged=False, val_acc=acc, train_loss=1 - acc, val_curve=curve,
                                     loss_curve=[1 - c for c in curve]))
    return rows


def _params(**over):
    base = dict(train_sizes=(1000, 4000), margin=0.02, small_beta=2.0, sqrt_betas=(2.0, 4.0, 8.0), base_batch_size=10,
                profile="test")
    base.update(over)
    return SimpleNamespace(**base)


def _noise(values: dict):
    return [dict(N=N, seed=0, epoch=e, B_noise=B, B_pred=experiment.predicted_batch(B, N), loss=1.0,
                 trace_C=B, grad_norm2=1.0) for N, Bs in values.items() for e, B in enumerate(Bs)]


def _verdicts(runs, noise, **over):
    res = SimpleNamespace(runs=runs, noise=noise, epochs=4)
    return {v.id: v for v in claims.verdicts(res, _params(**over))}


def test_break_rule_finds_the_written_beta_star_with_its_interval():
    table = claims.size_table(_runs({1000: 8}), 1000, 0.02)
    br = claims.breaking_point(table, 0.02)
    assert 4 < br["beta_star"] < 8 and br["lo"] == 4 and br["hi"] == 8 and not br["censored"]
    # no break in range: censored, no estimate, lower bound the largest intact β
    br = claims.breaking_point(claims.size_table(_runs({1000: 64}), 1000, 0.02), 0.02)
    assert math.isnan(br["beta_star"]) and br["censored"] and br["lo"] == 32 and br["hi"] == math.inf


def test_claims_follow_the_rules_on_runs_whose_answer_is_known():
    # predicted break batches: about 29-66 (N = 1,000) and 150-300 (N = 4,000); S0 = 10
    noise = _noise({1000: [30, 60, 70], 4000: [150, 300, 320]})
    # the claim true: breaks grow with N, linear on the β = 1 curve, square root off it where the invariance
    # is claimed and closer beyond the break (its smaller η breaks later)
    above = lambda N, b: 0.05 if b * 10 <= (66 if N == 1000 else 300) else -0.2  # noqa: E731
    v = _verdicts(_runs({1000: 8, 4000: 32}, sqrt_extra=above), noise)
    assert v["claim-10-break-grows-with-n"].outcome == "holds"
    assert v["claim-10-break-grows-with-n"].control["outcome"] == "fails"     # the sizes reversed
    assert v["claim-1-same-curves-small-beta"].outcome == "holds"
    assert v["claim-1-same-curves-small-beta"].control["outcome"] == "fails"  # square root 5 points off
    assert v["invariance-claim-9-below-predicted-break"].outcome == "holds"
    assert v["invariance-claim-9-below-predicted-break"].claim is None     # post-hoc: not in claim 9's roll-up
    assert v["invariance-claim-9-below-predicted-break"].control["outcome"] == "fails"
    # over every β: five settings closer by 5 points outweigh one 20 points the other way
    assert v["claim-9-linear-beats-sqrt"].outcome == "holds"
    assert v["claim-13-linear-scaling-explained"].outcome == "holds"
    # the square root closer beyond the break, the same below it: over every β it is closer (the first build)
    v2 = _verdicts(_runs({1000: 4, 4000: 8}, sqrt_extra=lambda N, b: -0.2 if b >= (4 if N == 1000 else 8) else 0.0),
                   noise)
    assert v2["claim-9-linear-beats-sqrt"].outcome == "fails"
    assert v2["claim-13-linear-scaling-explained"].outcome == "fails"
    # measured breaks (40, 80] and (160, 320] overlap their own predictions, not each other's
    assert v["invariance-noise-scale-predicts-break"].outcome == "holds"
    assert v["invariance-noise-scale-predicts-break"].control["outcome"] == "fails"
    # square root off the curve everywhere: over every β linear is closer and claim 13 follows, but the
    # post-hoc rule's control (above the predicted break) holds too: not discriminating
    v = _verdicts(_runs({1000: 8, 4000: 32}, sqrt_extra=0.05), noise)
    assert v["claim-9-linear-beats-sqrt"].raw_outcome == "holds"
    assert v["claim-9-linear-beats-sqrt"].outcome == "not discriminating"
    assert v["invariance-claim-9-below-predicted-break"].outcome == "not discriminating"
    assert v["claim-13-linear-scaling-explained"].outcome == "inconclusive"   # claim 9 does not hold
    # square root as close as linear at small β: claim 1's control holds, the rule cannot tell
    v = _verdicts(_runs({1000: 8, 4000: 32}), noise)
    assert v["claim-1-same-curves-small-beta"].raw_outcome == "holds"
    assert v["claim-1-same-curves-small-beta"].outcome == "not discriminating"
    # reversed: the break comes earlier on the larger set
    v = _verdicts(_runs({1000: 32, 4000: 8}), noise)
    assert v["claim-10-break-grows-with-n"].outcome == "fails"
    # square root closer than linear everywhere: claim 9 fails, and claim 13 with it
    v = _verdicts(_runs({1000: 32, 4000: 32}, lin_extra=0.012), noise)
    assert v["claim-9-linear-beats-sqrt"].outcome == "fails"
    assert v["invariance-claim-9-below-predicted-break"].outcome == "fails"
    assert v["claim-13-linear-scaling-explained"].outcome == "fails"
    # claim 1 fails when β = 2 is already broken
    v = _verdicts(_runs({1000: 2, 4000: 2}, sqrt_extra=-0.3), noise)
    assert v["claim-1-same-curves-small-beta"].outcome == "fails"
    assert v["claim-13-linear-scaling-explained"].outcome == "fails"
    # a prediction that misses the measured interval fails now (it lay within a factor 2 before: the
    # rule as first registered called it inconclusive)
    v = _verdicts(_runs({1000: 8, 4000: 32}), _noise({1000: [100, 110], 4000: [400, 500]}))
    p = v["invariance-noise-scale-predicts-break"]
    assert p.outcome == "fails" and p.original["outcome"] == "inconclusive"
    # the same prediction for both sizes: the rule holds on the scrambled sizes too
    v = _verdicts(_runs({1000: 8, 4000: 32}), _noise({1000: [40, 250], 4000: [40, 250]}))
    assert v["invariance-noise-scale-predicts-break"].outcome == "not discriminating"


def test_claim_1_ties_are_decided_by_the_stated_rounding():
    rows = [dict(outcome="holds", gap=0.019999999999999907)]
    assert claims.claim1_outcome(rows, 0.02) == "holds"                  # the rule as first registered
    assert claims.claim1_outcome(rows, 0.02, decimals=6) == "inconclusive"   # a tie is not below
    assert claims.claim1_outcome([dict(outcome="holds", gap=0.0199)], 0.02, decimals=6) == "holds"
    v = _verdicts(_runs({1000: 8, 4000: 32}, sqrt_extra=0.05), _noise({1000: [50], 4000: [200]}))
    c1 = v["claim-1-same-curves-small-beta"]
    assert c1.amended and c1.original["outcome"] in ("holds", "inconclusive", "fails")
    assert "rounded to 6 decimals" in c1.rule and "rounded" not in c1.original["rule"]


def test_scrambled_sizes_never_keep_the_order():
    assert claims.scrambled_sizes(2) == [1, 0]
    for n in (3, 4, 5):
        assert claims.scrambled_sizes(n) != list(range(n)) and sorted(claims.scrambled_sizes(n)) == list(range(n))


def test_claim_1_is_inconclusive_when_seeds_are_too_noisy():
    v = _verdicts(_runs({1000: 8, 4000: 32}, noise=0.05), _noise({1000: [50], 4000: [200]}))
    assert v["claim-1-same-curves-small-beta"].outcome == "inconclusive"
    assert "80% power" in v["claim-1-same-curves-small-beta"].power


def test_compute_at_a_tiny_size_through_the_store(store, one_thread):
    from replication import chapters

    explicit = dict(train_sizes=[200, 300], n_val=100, n_test=50, hidden=[8], betas=[1.0, 2.0, 4.0],
                    sqrt_betas=[2.0], seeds=2, epochs=2, noise_epochs=[0, 1], noise_samples=100)
    p = resolve(invariance.SPEC, "smoke", explicit)
    res = chapters.compute("invariance", p, store=store, progress=False)
    assert len(res.runs) == 2 * (3 + 1) * 2
    assert all(len(r["val_curve"]) == 2 for r in res.runs if not r["diverged"])
    # B_noise at init, after epoch 1 and at the end, per (N, seed); positive and finite
    assert sorted({(r["N"], r["epoch"]) for r in res.noise}) == [(n, e) for n in (200, 300) for e in (0, 1, 2)]
    assert all(r["B_noise"] > 0 and math.isfinite(r["B_noise"]) and r["n_samples"] == 100 for r in res.noise)
    assert all(r["B_pred"] <= r["N"] for r in res.noise)
    again = chapters.compute("invariance", p, store=store, progress=False)
    assert again.computed == 0 and again.stored == res.stored + res.computed
    ids = [v.id for v in invariance.verdicts(res, p)]
    assert ids == ["claim-1-same-curves-small-beta", "claim-10-break-grows-with-n", "claim-9-linear-beats-sqrt",
                   "invariance-claim-9-below-predicted-break", "claim-13-linear-scaling-explained",
                   "invariance-noise-scale-predicts-break"]


def _table_rows_are_whole(markdown: str) -> None:
    """Every row of a markdown table has the header's number of cells (a stray "|" in a cell splits it)."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    widths = {line.count("|") for line in rows}
    assert len(widths) == 1, rows


def test_page_text_reads_for_people():
    from replication.chapters.invariance import figures

    noise = _noise({1000: [30, 60, 70], 4000: [150, 300, 320]})
    verdicts = list(_verdicts(_runs({1000: 8, 4000: 64}, sqrt_extra=0.05), noise).values())
    text = " ".join(v.summary + v.rule + v.statement for v in verdicts)
    assert "|" not in text     # |ḡ|² once split the noise-scale row of the verdict table into two cells
    assert "nan" not in text and "np." not in text
    assert "*" not in text     # two asterisks in one table cell ("β*S₀ … β*S₀") turn the text between them italic
    # a censored break (no break within the βs run) reads as a lower bound, not "≈ nan" or "(…, ∞]"
    pred = next(v for v in verdicts if v.id == "invariance-noise-scale-predicts-break").summary
    assert "above" in pred and "nan" not in pred and "∞]" not in text
    res = SimpleNamespace(runs=_runs({1000: 8, 4000: 64}, sqrt_extra=0.05), noise=noise, epochs=4)
    facts = claims.summary(res, _params())
    for table in (figures.break_table(facts), figures.distance_table(facts), figures.prediction_table(facts, _params())):
        _table_rows_are_whole(table)
        assert "nan" not in table
    assert claims.signed(-4.7) == "−4.7" and claims.signed(0.5) == "+0.5"


def test_numbers_are_written_for_people():
    from replication.chapters.invariance.figures import network_text, number

    assert number(0.001) == "0.001" and number(1200) == "1,200" and number(5e-6) == "5.0×10⁻⁶"
    assert number(0.02 / 20) == "0.001" and number(7.8125e-4) == "7.8×10⁻⁴"
    res = SimpleNamespace(n_parameters=101_770, architecture="ReLU MLP 784-128-10 (1 hidden layers; 0.10M params)")
    text = network_text(res, SimpleNamespace(model="mlp", hidden=[128]))
    assert text == "an MLP with one hidden layer of 128 ReLU units (101,770 parameters)"
    assert "layers" in network_text(res, SimpleNamespace(model="mlp", hidden=[64, 64]))


def test_claim_9_deciding_number_lies_where_its_rule_put_the_outcome():
    from replication import claims as verdict_rules

    noise = _noise({1000: [30, 60, 70], 4000: [150, 300, 320]})
    for runs, want in ((_runs({1000: 8, 4000: 32}, sqrt_extra=0.05), "holds"),
                       (_runs({1000: 32, 4000: 32}, lin_extra=0.012), "fails")):
        v = _verdicts(runs, noise)["claim-9-linear-beats-sqrt"]
        assert v.raw_outcome == want and verdict_rules.decided(v.decision) == want
        assert v.decision["value"] == pytest.approx(100 * v.evidence["D"])           # in points


# -- the breaking point on the second network (the paper's Fig. 7) ---------------------------------------
def test_fig7_grid_is_linear_rescaling_of_the_second_network_and_skips_batches_above_n():
    from replication.chapters.invariance import fig7

    p = resolve(invariance.SPEC, "smoke", {"fig7_betas": [1.0, 2.0, 4.0, 8.0, 16.0]})
    rows = fig7.grid(p)
    eta0, S0 = p.fig7_base_lr, p.fig7_base_batch_size
    assert {cfg.model for _, cfg in rows} == {"small_cnn"} and len(p.fig7_train_sizes) >= 3
    for labels, cfg in rows:
        assert cfg.batch_size == round(labels["beta"] * S0) <= labels["N"] == cfg.n_train
        assert cfg.lr / cfg.batch_size == pytest.approx(eta0 / S0) and cfg.epochs == p.fig7_epochs
        assert dict(cfg.model_options)["channels"] == tuple(p.fig7_channels)
    # β = 16 gives S = 160: run for N = 200 and 300, not for N = 100
    assert {labels["N"] for labels, _ in rows if labels["beta"] == 16} == {200, 300}
    assert len(rows) == p.fig7_seeds * (4 * 3 + 2)
    # the chapter's plan declares them (dry run, planning); "none" runs nothing
    assert {cfg.key for _, cfg in rows} <= {cfg.key for cfg in invariance.plan(p)}
    assert fig7.grid(resolve(invariance.SPEC, "smoke", {"fig7_model": "none"})) == []


@pytest.mark.parametrize("explicit, pattern", [
    ({"fig7_betas": [2.0, 4.0, 8.0]}, r"^fig7_betas=.*must contain 1"),
    ({"fig7_betas": [1.0, 4.0, 2.0]}, r"^fig7_betas=.*must be increasing"),
    ({"fig7_model": "resnet32"}, r"^fig7_model='resnet32': .*need dataset=cifar10"),
    ({"fig7_base_batch_size": 150}, r"^fig7_base_batch_size=150: must be <= the smallest fig7 training-set size 100"),
    ({"fig7_train_sizes": [100, 200]}, r"^fig7_train_sizes=.*at least 3 entries"),
    ({"fig7_train_sizes": [100, 200, 59_900]}, r"^fig7_train_sizes=.*every size \+ n_val must be <= 60000"),
])
def test_bad_fig7_parameters_fail_with_one_line(explicit, pattern):
    with pytest.raises(ParameterError, match=pattern):
        resolve(invariance.SPEC, "smoke", explicit)


def test_gpu_and_paper_run_a_resnet_for_fig7_and_augment_every_cifar_run():
    for profile in ("gpu", "paper"):
        p = resolve(invariance.SPEC, profile)
        assert p.fig7_model.startswith("resnet") and sorted(p.fig7_train_sizes) == [12_000, 22_500, 45_000]
        runs = invariance.plan(p)
        assert all(cfg.augment for cfg in runs if cfg.dataset == "cifar10")
        assert {cfg.model for cfg in runs} == {"vgg11", p.fig7_model}


def _fig7_results(breaks: dict, **kw):
    return SimpleNamespace(runs=[r for r in _runs(breaks, **kw) if r["variant"] == "linear"])


def test_fig7_beta_star_is_consistent_with_the_per_beta_comparisons_it_comes_from():
    f7 = claims.fig7_summary(_fig7_results({500: 4, 1000: 8, 2000: 32}), 0.02)
    assert f7["sizes"] == [500, 1000, 2000] and f7["rising"] and f7["separated"]
    for N, written in ((500, 4), (1000, 8), (2000, 32)):
        tab, br = f7["tables"][N], f7["breaks"][N]
        grid = [t["beta"] for t in tab]
        # the interval's ends are βs of the grid, the estimate between them, at the written break
        assert br["lo"] in grid and br["hi"] in grid and br["lo"] < br["beta_star"] <= br["hi"] == written
        # every β from hi on is clearly broken and below −margin; lo and every β below it are not
        assert all(t["d"] < -0.02 for t in tab if t["beta"] >= br["hi"])
        assert all(t["d"] >= -0.02 and not t["broken"] for t in tab if t["beta"] <= br["lo"])
    assert "rises with the training-set size" in claims.fig7_text(f7)
    # the break falling with N is not called rising; no break in range is a lower bound, not a number
    f7 = claims.fig7_summary(_fig7_results({500: 32, 1000: 8, 2000: 64}), 0.02)
    assert not f7["rising"] and "does not rise" in claims.fig7_text(f7)
    assert math.isnan(f7["breaks"][2000]["beta_star"]) and "no break in range" in claims.fig7_text(f7)
    # a break that moves less than the seeds' noise: rising estimates, overlapping intervals, said so
    f7 = claims.fig7_summary(_fig7_results({500: 8, 1000: 8, 2000: 16}, noise=0.03), 0.02)
    assert not f7["separated"]
    assert claims.fig7_summary(None, 0.02) is None


def test_fig7_figure_and_rows_at_a_tiny_size_through_the_store(store, one_thread):
    import matplotlib

    matplotlib.use("Agg")
    from replication.chapters.invariance import figures, fig7

    explicit = dict(train_sizes=[200, 300], n_val=100, n_test=50, hidden=[8], betas=[1.0, 2.0, 4.0],
                    sqrt_betas=[2.0], seeds=2, epochs=1, noise_epochs=[0], noise_samples=100,
                    fig7_train_sizes=[100, 150, 200], fig7_betas=[1.0, 2.0, 4.0], fig7_channels=[2])
    p = resolve(invariance.SPEC, "smoke", explicit)
    res = invariance.compute(p, store=store, progress=False)
    assert res.fig7 is not None and len(res.fig7.runs) == len(fig7.grid(p)) == 3 * 3 * 2
    assert "small CNN" in res.fig7.architecture and res.fig7.computed == len(res.fig7.runs)
    again = fig7.compute(p, store=store, progress=False)
    assert again.computed == 0 and again.stored == len(res.fig7.runs)
    f7 = claims.fig7_summary(res.fig7, p.margin)
    rows = figures.fig7_rows(f7)
    assert {(r["N"], r["beta"]) for r in rows} == {(N, b) for N in (100, 150, 200) for b in (1.0, 2.0, 4.0)}
    assert all(r["beta_star_lo"] in (1.0, 2.0, 4.0) for r in rows)
    facts = claims.summary(res, p)
    fig = figures.fig7_figure(f7, facts, res)
    assert len(fig.axes) == 2
    assert "small CNN" in figures.fig7_setup_text(res.fig7, p)
    assert "Fashion-MNIST" in figures.fig7_deviation_text(res.fig7, p)
    # verdicts are those of the main network only: the second network's figure is descriptive
    assert len(invariance.verdicts(res, p)) == 6
