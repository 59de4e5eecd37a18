"""No number or word the build pastes into the text reads like a program's output.

The chapters glue computed values into their prose (``{glue:}`` and ``{glue:text}``). A
value glued as a Python ``str`` shows its quote marks (‘85%’), a format that rounds a tiny
value to zero shows ``0e+00``, a NumPy scalar shows ``np.float64(...)``, and an unformatted
float shows ``0.30000000000000004``. This test reads every built chapter page and checks
each pasted value against those glitches.

It needs the built site (the ``built_site`` fixture builds it; ``P2P_BUILT_SITE=_build/html``
reuses a build). The rules themselves are unit-tested below without a build.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from site_tools import glued_values

QUOTES = "'\"‘’“”"  # with the curly quotes Sphinx makes of straight ones
RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "shows quote marks: a str was glued with its repr (glue a str subclass whose repr is "
        "the text, or use {glue:text} with a number)",
        re.compile(rf"^\s*[{QUOTES}].*[{QUOTES}]\s*$|[\[({{,]\s*[{QUOTES}]", re.S),
    ),
    (
        "a zero in scientific notation: say in words, computed by code, that it is exactly 0",
        re.compile(r"(?<![\d.])[-+−]?0(?:\.0*)?e[-+]?\d+"),
    ),
    ("not a number or infinite", re.compile(r"(?i)(?<![a-z])(?:nan|inf|infinity)(?![a-z])")),
    (
        "a float with its full binary expansion: give the glue role a format",
        re.compile(r"\d\.\d{8,}"),
    ),
    (
        "a NumPy repr: glue Python int/float (int(x), float(x)), not NumPy scalars or arrays",
        re.compile(r"\b(?:np|numpy)\.\w+\(|\barray\(|dtype="),
    ),
    ("a negative zero", re.compile(r"(?<![\w.])[-−]0(?:\.0+)?(?![\d.]|e)")),
)

# Values shown on purpose, recognised by their sentence (GluedValue.context(), the value in
# «»). Each: (regular expression, reason).
ALLOWED: tuple[tuple[str, str], ...] = (
    (
        r"returns «\[nan[^»]*\]»: not a number",
        "chapter 5 shows a naive softmax overflowing, on purpose, and says what NaN means",
    ),
)


def glitches(value: str) -> list[str]:
    """What is wrong with a pasted value as a reader sees it (nothing: an empty list)."""
    return [reason for reason, pattern in RULES if pattern.search(value)]


def chapter_pages(site: Path) -> list[Path]:
    return sorted((site / "book").glob("*.html"))


@pytest.mark.slow
def test_no_pasted_value_shows_quotes_or_float_noise(built_site: Path) -> None:
    pages = chapter_pages(built_site)
    assert pages, f"no built pages under {built_site / 'book'}"
    problems = []
    pasted = 0
    for page in pages:
        for value in glued_values(page):
            pasted += 1
            if any(re.search(pattern, value.context()) for pattern, _ in ALLOWED):
                continue
            for reason in glitches(value.text):
                problems.append(f"{page.name}: {value.context()}\n    {reason}")
    assert pasted > 100, f"only {pasted} pasted values found: has myst-nb's markup changed?"
    assert not problems, f"{len(problems)} pasted values read wrong:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "value",
    [
        "‘85%’",
        "'85%'",
        '"85%"',
        "“seven”",
        "['a', 'b']",
        "(‘cat’, ‘dog’)",
        "0e+00",
        "0.0e+00",
        "-0e+00",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "0.30000000000000004",
        "np.float64(0.5)",
        "array([1, 2])",
        "-0.00",
        "−0",
        "-0%",
    ],
)
def test_glitches_are_caught(value: str) -> None:
    assert glitches(value), f"{value!r} should be reported"


@pytest.mark.parametrize(
    "value",
    [
        "85%",
        "7",
        "(28, 28)",
        "9.5e-07",
        "1e-05",
        "0.25",
        "-3.98",
        "-0.5",
        "0, 0, 0, 1.5, 3",
        "-2, -0.5, 0, 1.5, 3",
        "5×5",
        "the digit's stroke",
        "93,322",
        "1.0",
        "0.0066",
        "10.5 ms",
        "informative",
        "Conv2d",
    ],
)
def test_good_values_pass(value: str) -> None:
    assert not glitches(value), f"{value!r} reported as {glitches(value)}"


def test_glued_values_reads_the_spans_myst_nb_writes(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><script>var x = "<span class=\\"pasted-text\\">no</span>";</script></head>'
        '<body><p>Shape <span class="output text_plain">(28, 28)</span> and '
        '<span class="pasted-text">85%</span> of &lsquo;it&rsquo;.</p>'
        '<div class="output text_plain"><pre>printed 0e+00</pre></div></body></html>'
    )
    values = glued_values(page)
    assert [v.text for v in values] == ["(28, 28)", "85%"]
    assert values[1].context() == "Shape (28, 28) and «85%» of ‘it’.printed 0e+00"
