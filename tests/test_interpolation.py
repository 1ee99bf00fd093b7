"""The interpolation chapter: the line walk, batch-norm recalibration, filter-normalized directions,
widths and barriers, the rules, and the whole chapter at a tiny size through the store."""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from replication import claims as claims_mod
from replication import models, profiles
from replication.chapters import interpolation as chapter
from replication.chapters.interpolation import claims, experiment, landscape
from replication.chapters import resolve_spec as resolve
from replication.params import ParameterError


@pytest.mark.parametrize("profile", profiles.NAMES)
def test_every_profile_resolves(profile):
    p = resolve(chapter.SPEC, profile)
    assert p.alpha_points >= 7 and 1.0 in p.fig3_betas
    if profile in ("gpu", "paper"):
        assert (p.dataset, p.fig2_model, p.fig3_model) == ("cifar10", "resnet56", "vgg11")
        assert (p.fig2_lrs, p.fig2_batch_sizes) == ((0.1, 0.1, 0.01), (128, 1024, 128))
    sets = experiment.settings(p)
    for panel in experiment.panels(p):             # every training config of the profile validates
        for side in ("a", "b"):
            st = sets[panel["figure"]][panel[side]]
            cfg = experiment.train_config(p, panel["figure"], st["eta"], st["S"],
                                          experiment.endpoint_seed(0, panel["shared"], side))
            assert cfg.epochs >= 1 and cfg.momentum == p.momentum
    if profile == "laptop":
        assert p.alpha_points >= 31 and p.seeds >= 3 and p.batch_norm
        assert (p.fig2_lrs, p.fig2_batch_sizes) == ((0.1, 0.1, 0.01), (128, 1024, 128))
        assert (p.fig3_lr, p.fig3_batch_size) == (0.1, 50)


@pytest.mark.parametrize("explicit, pattern", [
    ({"fig3_betas": [0.5, 4.0]}, "fig3_betas=.*must contain 1"),
    ({"fig2_model": "vgg11"}, "need dataset=cifar10"),
    ({"bn_samples": 10_000}, "bn_samples=10000: must be <= n_train"),
    ({"fig2_lrs": [0.1, 0.1]}, "one learning rate per batch size"),
    ({"augment": True}, "augment=True: only with dataset=cifar10"),
    ({"alpha_points": 3}, r"alpha_points=3: must be an integer, in \[7"),
])
def test_bad_parameters_fail_with_one_line(explicit, pattern):
    with pytest.raises(ParameterError, match=pattern):
        resolve(chapter.SPEC, "smoke", explicit)


def test_alpha_grid_spans_minus_one_to_two_and_is_denser_near_the_endpoints():
    a = np.array(landscape.alpha_grid(31))
    assert len(a) >= 31 and a[0] == -1 and a[-1] == 2 and 0 in a and 1 in a
    assert np.all(np.diff(a) > 0)
    step = np.diff(a)
    near = step[(a[:-1] >= -0.2) & (a[1:] <= 0.2)]
    far = step[(a[:-1] >= -1) & (a[1:] <= -0.5)]
    assert near.min() < far.min() / 3
    assert len(landscape.alpha_grid(9)) >= 9


def _bn_net(seed=0):
    return models.build("small_cnn", seed=seed, channels=(3,), batch_norm=True)


def test_blend_is_linear_and_batch_norm_buffers_follow_the_choice():
    ma, mb = _bn_net(0), _bn_net(1)
    with torch.no_grad():
        for m, v in ((ma, 1.0), (mb, 3.0)):
            bn = m.features[1]
            bn.running_mean.fill_(v)
            bn.num_batches_tracked.fill_(int(v))
    sa, sb = ma.state_dict(), mb.state_dict()
    for alpha in (-1.0, 0.0, 0.3, 1.0, 2.0):
        rec = landscape.blend(sa, sb, alpha, model=ma, bn="recompute")
        itp = landscape.blend(sa, sb, alpha, model=ma, bn="interpolate")
        w = "features.0.weight"
        torch.testing.assert_close(rec[w], (1 - alpha) * sa[w] + alpha * sb[w])
        torch.testing.assert_close(rec["features.1.running_mean"], sa["features.1.running_mean"])
        torch.testing.assert_close(itp["features.1.running_mean"], torch.full((3,), 1.0 + 2.0 * alpha))
        assert rec["features.1.num_batches_tracked"] == itp["features.1.num_batches_tracked"] == 1


