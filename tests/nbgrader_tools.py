"""Tools for testing a graded notebook the way nbgrader will grade it.

Each assignment describes itself once, as an :class:`Assignment` (its parts, the rules its
hidden tests follow, what its student version must not leak, and its table of plausible wrong
answers, each a :class:`Mutation`); tests/assignments/test_every_assignment.py runs the same
checks on all of them.

The round trip: copy the course's nbgrader setup into a temporary folder, generate the student
version, hand in a set of fake students (the solution, the untouched student version, and one
submission per mutation), autograde them all in ONE nbgrader process (kernel start-ups
dominate the time), then read every graded cell's score from the gradebook.

Also here: static checks of a notebook's nbgrader metadata and test cells, used by the fast
hygiene tests, and ``course_cli`` for the tests of the instructor's own command.
"""

from __future__ import annotations

import ast
import copy
import filecmp
import functools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

import nbformat

ROOT = Path(__file__).resolve().parents[1]

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"

SOLUTION_STUDENT = "solution"
BLANK_STUDENT = "blank"

# nbgrader's markers: none may survive into any student version, whatever the assignment.
MARKER_LEAKS = ("BEGIN HIDDEN", "END HIDDEN", "BEGIN SOLUTION", "END SOLUTION")

# solution cell -> its graded test cells, the visible one first, then the hidden ones.
Parts = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Mutation:
    """A plausible wrong answer: one solution cell's source replaced by ``source``.

    ``loses`` names the graded test cells that must score 0 with it; every other graded
    cell must keep its full points. ``reason``, if given, must appear in the error message
    of each cell it loses (so a test fails for the intended reason, not by accident).
    ``files``, if given, tells the assignment's hand-in fixture to put wrong files beside
    the notebook (the notebook may then be the solution's, unchanged).
    """

    name: str
    cell: str
    source: str
    loses: frozenset[str]
    reason: str = ""
    files: str = ""

    @property
    def student(self) -> str:
        # nbgrader student ids become folder names: letters, digits and dashes only.
        return "mut-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:48]


class Need(NamedTuple):
    """A rule for hidden test cells: why a cell breaks it, and the patterns that decide it."""

    why: str
    any_of: tuple[str, ...]


def need(why: str, *any_of: str) -> Need:
    return Need(why, any_of)


# Rules most assignments' hidden tests share.
PRIVATE_COPIES = need("does not call on private copies", "call_student(")
FRESH_INPUTS = need("uses no fresh random inputs", "default_rng(")
NO_HELPERS_OPS = need("relies on a helper a student could patch", r"helpers\.ops")
INLINE_REFERENCES = need(
    "computes its references with the course's reference ops",
    r"\bops\.|import ops|helpers\.ops import",
)


@dataclass(frozen=True, eq=False)
class HiddenRules:
    """What the hidden test cells of an assignment must hold, and must not.

    A cell must contain one of the strings of each ``require`` need (its ``own`` needs instead
    where it has some), and must match no regular expression of a ``refuse`` need. ``skip``
    names the cells no such rule fits (one that calls no student code has nothing to guard).
    """

    require: tuple[Need, ...]
    refuse: tuple[Need, ...] = ()
    own: Mapping[str, tuple[Need, ...]] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()

    def problems(self, nb: nbformat.NotebookNode, cells: Iterable[str]) -> list[str]:
        found = []
        for grade_id in cells:
            if grade_id in self.skip:
                continue
            source = cell_by_id(nb, grade_id).source
            for why, options in self.own.get(grade_id, self.require):
                if not any(option in source for option in options):
                    found.append(f"{grade_id} {why} (it holds none of {options})")
            for why, patterns in self.refuse:
                if any(re.search(pattern, source) for pattern in patterns):
                    found.append(f"{grade_id} {why}")
        return found


