"""Grades in the CSV shapes learning management systems import, mapped through a roster.

The roster (``grading/roster.csv``) maps the course's student ids, the folder names in
``submitted/``, to the LMS's::

    student,lms_id,name,email,section
    ada,S1001,Ada Lovelace,ada@example.edu,A

``student`` and ``lms_id`` are required (``lms_id``: Canvas's SIS User ID, Moodle's ID
number); ``name``, ``email``, ``section``, ``canvas_user_id`` and ``login_id`` are optional.

Three shapes, each from the rows of :func:`grader.report.grade_table`:

- ``canvas``: Canvas's gradebook import: ``Student,ID,SIS User ID,SIS Login ID,Section``,
  one column per assignment named ``name (canvas_id)``, and the ``Points Possible`` row.
- ``moodle``: Moodle's CSV grade import: ``ID number,Email address,Full name``, then one
  column per grade item (map ``ID number`` or ``Email address`` to the user when importing).
- ``generic``: one row per student × assignment, with the raw score, the late penalty and
  the final score.

Both LMS shapes hold the final score (after the late penalty). A roster student with no
submission gets a blank cell, never a zero: missing work may be excused or handed in some
other way, so the instructor decides (Moodle skips empty cells; Canvas lists every change
on its import review page before saving). A graded student missing from the roster cannot
be mapped and is left out of them. :func:`roster_lines` names both kinds, and ``generic``
keeps them with a flag.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("canvas", "moodle", "generic")
REQUIRED = ("student", "lms_id")

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_FIXED = ["ID number", "Email address", "Full name"]
GENERIC_FIELDS = [
    "student",
    "lms_id",
    "assignment",
    "score",
    "max_score",
    "late_penalty",
    "final_score",
    "submitted_at",
    "due",
    "extension",
    "flags",
]


class RosterError(ValueError):
    """A roster file that cannot be used (the message names the file and line)."""


@dataclass(frozen=True)
class Student:
    """One roster line: the course's id and the LMS's ids and name."""

    student: str
    lms_id: str
    name: str = ""
    email: str = ""
    section: str = ""
    canvas_user_id: str = ""
    login_id: str = ""


def load_roster(path: Path) -> dict[str, Student]:
    """Read a roster CSV into {course student id: Student}, refusing gaps and duplicates."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise RosterError(
                f"{path} line 1: the header lacks {', '.join(missing)} "
                f"(it needs at least {','.join(REQUIRED)})."
            )
        reader.fieldnames = header
        roster: dict[str, Student] = {}
        lines: dict[str, int] = {}
        owners: dict[str, str] = {}
        for row in reader:
            line = reader.line_num
            values = {k: (v or "").strip() for k, v in row.items() if k in Student.__annotations__}
            student, lms_id = values["student"], values["lms_id"]
            if not student or not lms_id:
                raise RosterError(f"{path} line {line}: student and lms_id must both be filled in.")
            if student in roster:
                raise RosterError(
                    f"{path} line {line}: student {student!r} is already on line {lines[student]}."
                )
            if lms_id in owners:
                raise RosterError(
                    f"{path} line {line}: lms_id {lms_id!r} is already "
                    f"{owners[lms_id]!r}'s, on line {lines[owners[lms_id]]}."
                )
            roster[student] = Student(**values)
            lines[student], owners[lms_id] = line, student
    return roster


def roster_problems(rows: list[dict], roster: dict[str, Student]) -> tuple[list[str], list[str]]:
    """Return (graded students missing from the roster, roster students with no grade)."""
    graded = {str(r["student"]) for r in rows}
    return sorted(graded - set(roster)), sorted(set(roster) - graded)


def _max_scores(rows: list[dict]) -> dict[str, float]:
    """Return {assignment: its max score}, in assignment order."""
    found: dict[str, float] = {}
    for row in sorted(rows, key=lambda r: str(r["assignment"])):
        name = str(row["assignment"])
        found[name] = max(found.get(name, 0.0), float(row["max_score"]))
    return found


def _finals(rows: list[dict]) -> dict[tuple[str, str], str]:
    """Return {(student, assignment): final score as text}."""
    return {(str(r["student"]), str(r["assignment"])): f"{float(r['final_score']):g}" for r in rows}


