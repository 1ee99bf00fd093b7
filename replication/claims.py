"""Claims as data: the :class:`Verdict` record, and where chapters leave their verdicts.

A chapter tests claims of the paper (``../shared/docs/paper.md`` §3 numbers them 1-13) and some of
its own.  Each test is one :class:`Verdict`: a stable id, the claim in words, where the paper makes
it, the rule *as written before the numbers*, the evidence (numbers), and one outcome of
:data:`OUTCOMES`.  Chapters return verdicts; notebooks glue them by id; :mod:`replication.verdict_files` stores them
beside the chapter's results (JSON, never pickle; :mod:`replication.verdict_files`) so the claims
page gathers every chapter's verdicts (:func:`replication.chapters.collect`) without re-running anything.

A verdict whose rule decides on one number (a rank correlation, a slope, a difference, a ratio) also
carries its ``decision`` (:func:`decision`): the number, the interval the rule used and the rule's
*holds* and *fails* regions on that scale, so the claims page can draw each claim's effect against
its margin; rules judged on several parts (every setting, every β) leave it empty.

On disk: ``<store>/verdicts/<profile>/<chapter>.json``, sealed with a sha256 and tied to the stored
results the verdicts were computed from (:mod:`replication.verdict_files` writes and checks them).
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Iterable, Mapping

HOLDS, FAILS, INCONCLUSIVE, NOT_RUN = "holds", "fails", "inconclusive", "not run"
NOT_DISCRIMINATING = "not discriminating"
#: every verdict is one of these; "not run" = the chapter did not test it at this profile;
#: "not discriminating" = the rule held, but it also held on its negative control (:func:`judge`)
OUTCOMES = (HOLDS, FAILS, INCONCLUSIVE, NOT_DISCRIMINATING, NOT_RUN)
#: what a rule says on its own data and on its control -> the verdict (:func:`judge`)
JUDGEMENT = {
    (HOLDS, FAILS): HOLDS,                     # the rule rejects its control: it discriminates
    (HOLDS, INCONCLUSIVE): HOLDS,              # it does not accept the control (a sign rule on a null control)
    (HOLDS, HOLDS): NOT_DISCRIMINATING,        # it accepts the control too: it cannot tell
    (HOLDS, NOT_RUN): INCONCLUSIVE,            # no control computed: not shown to discriminate
}
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
#: the paper's claims (paper.md §3), paraphrased: number -> short statement
PAPER_CLAIMS = {
    1: "Runs with equal η/S (small η) follow the same curves against epochs.",
    2: "At stationarity in a quadratic basin with C = H, the loss is η/(4S) · Tr H.",
    3: "Which of two minima SGD prefers follows Theorem 2: a higher but flatter one can win.",
    4: "The Hessian's norm at the end of training falls as η/S grows.",
    5: "Validation accuracy rises with η/S.",
    6: "Lowering η/S (larger S or smaller η) ends in a sharper minimum along the interpolation line.",
    7: "Equal η/S at different scales ends in minima of similar width and depth.",
    8: "A cyclic batch-size schedule matches the cyclic learning-rate schedule with the same η/S.",
    9: "Rescaling η and S together (linear) keeps the dynamics better than square-root rescaling.",
    10: "The η/S invariance breaks beyond a scale β that grows with the training-set size.",
    11: "At equal memorization of random labels, higher η/S generalizes better; low η/S memorizes more slowly.",
    12: "Long cyclic stages beat short ones slightly; sharpness oscillates with the noise of the stage.",
    13: "The linear-scaling heuristic of large-batch training is explained by the η/S invariance.",
}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One tested claim.

    ``id``: stable, lowercase words joined by dashes (``claim-4-deep-frobenius``); ``claim``: the
    paper's claim number (1-13) or ``None`` for one of ours; ``source``: where the paper makes it
    (``"ICLR 2018, Fig. 1(a)"``); ``rule``: the rule, fixed before the numbers, with its three
    outcomes; ``evidence``: the key numbers (name -> number or short text); ``figure``: the label of
    the figure showing it (``fig-sh-main``), or ``""``."""

    id: str
    claim: int | None
    statement: str
    source: str
    rule: str
    outcome: str
    evidence: Mapping[str, Any]
    chapter: str
    profile: str
    figure: str = ""
    summary: str = ""      # one sentence: what the numbers say (computed text)
    rule_id: str = ""      # the registered rule (replication.rules) this verdict was judged by
    rule_digest: str = ""  # that rule's content digest when judged
    matched: str = ""      # the point of training where the runs were compared
    control: Mapping[str, Any] = dataclasses.field(default_factory=dict)   # {what, outcome, summary}
    raw_outcome: str = ""  # the rule's outcome on the runs before its control was judged
    original: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # amended rule: {outcome, rule, date, reason}
    power: str = ""        # an inconclusive verdict: the smallest effect the runs could have seen, what would decide
    decision: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the deciding number: see decision()

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"verdict id={self.id!r}: lowercase letters and digits joined by dashes")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"verdict {self.id}: outcome={self.outcome!r}: one of {', '.join(OUTCOMES)}")
        if self.claim is not None and self.claim not in PAPER_CLAIMS:
            raise ValueError(f"verdict {self.id}: claim={self.claim!r}: 1-13 (paper.md §3) or None")
        object.__setattr__(self, "evidence", {str(k): _plain(v) for k, v in dict(self.evidence).items()})
        object.__setattr__(self, "control", {str(k): _plain(v) for k, v in dict(self.control).items()})
        object.__setattr__(self, "original", {str(k): _plain(v) for k, v in dict(self.original).items()})
        try:
            object.__setattr__(self, "decision", _checked_decision(self.decision))
        except ValueError as error:
            raise ValueError(f"verdict {self.id}: {error}") from None
        if self.control and self.control.get("outcome") not in OUTCOMES:
            raise ValueError(f"verdict {self.id}: control outcome={self.control.get('outcome')!r}: one of "
                             f"{', '.join(OUTCOMES)}")

    @property
    def amended(self) -> bool:
        return bool(self.original)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"evidence": dict(self.evidence), "control": dict(self.control),
                                           "original": dict(self.original), "decision": dict(self.decision)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Verdict":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: the keys of a verdict's ``decision`` (:func:`decision`)
