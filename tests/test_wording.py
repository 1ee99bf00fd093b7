"""How the pages write numbers: one style across the book (replication.wording)."""
import math

from replication import wording as w


def test_number_plain_inside_the_readable_range_powers_outside():
    assert w.number(0.002) == "0.002" and w.number(12.5) == "12" and w.number(12.5, 3) == "12.5"
    assert w.number(1234.5) == "1,200" and w.number(99_999, 5) == "99,999"
    assert w.number(7.8125e-4) == "7.8×10⁻⁴" and w.number(5e-6) == "5.0×10⁻⁶" and w.number(2.5e5) == "2.5×10⁵"
    assert w.number(1e-10, 1) == "10⁻¹⁰" and w.number(-3.2e-4) == "−3.2×10⁻⁴" and w.number(-0.5) == "−0.5"
    assert w.number(0) == "0" and w.number(float("nan")) == "n/a" and w.number(None) == "n/a"
    assert w.number(math.inf) == "∞" and w.number(-math.inf) == "−∞"
    assert w.number(0.5, power=True) == "5.0×10⁻¹" and w.number(5e-6, power=False) == "0.000005"
    for x in (3e-9, 0.0312, 7.0, 4.2e7):                      # never e-notation, never a hyphen for minus
        assert "e" not in w.number(x) and "-" not in w.number(-x)


def test_ranges_share_one_style_and_intervals_round_to_their_width():
    assert w.numbers([0.00025, 0.004]) == ["2.5×10⁻⁴", "4.0×10⁻³"]
    assert w.numbers([0.0025, 0.004]) == ["0.0025", "0.004"]
    assert w.signed(-0.0001) == "0.00" and w.signed(0.52) == "+0.52" and w.signed(-0.78) == "−0.78"
    assert w.to_uncertainty(0.00123, -0.0101, 0.0122) == ("+0.001", "−0.010 to +0.012")
    assert w.to_uncertainty(1.8843, 1.6, 2.1) == ("+1.88", "+1.60 to +2.10")
    assert w.significant(40.64) == "40.6" and w.significant(1180.3) == "1,180" and w.significant(99.96) == "100"


def test_verdicts_read_as_predicates():
    assert w.verdict_clause("claim 8", "holds") == "claim 8 **holds**"
    assert w.verdict_clause("claim 12", "inconclusive") == "claim 12 is **inconclusive**"
    assert w.verdict_clause("claim 4", "not run") == "claim 4 was **not run**"


def test_the_runs_line_says_where_results_came_from():
    assert w.runs_sentence(48, 0, what="training runs", spent="312 s of training in all") == (
        "**Runs:** 48 training runs, all read back from the result store (312 s of training in all).")
    assert w.runs_sentence(40, 8) == "**Runs:** 48 results, 40 read back from the result store and 8 computed now."
    assert w.runs_sentence(0, 1200) == "**Runs:** 1,200 results, all computed now."
    assert "0 computed" not in w.runs_sentence(5, 0) and "0 read" not in w.runs_sentence(0, 5)
    assert w.runs_sentence(1, 0, what="training runs") == "**Runs:** 1 training run, all read back from the result store."
    assert w.runs_sentence(0, 1, what="simulations") == "**Runs:** 1 simulation, all computed now."


def test_one_hidden_layer_reads_in_the_singular():
    assert w.architecture("ReLU MLP 784-1024-10 (1 hidden layers; 0.81M params)") == \
        "ReLU MLP 784-1024-10 (1 hidden layer; 0.81M params)"
    for text in ("ReLU MLP 784-50×20-10 (20 hidden layers; 88,210 params)", "ReLU MLP 784-50-50-50-10 (3 hidden "
                 "layers; He init; 0.04M params)", "ResNet-32 (CIFAR, shortcut A, BN; 0.46M params)",
                 "ReLU MLP x (11 hidden layers; 1M params)", "ReLU MLP x (2.1 hidden layers)"):
        assert w.architecture(text) == text


def test_fixed_decimals_shares_and_verbs():
    assert w.fixed(-0.004, 2) == "0.00" and w.fixed(-1.5, 1) == "−1.5" and w.fixed(0.3, 1, True) == "+0.3"
    assert w.fixed(float("nan")) == "n/a" and w.fixed(None, missing="–") == "–"
    assert [w.decimals_for_uncertainty(u) for u in (0.3, 0.17, 1.04, 4.2, None, 0.0)] == [1, 2, 1, 0, 2, 2]
    assert w.decimals_for(0.23) == 2 and w.decimals_for(0.056) == 3          # two significant digits
    assert w.share(6, 6) == "all 6" and w.share(5, 6) == "5 of the 6" and w.share(1, 1) == "1 of the 1"
    assert [w.outcome_verb(o) for o in ("holds", "fails", "inconclusive", "not run")] == [
        "holds", "fails", "is inconclusive", "was not run"]


def test_e_notation_written_in_the_book_style_code_left_alone():
    from replication.wording import without_e_notation

    text = "within 1e-3 | 1.5e-06 | 9.6E-04 | ≤ 1e-07·|λ| | 1.0e5 | version 0.1.0+g1e5a7 | `tol=1e-3`"
    assert without_e_notation(text) == ("within 0.001 | 1.5×10⁻⁶ | 9.6×10⁻⁴ | ≤ 10⁻⁷·|λ| | 1.0×10⁵ "
                                        "| version 0.1.0+g1e5a7 | `tol=1e-3`")


def test_no_page_formats_a_signed_number_that_can_read_minus_zero():
    """A signed number in prose goes through ``wording.signed`` (−0.0 reads 0.0, a true minus sign):
    no chapter formats one with a bare ``:+.Nf``."""
    import re
    from pathlib import Path

    root = Path(w.__file__).resolve().parent / "chapters"
    bare = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"\{[^{}]*:\+\.\d+f\}", line)]
    assert not bare, bare
    assert w.signed(-0.0004, "+.1f") == "0.0" and w.signed(-0.4, "+.1f") == "−0.4"