def canvas_table(
    rows: list[dict], roster: dict[str, Student], canvas_ids: dict[str, str]
) -> list[list[str]]:
    """Return Canvas's gradebook import: the header, Points Possible, a row per student."""
    maxima = _max_scores(rows)
    finals = _finals(rows)
    columns = [f"{a} ({canvas_ids[a]})" if a in canvas_ids else a for a in maxima]
    table = [CANVAS_FIXED + columns]
    # Canvas's own export writes the row this way; its importer reads the maxima from it.
    table.append(["    Points Possible", "", "", "", ""] + [f"{m:g}" for m in maxima.values()])
    for s in roster.values():
        fixed = [s.name or s.student, s.canvas_user_id, s.lms_id, s.login_id, s.section]
        table.append(fixed + [finals.get((s.student, a), "") for a in maxima])
    return table


def moodle_table(rows: list[dict], roster: dict[str, Student]) -> list[list[str]]:
    """Return Moodle's CSV grade import: identifier columns, then one column per item."""
    maxima = _max_scores(rows)
    finals = _finals(rows)
    table = [MOODLE_FIXED + list(maxima)]
    for s in roster.values():
        fixed = [s.lms_id, s.email, s.name or s.student]
        table.append(fixed + [finals.get((s.student, a), "") for a in maxima])
    return table


def generic_table(rows: list[dict], roster: dict[str, Student] | None) -> list[list[str]]:
    """Return the long table: a row per graded student × assignment, and per gap."""
    table = [list(GENERIC_FIELDS)]
    for r in sorted(rows, key=lambda r: (str(r["student"]), str(r["assignment"]))):
        student = str(r["student"])
        entry = roster.get(student) if roster is not None else None
        flags = [f for f in str(r.get("flagged", "")).split("; ") if f]
        if roster is not None and entry is None:
            flags.insert(0, "not in roster")
        if r.get("late"):
            flags.insert(0, f"late {r['late']}")
        if r.get("changed_outside_grading"):
            flags.append("changed outside grading")
        table.append(
            [
                student,
                entry.lms_id if entry else "",
                str(r["assignment"]),
                f"{float(r['score']):g}",
                f"{float(r['max_score']):g}",
                f"{float(r['late_penalty']):g}",
                f"{float(r['final_score']):g}",
                str(r["submitted_at"]),
                str(r["due"]),
                str(r["extension"]),
                "; ".join(flags),
            ]
        )
    graded = {(str(r["student"]), str(r["assignment"])) for r in rows}
    for s in (roster or {}).values():
        for assignment, max_score in _max_scores(rows).items():
            if (s.student, assignment) not in graded:
                gap = [s.student, s.lms_id, assignment, "", f"{max_score:g}", "", ""]
                table.append(gap + ["", "", "", "no submission"])
    return table


def write_table(table: Iterable[list[str]], path: Path) -> None:
    """Write a table as CSV (UTF-8, the comma dialect every LMS reads)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(table)


def export(
    fmt: str,
    rows: list[dict],
    roster: dict[str, Student] | None,
    canvas_ids: dict[str, str],
    path: Path,
) -> None:
    """Write ``rows`` in the shape ``fmt`` to ``path`` (canvas and moodle need a roster)."""
    if fmt == "generic":
        table = generic_table(rows, roster)
    elif roster is None:
        raise RosterError(f"the {fmt} export needs a roster to map students to {fmt} ids.")
    elif fmt == "canvas":
        table = canvas_table(rows, roster, canvas_ids)
    else:
        table = moodle_table(rows, roster)
    write_table(table, path)


def roster_lines(rows: list[dict], roster: dict[str, Student] | None, path: Path) -> list[str]:
    """Return what ``grades`` says about the roster and late work (nothing if all is well)."""
    lines = []
    if roster is not None:
        unknown, absent = roster_problems(rows, roster)
        if unknown:
            lines.append(
                f"not in the roster {path}: {', '.join(unknown)} "
                "(left out of the canvas and moodle files: add them to the roster)"
            )
        if absent:
            lines.append(
                f"on the roster but never graded: {', '.join(absent)} "
                "(their canvas and moodle cells are blank, which leaves the LMS grade as it is)"
            )
    late = [r for r in rows if r.get("late")]
    if late:
        lines.append(f"{len(late)} late submissions, penalised in final_score (see `status`)")
    return lines