def reference_modules_and(*modules: str) -> HiddenRules:
    """Rules for hidden tests that forbid REFERENCE_MODULES and ``modules`` to every call.

    Their references are computed inline, never by the course's reference ops.
    """
    return HiddenRules(
        require=(
            need("has no guard", "REFERENCE_MODULES"),
            need("has no guard", "forbid="),
            *(need(f"does not switch off {module}", f'"{module}"') for module in modules),
            PRIVATE_COPIES,
            FRESH_INPUTS,
        ),
        refuse=(INLINE_REFERENCES,),
    )


# The rules of the assignments whose hidden tests build one FORBID tuple for all their calls.
FORBID_TUPLE_RULES = HiddenRules(
    require=(
        need("does not switch off the course helpers and PyTorch", "FORBID = ("),
        need("does not switch off the course helpers and PyTorch", "*REFERENCE_MODULES,"),
        need("does not pass the guard to its calls", "forbid=FORBID"),
        PRIVATE_COPIES,
        FRESH_INPUTS,
    ),
    refuse=(NO_HELPERS_OPS,),
)


# How an assignment's text announces the points; each returns the mismatches it finds.
PointsCheck = Callable[[nbformat.NotebookNode, Parts], list[str]]


@dataclass(frozen=True, eq=False)
class Assignment:
    """Everything the shared tests need to know about one assignment.

    ``hand_in`` names a fixture whose value (a :class:`HandIn`) puts files beside each fake
    student's notebook; ``seconds_per_submission`` caps the mean autograde time of one.
    """

    name: str
    parts: Parts
    mutations: tuple[Mutation, ...]
    hidden_rules: HiddenRules
    leaks: tuple[str, ...] = ()
    points_shown: PointsCheck | None = None
    release_keeps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hand_in: str = ""
    seconds_per_submission: float | None = None

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def source(self) -> Path:
        return ROOT / "solutions" / self.name / self.notebook

    @property
    def release(self) -> Path:
        return ROOT / "exercises" / self.name / self.notebook

    @property
    def test_cells(self) -> list[str]:
        return [gid for tests in self.parts.values() for gid in tests]

    @property
    def hidden_cells(self) -> list[str]:
        return [gid for tests in self.parts.values() for gid in tests[1:]]

    @property
    def students(self) -> list[str]:
        return [SOLUTION_STUDENT, BLANK_STUDENT] + [m.student for m in self.mutations]


# --- writing an assignment's mutation table -------------------------------------------------


def define(signature: str, body: str) -> str:
    """Return ``def signature:`` with ``body`` (written flush left) indented under it."""
    return f"def {signature}:\n" + "".join(
        f"    {line}\n" if line else "\n" for line in body.strip("\n").splitlines()
    )


def standard_parts(*names: str) -> dict[str, tuple[str, str]]:
    """Return {NAME_solution: (NAME_tests, NAME_hidden_tests)}, the course's usual grade_ids."""
    return {f"{n}_solution": (f"{n}_tests", f"{n}_hidden_tests") for n in names}


def cells_testing(parts: Parts, *cells: str, hidden_only: bool = False) -> frozenset[str]:
    """Return the test cells of the solution ``cells`` (only the hidden ones if asked)."""
    return frozenset(gid for cell in cells for gid in parts[cell][1 if hidden_only else 0 :])


def mutation(
    parts: Parts,
    name: str,
    cell: str,
    source: str,
    *,
    hidden_only: bool = False,
    reason: str = "",
    also: frozenset[str] = frozenset(),
) -> Mutation:
    """A wrong ``cell`` that loses its part's tests (hidden only, if asked) and ``also``."""
    loses = cells_testing(parts, cell, hidden_only=hidden_only) | also
    return Mutation(name, cell, source, loses, reason)


def solution_sources(assignment: str) -> dict[str, str]:
    """Return {grade_id: source} of the cells students write in the instructor notebook."""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {gid: cell_by_id(nb, gid).source for gid in solution_cells(nb)}


