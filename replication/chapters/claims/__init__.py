"""What replicates: every claim of the paper and of this book, its rule, its evidence and its
verdict, gathered from the verdicts the other chapters stored, without re-running any of them.

The page lists the paper's thirteen claims (``replication.claims.PAPER_CLAIMS``) in order, each with
every verdict a chapter gave it at the profile the book was built with ("not run" where no chapter
tested it), then the book's own additions.  The introduction opens with :func:`synthesis`, computed
from the same records.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter

from ... import claims as _claims
from ...figures import rule_markdown, verdict_item
from ...params import ChapterSpec

ABOUT = 'every claim of the paper and every test of this book, with its rule, its evidence and its verdict, gathered from what the chapters computed.'   # the introduction's one-line summary of this chapter
SPEC = ChapterSpec("claims", "What replicates", ())
#: chapters whose pages hold no verdicts of their own
NOT_TESTED_HERE = ("intro", "claims", "appendix")


@dataclasses.dataclass
class ClaimsRecord:
    profile: str
    chapters: list[str]                 # the chapters that test claims, in reading order
    stored: dict                        # chapter -> stored record (or None: not run at this profile)
    notes: dict = dataclasses.field(default_factory=dict)   # chapter -> its verdict file's problem, and what was done

    @property
    def verdicts(self) -> list:
        return [v for c in self.chapters if self.stored.get(c) for v in self.stored[c]["verdicts"]]

    def for_claim(self, number: int | None) -> list:
        return [v for v in self.verdicts if v.claim == number]

    @property
    def missing(self) -> list[str]:
        return [c for c in self.chapters if not self.stored.get(c)]


def compute(params, *, store=None, progress=True) -> ClaimsRecord:
    """The stored verdict records of every claim-testing chapter at ``params.profile``."""
    from .. import collect_verdicts, names

    chapters = [n for n in names() if n not in NOT_TESTED_HERE]
    checked = collect_verdicts(chapters, params.profile, store_root=getattr(store, "root", None))
    return ClaimsRecord(params.profile, chapters, {c: f.record for c, f in checked.items()},
                        {c: f.note for c, f in checked.items() if f.note})


#: how a claim's tests roll up into the claim's one outcome — stated once, applied by the claims page,
#: the introduction and every chapter that names a claim's outcome
ROLLUP = ("a claim **holds** when at least one of its tests holds and none fails; it **fails** when at least "
          "one fails and none holds; it is **mixed** when some hold and some fail; otherwise (every test "
          "inconclusive or not discriminating) it is **inconclusive**; a claim no chapter tested was **not run**")


def outcome_of_claim(verdicts: list) -> str:
    """One outcome for a claim from all its tests, by :data:`ROLLUP`."""
    tested = [v.outcome for v in verdicts if v.outcome != _claims.NOT_RUN]
    if not tested:
        return _claims.NOT_RUN
    holds, fails = _claims.HOLDS in tested, _claims.FAILS in tested
    if holds and fails:
        return "mixed"
    if holds:
        return _claims.HOLDS
    if fails:
        return _claims.FAILS
    return _claims.INCONCLUSIVE


def counts(record: ClaimsRecord) -> Counter:
    """How many of the paper's claims hold / fail / are mixed / inconclusive / not run."""
    return Counter(outcome_of_claim(record.for_claim(n)) for n in _claims.PAPER_CLAIMS)


#: how the synthesis names each outcome of a claim, in the order of its table
OUTCOME_LABELS = ((_claims.HOLDS, "holds by its rules"), ("mixed", "holds in some tests, fails in others"),
                  (_claims.FAILS, "fails"), (_claims.INCONCLUSIVE, "inconclusive: the runs cannot tell"),
                  (_claims.NOT_DISCRIMINATING, "not discriminating: the rule also holds on its control"),
                  (_claims.NOT_RUN, "not tested at this profile"))


