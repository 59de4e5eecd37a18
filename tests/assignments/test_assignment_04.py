"""nbgrader round trip of assignment 04_pooling, and the hygiene of its notebooks.

The slow test generates the student version in a temporary copy of the course, checks it
equals the committed exercises/, then autogrades in one nbgrader run: the solution
(full marks), the untouched student version (0, no crash) and one or more plausible wrong
answers per graded part, each of which must lose exactly the points of the test cells it
names. The mutation table is printed and written to _build/mutations-04_pooling.md.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader_tools import (
    BLANK_STUDENT,
    HIDDEN_BEGIN,
    HIDDEN_END,
    SOLUTION_BEGIN,
    SOLUTION_STUDENT,
    Mutation,
    autograde,
    cell_by_id,
    different_files,
    failure_messages,
    format_mutation_table,
    generate,
    graded_cells,
    make_course,
    mutation_problems,
    scores,
    solution_cells,
    submit,
    with_cell_source,
)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "04_pooling"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASE = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK

PARTS = {  # solution cell -> (visible tests, hidden tests)
    "output_size_solution": ("output_size_tests", "output_size_hidden_tests"),
    "pool2d_solution": ("pool2d_tests", "pool2d_hidden_tests"),
    "backward_solution": ("backward_tests", "backward_hidden_tests"),
    "shift_solution": ("shift_tests", "shift_hidden_tests"),
    "fraction_solution": ("fraction_tests", "fraction_hidden_tests"),
    "robustness_solution": ("robustness_tests", "robustness_hidden_tests"),
    "darker_solution": ("darker_tests", "darker_hidden_tests"),
}

_SOLUTION_SOURCES = {
    gid: cell_by_id(nbformat.read(SOURCE, as_version=4), gid).source for gid in PARTS
}


def _edit(cell: str, old: str, new: str) -> str:
    """Return the solution of ``cell`` with ``old`` replaced by ``new`` (which must occur)."""
    source = _SOLUTION_SOURCES[cell]
    if old not in source:
        raise AssertionError(f"mutation target {old!r} not found in {cell}: update the mutation")
    return source.replace(old, new)


def _fn(signature: str, body: str) -> str:
    return f"def {signature}:\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())


def _mutation(
    name: str, cell: str, source: str, *, hidden_only: bool = False, reason: str = ""
) -> Mutation:
    visible, hidden = PARTS[cell]
    loses = {hidden} if hidden_only else {visible, hidden}
    return Mutation(name=name, cell=cell, source=source, loses=frozenset(loses), reason=reason)


MUTATIONS = [
    _mutation(
        "pool_output_size forgets the + 1 (26 -> 12)",
        "output_size_solution",
        _edit(
            "output_size_solution", "return (n - size) // stride + 1", "return (n - size) // stride"
        ),
    ),
    _mutation(
        "pool2d averages where it should take the max",
        "pool2d_solution",
        _edit(
            "pool2d_solution",
            'if mode == "max":\n        return windows.max(axis=(4, 5))',
            'if mode == "max":\n        return windows.mean(axis=(4, 5))',
        ),
    ),
    _mutation(
        "pool2d ignores the stride (always 1)",
        "pool2d_solution",
        _edit("pool2d_solution", "windows = windows[:, :, ::stride, ::stride]", "pass"),
    ),
    _mutation(
        "pool2d sum pooling divides by the window size",
        "pool2d_solution",
        _edit(
            "pool2d_solution",
            "return windows.sum(axis=(4, 5))",
            "return windows.sum(axis=(4, 5)) / (size * size)",
        ),
    ),
    _mutation(
        "pool2d hands the work to helpers.ops",
        "pool2d_solution",
        _fn(
            "pool2d(x, *, size, stride, mode='max')",
            """
from helpers import ops

forward = {
    "max": ops.max_pool2d_forward,
    "avg": ops.avg_pool2d_forward,
    "sum": ops.sum_pool2d_forward,
}[mode]
out, _ = forward(x.astype(np.float64), size=size, stride=stride)
return out
""",
        ),
        hidden_only=True,
        reason="called helpers.ops",
    ),
    _mutation(
        "max_pool2d_backward spreads dout evenly (the average-pool gradient)",
        "backward_solution",
        _fn(
            "max_pool2d_backward(dout, x, *, size, stride)",
            """
N, C, H, W = x.shape
OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
if dout.shape != (N, C, OH, OW):
    raise ValueError("dout has the wrong shape")
dx = np.zeros(x.shape)
for i in range(OH):
    for j in range(OW):
        rows = slice(i * stride, i * stride + size)
        cols = slice(j * stride, j * stride + size)
        dx[:, :, rows, cols] += dout[:, :, i : i + 1, j : j + 1] / (size * size)
return dx
""",
        ),
    ),
    _mutation(
        "max_pool2d_backward routes ties to the last maximum",
        "backward_solution",
        _edit(
            "backward_solution",
            "first = windows.argmax(axis=-1)",
            "first = size * size - 1 - windows[..., ::-1].argmax(axis=-1)",
        ),
        reason="tie",
    ),
    _mutation(
        "shift_image wraps around with np.roll",
        "shift_solution",
        _fn("shift_image(img, *, down, right)", "return np.roll(img, (down, right), axis=(0, 1))"),
    ),
    _mutation(
        "unchanged_fraction counts the background cells too",
        "fraction_solution",
        _fn(
            "unchanged_fraction(a, b)",
            """
if a.shape != b.shape or not (a.any() or b.any()):
    raise ValueError("cannot compare these maps")
return float(np.mean(a == b))
""",
        ),
    ),
    _mutation(
        "translation_robustness shifts the pooled map instead of the picture",
        "robustness_solution",
        _fn(
            "translation_robustness(img, *, down, right, size, stride)",
            """
