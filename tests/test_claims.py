"""The Verdict record and the verdict store, and the rule helpers of replication.stats."""
import json

import numpy as np
import pytest

from replication import verdict_files
from replication import chapters
from replication import claims, stats
from replication.claims import Verdict


def _verdict(**kw):
    base = dict(id="claim-4-deep-frobenius", claim=4, statement="‖H‖_F falls with η/S", source="ICLR 2018, Fig. 1(a)",
                rule="ρ ≤ −0.5, interval below 0", outcome="holds", evidence={"rho": np.float64(-0.8), "n": np.int64(16)},
                chapter="sharpness", profile="smoke")
    return Verdict(**{**base, **kw})


def test_verdict_validates_id_outcome_and_claim():
    with pytest.raises(ValueError, match="id="):
        _verdict(id="Claim 4")
    with pytest.raises(ValueError, match="outcome="):
        _verdict(outcome="replicated")
    with pytest.raises(ValueError, match="claim="):
        _verdict(claim=14)


def test_verdicts_round_trip_through_json_files(tmp_path):
    v = _verdict(evidence={"rho": np.float64(-0.8), "n": np.int64(16), "lost": float("nan")})
    assert v.evidence == {"rho": -0.8, "n": 16, "lost": None}
    path = verdict_files.save("sharpness", "smoke", [v], params={"seeds": 3}, store_root=tmp_path)
    assert json.loads(path.read_text())["verdicts"][0]["id"] == v.id
    record = verdict_files.load("sharpness", "smoke", store_root=tmp_path)
    assert record["verdicts"] == [v] and record["params"] == {"seeds": 3}
    assert chapters.collect(["sharpness", "sde"], "smoke", store_root=tmp_path)["sde"] is None


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="share the id"):
        verdict_files.save("sharpness", "smoke", [_verdict(), _verdict()], store_root=tmp_path)


def test_user_profile_paths_become_folder_names(tmp_path):
    path = verdict_files.verdict_file("sde", "/home/me/my profile.yml", tmp_path)
    assert path.parent.parent == tmp_path / "verdicts" and "/" not in path.parent.name and " " not in path.parent.name


def test_trend_is_honest_for_three_seeds():
    rng = np.random.default_rng(0)
    x = [1, 2, 3, 4, 5, 6]
    clear = {k: -k + rng.normal(0, 0.05, 3) for k in x}
    t = stats.trend(clear)
    assert t["rho"] == pytest.approx(-1.0) and t["hi"] < 0
    assert stats.trend_outcome(t, -1) == "holds" and stats.trend_outcome(t, +1) == "fails"
    # means that are monotone but whose seeds scatter far more than the trend: not "holds"
    noisy = {k: -0.1 * k + rng.normal(0, 3.0, 3) for k in x}
    assert stats.trend_outcome(stats.trend(noisy), -1) in ("inconclusive", "fails")
    assert stats.trend_outcome(stats.trend({1: [1.0], 2: [2.0]}), +1) == "inconclusive"


def test_t_draws_are_wider_than_a_bootstrap_of_three_values():
    rng = np.random.default_rng(1)
    values = np.array([0.0, 1.0, 2.0])
    draws = stats.mean_draws(values, 20_000, rng)
    # a bootstrap of the mean of 3 values can never leave [0, 2]; the t-law of the mean does
    assert np.mean((draws < 0) | (draws > 2)) > 0.05
    assert np.median(np.abs(draws - 1.0)) == pytest.approx(0.8165 / np.sqrt(3), rel=0.1)   # median |T_2| = 0.8165


def test_ols_recovers_coefficients_and_covers_them():
    rng = np.random.default_rng(2)
    x, z = rng.normal(size=200), rng.normal(size=200)
    y = 1.0 + 2.0 * x - 0.5 * z + rng.normal(0, 0.1, 200)
    fit = stats.ols(y, x, z)
    assert fit["coef"] == pytest.approx([1.0, 2.0, -0.5], abs=0.05)
    assert all(lo < c < hi for lo, c, hi in zip(fit["lo"], (1.0, 2.0, -0.5), fit["hi"]))
    assert stats.sign_outcome(fit["lo"][1], fit["hi"][1], +1) == "holds"
    assert stats.sign_outcome(fit["lo"][2], fit["hi"][2], +1) == "fails"
    assert stats.sign_outcome(-1.0, 1.0, +1) == "inconclusive"


def test_equivalence_has_three_outcomes():
    rng = np.random.default_rng(3)
    a = 0.90 + rng.normal(0, 0.002, 8)
    assert stats.equivalence(a, 0.90 + rng.normal(0, 0.002, 8), 0.01)["outcome"] == "holds"
    assert stats.equivalence(a, 0.80 + rng.normal(0, 0.002, 8), 0.01)["outcome"] == "fails"
    assert stats.equivalence(a[:2], np.array([0.85, 0.95]), 0.01)["outcome"] == "inconclusive"


