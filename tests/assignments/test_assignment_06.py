"""nbgrader round trip of assignment 06_backprop, and the hygiene of its notebooks.

The slow test generates the student version in a temporary copy of the course, checks it
equals the committed exercises/, then autogrades in one nbgrader run: the solution
(full marks), the untouched student version (0, no crash) and one or two plausible wrong
answers per graded part, each of which must lose exactly the points of the test cells it
names. A wrong layer gradient also stops the network of Part 8 from training, so such a
mutation names the training cells too: that loss is real, not collateral noise. The
mutation table is printed and written to _build/mutations-06_backprop.md.
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
    nbgrader_meta,
    scores,
    solution_cells,
    submit,
    with_cell_source,
)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "06_backprop"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASE = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK

PARTS = {  # solution cell -> its test cells (visible first, then hidden)
    "dense_solution": ("dense_tests", "dense_hidden_tests"),
    "relu_solution": ("relu_tests", "relu_hidden_tests"),
    "softmax_solution": ("softmax_tests", "softmax_hidden_tests"),
    "pool_solution": ("pool_tests", "pool_hidden_tests"),
    "conv_solution": ("conv_tests", "conv_hidden_tests"),
    "numgrad_solution": ("numgrad_tests", "numgrad_hidden_tests"),
    "sgd_solution": ("sgd_tests", "sgd_hidden_tests"),
    "cnn_solution": ("cnn_tests", "cnn_hidden_tests", "training_hidden_tests"),
}
HIDDEN = {cells[i] for cells in PARTS.values() for i in range(1, len(cells))}
# The accuracy checks of the trained network: they fail whenever training fails.
TRAINING = frozenset({"cnn_tests", "training_hidden_tests"})
# Modules a student's function must not call (the hidden tests switch them off), beyond
# REFERENCE_MODULES, which holds helpers.ops and so the NumPy CNN and the gradient checks.
FORBIDDEN = ("scipy.signal", "scipy.ndimage")


def _fn(signature: str, body: str) -> str:
    return f"def {signature}:\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())


def _mutation(
    name: str,
    cell: str,
    source: str,
    *,
    hidden_only: bool = False,
    breaks_training: bool = False,
    reason: str = "",
) -> Mutation:
    tests = PARTS[cell]
    loses = {t for t in tests if t in HIDDEN} if hidden_only else set(tests)
    if cell == "cnn_solution":
        loses = set()
    if breaks_training:
        loses |= TRAINING
    return Mutation(name=name, cell=cell, source=source, loses=frozenset(loses), reason=reason)


def _cnn_cell(source: str, old: str, new: str) -> str:
    """Return the Part 8 solution cell with one line changed (the mutation must apply)."""
    if source.count(old) != 1:
        raise AssertionError(f"mutation anchor {old!r} not found once in cnn_solution")
    return source.replace(old, new)


def mutations(source_nb: nbformat.NotebookNode) -> list[Mutation]:
    cnn = cell_by_id(source_nb, "cnn_solution").source
    return [
        _mutation(
            "dense_backward transposes dw (dout.T @ x)",
            "dense_solution",
            _fn("dense_backward(dout, x, w)", "return dout @ w.T, dout.T @ x, dout.sum(axis=0)"),
            breaks_training=True,
        ),
        _mutation(
            "relu_backward applies ReLU to dout (passes gradient where x < 0)",
            "relu_solution",
            _fn("relu_backward(dout, x)", "return np.maximum(dout, 0)"),
            breaks_training=True,
        ),
        _mutation(
            "softmax_cross_entropy_backward forgets the 1/N",
            "softmax_solution",
            _fn(
                "softmax_cross_entropy_backward(scores, y)",
                """
e = np.exp(scores - scores.max(axis=1, keepdims=True))
p = e / e.sum(axis=1, keepdims=True)
p[np.arange(len(y)), y] -= 1
return p
""",
            ),
            breaks_training=True,
        ),
        _mutation(
            "max_pool_backward sends dout to all four window cells",
            "pool_solution",
            _fn(
                "max_pool_backward(dout, x)",
                """