def test_recompute_bn_gives_the_statistics_of_the_data():
    torch.manual_seed(0)
    m = _bn_net(0).eval()
    X = torch.randn(40, 1, 28, 28) * 2 + 0.5
    landscape.recompute_bn(m, X)
    with torch.no_grad():
        z = m.features[0](X)
    bn = m.features[1]
    torch.testing.assert_close(bn.running_mean, z.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.running_var, z.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-5)
    assert bn.momentum == 0.1 and not m.training


def test_filter_normalized_direction_matches_filter_norms_and_leaves_biases_and_bn_alone():
    m = _bn_net(0)
    d = landscape.filter_normalized_direction(m.state_dict(), m, torch.Generator().manual_seed(12_345))
    for k, v in m.state_dict().items():
        if v.dim() > 1:
            torch.testing.assert_close(d[k].reshape(v.shape[0], -1).norm(dim=1), v.reshape(v.shape[0], -1).norm(dim=1))
            assert not torch.allclose(d[k], v)
        else:
            assert torch.all(d[k] == 0), k


def test_widths_on_a_quadratic_and_censoring():
    x = np.linspace(-1, 2, 3001)
    loss = 2.0 * x ** 2
    w = landscape.width_at(x, loss, 0.0, 0.5)
    assert w["width"] == pytest.approx(2 * math.sqrt(0.25), abs=2e-3)
    assert not (w["left_censored"] or w["right_censored"])
    flat = landscape.width_at(x, np.zeros_like(x), 0.0, 0.5, inward=+1, limit=1.0)
    assert flat["left"] == pytest.approx(1.0) and flat["right"] == pytest.approx(1.0)
    assert flat["left_censored"] and flat["right_censored"]
    # a valley at each endpoint, the one at 1 four times sharper
    y = np.where(x < 0.5, 1.0 * x ** 2, 4.0 * (x - 1) ** 2)
    wa = landscape.width_at(x, y, 0.0, 0.1, inward=+1, limit=1.0)["width"]
    wb = landscape.width_at(x, y, 1.0, 0.1, inward=-1, limit=1.0)["width"]
    assert wa / wb == pytest.approx(2.0, rel=1e-2)


def test_barrier_is_the_excess_over_the_chord():
    x = np.linspace(-1, 2, 301)
    assert landscape.barrier(x, (x - 0.5) ** 2) == 0.0
    bump = 0.3 * np.exp(-((x - 0.5) / 0.1) ** 2) + x     # chord from 0 to 1, bump of 0.3 in the middle
    assert landscape.barrier(x, bump) == pytest.approx(0.3, abs=1e-3)


class _Params(dict):
    __getattr__ = dict.__getitem__


def _synthetic(k_low_over_base, lam_low_over_base, seeds=4, noise=0.05, bump=0.0):
    """Results whose lines rise with curvature 1 beyond endpoint a and k beyond endpoint b, with a flat
    floor (or a bump of height ``bump``) between them; λ_max as given."""
    rng = np.random.default_rng(0)
    a = np.array(landscape.alpha_grid(61))
    sets = {"fig2": [dict(name="baseline", eta=0.1, S=128, ratio=0.1 / 128),
                     dict(name="large batch", eta=0.1, S=1024, ratio=0.1 / 1024)],
            "fig3": [dict(name="β = 1", eta=0.1, S=50, ratio=0.002, beta=1.0),
                     dict(name="β = 4", eta=0.4, S=200, ratio=0.002, beta=4.0)]}
    panels = [dict(id="fig2-a", figure="fig2", a=0, b=1, shared=True, label="(a)"),
              dict(id="fig3-beta-4", figure="fig3", a=0, b=1, shared=True, label="β = 1 → 4")]
    lines, endpoints = {}, {}
    for p in panels:
        k = k_low_over_base if p["figure"] == "fig2" else 1.0
        lam = lam_low_over_base if p["figure"] == "fig2" else 1.0
        lines[p["id"]] = []
        for s in range(seeds):
            kk = k * math.exp(noise * rng.standard_normal())
            y = np.where(a < 0, a ** 2, np.where(a > 1, kk * (a - 1) ** 2, bump * np.sin(np.pi * np.clip(a, 0, 1)))) + 0.05
            lines[p["id"]].append(dict(alphas=list(a), train_loss=list(y), test_loss=list(y), train_acc=[0.9] * len(a),
                                       test_acc=[0.9] * len(a), distance=1.0))
        for i, ll in ((0, 10.0), (1, 10.0 * lam)):
            endpoints[f"{p['figure']}-{i}"] = [dict(lam_max=ll * math.exp(noise * rng.standard_normal()),
                                                    lam_converged=True, t=[-1, 0, 1], curves=[]) for _ in range(seeds)]
    runs = {k: [dict(best_epoch=1, best_val_acc=0.9)] * seeds for k in endpoints}
    res = chapter.InterpolationResults(settings=sets, panels=panels, alphas=tuple(a), lines=lines, bn_other={},
                                       endpoints=endpoints, runs=runs, architectures={}, provenance={}, wall_time={},
                                       seeds=seeds)
    params = _Params(delta_loss=0.2, equal_margin=1.5, barrier_margin=0.1, directions=0, profile="test", n_train=1024,
                     fig2_epochs=2, fig3_epochs=2)
    return res, params


