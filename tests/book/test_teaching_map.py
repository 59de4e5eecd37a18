"""Grade nothing untaught: the instructors' teaching map covers every graded part.

``book/instructors.md`` has a section labelled ``(teaching-map)=`` with a table, one row per
graded part of every assignment: the assignment, the part, its points and the chapter
sections that teach it (``{doc}`chapter`, *Section heading*``, several separated by ``;``).
This test checks the table against the instructor notebooks in ``solutions/`` (every part
listed once, with the title and the points of its tests) and against the book (every
section is a heading of the chapter named with it, and that chapter comes before the
assignment in ``_toc.yml``'s reading order).

A part is a ``## Part N · Title (P points)`` heading of the notebook; its points are the
nbgrader points of the graded cells under it, up to the next ``##`` heading.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
INSTRUCTORS = BOOK / "instructors.md"
ASSIGNMENTS = sorted(p.parent.name for p in ROOT.glob("solutions/*/*.ipynb"))
PART = re.compile(
    r"^##\s+Part\s+(?P<number>\d+)\s+·\s+(?P<title>.+?)\s+\((?P<points>\d+) points?\)\s*$"
)
TAUGHT = re.compile(r"\{doc\}`(?:[^`<]*<)?(?P<doc>[^`<>]+?)>?`\s*,\s*\*(?P<section>[^*]+)\*")


@dataclass(frozen=True)
class Part:
    """A graded part of an assignment, as the notebook defines it or the table lists it."""

    assignment: str
    number: int
    title: str
    points: int


@dataclass(frozen=True)
class Row:
    """A row of the teaching map: a part and the (chapter, section) pairs that teach it."""

    part: Part
    taught_in: tuple[tuple[str, str], ...]
    line: int


# ------------------------------------------------------------------------------ the notebooks


@dataclass
class _Counted:
    number: int
    title: str
    stated: int
    points: int = 0


def notebook_parts(assignment: str) -> list[Part]:
    """The graded parts of an instructor notebook, with the points of their graded cells."""
    path = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts: list[_Counted] = []
    current: _Counted | None = None
    orphans = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("## "):
                    match = PART.match(line)
                    current = (
                        _Counted(int(match["number"]), match["title"], int(match["points"]))
                        if match
                        else None
                    )
                    if current is not None:
                        parts.append(current)
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if nbgrader.get("grade") and nbgrader.get("points"):
            if current is None:
                orphans.append(index)
            else:
                current.points += int(nbgrader["points"])
    assert not orphans, f"{assignment}: graded cells {orphans} are under no '## Part N' heading"
    for part in parts:
        assert part.points == part.stated, (
            f"{assignment} part {part.number}: the heading says {part.stated} points, "
            f"its graded cells give {part.points}"
        )
    return [Part(assignment, p.number, p.title, p.points) for p in parts]


# ------------------------------------------------------------------------------ the table


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def teaching_map(text: str) -> list[Row]:
    """Parse the table of the ``(teaching-map)=`` section."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "(teaching-map)="), None)
    assert start is not None, "instructors.md has no section labelled (teaching-map)="
    table_start = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    header = [h.lower() for h in _cells(lines[table_start])]
    assert header == ["assignment", "part", "points", "taught in"], header
    rows = []
    assignment = None
    for offset, line in enumerate(lines[table_start + 2 :], start=table_start + 3):
        if not line.startswith("|"):
            break
        first, part, points, taught = _cells(line)
        if first:
            found = re.search(r"exercises/(?P<a>[\w-]+)/", first)
            assert found, f"instructors.md:{offset}: no exercise link in {first!r}"
            assignment = found["a"]
        assert assignment, f"instructors.md:{offset}: a row before any assignment"
        number = re.match(r"^(?P<n>\d+)\s+·\s+(?P<title>.+)$", part)
        assert number, f"instructors.md:{offset}: the part should read 'N · Title': {part!r}"
        pairs = tuple((m["doc"].strip(), m["section"].strip()) for m in TAUGHT.finditer(taught))
        assert pairs, f"instructors.md:{offset}: no {{doc}}`chapter`, *section* in {taught!r}"
        rows.append(
            Row(Part(assignment, int(number["n"]), number["title"], int(points)), pairs, offset)
        )
    return rows