OH, OW = x.shape[2] // 2, x.shape[3] // 2
dx = np.zeros_like(x)
dx[:, :, : 2 * OH, : 2 * OW] = dout.repeat(2, axis=2).repeat(2, axis=3)
return dx
""",
            ),
        ),
        _mutation(
            "conv2d_backward computes dx without flipping the kernel",
            "conv_solution",
            _fn(
                "conv2d_backward(dout, x, w)",
                """
F, C, KH, KW = w.shape
N, _, OH, OW = dout.shape
H, W = x.shape[2:]
dw = np.empty(w.shape, dtype=x.dtype)
for i in range(KH):
    for j in range(KW):
        patch = x[:, :, i : i + OH, j : j + OW]
        dw[:, :, i, j] = np.tensordot(dout, patch, axes=([0, 2, 3], [0, 2, 3]))
padded = np.pad(dout, ((0, 0), (0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1)))
dx = np.zeros_like(x)
for i in range(KH):
    for j in range(KW):
        dx += np.einsum("nfrs,fc->ncrs", padded[:, :, i : i + H, j : j + W], w[:, :, i, j])
return dx, dw, dout.sum(axis=(0, 2, 3))
""",
            ),
        ),
        _mutation(
            "conv2d_backward does not sum db over the batch (db of shape (N, F))",
            "conv_solution",
            _fn(
                "conv2d_backward(dout, x, w)",
                """
F, C, KH, KW = w.shape
N, _, OH, OW = dout.shape
dw = np.empty(w.shape, dtype=x.dtype)
dx = np.zeros_like(x)
for i in range(KH):
    for j in range(KW):
        patch = x[:, :, i : i + OH, j : j + OW]
        dw[:, :, i, j] = np.tensordot(dout, patch, axes=([0, 2, 3], [0, 2, 3]))
        dx[:, :, i : i + OH, j : j + OW] += np.einsum("nfpq,fc->ncpq", dout, w[:, :, i, j])
return dx, dw, dout.sum(axis=(2, 3))
""",
            ),
            breaks_training=True,
        ),
        _mutation(
            "numerical_gradient uses a one-sided difference",
            "numgrad_solution",
            _fn(
                "numerical_gradient(f, x, h=1e-5)",
                """
grad = np.zeros(x.shape)
base = float(f(x))
for idx in np.ndindex(x.shape):
    old = x[idx]
    x[idx] = old + h
    grad[idx] = (float(f(x)) - base) / h
    x[idx] = old
return grad
""",
            ),
        ),
        _mutation(
            "sgd_step adds the gradient (+ instead of -)",
            "sgd_solution",
            _fn(
                "sgd_step(params, grads, lr)",
                """
if set(params) != set(grads):
    raise ValueError("names differ")
for k in params:
    if params[k].shape != grads[k].shape:
        raise ValueError("shapes differ")