DECISION_KEYS = ("measure", "value", "lo", "hi", "level", "holds", "fails", "value_holds", "bounds", "scale")


def decision(measure: str, value, lo=None, hi=None, *, level: str = "", holds=(), fails=(), value_holds=(),
             bounds=None, scale: str = "linear") -> dict:
    """The one number a rule decides on, on its own scale, with where the rule puts its outcomes.

    ``measure``: what the number is, in short words with its unit; ``value`` the estimate and
    ``[lo, hi]`` the interval the rule used (``None`` where the rule uses none), at ``level`` (words:
    ``"95% t-law"``).  ``holds`` and ``fails`` are lists of ``[low, high]`` regions of the same scale
    (``None`` an open end, as :func:`above`, :func:`below`, :func:`within`, :func:`outside` build
    them from the rule's parameters): the rule's number says *holds* when the interval lies inside a
    ``holds`` region (and, where ``value_holds`` is given, the value inside one of its regions too),
    *fails* when it lies inside a ``fails`` region, else *inconclusive* (:func:`decided`).  A rule may
    also have gates outside this number (a sample check, collinearity) that leave it inconclusive.
    ``bounds``: the measure's natural range, e.g. ``[-1, 1]`` for a rank correlation; ``scale``:
    ``"linear"``, or ``"log"`` for a ratio the rule judges by its logarithm (then ``None`` as a low
    end means 0).  A number the runs could not give (too few seeds or pairs) is ``None``: the rule
    is then inconclusive, and so is an interval it needs but could not form."""
    return _checked_decision(dict(measure=measure, value=value, lo=lo, hi=hi, level=level, holds=list(holds),
                                  fails=list(fails), value_holds=list(value_holds), bounds=bounds, scale=scale))


def above(x) -> list:
    """The region ``[x, +∞)``."""
    return [x, None]


def below(x) -> list:
    """The region ``(−∞, x]``."""
    return [None, x]


def within(margin, centre=0.0) -> list:
    """The region ``[centre − margin, centre + margin]``."""
    return [centre - margin, centre + margin]


def outside(margin, centre=0.0) -> list:
    """The two regions ``(−∞, centre − margin]`` and ``[centre + margin, +∞)``: wholly outside the margin."""
    return [below(centre - margin), above(centre + margin)]


