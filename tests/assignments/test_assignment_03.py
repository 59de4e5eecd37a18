"""nbgrader round trip of assignment 03_activations, and the hygiene of its notebooks.

The slow test generates the student version in a temporary copy of the course, checks it
equals the committed exercises/, then autogrades in one nbgrader run: the solution
(full marks), the untouched student version (0, no crash) and plausible wrong answers
(ReLU written with np.max, the leaky slope on the positive side, a naive sigmoid that
overflows, the sigmoid's slope as s instead of s(1 - s), a sign error in tanh's slope,
the two layers multiplied in the wrong order, the bias forgotten, ...), each of which must
lose exactly the points of the test cells it names. The mutation table is printed and
written to _build/mutations-03_activations.md.
"""

from __future__ import annotations

import ast
import re
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
ASSIGNMENT = "03_activations"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASE = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK

PARTS = {  # solution cell -> (visible tests, hidden tests)
    "relu_solution": ("relu_tests", "relu_hidden_tests"),
    "leaky_solution": ("leaky_tests", "leaky_hidden_tests"),
    "sigmoid_solution": ("sigmoid_tests", "sigmoid_hidden_tests"),
    "derivatives_solution": ("derivatives_tests", "derivatives_hidden_tests"),
    "saturation_solution": ("saturation_tests", "saturation_hidden_tests"),
    "collapse_solution": ("collapse_tests", "collapse_hidden_tests"),
    "witness_solution": ("witness_tests", "witness_hidden_tests"),
}

# Code that only the instructor version may hold (solutions and hidden-test internals).
LEAKS = (
    "BEGIN HIDDEN",
    "BEGIN SOLUTION",
    "FORBIDDEN",
    "def stable(",
    "def exact(",
    "np.exp(-np.abs(x))",
    "return W2 @ W1",
    "one_minus_s",
)


def _fn(signature: str, body: str) -> str:
    return f"def {signature}:\n" + "".join(
        f"    {line}\n" if line else "\n" for line in body.strip("\n").splitlines()
    )


def _mutation(
    name: str, cell: str, source: str, *, hidden_only: bool = False, reason: str = ""
) -> Mutation:
    visible, hidden = PARTS[cell]
    loses = {hidden} if hidden_only else {visible, hidden}
    return Mutation(name=name, cell=cell, source=source, loses=frozenset(loses), reason=reason)


_RELU_DERIVATIVE = _fn("relu_derivative(x)", "return (np.asarray(x) > 0).astype(np.float64)")
_LEAKY_DERIVATIVE = _fn(
    "leaky_relu_derivative(x, slope=0.01)",
    """
if slope < 0:
    raise ValueError("negative slope")
return np.where(np.asarray(x) > 0, 1.0, float(slope))
""",
)
_SIGMOID_DERIVATIVE = _fn("sigmoid_derivative(x)", "s = sigmoid(x)\nreturn s * (1.0 - s)")
_TANH_DERIVATIVE = _fn(
    "tanh_derivative(x)", "t = np.tanh(np.asarray(x, dtype=np.float64))\nreturn 1.0 - t * t"
)
_COLLAPSE_CHECKS = """
W1, b1, W2, b2 = (np.asarray(a, dtype=np.float64) for a in (W1, b1, W2, b2))
if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0]:
    raise ValueError("the weights do not fit together")
if b1.shape != (W1.shape[0],) or b2.shape != (W2.shape[0],):
    raise ValueError("a bias does not fit its weights")
"""
_SATURATION_CHECKS = """
steepest = {"sigmoid": 0.25, "tanh": 1.0}
if activation not in steepest or not 0 < threshold < steepest[activation]:
    raise ValueError("no such point")
"""

