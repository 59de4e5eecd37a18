"""The Get-started page: where it sits, what it says, and how it uses course.toml's values.

Fast checks on the sources (no book build): the page is the first entry of the navigation,
the intro's first screen links to it, it covers the three ways to run the course and the
one self-check, every ``{{ course.X }}`` value a page quotes exists, and text that only makes
sense with a JupyterHub sits inside ``<!-- if-hub -->`` blocks, which the build drops when
course.toml names no hub.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "book" / "get_started.md"
INTRO = ROOT / "book" / "intro.md"

# The values the website's build fills in (the design, item 5; _ext/course.py).
TOKENS = {"repository", "branch", "site", "hub", "version", "wheel", "wheel_url"}
TOKEN = re.compile(r"\{\{\s*course\.(\w+)\s*\}\}")
OPEN, CLOSE = "<!-- if-hub -->", "<!-- end-if-hub -->"
# Text a student without a course hub must not be shown.
HUB_ONLY = re.compile(r"\{\{\s*course\.hub\s*\}\}|\*?Assignments\*? tab|Nbgrader →")


def _pages_with_tokens() -> list[Path]:
    return sorted(ROOT.glob("book/*.md")) + [ROOT / "README.md"]


def _outside_hub_blocks(text: str) -> str:
    """Return `text` without its if-hub blocks (checked to be well formed first)."""
    kept, inside = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if "if-hub" in line:
            expected = CLOSE if inside else OPEN
            assert line == expected, f"line {number}: expected {expected!r} alone, got {line!r}"
            inside = not inside
        elif not inside:
            kept.append(line)
    assert not inside, f"an {OPEN} block is never closed"
    return "\n".join(kept)


@functools.cache
def _course_ext():
    """Import _ext/course.py, the build's reader of course.toml (not an importable package)."""
    name = "course_ext_for_get_started"
    spec = importlib.util.spec_from_file_location(name, ROOT / "_ext" / "course.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_get_started_is_the_first_page_after_the_intro() -> None:
    assert PAGE.is_file()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["root"] == "book/intro"
    first = toc["parts"][0]
    assert first["chapters"][0]["file"] == "book/get_started", (
        "book/get_started must be the first entry after the root, so every page's navigation "
        f"starts with it; the first part is {first}"
    )


def test_the_intro_links_to_get_started_on_its_first_screen() -> None:
    first_screen = "\n".join(INTRO.read_text().splitlines()[:40])
    assert re.search(r"\{doc\}`(?:[^`<]*<)?get_started>?`", first_screen), (
        "book/intro.md does not link to Get started ({doc}`get_started`) in its first 40 lines"
    )
    assert "make lab" not in INTRO.read_text(), "the intro still sends students to `make lab`"


def test_the_page_covers_three_paths_the_self_check_and_handing_in() -> None:
    text = PAGE.read_text()
    headings = re.findall(r"^##+ (.+)$", text, re.MULTILINE)
    for wanted in ("Colab or Binder", "JupyterHub", "your own computer", "Check your work"):
        assert any(wanted.lower() in h.lower() for h in headings), f"no section on {wanted}"
    assert "Hand it in" in headings and "When something goes wrong" in headings
    # Exercise pages link to this anchor for the one description of the self-check.
    assert re.search(r"^\(check-your-work\)=\n## Check your work$", text, re.MULTILINE)
    outside = _outside_hub_blocks(text)
    for needed in (
        "Windows",
        "macOS",
        "Linux",
        "-m venv .venv",
        "uv venv",
        "Activate.ps1",
        "source .venv/bin/activate",
        '"pixels-to-predictions[lab] @ {{ course.wheel_url }}"',
        '"pixels-to-predictions[lab] @ git+{{ course.repository }}@{{ course.branch }}"',
        "git clone {{ course.repository }}",
        "jupyter lab",
        "python -m helpers.check 01_pixels.ipynb",
        'check_notebook("01_pixels.ipynb")',
        "hidden tests",
        "CNN_COURSE_DATA",
        "data_dir=",
        "Restart session",
    ):
        assert needed in outside, f"Get started (without a hub) does not mention {needed!r}"


def test_the_page_runs_no_code() -> None:
    text = PAGE.read_text()
    # A page with a kernelspec would be executed and given a setup cell like a chapter.
    assert not text.startswith("---"), "Get started must be plain MyST, without front matter"
    assert "{code-cell}" not in text


@pytest.mark.parametrize("page", _pages_with_tokens(), ids=lambda p: p.name)
def test_every_course_value_a_page_quotes_exists(page: Path) -> None:
    used = set(TOKEN.findall(page.read_text()))
    assert used <= TOKENS, f"{page.name} quotes unknown values: {sorted(used - TOKENS)}"


def test_the_known_values_are_the_ones_the_build_fills_in() -> None:
    course = _course_ext().load_course(ROOT)
    assert set(course.tokens()) == TOKENS


@pytest.mark.parametrize("page", _pages_with_tokens(), ids=lambda p: p.name)
def test_hub_only_text_sits_in_if_hub_blocks(page: Path) -> None:
    outside = _outside_hub_blocks(page.read_text())
    if page.name != "instructors.md":  # it tells instructors how to set up a hub
        found = HUB_ONLY.findall(outside)
        assert not found, f"{page.name} shows hub-only text to every course: {found}"
    assert not re.search(r"\{\{\s*course\.hub\s*\}\}", outside)


@pytest.mark.parametrize("hub", ["", "https://hub.uni.test"])
def test_the_page_renders_with_and_without_a_hub(hub: str) -> None:
    ext = _course_ext()
    course = dataclasses.replace(ext.load_course(ROOT), hub_url=hub)
    rendered = ext.render_text(PAGE.read_text(), course)
    assert "{{" not in rendered and "if-hub" not in rendered
    assert course.wheel_url in rendered
    assert ("Assignments" in rendered) == bool(hub)
    if hub:
        assert f"<{hub}>" in rendered
