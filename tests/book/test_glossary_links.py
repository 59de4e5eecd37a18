"""Every glossary term's first use on a student page links to its glossary entry.

The rule and the tool are in ``tools/glossary_links.py`` (``--check`` lists what is wrong,
``--fix`` links the first uses). The first test runs the check on the real pages; the others
pin down what the tool takes for prose and what its fix changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.glossary_links import (
    EXCLUDED_NAMES,
    EXCLUDED_PHRASES,
    GLOSSARY,
    Entry,
    find_violations,
    fix_text,
    load_entries,
    main,
    prose,
    student_pages,
)

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = load_entries(GLOSSARY.read_text(encoding="utf-8"))
SMALL = [
    Entry(("kernel",)),
    Entry(("dense layer", "fully connected layer")),
    Entry(("pooling",)),
    Entry(("max pooling",)),
    Entry(("batch", "mini-batch")),
    Entry(("over-fitting",)),
    Entry(("logits", "scores")),
    Entry(("normalisation", "scaling")),
    Entry(("ReLU", "rectified linear unit")),
]


def firsts(text: str, entries: list[Entry] = SMALL) -> list[tuple[str, str]]:
    """(entry, matched text) of every violation, in page order."""
    return [(v.entry.name if v.entry else "?", v.text) for v in find_violations(text, entries)]


# ----------------------------------------------------------------------------- the real pages


@pytest.mark.parametrize("page", student_pages(), ids=lambda p: p.name)
def test_first_use_of_every_term_is_a_link(page: Path) -> None:
    violations = find_violations(page.read_text(encoding="utf-8"), ENTRIES)
    assert not violations, (
        f"{len(violations)} glossary terms are used on {page.name} before they are linked "
        "(run `python tools/glossary_links.py --fix` and read the diff):\n"
        + "\n".join(f"  {page.name}:{v.line}: {v.describe()}" for v in violations)
    )


def test_the_pages_are_the_student_pages() -> None:
    names = {p.name for p in student_pages()}
    assert {"intro.md", "get_started.md", "notation.md", "01_pixels.md"} <= names
    assert not names & {"glossary.md", "references.md", "instructors.md"}


def test_the_glossary_has_its_entries() -> None:
    names = {name for entry in ENTRIES for name in entry.names}
    assert len(ENTRIES) > 70
    assert {"dense layer", "fully connected layer", "ReLU", "1×1 convolution"} <= names
    # Two names on consecutive lines are one entry.
    assert Entry(("classifier", "head")) in ENTRIES
    assert Entry(("residual connection", "skip connection", "shortcut")) in ENTRIES


def test_exclusions_say_why() -> None:
    assert all(reason.strip() for _, reason in EXCLUDED_PHRASES)
    assert all(reason.strip() for reason in EXCLUDED_NAMES.values())
    names = {name.lower() for entry in ENTRIES for name in entry.names}
    assert set(EXCLUDED_NAMES) <= names, "an excluded name is not in the glossary any more"


@pytest.mark.parametrize("page", student_pages(), ids=lambda p: p.name)
def test_fix_links_first_uses_and_changes_nothing_else(page: Path) -> None:
    """The fix, run in memory on the real page: it passes the check and only adds links."""
    before = page.read_text(encoding="utf-8")
    after = fix_text(before, ENTRIES)
    assert not [v for v in find_violations(after, ENTRIES) if v.entry is not None]
    roles = re.findall(r"\{term\}`([^`<]*?)(?: <[^>`]+>)?`", after)
    unwrapped = re.sub(r"\{term\}`([^`<]*?)(?: <[^>`]+>)?`", r"\1", after)
    original = re.sub(r"\{term\}`([^`<]*?)(?: <[^>`]+>)?`", r"\1", before)
    # Taking the roles away again gives the page back, up to the line breaks a multi-word
    # term was split over (the fix joins them with one space).
    assert re.sub(r"\s+", " ", unwrapped) == re.sub(r"\s+", " ", original)
    assert len(roles) >= len(re.findall(r"\{term\}`", before))
    assert after.count("\n") <= before.count("\n"), "the fix added a line break"


# ----------------------------------------------------------------------------- the parser


def test_a_plain_use_is_reported_and_a_link_counts() -> None:
    assert firsts("A kernel slides.\n") == [("kernel", "kernel")]
    assert firsts("A {term}`kernel` slides. The kernel again.\n") == []
    assert firsts("The {term}`kernels <kernel>` slide.\n") == []
    # A link later on the page does not excuse an earlier plain use.
    assert firsts("A kernel slides. A {term}`kernel`.\n") == [("kernel", "kernel")]


def test_synonyms_are_one_entry() -> None:
    assert firsts("A fully connected layer, then a {term}`dense layer`.\n") == [
        ("dense layer", "fully connected layer")
    ]
    assert firsts("A {term}`fully connected layer`, then a dense layer.\n") == []


def test_plurals_case_hyphens_and_line_breaks() -> None:
    assert firsts("Kernels slide.\n") == [("kernel", "Kernels")]
    assert firsts("Two batches.\n") == [("batch", "batches")]
    assert firsts("One logit per class.\n") == [("logits", "logit")]
    assert firsts("Less overfitting.\n") == [("over-fitting", "overfitting")]
    assert firsts("Less over fitting.\n") == [("over-fitting", "over fitting")]
    assert firsts("Each minibatch.\n") == [("batch", "minibatch")]
    assert firsts("two dense\n  layers here\n") == [("dense layer", "dense\n  layers")]
    assert firsts("the relu\n") == [("ReLU", "relu")]


def test_whole_words_only() -> None:
    assert firsts("kernelised batching pooled\n") == []
    assert firsts("a pre-kernel and a kernel-wise sum\n") == []


def test_longest_name_wins() -> None:
    assert firsts("Max pooling keeps the maximum.\n") == [("max pooling", "Max pooling")]
    assert firsts("Max pooling, and pooling.\n") == [
        ("max pooling", "Max pooling"),
        ("pooling", "pooling"),
    ]


def test_code_is_not_prose() -> None:
    page = (
        "Call `kernel(x)` here.\n\n"
        "```{code-cell} ipython3\n:tags: [hide-input]\n\nkernel = 1\n```\n\n"
        "```python\nkernel = 2\n```\n\n"
        "~~~\nkernel\n~~~\n\n"
        "````{literalinclude} ../helpers/ops.py\n:pyobject: kernel\n````\n"
    )
    assert firsts(page) == []


def test_math_is_not_prose() -> None:
    page = (
        "Inline $\\text{kernel}_i$ and $$\\text{pooling}$$ here.\n\n"
        "$$\n\\text{batch}\n$$\n\n"
        "\\begin{align}\n\\text{scores}\n\\end{align}\n\n"
        "```{math}\n\\text{ReLU}\n```\n"
    )
    assert firsts(page) == []


def test_headings_labels_comments_front_matter_are_not_prose() -> None:
    page = (
        "---\ntitle: kernel\n---\n\n"
        "(kernel-label)=\n## The kernel\n\n"
        "% the kernel, for authors\n"
        "<!-- a kernel\nover two lines -->\n"
        '+++ {"tags": ["kernel"]}\n'
        "<details>\n<summary>a kernel</summary>\nkernel text\n</details>\n\n"
    )
    assert firsts(page) == []


def test_an_inline_tag_does_not_hide_its_paragraph() -> None:
    assert firsts("<span>x</span> and a kernel.\n") == [("kernel", "kernel")]


def test_roles_links_and_urls_are_not_prose() -> None:
    page = (
        "See {doc}`kernel <02_convolution>` and {glue:text}`kernel_count:,` and "
        "[the kernel](https://example.org/kernel) and ![kernel](k.png) and "
        "https://example.org/kernel and <span class='kernel'>x</span> and {{ kernel }}.\n"
    )
    assert firsts(page) == []


def test_directive_titles_and_options_are_not_prose_but_bodies_are() -> None:
    page = (
        "```{admonition} What a kernel does\n:class: tip\n\nNo term here.\n```\n\n"
        ":::{dropdown} The kernel, in short\n:open:\n\nA kernel slides.\n:::\n"
    )
    assert firsts(page) == [("kernel", "kernel")]
    assert find_violations(page, SMALL)[0].line == 10


def test_nested_fences() -> None:
    page = "````{note}\nText.\n\n```python\nkernel = 3\n```\n\nA batch here.\n````\n\nA kernel.\n"
    assert firsts(page) == [("batch", "batch"), ("kernel", "kernel")]


def test_excluded_senses() -> None:
    assert firsts("Restart the kernel, or run it in a fresh kernel.\n") == []
    assert firsts("Scaling a map doubles it; a shortcut.\n") == []
    assert firsts("Which would score 5.\n") == []
    assert firsts("One score per class.\n") == [("logits", "score")]


def test_links_to_missing_entries_are_reported() -> None:
    violations = find_violations("A {term}`kernal`.\n", SMALL)
    assert [(v.entry, v.target) for v in violations] == [(None, "kernal")]


def test_prose_keeps_offsets_and_line_breaks() -> None:
    text = "Some `code` and $x$.\n\n```\nblock\n```\nEnd.\n"
    masked = prose(text).text
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(masked) if c == "\n"] == [
        i for i, c in enumerate(text) if c == "\n"
    ]
    assert masked.startswith("Some ") and masked.endswith("End.\n")


# ----------------------------------------------------------------------------- the fix


def test_fix_keeps_case_and_plural() -> None:
    text = "Dense layers and kernels. Then max pooling and a\nfully connected\nlayer.\n"
    fixed = fix_text(text, SMALL)
    assert fixed == (
        "{term}`Dense layers <dense layer>` and {term}`kernels <kernel>`. Then "
        "{term}`max pooling` and a\nfully connected\nlayer.\n"
    )
    assert fix_text("The Kernel.\n", SMALL) == "The {term}`Kernel`.\n"
    assert fix_text("two dense\n  layers\n", SMALL) == "two {term}`dense layers <dense layer>`\n"
    assert firsts(fixed) == []


def test_fix_and_check_from_the_command_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    glossary = tmp_path / "glossary.md"
    glossary.write_text("# Glossary\n\n```{glossary}\nkernel\n  A small matrix.\n```\n")
    page = tmp_path / "page.md"
    page.write_text("# Kernels\n\nA kernel, then a kernel.\n")
    assert main(["--check", "--glossary", str(glossary), str(page)]) == 1
    assert "page.md:3: first use of 'kernel'" in capsys.readouterr().out
    assert main(["--fix", "--glossary", str(glossary), str(page)]) == 0
    assert page.read_text() == "# Kernels\n\nA {term}`kernel`, then a kernel.\n"
    assert main(["--check", "--glossary", str(glossary), str(page)]) == 0