def sign_rule(sign: int) -> dict:
    """The regions of a sign rule: the interval on the side of 0 given by ``sign`` holds, on the
    other side fails (``decision(..., **sign_rule(-1))``)."""
    return dict(holds=[above(0.0)], fails=[below(0.0)]) if sign > 0 else dict(holds=[below(0.0)], fails=[above(0.0)])


def trend_rule(sign: int, threshold: float) -> dict:
    """The regions of a trend rule (:func:`replication.stats.trend_outcome`): holds when the interval
    lies on the claimed side of 0 and the estimate is at least ``threshold`` that way; fails when the
    interval lies on the other side, or within ±``threshold`` (no trend of the claimed size)."""
    side = sign_rule(sign)
    return dict(holds=side["holds"], value_holds=[above(threshold) if sign > 0 else below(-threshold)],
                fails=side["fails"] + [within(threshold)])


def equivalence_rule(margin: float, centre: float = 0.0) -> dict:
    """The regions of an equivalence rule (two one-sided tests): the interval within ``centre ±
    margin`` holds, wholly outside it fails."""
    return dict(holds=[within(margin, centre)], fails=outside(margin, centre))


def _inside(lo, hi, region) -> bool:
    low, high = region
    return (low is None or lo >= low) and (high is None or hi <= high)


def decided(d: Mapping[str, Any]) -> str:
    """The outcome a decision's own number gives by its regions (see :func:`decision`): ``""`` for an
    empty decision or one without an estimate.  Regions are closed: a rule whose text puts a tie at
    a margin on the other side (strict inequalities) may differ exactly there."""
    if not d or d.get("value") is None:
        return ""
    value = d["value"]
    if d.get("level") and (d.get("lo") is None or d.get("hi") is None):
        return INCONCLUSIVE               # the rule needs an interval the runs could not give
    lo = value if d.get("lo") is None else d["lo"]
    hi = value if d.get("hi") is None else d["hi"]
    if any(_inside(lo, hi, r) for r in d.get("holds", ())) and (
            not d.get("value_holds") or any(_inside(value, value, r) for r in d["value_holds"])):
        return HOLDS
    if any(_inside(lo, hi, r) for r in d.get("fails", ())):
        return FAILS
    return INCONCLUSIVE


def _checked_decision(d: Mapping[str, Any]) -> dict:
    """A JSON-safe decision (numbers, None for open or missing ends); ``{}`` stays empty."""
    d = dict(d or {})
    if not d:
        return {}
    unknown = sorted(set(d) - set(DECISION_KEYS))
    if unknown:
        raise ValueError(f"decision key {unknown[0]!r}: one of {', '.join(DECISION_KEYS)}")
    if not str(d.get("measure") or "").strip():
        raise ValueError("decision: measure (what the number is, with its unit) is required")
    out = {k: _plain(d.get(k)) for k in ("value", "lo", "hi")}
    for key in ("value", "lo", "hi"):
        if out[key] is not None and not isinstance(out[key], (int, float)):
            raise ValueError(f"decision {key}={d.get(key)!r}: a number or None")
    if out["lo"] is not None and out["hi"] is not None and out["lo"] > out["hi"]:
        raise ValueError(f"decision interval lo={out['lo']} > hi={out['hi']}: give [lo, hi] in order")
    regions = {}
    for key in ("holds", "fails", "value_holds"):
        regions[key] = [_region(r, key) for r in (d.get(key) or ())]
    bounds = d.get("bounds")
    scale = d.get("scale") or "linear"
    if scale not in ("linear", "log"):
        raise ValueError(f"decision scale={scale!r}: linear or log")
    ends = [x for region_list in regions.values() for region in region_list for x in region]
    if scale == "log" and any(x is not None and x <= 0 for x in [*out.values(), *ends]):
        raise ValueError("decision on a log scale: every number and region end > 0 (None for an open end)")
    return {"measure": str(d["measure"]), **out, "level": str(d.get("level") or ""), **regions,
            "bounds": None if bounds is None else _region(bounds, "bounds"), "scale": scale}