MUTATIONS = [
    _mutation(
        "relu written with np.max(0, x) instead of np.maximum",
        "relu_solution",
        _fn("relu(x)", "return np.max(0, x)") + "\n\n" + _RELU_DERIVATIVE,
    ),
    _mutation(
        "leaky_relu applies the slope to the positive side",
        "leaky_solution",
        _fn(
            "leaky_relu(x, slope=0.01)",
            """
if slope < 0:
    raise ValueError("negative slope")
x = np.asarray(x, dtype=np.float64)
return np.where(x > 0, slope * x, x)
""",
        )
        + "\n\n"
        + _LEAKY_DERIVATIVE,
    ),
    _mutation(
        "sigmoid computed naively as 1 / (1 + exp(-x)) (overflows for x << 0)",
        "sigmoid_solution",
        _fn("sigmoid(x)", "return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))"),
        hidden_only=True,
        reason="overflow",
    ),
    _mutation(
        "sigmoid written as exp(x) / (1 + exp(x)): nan for large x",
        "sigmoid_solution",
        _fn("sigmoid(x)", "e = np.exp(np.asarray(x, dtype=np.float64))\nreturn e / (1.0 + e)"),
    ),
    _mutation(
        "sigmoid_derivative returns s instead of s(1 - s)",
        "derivatives_solution",
        _fn("sigmoid_derivative(x)", "return sigmoid(x)") + "\n\n" + _TANH_DERIVATIVE,
    ),
    _mutation(
        "tanh_derivative with a sign error: tanh^2 - 1",
        "derivatives_solution",
        _SIGMOID_DERIVATIVE
        + "\n\n"
        + _fn(
            "tanh_derivative(x)",
            "t = np.tanh(np.asarray(x, dtype=np.float64))\nreturn t * t - 1.0",
        ),
    ),
    _mutation(
        "saturation_point finds where the activation itself (not its slope) saturates",
        "saturation_solution",
        _fn(
            "saturation_point(activation, threshold=0.01)",
            _SATURATION_CHECKS
            + """
if activation == "sigmoid":
    return float(np.log((1 - threshold) / threshold))
return float(np.arctanh(1 - threshold))
""",
        ),
    ),
    _mutation(
        "collapse_linear multiplies the weights in the wrong order (W1 @ W2)",
        "collapse_solution",
        _fn(
            "collapse_linear(W1, b1, W2, b2)",
            _COLLAPSE_CHECKS + "return W1 @ W2, W2 @ b1 + b2",
        ),
    ),
    _mutation(
        "collapse_linear forgets the first bias (b = b2)",
        "collapse_solution",
        _fn("collapse_linear(W1, b1, W2, b2)", _COLLAPSE_CHECKS + "return W2 @ W1, b2"),
    ),
    _mutation(
        "nonlinearity_witness only searches near the origin",
        "witness_solution",
        _fn(
            "nonlinearity_witness(W1, b1, W2, b2)",
            """
rng = np.random.default_rng(0)

def g(v):
    return W2 @ np.maximum(W1 @ v + b1, 0) + b2

for _ in range(1000):
    x, y = rng.uniform(-1, 1, size=(2, W1.shape[1]))
    if np.max(np.abs(g((x + y) / 2) - (g(x) + g(y)) / 2)) > 1e-3:
        break
return x, y
""",
        ),
        hidden_only=True,
    ),
    _mutation(
        "nonlinearity_witness tests additivity (linear) instead of midpoints (affine)",
        "witness_solution",
        _fn(
            "nonlinearity_witness(W1, b1, W2, b2)",
            """
rng = np.random.default_rng(0)

def g(v):
    return W2 @ np.maximum(W1 @ v + b1, 0) + b2

for _ in range(1000):
    x, y = rng.uniform(-0.1, 0.1, size=(2, W1.shape[1]))
    if np.max(np.abs(g(x + y) - (g(x) + g(y)))) > 1e-6:
        break
return x, y
""",
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
        # The hidden points are announced in the part's text and in the cell's comment.
        assert f"({points[hidden]:g} points)" in cell_by_id(source_nb, hidden).source


def test_hidden_tests_delegation_guard_and_private_copies(source_nb):
    for _, hidden in PARTS.values():
        source = cell_by_id(source_nb, hidden).source
        assert "REFERENCE_MODULES" in source and "forbid=" in source, f"{hidden} has no guard"
        assert '"scipy.special"' in source, f"{hidden} does not switch off scipy.special"
        assert "call_student(" in source, f"{hidden} does not call on private copies"
        assert "default_rng(" in source, f"{hidden} uses no fresh random inputs"
        # References are computed inline, never by the course's reference ops.
        assert not re.search(r"\bops\.|import ops|helpers\.ops import", source), hidden


def test_solution_cells_have_markers_and_release_has_none(source_nb, release_nb):
    for grade_id in PARTS:
        assert SOLUTION_BEGIN in cell_by_id(source_nb, grade_id).source
        student = cell_by_id(release_nb, grade_id).source
        assert "raise NotImplementedError()" in student and SOLUTION_BEGIN not in student
    release_text = RELEASE.read_text()
    for leak in LEAKS:
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

    autograde(course, ASSIGNMENT)
    students = [SOLUTION_STUDENT, BLANK_STUDENT] + [m.student for m in MUTATIONS]
    table = scores(course, ASSIGNMENT, ASSIGNMENT, students)

    messages = {
        m.student: failure_messages(course, ASSIGNMENT, m.student, NOTEBOOK) for m in MUTATIONS
    }
    report = format_mutation_table(MUTATIONS, table, messages)
    out = ROOT / "_build" / f"mutations-{ASSIGNMENT}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report + "\n")
    print("\n" + report)

    points = graded_cells(source)
    assert table[SOLUTION_STUDENT] == {g: (p, p) for g, p in points.items()}
    assert table[BLANK_STUDENT] == {g: (0.0, p) for g, p in points.items()}
    problems = mutation_problems(MUTATIONS, table, messages)
    assert not problems, "mutations scored unexpectedly:\n" + "\n".join(problems)
