"""What every graded assignment must satisfy, checked on each of them.

Each ``cases_NN_name.py`` of this folder describes one assignment (an
:class:`nbgrader_tools.Assignment`): its parts, the rules of its hidden tests, what its student
version must not leak, and its table of plausible wrong answers. The fast tests check the
instructor notebook and the committed student version; the slow ones run nbgrader: a fresh
release must equal exercises/ byte for byte, and one autograde run must give the solution
full marks, the untouched student version 0 (without crashing), and every wrong answer 0 on
exactly the test cells it names. The mutation table is printed and written to
_build/mutations-NN_name.md. Checks that only one assignment needs are in test_NN_name.py.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbgrader_tools import (
    BLANK_STUDENT,
    HIDDEN_BEGIN,
    HIDDEN_END,
    MARKER_LEAKS,
    ROOT,
    SOLUTION_BEGIN,
    SOLUTION_STUDENT,
    Assignment,
    HandIn,
    cell_by_id,
    different_files,
    ends_in_assert,
    generate,
    grade_fake_students,
    graded_cells,
    load_notebook,
    make_course,
    mutation_problems,
    mutation_report,
    nbgrader_meta,
    silences_warnings,
    solution_cells,
    write_report,
)


def _load(path: Path) -> Assignment | Exception:
    try:
        return importlib.import_module(f"assignments.{path.stem}").ASSIGNMENT
    except Exception as error:  # a broken table must not stop the other assignments' tests
        return error


CASE_FILES = sorted(Path(__file__).parent.glob("cases_*.py"))
CASES = {p.stem.removeprefix("cases_"): _load(p) for p in CASE_FILES}
each_assignment = pytest.mark.parametrize("a", list(CASES.values()), ids=list(CASES), indirect=True)


@pytest.fixture
def a(request: pytest.FixtureRequest) -> Assignment:
    """The assignment a test is run on (its test fails if its cases module does not load)."""
    if isinstance(request.param, Exception):
        pytest.fail(f"cases_{request.node.callspec.id}.py does not load: {request.param!r}")
    return request.param


def test_every_assignment_has_its_cases() -> None:
    solutions = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    assert len(solutions) >= 7, solutions
    assert list(CASES) == solutions
    for name, case in CASES.items():
        assert isinstance(case, Assignment) and case.name == name, f"cases_{name}.py: {case!r}"


# --- the instructor notebook (fast) ---------------------------------------------------------


@each_assignment
def test_source_notebook_is_clean(a: Assignment) -> None:
    nb = load_notebook(a.source)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "stored outputs"
    ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "duplicated grade_id: nbgrader aborts the whole batch"
    cell_ids = [c.get("id") for c in nb.cells]
    assert all(cell_ids) and len(cell_ids) == len(set(cell_ids)), "missing or repeated cell id"
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        # A student who could edit a test cell could edit away its asserts.
        if meta.get("grade"):
            assert meta.get("locked") and not meta.get("solution"), meta["grade_id"]
        if meta.get("solution") and not meta.get("grade"):
            assert not meta.get("locked"), f"{meta['grade_id']} is locked but students write it"


@each_assignment
def test_every_test_cell_ends_in_assert_and_silences_warnings(a: Assignment) -> None:
    nb = load_notebook(a.source)
    for grade_id in graded_cells(nb):
        source = cell_by_id(nb, grade_id).source
        assert ends_in_assert(source), f"{grade_id} does not end in an assert"
        assert silences_warnings(source), f"{grade_id} lets warnings reach stderr"


@each_assignment
def test_points_sum_to_100_and_every_part_has_visible_and_hidden_tests(a: Assignment) -> None:
    nb = load_notebook(a.source)
    points = graded_cells(nb)
    assert sum(points.values()) == 100
    assert solution_cells(nb) == list(a.parts)
    assert list(points) == a.test_cells
    for visible, *hidden in a.parts.values():
        assert hidden, f"{visible} has no hidden tests"
        assert HIDDEN_BEGIN not in cell_by_id(nb, visible).source
        for grade_id in hidden:
            assert HIDDEN_BEGIN in cell_by_id(nb, grade_id).source
            assert HIDDEN_END in cell_by_id(nb, grade_id).source
    problems = a.points_shown(nb, a.parts) if a.points_shown else []
    assert not problems, "\n".join(problems)


@each_assignment
def test_hidden_tests_guard_against_delegation_and_use_fresh_inputs(a: Assignment) -> None:
    rules = a.hidden_rules
    assert set(rules.own) | rules.skip <= set(a.hidden_cells), "rules name unknown cells"
    problems = rules.problems(load_notebook(a.source), a.hidden_cells)
    assert not problems, "\n".join(problems)


# --- the committed student version (fast) ---------------------------------------------------


@each_assignment
def test_solution_cells_have_markers_and_release_has_none(a: Assignment) -> None:
    source_nb, release_nb = load_notebook(a.source), load_notebook(a.release)
    for grade_id in a.parts:
        assert SOLUTION_BEGIN in cell_by_id(source_nb, grade_id).source
        student = cell_by_id(release_nb, grade_id).source
        assert "raise NotImplementedError()" in student and SOLUTION_BEGIN not in student
    release_text = a.release.read_text()
    for leak in MARKER_LEAKS + a.leaks:
        assert leak not in release_text, f"the student version leaks {leak!r}"
    for grade_id, kept in a.release_keeps.items():
        for text in kept:
            assert text in cell_by_id(release_nb, grade_id).source, f"{grade_id} lost {text!r}"
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # The hidden test cells are still there (empty of code), so autograde can put them back.
    for grade_id in a.hidden_cells:
        assert ast.parse(cell_by_id(release_nb, grade_id).source).body == []


# --- the mutation table (fast: its shape; slow: nbgrader's verdict) --------------------------


@each_assignment
def test_mutations_cover_every_graded_cell(a: Assignment) -> None:
    nb = load_notebook(a.source)
    covered = set().union(*(m.loses for m in a.mutations))
    assert covered == set(graded_cells(nb))
    assert {m.cell for m in a.mutations} == set(a.parts)
    assert len({m.student for m in a.mutations}) == len(a.mutations)
    for m in a.mutations:
        ast.parse(m.source)  # a mutation must be wrong, not a syntax error
        changed = m.source != cell_by_id(nb, m.cell).source
        assert changed or m.files, f"{m.name} hands in the solution unchanged"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Return a course in which nbgrader has just released an assignment, made once each."""
    courses: dict[str, Path] = {}

    def course_for(name: str) -> Path:
        if name not in courses:
            course = make_course(ROOT, tmp_path_factory.mktemp(name) / "course", [name])
            generate(course, name)
            courses[name] = course
        return courses[name]

    return course_for