moved = shift_image(img, down=down, right=right)
raw = unchanged_fraction(img, moved)
pooled = pool2d(img[np.newaxis, np.newaxis], size=size, stride=stride, mode="max")[0, 0]
return raw, unchanged_fraction(pooled, shift_image(pooled, down=down, right=right))
""",
        ),
    ),
    _mutation(
        "never_darker compares only the mean brightness",
        "darker_solution",
        _edit(
            "darker_solution",
            "return bool(np.all(pooled >= brightest))",
            "return bool(pooled.mean() >= x.mean())",
        ),
    ),
]


@pytest.fixture(scope="module")
def source_nb() -> nbformat.NotebookNode:
    return nbformat.read(SOURCE, as_version=4)


@pytest.fixture(scope="module")
def release_nb() -> nbformat.NotebookNode:
    return nbformat.read(RELEASE, as_version=4)


# --- hygiene (fast) -------------------------------------------------------------------------


def test_points_sum_to_100_and_every_part_has_visible_and_hidden_tests(source_nb):
    points = graded_cells(source_nb)
    assert sum(points.values()) == 100
    assert solution_cells(source_nb) == list(PARTS)
    assert list(points) == [gid for pair in PARTS.values() for gid in pair]
    for visible, hidden in PARTS.values():
        assert HIDDEN_BEGIN not in cell_by_id(source_nb, visible).source
        assert HIDDEN_BEGIN in cell_by_id(source_nb, hidden).source
        assert HIDDEN_END in cell_by_id(source_nb, hidden).source
    # The points table of the introduction matches the cells' points.
    intro = cell_by_id(source_nb, "intro").source
    for visible, hidden in PARTS.values():
        row = f"| {points[visible]:g} | {points[hidden]:g} | {points[visible] + points[hidden]:g} |"
        assert row in intro, f"the introduction's points table lacks {row}"


def test_hidden_tests_delegation_guard_and_private_copies(source_nb):
    for _, hidden in PARTS.values():
        source = cell_by_id(source_nb, hidden).source
        guard = "FORBID = (" in source and "*REFERENCE_MODULES," in source
        assert guard, f"{hidden} does not switch off the course helpers and PyTorch"
        assert "forbid=FORBID" in source, f"{hidden} does not pass the guard to its calls"
        assert "call_student(" in source, f"{hidden} does not call on private copies"
        assert "default_rng(" in source, f"{hidden} uses no fresh random inputs"
        assert "helpers.ops" not in source, f"{hidden} relies on a helper a student could patch"


def test_solution_cells_have_markers_and_release_has_none(source_nb, release_nb):
    for grade_id in PARTS:
        assert SOLUTION_BEGIN in cell_by_id(source_nb, grade_id).source
        student = cell_by_id(release_nb, grade_id).source
        assert "raise NotImplementedError()" in student and SOLUTION_BEGIN not in student
    release_text = RELEASE.read_text()
    for leak in ("BEGIN HIDDEN", "FORBID", "_ref_pool", "np.add.at(dx", "pooled >= brightest"):
        assert leak not in release_text, f"the student version leaks {leak!r}"
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    for _, hidden in PARTS.values():
        assert ast.parse(cell_by_id(release_nb, hidden).source).body == []


def test_mutations_cover_every_graded_cell(source_nb):
    covered = set().union(*(m.loses for m in MUTATIONS))
    assert covered == set(graded_cells(source_nb))
    assert {m.cell for m in MUTATIONS} == set(PARTS)
    assert len({m.student for m in MUTATIONS}) == len(MUTATIONS)
    for m in MUTATIONS:
        ast.parse(m.source)  # a mutation must be wrong, not a syntax error
        assert m.source != _SOLUTION_SOURCES[m.cell]


# --- nbgrader itself (slow) -----------------------------------------------------------------


@pytest.mark.slow
def test_round_trip_and_mutation_table(tmp_path):
    course = make_course(ROOT, tmp_path / "course", [ASSIGNMENT])
    generated = generate(course, ASSIGNMENT)
    stale = different_files(generated, ROOT / "exercises" / ASSIGNMENT)
    assert not stale, f"exercises/{ASSIGNMENT} is out of date ({stale}): run `make exercises`"

    source = nbformat.read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    blank = nbformat.read(generated / NOTEBOOK, as_version=4)
    submit(course, ASSIGNMENT, SOLUTION_STUDENT, source, NOTEBOOK)
    submit(course, ASSIGNMENT, BLANK_STUDENT, blank, NOTEBOOK)
    for m in MUTATIONS:
        submit(course, ASSIGNMENT, m.student, with_cell_source(source, m.cell, m.source), NOTEBOOK)

    start = time.perf_counter()
    autograde(course, ASSIGNMENT)
    seconds = time.perf_counter() - start
    students = [SOLUTION_STUDENT, BLANK_STUDENT] + [m.student for m in MUTATIONS]
    table = scores(course, ASSIGNMENT, ASSIGNMENT, students)

    messages = {
        m.student: failure_messages(course, ASSIGNMENT, m.student, NOTEBOOK) for m in MUTATIONS
    }
    report = format_mutation_table(MUTATIONS, table, messages)
    report += f"\n\nAutograded {len(students)} submissions in {seconds:.1f} s.\n"
    out = ROOT / "_build" / f"mutations-{ASSIGNMENT}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print("\n" + report)

    points = graded_cells(source)
    assert table[SOLUTION_STUDENT] == {g: (p, p) for g, p in points.items()}
    assert table[BLANK_STUDENT] == {g: (0.0, p) for g, p in points.items()}
    problems = mutation_problems(MUTATIONS, table, messages)
    assert not problems, "mutations scored unexpectedly:\n" + "\n".join(problems)
