"""The claims page and the introduction's synthesis: gathered from stored verdicts, one outcome per
claim, every paper claim listed (untested ones as "not run"), links only to figures that exist."""
import dataclasses

from replication import claims, verdict_files
from replication.chapters import claims as page
from replication.claims import Verdict
from replication.chapters import resolve_spec as resolve


def _v(id, claim, outcome, chapter="sharpness", figure=""):
    return Verdict(id=id, claim=claim, statement=f"statement {id}", source="ICLR 2018", rule="a rule",
                   outcome=outcome, evidence={"rho": -0.7}, chapter=chapter, profile="smoke", figure=figure)


def test_outcome_of_a_claim_from_its_verdicts():
    assert page.outcome_of_claim([]) == "not run"
    assert page.outcome_of_claim([_v("a", 4, "holds"), _v("b", 4, "holds")]) == "holds"
    assert page.outcome_of_claim([_v("a", 4, "holds"), _v("b", 4, "fails")]) == "mixed"
    assert page.outcome_of_claim([_v("a", 4, "holds"), _v("b", 4, "inconclusive")]) == "holds"
    assert page.outcome_of_claim([_v("a", 4, "not discriminating"), _v("b", 4, "inconclusive")]) == "inconclusive"
    assert page.outcome_of_claim([_v("a", 4, "not discriminating"), _v("b", 4, "fails")]) == "fails"
    assert page.outcome_of_claim([_v("a", 4, "not run"), _v("b", 4, "fails")]) == "fails"


def test_page_gathers_stored_verdicts_without_running_chapters(tmp_path):
    from replication.store import ResultStore

    store = ResultStore(tmp_path)
    verdict_files.save("sharpness", "smoke", [_v("claim-4-x", 4, "holds", figure="fig-a"), _v("sharpness-own", None, "fails")],
                store_root=tmp_path)
    verdict_files.save("memorization", "smoke", [_v("claim-11-x", 11, "fails", chapter="memorization")], store_root=tmp_path)
    record = page.compute(resolve(page.SPEC, "smoke"), store=store)
    assert "sharpness" in record.chapters and "claims" not in record.chapters and "intro" not in record.chapters
    assert {v.id for v in record.verdicts} == {"claim-4-x", "sharpness-own", "claim-11-x"}
    assert "invariance" in record.missing
    text = page.synthesis(record)
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "{ref}`4 <claims-claim-4>`" in rows["holds by its rules"] and rows["holds by its rules"].endswith("| — |")
    assert "{ref}`11 <claims-claim-11>`" in rows["fails"] and rows["fails"].endswith("| 1 |")  # and our one test
    assert "{ref}`1 <claims-claim-1>`, {ref}`2 <claims-claim-2>`" in rows["not tested at this profile"]
    assert "mixed" not in rows and not [r for r in rows if r.startswith("inconclusive")]  # outcomes nobody reached: no row
    assert "**Table: What replicates at the smoke profile.**" in text
    table = page.claim_table(record)
    rows = [line for line in table.splitlines() if line.startswith("| {ref}")]
    assert len(rows) == len(claims.PAPER_CLAIMS)                  # one row per claim of the paper
    assert "| **holds** | 1 holds |" in rows[3] and "| **not run** | — |" in rows[0] and "**fails** | 1 fails" in rows[10]
    assert rows[0].endswith("| — |") and "{doc}`sharpness <sharpness>`" in rows[3]   # where its deciding test is
    assert f":class: {page.TABLE_CLASS}" in table and table.startswith(":::{table} The paper's claims at the smoke")
    linked = page.claim_table(record, titles={"sharpness": "Sharp"}, labels={"sharpness": {"fig-a"}})
    assert "{numref}`fig-a`" in linked and "{doc}`Sharp <sharpness>`" not in linked   # the figure names the chapter

    md = page.claim_section(record, 4, titles={"sharpness": "Sharp"}, labels={"sharpness": {"fig-a"}})
    assert "Outcome: **holds** (1 holds)" in md and "{numref}`fig-a`" in md
    assert "- **holds**: statement claim-4-x ({doc}`Sharp <sharpness>`" in md and "*Rule:* a rule." in md
    assert "No chapter of this build tests it" in page.claim_section(record, 1, titles={}, labels={})
    md = page.claim_section(record, 4, titles={}, labels={})      # a label not in the build: no link
    assert "{numref}" not in md
    assert "Checks of our own" in page.claim_section(record, None, titles={}, labels={})
    found = page.findings(record)
    assert found.index("**Holds**") < found.index("**Fails**") < found.index("**Not tested in this build**")
    assert "claim {ref}`4 <claims-claim-4>`" in found and "*Scale of this build:* the **smoke** profile" in found


