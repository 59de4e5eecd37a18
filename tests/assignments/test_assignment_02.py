"""nbgrader round trip of assignment 02_convolution, and the hygiene of its notebooks.

The slow test generates the student version in a temporary copy of the course, checks it
equals the committed exercises/, then autogrades in one nbgrader run: the solution
(full marks), the untouched student version (0, no crash) and plausible wrong answers
(off-by-one output size, stride ignored, padding on one side only, replicate padding done
as zeros, bias forgotten, missing kernel flip, the loop version passed off as vectorised,
Sobel x and y confused, ...), each of which must lose exactly the points of the test cells
it names. The mutation table is printed and written to _build/mutations-02_convolution.md.
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
ASSIGNMENT = "02_convolution"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASE = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK

PARTS = {  # solution cell -> (visible tests, hidden tests)
    "correlate2d_solution": ("correlate2d_tests", "correlate2d_hidden_tests"),
    "output_size_solution": ("output_size_tests", "output_size_hidden_tests"),
    "pad_solution": ("pad_tests", "pad_hidden_tests"),
    "conv2d_solution": ("conv2d_tests", "conv2d_hidden_tests"),
    "convolve2d_solution": ("convolve2d_tests", "convolve2d_hidden_tests"),
    "fast_solution": ("fast_tests", "fast_hidden_tests"),
    "match_solution": ("match_tests", "match_hidden_tests"),
}

# Code that only the instructor version may hold (solutions and hidden-test internals).
LEAKS = (
    "BEGIN HIDDEN",
    "BEGIN SOLUTION",
    "FORBIDDEN",
    "def loop_version",
    "def reference(",
    "np.clip(np.arange(-p",
    'einsum("nchwuv',
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


_CHECK_2D = """
image = np.asarray(image, dtype=np.float64)
kernel = np.asarray(kernel, dtype=np.float64)
if image.ndim != 2 or kernel.ndim != 2:
    raise ValueError("2-D picture and kernel only")
H, W = image.shape
KH, KW = kernel.shape
if KH > H or KW > W:
    raise ValueError("the kernel does not fit")
"""

_MATCH = """
candidates = {}
for kernel_name in KERNEL_NAMES:
    kernel = get_kernel(SWAP.get(kernel_name, kernel_name))
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(image, float), kernel.shape)
    candidates[kernel_name] = np.einsum("hwuv,uv->hw", windows, kernel)
return {
    label: min(candidates, key=lambda k: np.abs(fmap - candidates[k]).max())
    for label, fmap in maps.items()
}
"""

MUTATIONS = [
    _mutation(
        "correlate2d stops one row and one column early (off-by-one output size)",
        "correlate2d_solution",
        _fn(
            "correlate2d(image, kernel)",
            _CHECK_2D
            + """
out = np.zeros((H - KH, W - KW))
for i in range(H - KH):
    for j in range(W - KW):
        out[i, j] = np.sum(image[i : i + KH, j : j + KW] * kernel)
return out
""",
        ),
    ),
    _mutation(
        "output_size ignores the stride",
        "output_size_solution",
        _fn(
            "output_size(n, k, stride=1, padding=0)",
            """
if n < 1 or k < 1 or stride < 1 or padding < 0 or k > n + 2 * padding:
    raise ValueError("bad sizes")
return n + 2 * padding - k + 1
""",
        ),
    ),
    _mutation(
        "output_size does not check that the kernel fits",
        "output_size_solution",
        _fn("output_size(n, k, stride=1, padding=0)", "return (n + 2 * padding - k) // stride + 1"),
        hidden_only=True,
        reason="should raise ValueError",
    ),
    _mutation(
        "pad pads only the top and the left (one side only)",
        "pad_solution",
        _fn(
            'pad(x, p, mode="zeros")',
            """
if x.ndim < 2 or p < 0 or mode not in ("zeros", "replicate"):
    raise ValueError("bad input")
H, W = x.shape[-2:]
if mode == "zeros":
    out = np.zeros(x.shape[:-2] + (H + p, W + p), dtype=x.dtype)
    out[..., p:, p:] = x
    return out
rows = np.clip(np.arange(-p, H), 0, H - 1)
cols = np.clip(np.arange(-p, W), 0, W - 1)
return x[..., rows[:, np.newaxis], cols]
""",
        ),
    ),
    _mutation(
        "pad fills replicate padding with zeros",
        "pad_solution",
        _fn(
            'pad(x, p, mode="zeros")',
            """
if x.ndim < 2 or p < 0 or mode not in ("zeros", "replicate"):
    raise ValueError("bad input")
H, W = x.shape[-2:]
out = np.zeros(x.shape[:-2] + (H + 2 * p, W + 2 * p), dtype=x.dtype)
out[..., p : p + H, p : p + W] = x
return out
""",
        ),
    ),
    _mutation(
        "pad hands the work to np.pad",
        "pad_solution",
        _fn(
            'pad(x, p, mode="zeros")',
            """
if x.ndim < 2 or p < 0 or mode not in ("zeros", "replicate"):
    raise ValueError("bad input")
width = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
return np.pad(x, width, mode="constant" if mode == "zeros" else "edge")
""",
        ),
        hidden_only=True,
        reason="called numpy.lib._arraypad_impl",
    ),
    _mutation(
        "conv2d forgets the bias",
        "conv2d_solution",
        _fn(
            "conv2d(x, w, b, stride=1, padding=0)",
            """
x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
if x.ndim != 4 or w.ndim != 4 or w.shape[1] != x.shape[1] or b.shape != (w.shape[0],):
    raise ValueError("shapes do not fit")
N, C, H, W = x.shape
F, _, KH, KW = w.shape
if stride < 1 or padding < 0 or KH > H + 2 * padding or KW > W + 2 * padding:
    raise ValueError("the kernel does not fit")
xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
xp[:, :, padding : padding + H, padding : padding + W] = x
windows = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
windows = windows[:, :, ::stride, ::stride]
return np.einsum("nchwuv,fcuv->nfhw", windows, w)
""",
        ),
    ),
    _mutation(
        "convolve2d does not flip the kernel (cross-correlation)",
        "convolve2d_solution",
        _fn(
            "convolve2d(image, kernel)",
            _CHECK_2D
            + """
windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
return np.einsum("hwuv,uv->hw", windows, kernel)
""",
        ),
    ),
    _mutation(
        "correlate2d_fast is the loop version passed off as vectorised",
        "fast_solution",
        _fn("correlate2d_fast(image, kernel)", "return correlate2d(image, kernel)"),
        reason="times faster",
    ),
    _mutation(
        "match_feature_maps mixes up Sobel x and Sobel y",
        "match_solution",
        _fn(
            "match_feature_maps(image, maps)",
            'SWAP = {"sobel_x": "sobel_y", "sobel_y": "sobel_x"}\n' + _MATCH,
        ),
    ),
    _mutation(
        "match_feature_maps hard-codes the answer for the visible maps",
        "match_solution",
        _fn(
            "match_feature_maps(image, maps)",
            'return {"A": "sobel_y", "B": "laplacian", "C": "box_blur", "D": "sobel_x"}',
        ),
        hidden_only=True,
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
        assert '"scipy.signal"' in source, f"{hidden} does not switch off scipy.signal"
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
