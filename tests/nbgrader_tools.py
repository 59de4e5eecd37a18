"""Tools for testing a graded notebook the way nbgrader will grade it.

The round trip every assignment's test runs: copy the course's nbgrader setup into a
temporary folder, generate the student version, hand in a set of fake students
(the solution, the untouched student version, and one plausible wrong answer per
:class:`Mutation`), autograde them all in ONE nbgrader process (kernel start-ups dominate
the time), then read every graded cell's score from the gradebook.

Also here: static checks of a notebook's nbgrader metadata and test cells, used by the
fast hygiene tests.
"""

from __future__ import annotations

import ast
import copy
import filecmp
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"

SOLUTION_STUDENT = "solution"
BLANK_STUDENT = "blank"


@dataclass(frozen=True)
class Mutation:
    """A plausible wrong answer: one solution cell's source replaced by ``source``.

    ``loses`` names the graded test cells that must score 0 with it; every other graded
    cell must keep its full points. ``reason``, if given, must appear in the error message
    of each cell it loses (so a test fails for the intended reason, not by accident).
    """

    name: str
    cell: str
    source: str
    loses: frozenset[str]
    reason: str = ""

    @property
    def student(self) -> str:
        # nbgrader student ids become folder names: letters, digits and dashes only.
        return "mut-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:48]


# --- reading notebooks --------------------------------------------------------------------


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


def _run_module(course: Path, module: str, args: Sequence[str], timeout: float):
    # nbgrader runs the `alembic` command of its own environment to set up the gradebook.
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1", MPLBACKEND="Agg")
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def course_cli(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the instructor's command ``python -m grader ARGS`` in ``course``."""
    return _run_module(course, "grader", args, timeout)


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