def test_the_claim_table_gives_the_deciding_number(tmp_path):
    from replication.store import ResultStore

    d = claims.decision("Spearman ρ", -0.62, -0.91, -0.2, level="95% t-law", **claims.trend_rule(-1, 0.5))
    v = dataclasses.replace(_v("claim-4-x", 4, "holds"), decision=d)
    verdict_files.save("sharpness", "smoke", [v, _v("claim-5-x", 5, "inconclusive")], store_root=tmp_path)
    record = page.compute(resolve(page.SPEC, "smoke"), store=ResultStore(tmp_path))
    rows = {int(line.split("`")[1].split()[0]): line for line in page.claim_table(record).splitlines()
            if line.startswith("| {ref}")}
    assert "| Spearman ρ −0.62 [−0.91, −0.2], in {doc}`sharpness <sharpness>` |" in rows[4]
    assert rows[5].endswith("| {doc}`sharpness <sharpness>` |")      # no single number: only where
    assert page.deciding_number(_v("claim-5-y", 5, "holds")) == ""
    shown = page.claim_table(record, titles={"sharpness": "Sharp"}, labels={"sharpness": {"fig-b"}})
    assert "{doc}`Sharp <sharpness>`" in shown                     # no figure of its own: the chapter
    verdict_files.save("sharpness", "smoke", [dataclasses.replace(v, figure="fig-b")], store_root=tmp_path)
    record = page.compute(resolve(page.SPEC, "smoke"), store=ResultStore(tmp_path))
    row = [line for line in page.claim_table(record, titles={"sharpness": "Sharp"}, labels={"sharpness": {"fig-b"}})
           .splitlines() if line.startswith("| {ref}`4 ")][0]
    assert row.endswith(", in {numref}`fig-b` |") and "{doc}" not in row   # its figure names the chapter


def test_rollup_is_one_rule_everywhere(tmp_path):
    """The claims table, the synthesis and the findings give each claim the same outcome."""
    from replication.store import ResultStore

    outcomes = {4: ["holds", "inconclusive"], 5: ["holds", "fails"], 6: ["not discriminating"], 8: ["fails"]}
    vs = [_v(f"claim-{n}-t{i}", n, o) for n, os in outcomes.items() for i, o in enumerate(os)]
    verdict_files.save("sharpness", "smoke", vs, store_root=tmp_path)
    record = page.compute(resolve(page.SPEC, "smoke"), store=ResultStore(tmp_path))
    table = {int(line.split("`")[1].split()[0]): line.split(" | ")[2].strip("*")
             for line in page.claim_table(record).splitlines() if line.startswith("| {ref}")}
    assert table[4] == "holds" and table[5] == "mixed" and table[6] == "inconclusive" and table[8] == "fails"
    synthesis = page.synthesis(record)
    for n, outcome in table.items():
        label = dict(page.OUTCOME_LABELS)[outcome]
        assert any(line.startswith(f"| {label} |") and f"`{n} <" in line for line in synthesis.splitlines())


def test_no_verdicts_says_so(tmp_path):
    from replication.store import ResultStore

    record = page.compute(resolve(page.SPEC, "smoke"), store=ResultStore(tmp_path))
    assert "No chapter has stored verdicts" in page.synthesis(record)


def _xspan(patch) -> tuple[float, float]:
    """The data x range of an axvspan (a Rectangle in recent matplotlib, a Polygon before 3.9)."""
    if hasattr(patch, "get_width"):
        return patch.get_x(), patch.get_x() + patch.get_width()
    xs = [x for x, _ in patch.get_xy()]
    return min(xs), max(xs)