def synthesis(record: ClaimsRecord) -> str:
    """The introduction's summary, every word of it computed from the verdicts: one sentence, then a
    numbered table of outcomes with the paper's claims and the count of the book's own tests."""
    per_claim = {n: outcome_of_claim(record.for_claim(n)) for n in _claims.PAPER_CLAIMS}
    if not record.verdicts:
        return "\n".join(["No chapter has stored verdicts at this profile yet, so the book states no conclusion: "
                          "build the chapters first (the book command does).", *_problems(record)])
    ours = Counter(v.outcome for v in record.for_claim(None))
    n_ours = sum(ours.values())
    lead = (f"At the **{record.profile}** profile of this build, the paper's {len(per_claim)} claims"
            + (f" and the book's {n_ours} own tests" if n_ours else "") + " come out as follows.")
    rows = ["| outcome | the paper's claims | the book's own tests |", "| --- | --- | ---: |"]
    for outcome, text in OUTCOME_LABELS:
        nums = [n for n, o in per_claim.items() if o == outcome]
        if nums or ours[outcome]:
            listed = ", ".join(f"{{ref}}`{n} <{claim_label(n)}>`" for n in nums) or "none"
            rows.append(f"| {text} | {listed} | {ours[outcome] or '—'} |")
    out = [lead, "", f"**Table: What replicates at the {record.profile} profile.** A claim tested several "
           "times is mixed when some of its tests hold and others fail.", "", *rows]
    if record.missing:
        out += ["", "Chapters without stored verdicts at this profile: " + ", ".join(record.missing) + "."]
    return "\n".join(out + _problems(record))


def _problems(record: ClaimsRecord) -> list[str]:
    """The verdict files found damaged, hand-edited or stale, each named with what was done."""
    if not record.notes:
        return []
    return ["", "**Verdict files not trusted as found** (each is sealed with a checksum and the results it rests on):", ""] + [
        f"- {note}" for note in record.notes.values()]


def _evidence(v) -> str:
    if v.summary:
        return v.summary
    return "; ".join(f"{k} = {x:.3g}" if isinstance(x, float) else f"{k} = {x}" for k, x in v.evidence.items())


def _where(v, titles: dict, labels: dict) -> str:
    link = f"{{doc}}`{titles.get(v.chapter, v.chapter)} <{v.chapter}>`"
    if v.figure and v.figure in labels.get(v.chapter, ()):
        link += f", {{numref}}`{v.figure}`"
    return link


def _short_where(v, titles: dict, labels: dict) -> str:
    """Where a test is, in a table cell: its figure (whose number names the chapter), else its chapter."""
    if v.figure and v.figure in labels.get(v.chapter, ()):
        return f"{{numref}}`{v.figure}`"
    return f"{{doc}}`{titles.get(v.chapter, v.chapter)} <{v.chapter}>`"


def claim_label(number: int) -> str:
    """The cross-reference label of claim ``number``'s section on the claims page."""
    return f"claims-claim-{number}"


def tally(verdicts: list) -> str:
    """"2 hold · 1 fails · 3 inconclusive" over a claim's tests (outcomes nobody reached left out)."""
    c = Counter(v.outcome for v in verdicts)
    words = ((_claims.HOLDS, "hold", "holds"), (_claims.FAILS, "fail", "fails"),
             (_claims.INCONCLUSIVE, "inconclusive", "inconclusive"),
             (_claims.NOT_DISCRIMINATING, "not discriminating", "not discriminating"), (_claims.NOT_RUN, "not run", "not run"))
    return " · ".join(f"{c[o]} {one if c[o] == 1 else many}" for o, many, one in words if c[o]) or "—"


TABLE_CLASS = "claim-table"   # replication.css stacks its rows into cards on a phone


