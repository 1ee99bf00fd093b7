"""Math written out for alternative texts: no TeX left, symbols as a reader says them."""
import pytest

from replication import benchmarks
from replication.plaintext import strip_math, tex_to_text


@pytest.mark.parametrize("tex, text", [
    (r"\lambda_{\max}", "λ max"), (r"\|H\|_F", "‖H‖ F"), (r"\eta/S", "η/S"), (r"\frac{\eta}{4S}", "η/4S"),
    (r"10^{-3}", "10⁻³"), (r"\beta^*", "β*"), (r"95\%", "95%"), (r"\mathrm{Tr}\,H", "Tr H"),
    (r"\sqrt{\eta/S}", "√(η/S)"), (r"\left(\frac{a}{b}\right)", "(a/b)"),
    (r"\frac{\eta}{(1-m)S}", "η/((1-m)S)"), (r"\frac{a+b}{2}", "(a+b)/2"),
])
def test_tex_to_text(tex, text):
    assert tex_to_text(tex) == text


def test_a_caption_reads_without_tex():
    caption = (r"Design A against $\eta/S$: (a) $\|H\|_F$, (b) $\lambda_{\max}$, the $95\%$ $t$-interval; "
               r"$$T^* = \frac{1}{\lambda}$$")
    text = strip_math(caption)
    assert text == "Design A against η/S: (a) ‖H‖ F, (b) λ max, the 95% t-interval; T* = 1/λ"
    assert not set("$\\{}_") & set(text)


def test_benchmark_records_show_the_books_notation():
    text = benchmarks.for_page("λ1..λ6 = 3, 2 | λ_max (reference) | 1.5e-06 | `tol=1e-3`")
    assert text == r"$\lambda_1, \dots, \lambda_6$ = 3, 2 | $\lambda_{\max}$ (reference) | 1.5×10⁻⁶ | `tol=1e-3`"