def test_announced_tables_become_numbered_tables():
    from replication.notebook import numbered_tables

    text = "Intro.\n\n**Table: the `gpu` profile.** Estimates.\n\n| a | b |\n| --- | ---: |\n| 1 | 2 |\n\nAfter."
    out = numbered_tables(text)
    assert ":::{table} The `gpu` profile. Estimates.\n:name: tbl-" in out
    assert "| 1 | 2 |\n:::\n\nAfter." in out and out.startswith("Intro.")
    assert numbered_tables("| a |\n| --- |\n| 1 |") == "| a |\n| --- |\n| 1 |"     # no caption: left alone
    # the same table on two pages (the synthesis: introduction and claims page) gets two labels
    labels = {numbered_tables(text, page=p).split(":name: ")[1].split("\n")[0] for p in ("intro", "claims")}
    assert len(labels) == 2 and all(label.startswith("tbl-") for label in labels)
    # a caption whose bold part runs on after a comma stays one sentence
    out = numbered_tables("**Table: count**, over the draws.\n\n| a |\n| --- |\n| 1 |")
    assert out.startswith(":::{table} Count, over the draws.\n")
    assert numbered_tables("**Table: η/S per run.**\n\n| a |\n| --- |\n| 1 |").startswith(":::{table} η/S per run\n")


def test_every_part_must_hold():
    from replication.claims import every_part

    assert every_part(["holds", "holds"]) == "holds"
    assert every_part(["holds", "inconclusive"]) == "inconclusive"
    assert every_part(["holds", "fails", "inconclusive"]) == "fails"
    assert every_part([]) == "inconclusive" and every_part(iter(["holds"])) == "holds"


def test_decision_is_json_safe_checked_and_optional():
    d = claims.decision("ρ", np.float64(-0.7), -0.9, float("nan"), level="95% t-law", bounds=[-1, 1],
                        **claims.trend_rule(-1, 0.5))
    assert d["hi"] is None and d["holds"] == [[None, 0.0]] and d["value_holds"] == [[None, -0.5]]
    assert d["fails"] == [[0.0, None], [-0.5, 0.5]]
    json.dumps(d, allow_nan=False)                                   # open ends are None, never inf
    assert _verdict().decision == {}
    with pytest.raises(ValueError, match="lo=.*> hi"):
        _verdict(decision=claims.decision("x", 0.0, 1.0, -1.0))
    with pytest.raises(ValueError, match="decision key"):
        _verdict(decision={"measure": "x", "value": 1.0, "margin": 2.0})
    with pytest.raises(ValueError, match="log scale"):
        claims.decision("ratio", 0.5, 0.2, 0.8, holds=[[-1.0, 1.0]], scale="log")


def test_decided_reads_the_regions_like_the_rules():
    tost = claims.equivalence_rule(0.25)
    for lo, hi in ((-0.3, 0.2), (-0.2, 0.2), (0.3, 0.5), (-1.0, -0.26), (0.1, 0.3)):
        inside = -0.25 <= lo and hi <= 0.25
        outside = lo >= 0.25 or hi <= -0.25
        got = claims.decided(claims.decision("d", (lo + hi) / 2, lo, hi, level="90%", **tost))
        assert got == ("holds" if inside else "fails" if outside else "inconclusive"), (lo, hi)
    for t, sign in (({"rho": 0.8, "lo": 0.2, "hi": 0.95}, +1), ({"rho": 0.3, "lo": 0.1, "hi": 0.6}, +1),
                    ({"rho": 0.2, "lo": -0.4, "hi": 0.45}, +1), ({"rho": -0.6, "lo": -0.9, "hi": -0.1}, -1),
                    ({"rho": 0.6, "lo": 0.1, "hi": 0.9}, -1), ({"rho": -0.2, "lo": -0.6, "hi": 0.2}, -1)):
        d = claims.decision("ρ", t["rho"], t["lo"], t["hi"], level="95%", **claims.trend_rule(sign, 0.5))
        assert claims.decided(d) == stats.trend_outcome(t, sign, rho_min=0.5), t
    no_interval = claims.decision("ρ", 0.9, None, None, level="95%", **claims.trend_rule(+1, 0.5))
    assert claims.decided(no_interval) == "inconclusive" and claims.decided({}) == ""


def test_decision_survives_the_sealed_file_and_old_files_still_load(tmp_path):
    from replication import verdict_files as vf

    d = claims.decision("ρ", -0.8, -0.95, -0.4, level="95% t-law", bounds=[-1, 1], **claims.trend_rule(-1, 0.5))
    v = _verdict(decision=d)
    verdict_files.save("sharpness", "smoke", [v], store_root=tmp_path)
    back = verdict_files.load("sharpness", "smoke", store_root=tmp_path)["verdicts"][0]
    assert back == v and back.decision == d
    # a file sealed before verdicts had a decision: no such key anywhere, still valid, decision empty
    path = vf.verdict_file("sharpness", "smoke", tmp_path)
    record = json.loads(path.read_text())
    for item in record["verdicts"]:
        del item["decision"]
    record["sha256"] = vf.seal(record)
    path.write_text(json.dumps(record))
    found = vf.check("sharpness", "smoke", store_root=tmp_path)
    assert found.state == vf.VALID and found.record["verdicts"][0].decision == {}
    record["verdicts"][0]["decision"] = {"measure": "ρ", "value": "high"}          # changed by hand: refused
    path.write_text(json.dumps(record))
    assert vf.check("sharpness", "smoke", store_root=tmp_path).state in (vf.DAMAGED, vf.EDITED)