def test_fixed_epoch_view_keeps_the_rule_as_first_registered():
    """The line-width and λ_max rule at fixed epochs is now a secondary view (evidence, not the verdict)."""
    by = lambda vs: {v.id: v for v in vs}  # noqa: E731
    v = by(claims.verdicts(*_synthetic(4.0, 3.0)))
    assert v["claim-6-large-batch-sharper"].evidence["fixed_epoch_rule"] == "holds"
    assert v["claim-6-large-batch-sharper"].rule_id == "claim-6-bn-invariant-width-matched"
    assert v["claim-7-beta-4"].evidence["fixed_epoch_rule"] == "holds"
    assert v["interpolation-no-barrier-fig2"].raw_outcome == "holds"
    assert v["interpolation-claim-6-filter-normalized"].outcome == "not run"
    assert by(claims.verdicts(*_synthetic(4.0, 3.0, bump=0.5)))["interpolation-no-barrier-fig2"].outcome == "fails"
    assert by(claims.verdicts(*_synthetic(0.25, 3.0)))["claim-6-large-batch-sharper"].evidence["fixed_epoch_rule"] == "fails"
    # no filter-normalized widths: nothing compared, inconclusive, and it says what would decide it
    assert v["claim-6-large-batch-sharper"].outcome == "inconclusive" and v["claim-6-large-batch-sharper"].power
    for vv in v.values():
        assert vv.outcome in claims_mod.OUTCOMES and vv.rule and vv.control


def _matched(k_large=4.0, k_small=4.0, k_beta=1.0, epochs=None, seeds=4, noise=0.05, lam=3.0):
    """Results for the matched rules: filter-normalized curves L(t) = c t² + 0.05 around each endpoint, so
    the Δ-width is 2 sqrt(Δ / c); c = 1 at the baseline and at β = 1, ``k_*`` times that elsewhere.
    ``epochs``: the early-stopped epoch of each setting (default: equal SDE time t = η · steps)."""
    rng = np.random.default_rng(1)
    a = np.array(landscape.alpha_grid(31))
    sets = {"fig2": [dict(name="baseline", eta=0.1, S=128, ratio=0.1 / 128),
                     dict(name="large batch", eta=0.1, S=1024, ratio=0.1 / 1024),
                     dict(name="small learning rate", eta=0.01, S=128, ratio=0.01 / 128)],
            "fig3": [dict(name="β = 1", eta=0.1, S=50, ratio=0.002, beta=1.0),
                     dict(name="β = 4", eta=0.4, S=200, ratio=0.002, beta=4.0)]}
    # n_train = 1024: steps per epoch 8, 1, 8 (Fig. 2) and 20, 5 (Fig. 3); t = η·steps equal at these epochs
    epochs = epochs or {"fig2-0": 10, "fig2-1": 80, "fig2-2": 100, "fig3-0": 4, "fig3-1": 4}
    curv = {"fig2-0": 1.0, "fig2-1": k_large, "fig2-2": k_small, "fig3-0": 1.0, "fig3-1": k_beta}
    panels = [dict(id="fig2-a", figure="fig2", a=0, b=1, shared=True, label="(a)"),
              dict(id="fig2-b", figure="fig2", a=0, b=2, shared=True, label="(b)"),
              dict(id="fig2-c", figure="fig2", a=1, b=2, shared=True, label="(c)"),
              dict(id="fig3-beta-4", figure="fig3", a=0, b=1, shared=True, label="β = 1 → 4")]
    ts = np.linspace(-1, 1, 41)
    endpoints = {k: [dict(lam_max=lam, lam_converged=True, t=list(ts),
                          curves=[list(c * math.exp(noise * rng.standard_normal()) * ts ** 2 + 0.05)])
                     for _ in range(seeds)] for k, c in curv.items()}
    flat = dict(alphas=list(a), train_loss=list(0.05 + 0 * a), test_loss=list(0.05 + 0 * a),
                train_acc=[0.9] * len(a), test_acc=[0.9] * len(a), distance=1.0)
    lines = {p["id"]: [flat] * seeds for p in panels}
    runs = {k: [dict(best_epoch=e, best_val_acc=0.9)] * seeds for k, e in epochs.items()}
    res = chapter.InterpolationResults(settings=sets, panels=panels, alphas=tuple(a), lines=lines, bn_other={},
                                       endpoints=endpoints, runs=runs, architectures={}, provenance={}, wall_time={},
                                       seeds=seeds)
    params = _Params(delta_loss=0.2, equal_margin=1.5, barrier_margin=0.1, directions=1, profile="test", n_train=1024,
                     fig2_epochs=10, fig3_epochs=4)
    return {v.id: v for v in claims.verdicts(res, params)}