def claim_table(record: ClaimsRecord, *, titles: dict | None = None, labels: dict | None = None) -> str:
    """One row per paper claim: the claim (linked to its section), the outcome by :data:`ROLLUP`, the
    count of its tests by outcome, the single number the deciding tests rest on where there is one
    (:func:`deciding_number` of the rows of the summary figure) and where the tests that decide it
    are (chapter and figure, :func:`_deciding`).  A numbered MyST table with the class :data:`TABLE_CLASS`."""
    titles, labels = titles or {}, labels or {}
    numbers: dict[int, list[str]] = {}
    for n, _, v in decision_rows(record, outcome_of_claim):
        if v is not None:
            numbers.setdefault(n, []).append(deciding_number(v))
    rows = ["| claim | what the paper says | outcome | its tests | deciding number, and where |",
            "| ---: | --- | --- | --- | --- |"]
    for n, statement in _claims.PAPER_CLAIMS.items():
        vs = record.for_claim(n)
        where = "; ".join(dict.fromkeys(_short_where(v, titles, labels) for v in _deciding(vs)))
        decided = "; ".join(numbers.get(n, []))
        cell = ", in ".join(x for x in (decided, where) if x) or "—"
        rows.append(f"| {{ref}}`{n} <{claim_label(n)}>` | {statement} | **{outcome_of_claim(vs)}** | {tally(vs)} "
                    f"| {cell} |")
    caption = (f"The paper's claims at the {record.profile} profile. One row per claim; the outcome rolls its "
               "tests up by the rule stated above the table")
    label = "tbl-claims-" + re.sub(r"[^a-z0-9]+", "-", record.profile.lower()).strip("-")
    return "\n".join([f":::{{table}} {caption}", f":name: {label}", f":class: {TABLE_CLASS}", "", *rows, ":::"])


def deciding_number(v) -> str:
    """``measure value [lo, hi]`` of a verdict's single deciding number (``Verdict.decision``), in the
    book's number style; "" without one."""
    from ...wording import number

    d = v.decision or {}
    if d.get("value") is None:
        return ""
    text = f"{d.get('measure', '')} {number(d['value'])}".strip()
    if d.get("lo") is not None and d.get("hi") is not None:
        text += f" [{number(d['lo'])}, {number(d['hi'])}]"
    return text


def _deciding(vs: list) -> list:
    """The tests that decide a claim's outcome: for a mixed claim the first that holds and the first
    that fails; else the first that holds or fails; else the first not discriminating (the reason a
    claim that seemed to hold is not decided), else the first tested."""
    first = {o: next((v for v in vs if v.outcome == o), None)
             for o in (_claims.HOLDS, _claims.FAILS, _claims.NOT_DISCRIMINATING, _claims.INCONCLUSIVE)}
    if first[_claims.HOLDS] and first[_claims.FAILS]:
        return [first[_claims.HOLDS], first[_claims.FAILS]]
    for o in (_claims.HOLDS, _claims.FAILS, _claims.NOT_DISCRIMINATING, _claims.INCONCLUSIVE):
        if first[o]:
            return [first[o]]
    return []


def decision_rows(record, rollup) -> list[tuple[int, str, object]]:
    """``[(claim, claim outcome, verdict or None)]``: one row per deciding test of each paper claim
    (:func:`replication.chapters.claims._deciding`: the first that holds and the first that fails for a
    mixed claim, else the one whose outcome the claim takes).  A deciding test without a single
    deciding number gives way to the claim's first test of the same outcome that has one, so the row
    still shows why the claim came out as it did; ``None`` where no such test exists (or none ran)."""
    rows = []
    for n in _claims.PAPER_CLAIMS:
        vs = record.for_claim(n)
        outcome = rollup(vs)
        picked = []
        for v in _deciding(vs) or [None]:
            if v is not None and not v.decision:
                v = next((w for w in vs if w.outcome == v.outcome and w.decision), None)
            picked.append(v)
        seen = set()
        for v in picked:                          # two deciding tests may give way to the same one
            if (v.id if v is not None else None) not in seen:
                seen.add(v.id if v is not None else None)
                rows.append((n, outcome, v))
    return rows