return {k: params[k] + lr * grads[k] for k in params}
""",
            ),
            breaks_training=True,
        ),
        _mutation(
            "training with a far too high learning rate (5.0)",
            "cnn_solution",
            _cnn_cell(cnn, "LEARNING_RATE = 0.1", "LEARNING_RATE = 5.0"),
            breaks_training=True,
        ),
        Mutation(
            name="cnn_loss_and_grads skips relu_backward",
            cell="cnn_solution",
            source=_cnn_cell(cnn, "dz1 = relu_backward(da1, z1)", "dz1 = da1"),
            loses=frozenset({"cnn_hidden_tests"}),
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
    assert list(points) == [gid for cells in PARTS.values() for gid in cells]
    for cells in PARTS.values():
        assert HIDDEN_BEGIN not in cell_by_id(source_nb, cells[0]).source
        for hidden in cells[1:]:
            assert HIDDEN_BEGIN in cell_by_id(source_nb, hidden).source
            assert HIDDEN_END in cell_by_id(source_nb, hidden).source
    visible = sum(points[cells[0]] for cells in PARTS.values())
    intro = source_nb.cells[0].source
    assert f"**{visible:g}**" in intro and f"**{100 - visible:g}**" in intro


def test_hidden_tests_delegation_guard_and_fresh_inputs(source_nb):
    from helpers.check import REFERENCE_MODULES

    assert "helpers.ops" in REFERENCE_MODULES  # numpy_cnn and gradcheck live below it
    for hidden in sorted(HIDDEN - {"training_hidden_tests"}):
        source = cell_by_id(source_nb, hidden).source
        assert "REFERENCE_MODULES + (" in source, f"{hidden} does not switch off helpers"
        for module in FORBIDDEN:
            assert f'"{module}"' in source, f"{hidden} does not switch off {module}"
        assert "forbid=FORBID" in source or "forbidden_calls(FORBID)" in source, hidden
        assert "call_student(" in source, f"{hidden} does not call on private copies"
        assert "default_rng(" in source, f"{hidden} uses no fresh random inputs"
        # References are computed inline: a test must not trust the course's own helpers.
        assert "helpers.ops" not in source and "from helpers.ops.gradcheck" not in source, hidden


def test_training_budget_rule_is_locked_and_documented(source_nb):
    run = cell_by_id(source_nb, "train_run")
    meta = nbgrader_meta(run)
    assert meta["locked"] and not meta["solution"] and not meta["grade"]
    assert 'os.environ.get("NBGRADER_EXECUTION")' in run.source
    text = "\n".join(c.source for c in source_nb.cells if c.cell_type == "markdown")
    assert "NBGRADER_EXECUTION" in text and "at least 90 %" in text and "at least 85 %" in text


def test_solution_cells_have_markers_and_release_has_none(source_nb, release_nb):
    for grade_id in PARTS:
        assert SOLUTION_BEGIN in cell_by_id(source_nb, grade_id).source
        student = cell_by_id(release_nb, grade_id).source
        assert "raise NotImplementedError()" in student and SOLUTION_BEGIN not in student
    release_text = RELEASE.read_text()
    for leak in ("BEGIN HIDDEN", "default_rng(8606)", "REFERENCE_MODULES", "ok_conv2d_backward"):
        assert leak not in release_text, f"the student version leaks {leak!r}"
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    for hidden in HIDDEN:
        assert ast.parse(cell_by_id(release_nb, hidden).source).body == []


def test_mutations_cover_every_graded_cell(source_nb):
    muts = mutations(source_nb)
    covered = set().union(*(m.loses for m in muts))
    assert covered == set(graded_cells(source_nb))
    assert {m.cell for m in muts} == set(PARTS)
    assert len({m.student for m in muts}) == len(muts)
    for m in muts:
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
    muts = mutations(source)
    submit(course, ASSIGNMENT, SOLUTION_STUDENT, source, NOTEBOOK)
    submit(course, ASSIGNMENT, BLANK_STUDENT, blank, NOTEBOOK)
    for m in muts:
        submit(course, ASSIGNMENT, m.student, with_cell_source(source, m.cell, m.source), NOTEBOOK)

    start = time.perf_counter()
    autograde(course, ASSIGNMENT)
    seconds = time.perf_counter() - start
    students = [SOLUTION_STUDENT, BLANK_STUDENT] + [m.student for m in muts]
    table = scores(course, ASSIGNMENT, ASSIGNMENT, students)

    messages = {m.student: failure_messages(course, ASSIGNMENT, m.student, NOTEBOOK) for m in muts}
    report = format_mutation_table(muts, table, messages)
    report += (
        f"\n\nAutograde of {len(students)} submissions in one nbgrader run: {seconds:.0f} s.\n"
    )
    out = ROOT / "_build" / f"mutations-{ASSIGNMENT}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print("\n" + report)

    points = graded_cells(source)
    assert table[SOLUTION_STUDENT] == {g: (p, p) for g, p in points.items()}
    assert table[BLANK_STUDENT] == {g: (0.0, p) for g, p in points.items()}
    problems = mutation_problems(muts, table, messages)
    assert not problems, "mutations scored unexpectedly:\n" + "\n".join(problems)