@pytest.mark.slow
@each_assignment
def test_exercises_equal_a_fresh_nbgrader_release(a: Assignment, released) -> None:
    generated = released(a.name) / "exercises" / a.name
    stale = different_files(generated, ROOT / "exercises" / a.name)
    assert not stale, f"exercises/{a.name} is out of date ({stale}): run `make exercises`"


@pytest.mark.slow
@each_assignment
def test_round_trip_and_mutation_table(
    a: Assignment, released, request: pytest.FixtureRequest
) -> None:
    files: HandIn | None = request.getfixturevalue(a.hand_in) if a.hand_in else None
    graded = grade_fake_students(released(a.name), a, files)
    report = mutation_report(a, graded, files.note if files else "")
    write_report(a.name, report)
    print("\n" + report)

    points = graded_cells(load_notebook(a.source))
    assert graded.table[SOLUTION_STUDENT] == {g: (p, p) for g, p in points.items()}
    assert graded.table[BLANK_STUDENT] == {g: (0.0, p) for g, p in points.items()}
    problems = mutation_problems(a.mutations, graded.table, graded.messages)
    assert not problems, "mutations scored unexpectedly:\n" + "\n".join(problems)
    if a.seconds_per_submission:
        per_submission = graded.seconds / len(a.students)
        assert per_submission < a.seconds_per_submission, (
            f"one autograde took {per_submission:.0f} s (limit {a.seconds_per_submission:g} s)"
        )