def _region(region, key: str) -> list:
    try:
        low, high = (None if x is None else _plain(x) for x in region)
    except (TypeError, ValueError):
        raise ValueError(f"decision {key}: region {region!r}: [low, high] (None for an open end)") from None
    if not all(x is None or isinstance(x, (int, float)) for x in (low, high)) or (
            low is not None and high is not None and low > high):
        raise ValueError(f"decision {key}: region {region!r}: [low, high] numbers with low <= high (None open)")
    return [low, high]


def every_part(outcomes) -> str:
    """A test made of parts (settings, groups, β values) that must each hold: *fails* if any part
    fails, *holds* if every part holds, otherwise (or with no parts) *inconclusive*."""
    outcomes = list(outcomes)
    if any(o == FAILS for o in outcomes):
        return FAILS
    return HOLDS if outcomes and all(o == HOLDS for o in outcomes) else INCONCLUSIVE


def judge(outcome: str, control_outcome: str) -> str:
    """The verdict from the rule's outcome on the runs and on its negative control.

    A *holds* stands only when the same rule does not accept its control: the control *fails*, or is
    *inconclusive* (a sign or trend rule on a control with no effect can only say "cannot tell" there,
    and that is the right answer).  If the control holds too, the rule cannot tell the claim from its
    negation (*not discriminating*); if no control was computed, the rule has not shown that it can
    tell (*inconclusive*).  *fails* and *inconclusive* stand whatever the control says."""
    if outcome not in OUTCOMES or control_outcome not in OUTCOMES:
        raise ValueError(f"judge({outcome!r}, {control_outcome!r}): outcomes are {', '.join(OUTCOMES)}")
    if outcome == NOT_DISCRIMINATING:
        raise ValueError("judge: the rule's own outcome is holds / fails / inconclusive / not run")
    return JUDGEMENT.get((outcome, control_outcome), outcome)


def ruled(rule_id: str, *, outcome: str, control_outcome: str, control_summary: str = "",
          original_outcome: str | None = None, original_control_outcome: str | None = None, power: str = "",
          **fields) -> "Verdict":
    """A :class:`Verdict` judged under registered rule ``rule_id`` (:mod:`replication.rules`).

    ``outcome`` is the rule's outcome on the runs under the rule as it stands, ``control_outcome``
    the same rule on its negative control; the verdict is :func:`judge` of the two.  For an amended
    rule, ``original_outcome`` is the outcome under the rule as first registered (required: the page
    prints both), judged against ``original_control_outcome``, the first rule's outcome on the
    control (default: the current rule's).  ``fields`` are the other Verdict fields (id, statement, source, evidence, chapter,
    profile, figure, summary, decision: :func:`decision`); ``claim``, ``rule``, ``matched`` default to the rule's own."""
    from . import rules

    rule = rules.get(rule_id)
    if rule.amended and original_outcome is None:
        raise ValueError(f"verdict {fields.get('id')}: rule {rule_id} is amended: give original_outcome, "
                         "the outcome under the rule as first registered")
    final = judge(outcome, control_outcome)
    original = {}
    if rule.amended:
        first = rule.original()
        last = rule.amendments[-1]
        first_control = control_outcome if original_control_outcome is None else original_control_outcome
        original = dict(outcome=judge(original_outcome, first_control), rule=first.text,
                        date=last.date, reason=last.reason)
    fields.setdefault("claim", rule.claim)
    fields.setdefault("statement", rule.statement)
    return Verdict(rule=fields.pop("rule", rule.text), matched=fields.pop("matched", rule.matched_text),
                   outcome=final, raw_outcome=outcome, rule_id=rule.id, rule_digest=rule.digest,
                   control=dict(what=rule.control, outcome=control_outcome, summary=control_summary),
                   original=original, power=power if final == INCONCLUSIVE or outcome == INCONCLUSIVE else "",
                   **fields)


def _plain(value: Any) -> Any:
    """JSON-safe evidence: numbers (nan/inf as None), strings, lists of those."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return None
    return int(value) if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(value.dtype)) else number


def by_id(verdicts: Iterable[Verdict]) -> dict[str, Verdict]:
    out: dict[str, Verdict] = {}
    for v in verdicts:
        if v.id in out:
            raise ValueError(f"two verdicts share the id {v.id!r}")
        out[v.id] = v
    return out

