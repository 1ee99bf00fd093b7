"""Claims as data: the :class:`Verdict` record, and where chapters leave their verdicts.

A chapter tests claims of the paper (``../shared/docs/paper.md`` §3 numbers them 1-13) and some of
its own.  Each test is one :class:`Verdict`: a stable id, the claim in words, where the paper makes
it, the rule *as written before the numbers*, the evidence (numbers), and one outcome of
:data:`OUTCOMES`.  Chapters return verdicts; notebooks glue them by id; :mod:`replication.verdict_files` stores them
beside the chapter's results (JSON, never pickle; :mod:`replication.verdict_files`) so the claims
page gathers every chapter's verdicts (:func:`replication.chapters.collect`) without re-running anything.

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
        if self.control and self.control.get("outcome") not in OUTCOMES:
            raise ValueError(f"verdict {self.id}: control outcome={self.control.get('outcome')!r}: one of "
                             f"{', '.join(OUTCOMES)}")

    @property
    def amended(self) -> bool:
        return bool(self.original)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"evidence": dict(self.evidence), "control": dict(self.control),
                                           "original": dict(self.original)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Verdict":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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
    profile, figure, summary); ``claim``, ``rule``, ``matched`` default to the rule's own."""
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