def test_claim_6_by_the_bn_invariant_width_at_matched_progress_with_its_control():
    # sharper low-ratio ends, the equal-η/S pair alike (k_large = k_small): the control fails, claim 6 holds
    v = _matched(k_large=4.0, k_small=4.0)
    assert v["claim-6-large-batch-sharper"].raw_outcome == "holds"
    assert v["claim-6-large-batch-sharper"].control["outcome"] in ("fails", "inconclusive")
    # the equal-η/S pair differing the claim's way too: the rule cannot tell η/S from S
    nd = _matched(k_large=1.0, k_small=4.0)
    assert nd["claim-6-small-lr-sharper"].raw_outcome == "holds"
    assert nd["claim-6-small-lr-sharper"].control["outcome"] == "holds"
    assert nd["claim-6-small-lr-sharper"].outcome == "not discriminating"
    # the equal-η/S pair reversed: the control fails, so a holding rule stands
    ok = _matched(k_large=8.0, k_small=2.0)
    assert ok["claim-6-small-lr-sharper"].control["outcome"] == "fails"
    assert ok["claim-6-small-lr-sharper"].outcome == "holds"
    # flatter low-ratio ends: fails whatever the control says
    assert _matched(k_large=0.25, k_small=0.25)["claim-6-large-batch-sharper"].outcome == "fails"
    # the large batch stopped after as many epochs as the baseline: 1/8 of its SDE time, not compared
    un = _matched(k_large=8.0, k_small=2.0, epochs={"fig2-0": 10, "fig2-1": 10, "fig2-2": 100, "fig3-0": 4, "fig3-1": 4})
    c6 = un["claim-6-large-batch-sharper"]
    assert c6.outcome == "inconclusive" and c6.evidence["pairs_compared"] == 0 and "80 epochs" in c6.power
    assert "{" not in c6.matched and "factor 1.5" in c6.matched
    # unstable endpoints (η·λ_max >= 2) are not compared either
    assert _matched(lam=30.0)["claim-6-large-batch-sharper"].evidence["pairs_compared"] == 0


