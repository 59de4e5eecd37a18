"""Chapter 6 is two pages: gradients (06_backprop) and training in practice (06_training).

Fast checks of the MyST sources: the labels other chapters link to exist, the two pages link
each other and follow each other in the reading order, every glued number the prose shows is
glued on the same page, and both pages start with the same generated setup cell.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BACKPROP = ROOT / "book" / "06_backprop.md"
TRAINING = ROOT / "book" / "06_training.md"
PAGES = (BACKPROP, TRAINING)

# Chapter 7 and assignment 07 link to these: renaming one breaks their links.
TRAINING_LABELS = (
    "pytorch-basics",
    "weight-decay",
    "adamw",
    "dropout",
    "batch-norm",
    "one-cycle",
    "label-smoothing",
)

CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.DOTALL)


def _code_and_prose(text: str) -> tuple[str, str]:
    return "\n".join(CODE_CELL.findall(text)), CODE_CELL.sub("", text)


@pytest.mark.parametrize("label", TRAINING_LABELS)
def test_the_training_page_holds_each_label_once_above_a_heading(label: str) -> None:
    text = TRAINING.read_text()
    found = re.findall(rf"^\({re.escape(label)}\)=\n(#+ .+)$", text, re.MULTILINE)
    assert len(found) == 1, f"({label})= must stand once, right above a heading, in 06_training"
    elsewhere = [
        p.name for p in ROOT.glob("book/*.md") if p != TRAINING and f"({label})=" in p.read_text()
    ]
    assert not elsewhere, f"({label})= is also defined in {elsewhere}: a label must be unique"


def test_the_two_pages_link_each_other_and_follow_each_other_in_the_toc() -> None:
    assert "{doc}`06_training`" in BACKPROP.read_text()
    assert "{doc}`06_backprop`" in TRAINING.read_text()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    order = []
    for part in toc["parts"]:
        for chapter in part.get("chapters", []):
            order.append(chapter["file"])
            order.extend(section["file"] for section in chapter.get("sections", []))
    at = order.index("book/06_backprop")
    assert order[at : at + 3] == [
        "book/06_backprop",
        "book/06_training",
        "exercises/06_backprop/06_backprop",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_glue_key_in_the_prose_is_glued_on_the_same_page(page: Path) -> None:
    code, prose = _code_and_prose(page.read_text())
    used = set(re.findall(r"\{glue:(?:text)?\}`([^`:]+)", prose))
    glued = set(re.findall(r'glue\(\s*"([^"]+)"', code))
    patterns = [  # keys glued with an f-string, such as f"opt_{name}"
        re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(key)) + "$")
        for key in re.findall(r'glue\(\s*f"([^"]+)"', code)
    ]
    missing = sorted(k for k in used if k not in glued and not any(p.match(k) for p in patterns))
    assert used and not missing, f"{page.name} shows glue keys it never glues: {missing}"


def test_both_pages_open_with_the_same_front_matter_and_setup_cell() -> None:
    def opening(page: Path) -> str:
        text = page.read_text()
        title = re.search(r"^# .+\n", text, re.MULTILINE)
        assert title is not None
        setup = re.search(
            r"```\{code-cell\} ipython3\n:tags: \[remove-cell, course-setup\]\n.*?```",
            text,
            re.DOTALL,
        )
        assert setup is not None and setup.start() > title.end(), page.name
        return text[: title.start()] + setup.group(0)

    assert opening(BACKPROP) == opening(TRAINING)