def headings(markdown: str) -> set[str]:
    """The text of every heading of a MyST page, outside code cells and fenced blocks."""
    found = set()
    fence = None
    for line in markdown.splitlines():
        opening = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence:
            if line.strip() and set(line.strip()) == {fence[0]} and len(line.strip()) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        match = re.match(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$", line)
        if match:
            found.add(match["text"])
    return found


def reading_order() -> list[str]:
    """Every file of _toc.yml (without extension), in the order previous/next follows."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    order = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            order.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return order


ROWS = teaching_map(INSTRUCTORS.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ the tests


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_part_is_listed_with_its_points(assignment: str) -> None:
    parts = notebook_parts(assignment)
    assert parts, f"{assignment}: no '## Part N · Title (P points)' heading in the notebook"
    assert sum(p.points for p in parts) == 100, f"{assignment}: the parts do not total 100"
    listed = [row.part for row in ROWS if row.part.assignment == assignment]
    missing = [p for p in parts if p not in listed]
    extra = [p for p in listed if p not in parts]
    assert not missing and not extra, (
        f"the teaching map in instructors.md does not match solutions/{assignment}:\n"
        + "".join(f"  not listed (or listed differently): {p}\n" for p in missing)
        + "".join(f"  listed but not in the notebook: {p}\n" for p in extra)
    )
    assert len(listed) == len(set(listed)), f"{assignment}: a part is listed twice"


def test_every_listed_assignment_exists() -> None:
    assert {row.part.assignment for row in ROWS} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.part.assignment}-part{r.part.number}")
def test_each_part_is_taught_before_it_is_graded(row: Row) -> None:
    order = reading_order()
    exercise = f"exercises/{row.part.assignment}/{row.part.assignment}"
    assert exercise in order, f"{exercise} is not in _toc.yml"
    problems = []
    for doc, section in row.taught_in:
        chapter = BOOK / f"{doc}.md"
        where = f"instructors.md:{row.line}: {doc}, {section!r}"
        if not chapter.is_file():
            problems.append(f"{where}: there is no book/{doc}.md")
            continue
        if section not in headings(chapter.read_text(encoding="utf-8")):
            problems.append(f"{where}: book/{doc}.md has no heading with this text")
        if f"book/{doc}" not in order:
            problems.append(f"{where}: book/{doc} is not in _toc.yml")
        elif order.index(f"book/{doc}") > order.index(exercise):
            problems.append(f"{where}: the chapter comes after the assignment in _toc.yml")
    assert not problems, "\n".join(problems)


def test_the_parser_reads_a_small_table() -> None:
    text = (
        "(teaching-map)=\n## What each graded part builds on\n\n"
        "| assignment | part | points | taught in |\n|---|---|---|---|\n"
        "| {doc}`1 · Pixels <../exercises/01_pixels/01_pixels>` | 1 · Read a file | 15 | "
        "{doc}`01_pixels`, *Reading files*; {doc}`02_convolution`, *Borders: `pad`* |\n"
        "| | 2 · Shapes | 10 | {doc}`01_pixels`, *Shapes and axis conventions* |\n\nAfter.\n"
    )
    rows = teaching_map(text)
    assert [r.part for r in rows] == [
        Part("01_pixels", 1, "Read a file", 15),
        Part("01_pixels", 2, "Shapes", 10),
    ]
    assert rows[0].taught_in == (
        ("01_pixels", "Reading files"),
        ("02_convolution", "Borders: `pad`"),
    )
    assert headings("# A\n```{code-cell}\n# not a heading\n```\n## B `c`\n") == {"A", "B `c`"}
