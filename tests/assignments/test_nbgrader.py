"""nbgrader round trip of assignment 01_pixels, and the hygiene of its notebooks.

The slow test generates the student version in a temporary copy of the course, checks it
equals the committed exercises/, then autogrades in one nbgrader run: the solution
(full marks), the untouched student version (0, no crash) and one plausible wrong answer
per graded part, each of which must lose exactly the points of the test cells it names.
The mutation table is printed and written to _build/mutations-01_pixels.md.
"""

from __future__ import annotations

import ast
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
ASSIGNMENT = "01_pixels"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASE = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK

PARTS = {  # solution cell -> (visible tests, hidden tests)
    "load_rgb_solution": ("load_rgb_tests", "load_rgb_hidden_tests"),
    "image_shape_solution": ("image_shape_tests", "image_shape_hidden_tests"),
    "channels_first_solution": ("channels_first_tests", "channels_first_hidden_tests"),
    "grayscale_solution": ("grayscale_tests", "grayscale_hidden_tests"),
    "scale_solution": ("scale_tests", "scale_hidden_tests"),
    "crop_solution": ("crop_tests", "crop_hidden_tests"),
}


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
        "load_rgb keeps whatever the file holds (alpha, no channel axis)",
        "load_rgb_solution",
        _fn("load_rgb(path)", "return iio.imread(path)"),
        hidden_only=True,
    ),
    _mutation(
        "load_rgb scales to floats in [0, 1]",
        "load_rgb_solution",
        _fn("load_rgb(path)", "return iio.imread(path)[:, :, :3] / 255"),
    ),
    _mutation(
        "image_shape returns img.shape (no channel count for greyscale)",
        "image_shape_solution",
        _fn("image_shape(img)", "return tuple(img.shape)"),
    ),
    _mutation(
        "image_shape puts the width first",
        "image_shape_solution",
        _fn(
            "image_shape(img)",
            """
height, width = img.shape[:2]
channels = img.shape[2] if img.ndim == 3 else 1
if img.ndim not in (2, 3):
    raise ValueError("not a picture")
return (width, height, channels)
""",
        ),
        reason="should be (37, 53, 3), but it is (53, 37, 3)",
        hidden_only=True,
    ),
    _mutation(
        "to_channels_first transposes H and W instead of moving the channels",
        "channels_first_solution",
        _fn(
            "to_channels_first(img)",
            """
if img.ndim == 2:
    return img[np.newaxis]
return img.T
""",
        ),
    ),
    _mutation(
        "to_channels_first hands the work to PyTorch",
        "channels_first_solution",
        _fn(
            "to_channels_first(img)",
            """
import torch

if img.ndim == 2:
    img = img[:, :, None]
if img.ndim != 3:
    raise ValueError("not a picture")
return torch.from_numpy(img).permute(2, 0, 1).numpy()
""",
        ),
        reason="called torch",
        hidden_only=True,
    ),
    _mutation(
        "to_grayscale uses the weights in BGR order",
        "grayscale_solution",
        _fn(
            "to_grayscale(img)",
            """
if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
return img.astype(np.float64) @ np.array([0.114, 0.587, 0.299])
""",
        ),
    ),
    _mutation(
        "to_grayscale rounds back to uint8",
        "grayscale_solution",
        _fn(
            "to_grayscale(img)",
            """
if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
return np.round(img @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
""",
        ),
        reason="should have dtype float64",
    ),
    _mutation(
        "to_grayscale scales a float input in place",
        "grayscale_solution",
        _fn(
            "to_grayscale(img)",
            """
if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
img = np.asarray(img, dtype=np.float64)  # no copy when img is already float64
img *= np.array([0.299, 0.587, 0.114])
return img.sum(axis=2)
""",
        ),
        reason="changed its input in place",
        hidden_only=True,
    ),
    _mutation(
        "to_grayscale calls helpers.images.to_grayscale",
        "grayscale_solution",
        _fn(
            "to_grayscale(img)",
            """
from helpers.images import to_grayscale as reference

if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
return reference(img.astype(np.float64))
""",
        ),
        reason="called helpers.images.to_grayscale",
        hidden_only=True,
    ),
    _mutation(
        "scale_to_unit divides by 256",
        "scale_solution",
        _fn(
            "scale_to_unit(img)",
            """
if img.dtype != np.uint8:
    raise TypeError("uint8 only")
return img.astype(np.float32) / 256
""",
        ),
    ),
    _mutation(
        "scale_to_unit returns float64",
        "scale_solution",
        _fn(
            "scale_to_unit(img)",
            """
if img.dtype != np.uint8:
    raise TypeError("uint8 only")
return img / 255
""",
        ),
        reason="should have dtype float32",
    ),
    _mutation(
        "scale_to_unit accepts float input (scales twice)",
        "scale_solution",
        _fn("scale_to_unit(img)", "return (img / 255).astype(np.float32)"),
        hidden_only=True,
        reason="should raise TypeError",
    ),
    _mutation(
        "center_crop rounds an odd margin up",
        "crop_solution",
        _fn(
            "center_crop(img, size)",
            """
H, W = img.shape[:2]
if img.ndim not in (2, 3) or not 1 <= size <= min(H, W):
    raise ValueError("does not fit")
top, left = (H - size + 1) // 2, (W - size + 1) // 2
return img[top : top + size, left : left + size]
""",
        ),
        hidden_only=True,
    ),
    _mutation(
        "center_crop keeps one row and column too many",
        "crop_solution",
        _fn(
            "center_crop(img, size)",
            """
H, W = img.shape[:2]
if img.ndim not in (2, 3) or not 1 <= size <= min(H, W):
    raise ValueError("does not fit")
top, left = (H - size) // 2, (W - size) // 2
return img[top : top + size + 1, left : left + size + 1]
""",
        ),
    ),
    _mutation(
        "center_crop does not check that the window fits",
        "crop_solution",
        _fn(
            "center_crop(img, size)",
            """
H, W = img.shape[:2]
top, left = (H - size) // 2, (W - size) // 2
return img[top : top + size, left : left + size]
""",
        ),
        reason="should raise ValueError",
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
    expected = [gid for pair in PARTS.values() for gid in pair]
    assert list(points) == expected
    for visible, hidden in PARTS.values():
        assert HIDDEN_BEGIN not in cell_by_id(source_nb, visible).source
        assert HIDDEN_BEGIN in cell_by_id(source_nb, hidden).source
        assert HIDDEN_END in cell_by_id(source_nb, hidden).source


def test_hidden_tests_delegation_guard_and_private_copies(source_nb):
    for _, hidden in PARTS.values():
        source = cell_by_id(source_nb, hidden).source
        assert "forbid=REFERENCE_MODULES" in source, f"{hidden} does not switch off helpers"
        assert "call_student(" in source, f"{hidden} does not call on private copies"
        assert "default_rng(" in source, f"{hidden} uses no fresh random inputs"


def test_solution_cells_have_markers_and_release_has_none(source_nb, release_nb):
    for grade_id in PARTS:
        assert SOLUTION_BEGIN in cell_by_id(source_nb, grade_id).source
        student = cell_by_id(release_nb, grade_id).source
        assert "raise NotImplementedError()" in student and SOLUTION_BEGIN not in student
    release_text = RELEASE.read_text()
    for leak in ("BEGIN HIDDEN", "default_rng(", "REFERENCE_MODULES", "0.299 * x"):
        assert leak not in release_text, f"the student version leaks {leak!r}"
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # The hidden test cells are still there (empty of code), so autograde can put them back.
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
def test_validator_passes_solution_and_fails_blank(tmp_path):
    from nbgrader.validator import Validator

    assert Validator().validate(str(SOURCE)) == {}
    blank = tmp_path / NOTEBOOK
    blank.write_bytes(RELEASE.read_bytes())
    result = Validator().validate(str(blank))
    assert len(result.get("failed", [])) == len(PARTS), result.keys()


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
