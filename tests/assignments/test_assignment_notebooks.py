"""Hygiene every instructor notebook shares, checked for all assignments at once (fast).

Each ``test_assignment_NN.py`` checks what is particular to its assignment (parts, points,
mutations, the round trip); what holds for every graded notebook lives here.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbgrader_tools import (
    cell_by_id,
    ends_in_assert,
    graded_cells,
    nbgrader_meta,
    silences_warnings,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "solutions").glob("*/*.ipynb"))


@pytest.fixture(params=SOURCES, ids=[p.parent.name for p in SOURCES])
def source_nb(request: pytest.FixtureRequest) -> nbformat.NotebookNode:
    return nbformat.read(request.param, as_version=4)


def test_every_assignment_is_checked() -> None:
    assert len(SOURCES) >= 7, [p.parent.name for p in SOURCES]


def test_source_notebook_is_clean(source_nb: nbformat.NotebookNode) -> None:
    nbformat.validate(source_nb)
    assert source_nb.metadata["kernelspec"]["name"] == "python3"
    for cell in source_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "stored outputs"
    ids = [nbgrader_meta(c)["grade_id"] for c in source_nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "duplicated grade_id: nbgrader aborts the whole batch"


def test_every_test_cell_ends_in_assert_and_silences_warnings(
    source_nb: nbformat.NotebookNode,
) -> None:
    for grade_id in graded_cells(source_nb):
        source = cell_by_id(source_nb, grade_id).source
        assert ends_in_assert(source), f"{grade_id} does not end in an assert"
        assert silences_warnings(source), f"{grade_id} lets warnings reach stderr"