def test_fixed_epoch_filter_normalized_rule_reads_its_equal_ratio_control():
    # the equal-η/S pair differs the other way (the large batch sharper than the small learning rate): fails
    v = _matched(k_large=8.0, k_small=2.0)["interpolation-claim-6-filter-normalized"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "fails" and v.outcome == "holds"
    # the equal-η/S pair differs the claim's way: the rule cannot tell η/S from S
    v = _matched(k_large=2.0, k_small=4.0)["interpolation-claim-6-filter-normalized"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "holds" and v.outcome == "not discriminating"


def test_barrier_rule_against_interpolated_batch_norm_statistics():
    res, params = _synthetic(4.0, 3.0)
    a = np.asarray(res.alphas)
    bump = lambda ln, h: dict(ln, train_loss=list(np.asarray(ln["train_loss"]) + h * np.sin(np.pi * np.clip(a, 0, 1))))  # noqa: E731
    by = lambda vs: {v.id: v for v in vs}  # noqa: E731
    res.bn_other = {"fig2-a": [bump(ln, 1.0) for ln in res.lines["fig2-a"]]}
    v = by(claims.verdicts(res, params))["interpolation-no-barrier-fig2"]
    assert v.raw_outcome == "holds" and v.control["outcome"] == "fails" and v.outcome == "holds"
    res.bn_other = {"fig2-a": [bump(ln, 0.0) for ln in res.lines["fig2-a"]]}
    v = by(claims.verdicts(res, params))["interpolation-no-barrier-fig2"]
    assert v.control["outcome"] == "holds" and v.outcome == "not discriminating"


def test_claim_7_by_the_bn_invariant_width_at_matched_progress_with_its_control():
    # equal widths at β = 4, the lower-η/S Fig. 2 ends four times sharper: the control fails, claim 7 holds
    v = _matched(k_beta=1.0, k_large=4.0, k_small=4.0)
    assert v["claim-7-beta-4"].control["outcome"] == "fails" and v["claim-7-beta-4"].outcome == "holds"
    # the rule calls a differing Fig. 2 pair equal too: not discriminating
    nd = _matched(k_beta=1.0, k_large=1.0, k_small=4.0)
    assert nd["claim-7-beta-4"].control["outcome"] == "holds"
    assert nd["claim-7-beta-4"].outcome == "not discriminating"
    # β = 4 four times sharper: the width ratio is ×0.5, outside ×1.5: fails
    assert _matched(k_beta=4.0)["claim-7-beta-4"].outcome == "fails"
    # β = 4 stopped at a quarter of the SDE time: not compared
    un = _matched(epochs={"fig2-0": 10, "fig2-1": 80, "fig2-2": 100, "fig3-0": 4, "fig3-1": 1})
    assert un["claim-7-beta-4"].outcome == "inconclusive" and un["claim-7-beta-4"].evidence["pairs_compared"] == 0


def test_equivalence_rule_fails_when_confidently_different():
    assert claims._equivalent(dict(mean=math.log(3), lo=math.log(2), hi=math.log(4)), 1.5) == "fails"
    assert claims._equivalent(dict(mean=0.0, lo=-0.1, hi=0.1), 1.5) == "holds"
    assert claims._equivalent(dict(mean=0.0, lo=-1.0, hi=1.0), 1.5) == "inconclusive"


def test_chapter_at_a_tiny_size_through_the_store(store, one_thread):
    from replication import chapters

    params = resolve(chapter.SPEC, "smoke", dict(n_train=128, n_val=32, n_test=32, fig2_batch_sizes=[16, 64, 16],
                                                fig3_batch_size=16, fig2_epochs=1, alpha_points=7, bn_samples=32,
                                                eval_train=32, hessian_samples=32, surface_points=0))
    res = chapters.compute("interpolation", params, store=store, progress=False)
    assert res.computed > 0
    a = np.asarray(res.alphas)
    i0 = int(np.argmin(np.abs(a)))
    for pid, lines in res.lines.items():
        assert len(lines) == params.seeds and all(ln is not None for ln in lines)
        assert all(np.all(np.isfinite(ln["train_loss"])) for ln in lines)
    # α = 0 on the line and t = 0 around the endpoint: the same network, the same statistics, the same data
    first = res.panels[0]
    ep = res.endpoints[f"fig2-{first['a']}"][0]
    mid = len(ep["t"]) // 2
    assert ep["t"][mid] == 0
    assert res.lines[first["id"]][0]["train_loss"][i0] == pytest.approx(ep["curves"][0][mid], rel=1e-5)
    # the other batch-norm choice differs inside the segment, not at the endpoints' weights
    other = res.bn_other[first["id"]][0]
    inside = int(np.argmin(np.abs(a - 0.5)))
    assert other["train_loss"][inside] != pytest.approx(res.lines[first["id"]][0]["train_loss"][inside], rel=1e-6)
    # the independent-initialization variant uses other seeds for its second endpoints
    assert any(p["id"].endswith("other-init") for p in res.panels)
    vs = chapter.verdicts(res, params)
    assert {v.claim for v in vs} >= {6, 7}
    again = chapters.compute("interpolation", params, store=store, progress=False)
    assert again.computed == 0 and again.stored == res.stored + res.computed


def _standin(tmp_path_factory) -> Path | None:
    script = None
    for folder in (Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data")):
        if (folder / "cifar10_standin.py").is_file() and (folder / "cifar10-jpeg-q75.tar.gz").is_file():
            script = folder / "cifar10_standin.py"
            break
    if script is None:
        return None
    pytest.importorskip("PIL")
    dest = tmp_path_factory.mktemp("cifar-standin")
    try:
        subprocess.run([sys.executable, str(script), str(dest)], check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError):
        return None
    return dest


@pytest.mark.slow
def test_cifar_path_at_tiny_size_with_the_standin_accepted(tmp_path_factory, store, one_thread, monkeypatch):
    from replication import data

    dest = _standin(tmp_path_factory)
    if dest is None:
        pytest.skip("the CIFAR-10 stand-in could not be produced (shared/data/cifar10_standin.py and its tarball)")
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(dest))
    monkeypatch.setenv("REPLICATION_OFFLINE", "1")
    data.clear_memo()
    explicit = dict(device="cpu", n_train=64, n_val=16, n_test=16, augment=True, fig2_batch_sizes=[8, 32, 8],
                    fig3_batch_size=8, fig2_epochs=1, fig3_epochs=1, model_width=0.0625, alpha_points=7,
                    bn_samples=16, eval_train=16, hessian_samples=16, lanczos_max_iter=4, directions=1,
                    direction_points=3, surface_points=3, init_variant=False)
    refused = resolve(chapter.SPEC, "gpu", explicit)
    with pytest.raises(Exception, match="(?i)stand-in|unverified|canonical"):
        chapter.compute(refused, store=store, progress=False)
    params = resolve(chapter.SPEC, "gpu", dict(explicit, accept_unverified_data=True))
    with pytest.warns(UserWarning):
        res = chapter.compute(params, store=store, progress=False)
    assert res.provenance["data"]["canonical"] is False
    assert "NOT canonical" in res.provenance["data"]["source"]
    assert "ResNet-56" in res.architectures["fig2"] and "VGG-11" in res.architectures["fig3"]
    assert any(e and e["surface"] for eps in res.endpoints.values() for e in eps)
    assert all(np.all(np.isfinite(ln["train_loss"])) for lines in res.lines.values() for ln in lines)
    data.clear_memo()


def _table_rows_are_whole(markdown: str) -> None:
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    assert rows and len({line.count("|") for line in rows}) == 1, rows


def test_page_numbers_are_rounded_to_their_intervals_and_tables_fit():
    from replication.chapters.interpolation import page as figures

    assert claims.rounded(0.000225, -0.000743, 0.00119) == "0.0002 [−0.0007, 0.0012]"
    assert claims.rounded(1.708, 1.612, 1.810) == "1.71 [1.61, 1.81]"
    assert claims.rounded(0.954, -0.205, 2.11) == "1.0 [−0.2, 2.1]"
    assert claims.rounded(0.0, 0.0, 0.0) == "0"          # no spread: no "0.00 ± 0.00"
    assert figures.number(0.1 / 128) == "7.8×10⁻⁴" and figures.number(0.002) == "0.002"
    res, params = _synthetic(4.0, 3.0, seeds=3)
    facts = claims.summary(res, params)
    vs = claims.verdicts(res, params)
    barrier = next(v for v in vs if v.id == "interpolation-no-barrier-fig2")
    assert "e-" not in barrier.summary and "nan" not in barrier.summary
    assert not any("*" in v.summary + v.statement + v.rule for v in vs)   # markdown would turn them into italics
    for table in (figures.panel_table(facts, "fig2"), figures.panel_table(facts, "fig3"),
                  figures.claims_table(facts, vs, 6), figures.claims_table(facts, vs, 7)):
        _table_rows_are_whole(table)
        assert "nan" not in table and "e-0" not in table
    # fewer than three seeds: each seed's value, not a t-interval that runs off the scale
    res2, params2 = _synthetic(4.0, 3.0, seeds=2)
    two = figures.panel_table(claims.summary(res2, params2), "fig2")
    assert "[" not in two.split("\n")[2].rsplit("|", 2)[0]
