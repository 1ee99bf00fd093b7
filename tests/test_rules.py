"""The rule registry (replication.rules) and how a verdict is judged against its control."""
import dataclasses
import textwrap

import pytest

from replication import claims, rules
from replication.figures import verdict_markdown

RULE = textwrap.dedent("""\
    - id: claim-4-toy-trend
      claim: 4
      statement: the width falls as η/S grows
      measure: Spearman ρ between η/S and the mean log width over seeds
      matched: equal SDE time
      decision: "ρ <= −{rho} with its interval below 0: holds; interval above 0: fails; otherwise inconclusive"
      params: {rho: 0.5}
      control: the same rule on scrambled η/S labels
      registered: {date: 2026-12-06, digest: pending}
    """)


def _write(tmp_path, text):
    folder = tmp_path / "toy"
    folder.mkdir(exist_ok=True)
    path = folder / "rules.yaml"
    path.write_text(text)
    return path


def test_register_then_any_change_needs_an_amendment(tmp_path):
    path = _write(tmp_path, RULE)
    assert rules.register_pending(path) == ["claim-4-toy-trend"]
    registered = rules.load_file(path)
    assert rules.check(registered) == []
    rule = registered["claim-4-toy-trend"]
    assert rule.text.startswith("ρ <= −0.5 ") and rule["rho"] == 0.5
    # the threshold changed in place, with no amendment: detected
    changed = rules.load_file(_write(tmp_path, path.read_text().replace("rho: 0.5", "rho: 0.4")))
    assert len(rules.check(changed)) == 1 and "needs an amendment" in rules.check(changed)[0]
    # the same change with an amendment naming the old value: accepted, and the original is recoverable
    amended_text = path.read_text().replace("rho: 0.5", "rho: 0.4") + textwrap.indent(textwrap.dedent("""\
        amendments:
          - {date: 2026-12-07, reason: a looser threshold, old: {params: {rho: 0.5}}}
        """), "  ")
    amended = rules.load_file(_write(tmp_path, amended_text))
    assert rules.check(amended) == []
    rule = amended["claim-4-toy-trend"]
    assert rule.amended and rule["rho"] == 0.4 and rule.original()["rho"] == 0.5
    assert rule.digest != rule.registered_digest == rule.original().digest
    # an amendment that lies about the old value is caught too
    lying = rules.load_file(_write(tmp_path, amended_text.replace("old: {params: {rho: 0.5}}",
                                                                  "old: {params: {rho: 0.45}}")))
    assert rules.check(lying)


def test_registry_is_consistent_and_every_rule_registered():
    assert rules.check() == [], "a registered rule changed without an amendment"
    for rule in rules.registry().values():
        assert rule.registered_digest != rules.PENDING, f"{rule.id}: run python -m replication rules --register"
        assert rule.control.strip(), f"{rule.id}: every rule names its negative control"
        assert rule.matched.strip(), f"{rule.id}: every rule names its matched point of training"


@pytest.mark.parametrize("bad, message", [
    ("params: {rho: 0.5}", "names a parameter it does not have"),
    ("claim: 4", "claim="),
    ("control: the same rule on scrambled η/S labels", "missing field 'control'"),
])
def test_bad_registry_is_one_line(tmp_path, bad, message):
    replacement = {"params: {rho: 0.5}": "params: {r: 0.5}", "claim: 4": "claim: 14",
                   "control: the same rule on scrambled η/S labels": ""}[bad]
    with pytest.raises(rules.RuleError, match=message) as info:
        rules.load_file(_write(tmp_path, RULE.replace(bad, replacement)))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("own, control, final", [
    ("holds", "fails", "holds"), ("holds", "holds", "not discriminating"), ("holds", "inconclusive", "holds"),
    ("holds", "not run", "inconclusive"), ("fails", "holds", "fails"), ("inconclusive", "fails", "inconclusive"),
])
def test_judge_needs_the_control_not_accepted(own, control, final):
    assert claims.judge(own, control) == final


def test_ruled_verdict_carries_rule_control_and_original(tmp_path, monkeypatch):
    text = RULE.replace("rho: 0.5", "rho: 0.4") + "  amendments:\n    - {date: 2026-12-07, reason: looser, old: {params: {rho: 0.5}}}\n"
    path = _write(tmp_path, text.replace("digest: pending", "digest: " + rules.content_digest(
        rules.load_file(_write(tmp_path, RULE)).get("claim-4-toy-trend").content())))
    registry = rules.load_file(path)
    monkeypatch.setattr(rules, "registry", lambda: registry)
    with pytest.raises(ValueError, match="original_outcome"):
        claims.ruled("claim-4-toy-trend", outcome="holds", control_outcome="fails", id="claim-4-x", source="s",
                     evidence={}, chapter="toy", profile="smoke")
    v = claims.ruled("claim-4-toy-trend", outcome="holds", control_outcome="holds", original_outcome="inconclusive",
                     id="claim-4-x", source="s", evidence={"rho": -0.6}, chapter="toy", profile="smoke")
    assert v.outcome == "not discriminating" and v.raw_outcome == "holds"
    assert v.rule_digest == registry["claim-4-toy-trend"].digest and v.original["outcome"] == "inconclusive"
    assert "−0.4" in v.rule and "−0.5" in v.original["rule"]
    back = claims.Verdict.from_dict(v.to_dict())
    assert back == v
    md = verdict_markdown([v])
    assert "*Rule, amended on 2026-12-07*" in md and "*Verdict under it:* **inconclusive**" in md
    assert "registered before the numbers" not in md and "says **holds** there" in md
    assert "*Compared at:* equal SDE time." in md


def test_old_verdicts_without_a_registered_rule_are_not_called_registered():
    v = claims.Verdict(id="claim-4-x", claim=4, statement="s", source="s", rule="a rule", outcome="holds",
                       evidence={}, chapter="toy", profile="smoke")
    assert "registered before" not in verdict_markdown([v]) and "*Rule:* a rule." in verdict_markdown([v])
    assert dataclasses.replace(v).control == {}