def findings(record: ClaimsRecord) -> str:
    """The introduction's first screen: in sentences, what holds, what fails, what could not be
    decided, each claim with its deciding number and a link, then the scale of this build."""
    if not record.verdicts:
        return ("No chapter has stored verdicts at this profile yet, so the book states no conclusion: "
                "build the chapters first (the book command does).")
    groups: dict[str, list[int]] = {}
    for n in _claims.PAPER_CLAIMS:
        groups.setdefault(outcome_of_claim(record.for_claim(n)), []).append(n)
    lead = {_claims.HOLDS: "**Holds**", "mixed": "**Holds in some tests and fails in others**",
            _claims.FAILS: "**Fails**", _claims.INCONCLUSIVE: "**Could not be decided**",
            _claims.NOT_RUN: "**Not tested in this build**"}
    out = []
    for outcome in (_claims.HOLDS, "mixed", _claims.FAILS, _claims.INCONCLUSIVE, _claims.NOT_RUN):
        nums = groups.get(outcome, [])
        if not nums:
            continue
        out.append(f"{lead[outcome]}:")
        out.append("")
        for n in nums:
            why = "; ".join(f"{v.statement.rstrip('.')}: *{v.outcome}*" + (f", {v.summary.rstrip('.')}" if v.summary else "")
                            for v in _deciding(record.for_claim(n)))
            out.append(f"- claim {{ref}}`{n} <{claim_label(n)}>`: {_claims.PAPER_CLAIMS[n].rstrip('.')}"
                       + (f" — {why}." if why else "."))
        out.append("")
    return "\n".join(out + [scale_caveat(record)])


def scale_caveat(record: ClaimsRecord) -> str:
    """How much weight this build's verdicts bear: profile, seeds per setting (from the stored
    parameters), and the laptop analogues."""
    seeds = sorted({int(v) for c in record.chapters if record.stored.get(c)
                    for k, v in (record.stored[c].get("params") or {}).items()
                    if k.endswith("seeds") and isinstance(v, int) and v < 100})
    span = (f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}") if seeds else "few"
    words = {"smoke": "The smoke profile only exercises the code: these verdicts mean nothing.",
             "laptop": "These are CPU-sized analogues of the paper's experiments (small networks on "
                       "Fashion-MNIST and MNIST instead of ResNets and VGG on CIFAR-10)"}.get(record.profile, "")
    text = f"*Scale of this build:* the **{record.profile}** profile, {span} seeds per setting."
    return text + (" " + words + ("." if not words.endswith(".") else "") if words else "")


def claim_section(record: ClaimsRecord, number: int | None, *, titles: dict, labels: dict) -> str:
    """One claim's section (the heading is the notebook's): the claim, its rolled-up outcome, each
    rule its tests use written once, then each test with its evidence."""
    vs = record.for_claim(number)
    head = (f"*{_claims.PAPER_CLAIMS[number]}* Outcome: **{outcome_of_claim(vs)}** ({tally(vs)})."
            if number is not None else "Checks of our own, outside the paper's list.")
    if not vs:
        return head + "\n\nNo chapter of this build tests it.\n"
    from ... import rules

    registry = rules.registry()
    used = list(dict.fromkeys(v.rule_id for v in vs if v.rule_id in registry))
    body = []
    if used:
        body += ["Rules:", ""] + [rule_markdown(registry[r]) for r in used] + ["", "Tests:", ""]
    body += [verdict_item(v, where=lambda v: _where(v, titles, labels), name_claim=False,
                          rule_shown=v.rule_id in registry) for v in vs]
    n = len(vs)
    title = f"{'Its test' if n == 1 else f'Its {n} tests'}: rules, negative controls, evidence"
    # folded: the page stays a table and fourteen short sections; a click opens a claim's details
    return "\n".join([head, "", f":::{{dropdown}} {title}", *body, ":::"]) + "\n"


def figure_labels(root) -> dict[str, set[str]]:
    """``{chapter: figure labels defined in its notebook}`` (``:name: <label>`` lines), so the page
    links only figures that exist in this build."""
    import re
    from pathlib import Path

    found: dict[str, set[str]] = {}
    for path in (Path(root) / "book").glob("*.ipynb"):
        found[path.stem] = set(re.findall(r":name:\s*([A-Za-z0-9_-]+)", path.read_text()))
    return found
