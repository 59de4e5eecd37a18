"""nbgrader round trip of assignment 05_dense_heads, and the hygiene of its notebooks.

The slow test generates the student version in a temporary copy of the course, checks it
equals the committed exercises/, then autogrades in one nbgrader run: the solution
(full marks), the untouched student version (0, no crash) and one or more plausible wrong
answers per graded part, each of which must lose exactly the points of the test cells it
names. The mutation table is printed and written to _build/mutations-05_dense_heads.md.
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
ASSIGNMENT = "05_dense_heads"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASE = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK

PARTS = {  # solution cell -> (visible tests, hidden tests)
    "flatten_solution": ("flatten_tests", "flatten_hidden_tests"),
    "dense_solution": ("dense_tests", "dense_hidden_tests"),
    "softmax_solution": ("softmax_tests", "softmax_hidden_tests"),
    "ce_solution": ("ce_tests", "ce_hidden_tests"),
    "predict_solution": ("predict_tests", "predict_hidden_tests"),
    "flatten_size_solution": ("flatten_size_tests", "flatten_size_hidden_tests"),
    "count_solution": ("count_tests", "count_hidden_tests"),
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
        "flatten reads NHWC (channels last) instead of NCHW",
        "flatten_solution",
        _edit(
            "flatten_solution",
            "return x.reshape(x.shape[0], -1).copy()",
            "return np.moveaxis(x, 1, -1).reshape(x.shape[0], -1)",
        ),
    ),
    _mutation(
        "dense_forward forgets the bias",
        "dense_solution",
        _edit("dense_solution", "return x @ w + b", "return x @ w"),
    ),
    _mutation(
        "softmax without the max shift (overflows at 1000)",
        "softmax_solution",
        _edit(
            "softmax_solution",
            "scores.astype(np.float64) - scores.max(axis=1, keepdims=True)",
            "scores.astype(np.float64)",
        ),
        hidden_only=True,
        reason="exp() overflowed",
    ),
    _mutation(
        "softmax normalises over the wrong axis (the examples)",
        "softmax_solution",
        _edit(
            "softmax_solution",
            "return e / e.sum(axis=1, keepdims=True)",
            "return e / e.sum(axis=0, keepdims=True)",
        ),
    ),
    _mutation(
        "softmax hands the work to scipy.special.softmax",
        "softmax_solution",
        _fn(
            "softmax(scores)",
            """
from scipy.special import softmax as reference

if scores.ndim != 2:
    raise ValueError("scores must be (N, K)")
return reference(scores.astype(np.float64), axis=1)
""",
        ),
        hidden_only=True,
        reason="called scipy",
    ),
    _mutation(
        "cross_entropy sums over the batch instead of taking the mean",
        "ce_solution",
        _edit("ce_solution", ".sum(axis=1).mean())", ".sum())").replace(
            "logp[np.arange(N), labels].mean())", "logp[np.arange(N), labels].sum())"
        ),
    ),
    _mutation(
        "cross_entropy takes the log without clipping (log 0 = -inf)",
        "ce_solution",
        _edit("ce_solution", "np.log(np.clip(probs, eps, 1.0))", "np.log(probs)"),
        hidden_only=True,
        reason="clip",
    ),
    _mutation(
        "predict takes the argmax over the examples",
        "predict_solution",
        _edit("predict_solution", "scores.argmax(axis=1)", "scores.argmax(axis=0)"),
    ),
    _mutation(
        "flatten_size rounds pooled sizes up (11 -> 6): one pooled row off",
        "flatten_size_solution",
        _edit(
            "flatten_size_solution",
            "H, W = (H - k) // k + 1, (W - k) // k + 1",
            "H, W = -(-H // k), -(-W // k)",
        ),
    ),
    _mutation(
        "count_params forgets the biases",
        "count_solution",
        _edit(
            "count_solution",
            "total += (k * k * C + 1) * layer[1]",
            "total += k * k * C * layer[1]",
        ).replace("total += (shape[0] + 1) * layer[1]", "total += shape[0] * layer[1]"),
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
    for leak in ("BEGIN HIDDEN", "FORBID", "_ref_walk", "_ref_softmax", "total += (k * k * C + 1)"):
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