def edit(sources: Mapping[str, str], cell: str, *changes: tuple[str, str]) -> str:
    """Return the solution of ``cell`` with each ``(old, new)`` applied in turn.

    Each ``old`` must occur exactly once: when the solution changes, the mutation fails
    loudly instead of quietly becoming another mistake, or none.
    """
    source = sources[cell]
    for old, new in changes:
        if source.count(old) != 1:
            raise AssertionError(
                f"mutation target {old!r} is not in {cell} exactly once: update the mutation"
            )
        source = source.replace(old, new)
    return source


# --- reading notebooks --------------------------------------------------------------------


@functools.cache
def load_notebook(path: Path) -> nbformat.NotebookNode:
    """Read ``path`` once per session; callers must not change what they get."""
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def graded_cells(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Return {grade_id: points} of the graded (test) cells, in notebook order."""
    return {
        nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points", 0))
        for c in nb.cells
        if nbgrader_meta(c).get("grade")
    }


def solution_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Return the grade_ids of the cells students write (autograded answers)."""
    return [
        nbgrader_meta(c)["grade_id"]
        for c in nb.cells
        if nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")
    ]


def cell_by_id(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    matches = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id]
    if len(matches) != 1:
        raise KeyError(f"expected one cell with grade_id {grade_id!r}, found {len(matches)}")
    return matches[0]


def with_cell_source(
    nb: nbformat.NotebookNode, grade_id: str, source: str
) -> nbformat.NotebookNode:
    """Return a copy of ``nb`` whose cell ``grade_id`` holds ``source``."""
    new = copy.deepcopy(nb)
    cell_by_id(new, grade_id).source = source
    return new


def ends_in_assert(source: str) -> bool:
    """Return True if the last statement of ``source`` is an assert.

    A ``with`` block counts by its own last statement: the test cells wrap their body in
    ``warnings.catch_warnings()``.
    """
    body = ast.parse(source).body
    while body:
        last = body[-1]
        if isinstance(last, ast.Assert):
            return True
        if isinstance(last, ast.With):
            body = last.body
            continue
        return False
    return False


def silences_warnings(source: str) -> bool:
    """Return True if the cell runs its checks under warnings.catch_warnings() + ignore."""
    return "warnings.catch_warnings()" in source and 'warnings.simplefilter("ignore")' in source


# --- how the points are announced (Assignment.points_shown) --------------------------------


def points_in_hidden_cells(nb: nbformat.NotebookNode, parts: Parts) -> list[str]:
    """Each hidden cell's comment (and its part's text) says "(N points)"."""
    points = graded_cells(nb)
    return [
        f"{hidden} does not announce its {points[hidden]:g} points"
        for tests in parts.values()
        for hidden in tests[1:]
        if f"({points[hidden]:g} points)" not in cell_by_id(nb, hidden).source
    ]


def points_table_in_intro(nb: nbformat.NotebookNode, parts: Parts) -> list[str]:
    """The introduction's table has a row "| visible | hidden | total |" per part."""
    points = graded_cells(nb)
    intro = cell_by_id(nb, "intro").source
    problems = []
    for visible, *hidden in parts.values():
        shown, kept = points[visible], sum(points[gid] for gid in hidden)
        row = f"| {shown:g} | {kept:g} | {shown + kept:g} |"
        if row not in intro:
            problems.append(f"the introduction's points table lacks {row}")
    return problems


def points_totals_in_intro(nb: nbformat.NotebookNode, parts: Parts) -> list[str]:
    """The introduction gives the visible and the hidden total in bold."""
    points = graded_cells(nb)
    visible = sum(points[tests[0]] for tests in parts.values())
    hidden = sum(points.values()) - visible
    intro = cell_by_id(nb, "intro").source
    return [
        f"the introduction does not give the {kind} total **{total:g}**"
        for kind, total in (("visible", visible), ("hidden", hidden))
        if f"**{total:g}**" not in intro
    ]


# --- the nbgrader round trip ----------------------------------------------------------------


def make_course(repo: Path, dest: Path, assignments: Iterable[str]) -> Path:
    """Copy the nbgrader config and the instructor notebooks of ``assignments`` to ``dest``.

    The course's ``helpers`` package is found through the editable install, so it is
    not copied.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo / "nbgrader_config.py", dest / "nbgrader_config.py")
    for name in assignments:
        shutil.copytree(repo / "solutions" / name, dest / "solutions" / name)
    return dest


def _run_module(
    course: Path, module: str, args: Sequence[str], timeout: float, *, pythonpath: str = ""
):
    # nbgrader runs the `alembic` command of its own environment to set up the gradebook.
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1", MPLBACKEND="Agg")
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def course_cli(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the instructor's command ``python -m grader ARGS`` in ``course``.

    The grader is never installed (the wheel holds ``helpers`` only): a course outside the
    checkout finds it on PYTHONPATH, as an instructor's does.
    """
    return _run_module(course, "grader", args, timeout, pythonpath=str(ROOT))


def nbgrader(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course`` (nbgrader reads its config from the cwd)."""
    proc = _run_module(course, "nbgrader", args, timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr)[-6000:]}"
        )
    return proc


def generate(course: Path, assignment: str) -> Path:
    """Generate the student version (registering the assignment in the course's gradebook)."""
    nbgrader(course, "generate_assignment", assignment, "--force")
    return course / "exercises" / assignment


def different_files(generated: Path, committed: Path) -> list[str]:
    """List the files that differ between two release folders (missing ones included)."""
    names = {p.relative_to(generated) for p in generated.rglob("*") if p.is_file()}
    names |= {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()}
    names = {n for n in names if ".ipynb_checkpoints" not in n.parts}
    problems = []
    for name in sorted(names):
        a, b = generated / name, committed / name
        if not a.is_file() or not b.is_file() or not filecmp.cmp(a, b, shallow=False):
            problems.append(str(name))
    return problems


def submit(
    course: Path, assignment: str, student: str, nb: nbformat.NotebookNode, filename: str
) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / filename)


def autograde(course: Path, assignment: str, *, timeout: float = 900) -> str:
    """Autograde every submission of ``assignment`` in one process; return nbgrader's log."""
    proc = nbgrader(course, "autograde", assignment, "--create", "--force", timeout=timeout)
    return proc.stdout + proc.stderr


def scores(
    course: Path, assignment: str, notebook: str, students: Iterable[str]
) -> dict[str, dict[str, tuple[float, float]]]:
    """Read {student: {grade_id: (score, max_score)}} from the course's gradebook."""
    from nbgrader.api import Gradebook

    result: dict[str, dict[str, tuple[float, float]]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in students:
            sub = gb.find_submission_notebook(notebook, assignment, student)
            result[student] = {g.name: (float(g.score), float(g.max_score)) for g in sub.grades}
    return result


def failure_messages(course: Path, assignment: str, student: str, filename: str) -> dict[str, str]:
    """Return {grade_id: "Error: message"} for the graded cells that failed at autograding."""
    nb = nbformat.read(course / "autograded" / student / assignment / filename, as_version=4)
    messages = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("grade") or cell.cell_type != "code":
            continue
        for out in cell.outputs:
            if out.get("output_type") == "error":
                messages[meta["grade_id"]] = f"{out.get('ename')}: {out.get('evalue')}"
                break
    return messages


class HandIn(Protocol):
    """Files an assignment needs beside each submitted notebook (a fixture's value)."""

    @property
    def note(self) -> str:
        """A line for the mutation report on how the files were made."""
        ...

    def hand_in(self, folder: Path, files: str) -> None:
        """Put the files into ``folder``: the good ones, or the wrong ``files`` of a Mutation."""
        ...


@dataclass(frozen=True)
class Graded:
    """The gradebook's scores and the failure messages of one round trip's fake students."""

    table: dict[str, dict[str, tuple[float, float]]]
    messages: dict[str, dict[str, str]]
    seconds: float


def grade_fake_students(
    course: Path, assignment: Assignment, files: HandIn | None = None
) -> Graded:
    """Hand in the solution, the student version and every mutation; autograde them at once.

    ``course`` must hold the generated student version (see :func:`generate`).
    """
    name, notebook = assignment.name, assignment.notebook
    source = nbformat.read(course / "solutions" / name / notebook, as_version=4)
    blank = nbformat.read(course / "exercises" / name / notebook, as_version=4)
    submissions = [(SOLUTION_STUDENT, source, ""), (BLANK_STUDENT, blank, "")]
    for m in assignment.mutations:
        submissions.append((m.student, with_cell_source(source, m.cell, m.source), m.files))
    for student, nb, wrong_files in submissions:
        submit(course, name, student, nb, notebook)
        if files is not None:
            files.hand_in(course / "submitted" / student / name, wrong_files)

    start = time.perf_counter()
    autograde(course, name)
    seconds = time.perf_counter() - start
    table = scores(course, name, name, assignment.students)
    messages = {
        m.student: failure_messages(course, name, m.student, notebook) for m in assignment.mutations
    }
    return Graded(table, messages, seconds)


def mutation_problems(
    mutations: Sequence[Mutation],
    table: dict[str, dict[str, tuple[float, float]]],
    messages: dict[str, dict[str, str]],
) -> list[str]:
    """Compare each mutant's scores and messages with its Mutation; return the mismatches."""
    problems = []
    for m in mutations:
        for grade_id, (score, max_score) in table[m.student].items():
            if grade_id in m.loses and score != 0:
                problems.append(f"{m.name}: {grade_id} kept {score:g}/{max_score:g}")
            if grade_id not in m.loses and score != max_score:
                problems.append(f"{m.name}: {grade_id} lost points ({score:g}/{max_score:g})")
            message = messages[m.student].get(grade_id, "")
            if grade_id in m.loses and m.reason and m.reason not in message:
                problems.append(f"{m.name}: {grade_id} failed for another reason: {message}")
    return problems


def format_mutation_table(
    mutations: Sequence[Mutation],
    table: dict[str, dict[str, tuple[float, float]]],
    messages: dict[str, dict[str, str]],
    *,
    width: int = 110,
) -> str:
    """Render "mutation -> cell -> points lost -> first message" as a Markdown table."""
    rows = [
        "| mutation (plausible wrong answer) | cell changed | test cells that lost points "
        "| points lost | score | first failure message |",
        "|---|---|---|---|---|---|",
    ]
    for m in mutations:
        grades = table[m.student]
        lost = {gid: mx - sc for gid, (sc, mx) in grades.items() if sc < mx}
        total = sum(sc for sc, _ in grades.values())
        cells = ", ".join(f"{gid} (-{pts:g})" for gid, pts in lost.items()) or "none"
        first = next(iter(messages[m.student].values()), "")
        first = first if len(first) <= width else first[: width - 3] + "..."
        first = first.replace("|", "\\|")
        rows.append(
            f"| {m.name} | {m.cell} | {cells} | {sum(lost.values()):g} | {total:g}/"
            f"{sum(mx for _, mx in grades.values()):g} | {first} |"
        )
    return "\n".join(rows)


def mutation_report(assignment: Assignment, graded: Graded, note: str = "") -> str:
    """The mutation table, then how long autograding took (and ``note``, if any)."""
    count = len(assignment.students)
    lines = [
        format_mutation_table(assignment.mutations, graded.table, graded.messages),
        "",
        *([note] if note else []),
        f"Autograded {count} submissions in one nbgrader run: {graded.seconds:.1f} s on "
        f"{os.cpu_count()} cores ({graded.seconds / count:.1f} s per submission).",
    ]
    return "\n".join(lines) + "\n"


def write_report(assignment: str, report: str) -> Path:
    """Write ``report`` to _build/mutations-ASSIGNMENT.md, where the course keeps it."""
    out = ROOT / "_build" / f"mutations-{assignment}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    return out