def test_effect_figure_puts_each_interval_where_it_lies_against_the_margin(tmp_path):
    from replication.chapters.claims import figures
    from replication.store import ResultStore

    def dv(id, claim, outcome, decision):
        return Verdict(id=id, claim=claim, statement=f"statement {id}", source="ICLR 2018", rule="a rule",
                       outcome=outcome, evidence={}, chapter="sharpness", profile="smoke", decision=decision)

    trend = claims.decision("Spearman ρ", -0.8, -0.95, -0.3, level="95% t-law", bounds=[-1, 1],
                            **claims.trend_rule(-1, 0.5))
    sign = claims.decision("D, points", -2.0, -3.0, -1.0, level="95% t", **claims.sign_rule(+1))
    tost = claims.decision("width ratio (×)", 1.2, 0.9, 1.7, level="90% t", holds=[[1 / 1.5, 1.5]],
                           fails=[claims.below(1 / 1.5), claims.above(1.5)], scale="log")
    vs = [dv("claim-4-a", 4, "holds", trend), dv("claim-4-b", 4, "fails", {}),      # mixed: two rows
          dv("claim-9-a", 9, "fails", sign), dv("claim-7-a", 7, "inconclusive", tost),
          dv("claim-2-a", 2, "inconclusive", {})]
    for v in vs:
        assert claims.decided(v.decision) in ("", v.outcome)
    verdict_files.save("sharpness", "smoke", vs, store_root=tmp_path)
    record = page.compute(resolve(page.SPEC, "smoke"), store=ResultStore(tmp_path))
    rows = figures.decision_rows(record, page.outcome_of_claim)
    assert [(n, v.id if v else None) for n, _, v in rows if n in (2, 4, 7, 9)] == [
        (2, None), (4, "claim-4-a"), (4, None), (7, "claim-7-a"), (9, "claim-9-a")]
    fig = figures.effect_against_margin(record, page.outcome_of_claim)
    assert len(fig.axes) == len(rows)
    from matplotlib.text import Text

    from replication import figures as F

    fig.canvas.draw()
    assert fig.get_figwidth() == F.COLUMN_INCHES
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text()) >= F.SMALL_FONT
    note = figures.effect_note(record, page.outcome_of_claim)
    assert note.startswith(f"3 of the paper's {len(claims.PAPER_CLAIMS)} claims") and "Claim 2 is decided" in note
    by_id = {}
    for ax in fig.axes:
        for line in ax.lines:
            gid = line.get_gid() or ""
            if ":" in gid:
                by_id.setdefault(gid.split(":", 1)[1], {})[gid.split(":", 1)[0]] = (ax, list(line.get_xdata()))
    assert set(by_id) == {"claim-4-a", "claim-9-a", "claim-7-a"}
    for vid, d in (("claim-4-a", trend), ("claim-9-a", sign), ("claim-7-a", tost)):
        ax, xs = by_id[vid]["interval"]
        assert xs == [d["lo"], d["hi"]] and by_id[vid]["value"][1] == [d["value"]]
        holds = [_xspan(p) for p in ax.patches if p.get_gid() == "holds"]
        fails = [_xspan(p) for p in ax.patches if p.get_gid() == "fails"]
        inside = lambda spans: any(a <= xs[0] and xs[1] <= b for a, b in spans)  # noqa: E731
        assert inside(holds) == (vid == "claim-4-a")          # the holding interval lies in the holds region
        assert inside(fails) == (vid == "claim-9-a")          # the failing one in a fails region
        assert not (vid == "claim-7-a" and (inside(holds) or inside(fails)))   # the undecided one straddles
        lo, hi = ax.get_xlim()
        assert lo <= xs[0] and xs[1] <= hi                    # drawn within the row
    assert fig.axes[-1].get_xscale() == "linear" and by_id["claim-7-a"]["value"][0].get_xscale() == "log"
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "no single number" in texts and "not tested" in texts
    assert [ax.get_title(loc="left") for ax in fig.axes][1:3] == ["claim 2: inconclusive", "claim 3: not run"]
    assert "1 holds · 1 fails" in [ax.get_title(loc="right") for ax in fig.axes]   # outcome counts stay visible
    assert by_id["claim-9-a"]["value"][0].get_xlabel() == "D, points · 95% t interval"
    from matplotlib.colors import to_hex

    points = {vid: [l for l in by_id[vid]["value"][0].lines if l.get_gid() == f"value:{vid}"][0] for vid in by_id}
    assert {vid: to_hex(l.get_markerfacecolor()) for vid, l in points.items()} == {
        v.id: figures.COLORS[v.outcome] for v in vs if v.decision}       # coloured by the test's outcome
