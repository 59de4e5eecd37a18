"""Chapter 6 is three pages: gradients (06_backprop), training in practice in NumPy
(06_training) and training with PyTorch (06_pytorch).

Fast checks of the MyST sources: the labels other chapters link to exist, each once, right
above a heading, on the page that teaches them; neighbouring pages link each other and follow
each other in the reading order, before the chapter's assignment; every glued number the prose
shows is glued on the same page; the NumPy page uses no PyTorch (it comes on the next page);
and all three pages start with the same generated setup cell.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BACKPROP = ROOT / "book" / "06_backprop.md"
TRAINING = ROOT / "book" / "06_training.md"
PYTORCH = ROOT / "book" / "06_pytorch.md"
PAGES = (BACKPROP, TRAINING, PYTORCH)

# Chapter 7 and assignment 07 link to these: renaming one breaks their links. Each page holds
# the labels of what it teaches: the NumPy page weight decay and the schedules, the PyTorch
# page PyTorch itself and the tools it provides ready-made.
LABEL_PAGE = {
    "weight-decay": TRAINING,
    "one-cycle": TRAINING,
    "pytorch-basics": PYTORCH,
    "dropout": PYTORCH,
    "batch-norm": PYTORCH,
    "adamw": PYTORCH,
    "label-smoothing": PYTORCH,
}

CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.DOTALL)


def _code_and_prose(text: str) -> tuple[str, str]:
    return "\n".join(CODE_CELL.findall(text)), CODE_CELL.sub("", text)


@pytest.mark.parametrize("label", sorted(LABEL_PAGE))
def test_each_label_stands_once_above_a_heading_on_its_page(label: str) -> None:
    page = LABEL_PAGE[label]
    text = page.read_text()
    found = re.findall(rf"^\({re.escape(label)}\)=\n(#+ .+)$", text, re.MULTILINE)
    assert len(found) == 1, f"({label})= must stand once, right above a heading, in {page.name}"
    elsewhere = [
        p.name for p in ROOT.glob("book/*.md") if p != page and f"({label})=" in p.read_text()
    ]
    assert not elsewhere, f"({label})= is also defined in {elsewhere}: a label must be unique"


def test_neighbouring_pages_link_each_other_and_follow_each_other_in_the_toc() -> None:
    for before, after in pairwise(PAGES):
        assert f"{{doc}}`{after.stem}`" in before.read_text(), f"{before.name} -> {after.name}"
        assert f"{{doc}}`{before.stem}`" in after.read_text(), f"{after.name} -> {before.name}"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    order = []
    for part in toc["parts"]:
        for chapter in part.get("chapters", []):
            order.append(chapter["file"])
            order.extend(section["file"] for section in chapter.get("sections", []))
    at = order.index("book/06_backprop")
    assert order[at : at + 4] == [
        "book/06_backprop",
        "book/06_training",
        "book/06_pytorch",
        "exercises/06_backprop/06_backprop",
    ]


def test_the_numpy_page_uses_no_pytorch() -> None:
    code, _ = _code_and_prose(TRAINING.read_text())
    assert not re.search(r"\btorch\b", code), "06_training runs PyTorch: that is 06_pytorch's job"


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


def test_the_pages_open_with_the_same_front_matter_and_setup_cell() -> None:
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

    assert opening(BACKPROP) == opening(TRAINING) == opening(PYTORCH)
