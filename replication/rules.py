"""The rule registry: every verdict's rule as data, registered before the numbers, amended in the open.

A rule says how a claim is judged, in full, before any run is looked at:

- ``statement``: the claim as tested; ``measure``: what is computed from the runs;
- ``matched``: the point of training where runs are compared (equal SDE time η·steps/S, a
  training-loss target every run reaches, convergence) — never a fixed epoch count alone;
- ``decision``: the three outcomes (holds / fails / inconclusive) in words, with ``{name}``
  placeholders filled from ``params`` (thresholds, margins), so the numbers that decide are data;
- ``control``: the negative control — the same rule applied where the claim predicts the *other*
  outcome (η alone at fixed η/S, the square-root schedule, shuffled η/S labels, ...).  A rule whose
  control also holds cannot tell the claim from its negation: the verdict is *not discriminating*
  (:func:`replication.claims.judge`).

Where rules live
    ``replication/chapters/<name>/rules.yaml``, a list of rules per chapter (the chapter contract:
    adding a chapter touches its own folder).  :func:`registry` gathers them into one registry with
    one digest (:func:`registry_digest`).

Registration and amendments
    Each rule carries ``registered: {date, digest}``: the sha256 (first 16 hex digits) of its
    *content* (statement, measure, matched, decision, params, control) as first registered.  A
    later change to the content must add an entry to ``amendments`` — ``{date, reason, old}`` where
    ``old`` maps each changed field to its value before the change.  Undoing the amendments in
    reverse order (:meth:`Rule.original`) must give content whose digest is the registered one;
    :func:`check` (run by the tests) fails on a rule changed without an amendment.  A verdict under
    an amended rule is computed under both the current and the original rule, and the page prints
    both (:class:`replication.claims.Verdict`'s ``original``) and never calls the amended rule
    "fixed before the numbers".

Only YAML is read (``yaml.safe_load``): nothing in a registry file can execute code.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

CONTENT = ("statement", "measure", "matched", "decision", "params", "control")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHAPTERS = Path(__file__).resolve().parent / "chapters"


class RuleError(ValueError):
    """A registry file that does not describe valid rules (one line: file, rule, field, problem)."""


def content_digest(content: Mapping[str, Any]) -> str:
    """sha256 (16 hex digits) of a rule's content fields, as canonical JSON."""
    blob = json.dumps({k: content[k] for k in CONTENT}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Amendment:
    date: str
    reason: str
    old: Mapping[str, Any]        # field -> its value before this amendment


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    claim: int | None
    chapter: str
    statement: str
    measure: str
    matched: str
    decision: str
    params: Mapping[str, Any]
    control: str
    registered_date: str
    registered_digest: str
    amendments: tuple[Amendment, ...] = ()

    # -- content -------------------------------------------------------------------------------------
    def content(self) -> dict:
        return {k: (dict(getattr(self, k)) if k == "params" else getattr(self, k)) for k in CONTENT}

    @property
    def digest(self) -> str:
        """The digest of the rule as it stands now (stored in every verdict made under it)."""
        return content_digest(self.content())

    @property
    def text(self) -> str:
        """The decision in words with its numbers filled in."""
        return self.decision.format(**{k: _show(v) for k, v in self.params.items()})

    @property
    def measure_text(self) -> str:
        """What is measured, with its numbers filled in."""
        return self.measure.format(**{k: _show(v) for k, v in self.params.items()})

    @property
    def matched_text(self) -> str:
        """The matched point of training with its numbers filled in."""
        return self.matched.format(**{k: _show(v) for k, v in self.params.items()})

    def __getitem__(self, name: str):
        """A parameter of the rule (``rule["rho"]``)."""
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"rule {self.id} has no parameter {name!r} (it has {', '.join(self.params)})") from None

    @property
    def amended(self) -> bool:
        return bool(self.amendments)

    def original(self) -> "Rule":
        """The rule as first registered: the amendments undone, newest first."""
        content = self.content()
        for a in reversed(self.amendments):
            for field, value in a.old.items():
                content[field] = dict(value) if field == "params" else value
        return dataclasses.replace(self, amendments=(), **content)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _parse(raw: Any, chapter: str, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: each rule is a mapping, got {type(raw).__name__}")
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        raise RuleError(f"{where}: id={rid!r}: lowercase words joined by dashes")
    allowed = set(CONTENT) | {"id", "claim", "registered", "amendments"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RuleError(f"{where}: rule {rid}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    for field in CONTENT:
        if field not in raw:
            raise RuleError(f"{where}: rule {rid}: missing field {field!r}")
    if not isinstance(raw["params"], dict):
        raise RuleError(f"{where}: rule {rid}: params must be a mapping of names to numbers")
    claim = raw.get("claim")
    if claim is not None and claim not in range(1, 14):
        raise RuleError(f"{where}: rule {rid}: claim={claim!r}: 1-13 or absent")
    reg = raw.get("registered") or {}
    if not _DATE.match(str(reg.get("date", ""))) or not isinstance(reg.get("digest"), str):
        raise RuleError(f"{where}: rule {rid}: registered must be {{date: YYYY-MM-DD, digest: <16 hex>}}")
    amendments = []
    for a in raw.get("amendments") or ():
        if not isinstance(a, dict) or not _DATE.match(str(a.get("date", ""))) or not a.get("reason") \
                or not isinstance(a.get("old"), dict) or not set(a["old"]) <= set(CONTENT) or not a["old"]:
            raise RuleError(f"{where}: rule {rid}: an amendment is {{date, reason, old: {{field: value before}}}}"
                            f" with fields among {', '.join(CONTENT)}")
        amendments.append(Amendment(str(a["date"]), str(a["reason"]), dict(a["old"])))
    rule = Rule(id=rid, claim=claim, chapter=chapter, statement=str(raw["statement"]),
                measure=str(raw["measure"]), matched=str(raw["matched"]), decision=str(raw["decision"]),
                params=dict(raw["params"]), control=str(raw["control"]), registered_date=str(reg["date"]),
                registered_digest=str(reg["digest"]), amendments=tuple(amendments))
    try:
        rule.text, rule.matched_text, rule.measure_text
    except (KeyError, IndexError, ValueError) as exc:
        raise RuleError(f"{where}: rule {rid}: decision, matched or measure names a parameter it does not have ({exc})") from None
    return rule


def load_file(path: Path, chapter: str | None = None) -> dict[str, Rule]:
    """The rules of one registry file (``{id: Rule}``)."""
    import yaml

    path = Path(path)
    chapter = chapter or path.parent.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path.name} of {chapter}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, list):
        raise RuleError(f"{path.name} of {chapter}: a list of rules, got {type(raw).__name__}")
    out: dict[str, Rule] = {}
    for i, item in enumerate(raw):
        rule = _parse(item, chapter, f"{chapter}/rules.yaml, rule {i + 1}")
        if rule.id in out:
            raise RuleError(f"{chapter}/rules.yaml: two rules share the id {rule.id!r}")
        out[rule.id] = rule
    return out


@lru_cache(maxsize=1)
def registry() -> dict[str, Rule]:
    """Every chapter's rules, ``{id: Rule}`` (ids unique across the book)."""
    out: dict[str, Rule] = {}
    for path in sorted(CHAPTERS.glob("*/rules.yaml")):
        for rid, rule in load_file(path).items():
            if rid in out:
                raise RuleError(f"rule id {rid!r} is registered by both {out[rid].chapter} and {rule.chapter}")
            out[rid] = rule
    return out


def get(rule_id: str) -> Rule:
    rules = registry()
    if rule_id not in rules:
        raise KeyError(f"rule {rule_id!r} is not registered (replication/chapters/<name>/rules.yaml)")
    return rules[rule_id]


def for_chapter(chapter: str) -> dict[str, Rule]:
    return {k: r for k, r in registry().items() if r.chapter == chapter}


def registry_digest() -> str:
    """One digest of the whole registry (every rule's id, current digest and amendments)."""
    rules = registry()
    blob = json.dumps([(k, rules[k].digest, [dataclasses.asdict(a) for a in rules[k].amendments])
                       for k in sorted(rules)], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check(rules: Mapping[str, Rule] | None = None) -> list[str]:
    """Problems with the registry: a rule whose content, with its amendments undone, is not what was
    registered (changed without an amendment, or its registered digest edited)."""
    problems = []
    for rid, rule in (rules if rules is not None else registry()).items():
        original = rule.original().digest
        if original != rule.registered_digest:
            problems.append(f"rule {rid} ({rule.chapter}): content differs from what was registered on "
                            f"{rule.registered_date} (digest {original} != {rule.registered_digest}); "
                            "a change to a registered rule needs an amendment {date, reason, old}")
    return problems


PENDING = "pending"


def register_pending(path: Path) -> list[str]:
    """Register the new rules of one registry file: every ``digest: pending`` is replaced, in file
    order, by the digest of its rule's content (``python -m replication rules --register``).  Rules
    already registered are left exactly as they are; returns the ids registered."""
    path = Path(path)
    rules = list(load_file(path).values())
    text = path.read_text(encoding="utf-8")
    done = []
    for rule in rules:
        if rule.registered_digest != PENDING:
            continue
        if rule.amendments:
            raise RuleError(f"rule {rule.id}: a new rule has no amendments")
        text = re.sub(r"digest:\s*pending\b", f"digest: {rule.digest}", text, count=1)
        done.append(rule.id)
    if done:
        path.write_text(text, encoding="utf-8")
        registry.cache_clear()
    return done
