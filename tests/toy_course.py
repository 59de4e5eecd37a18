"""A throwaway course for the grader's tests: one assignment ("toy"), one function.

``double(x)`` has a visible test (1 point) and a hidden one (2 points). :func:`make_course`
writes a course folder (the checkout's nbgrader_config.py, the toy source) that
``python -m grader`` can release, collect, grade and report on in seconds.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# A throwaway two-part assignment: one function, a visible and a hidden test for it.
ANSWER = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
VISIBLE = (
    "from helpers.check import call_student\n"
    "assert call_student(double, 2) == 4, 'double(2) should be 4'\n"
)
HIDDEN = (
    "# hidden tests\n### BEGIN HIDDEN TESTS\nfrom helpers.check.asserts import call_student\n"
    "assert call_student(double, 21) == 42, 'double(21) should be 42 (hidden check number one)'\n"
    "### END HIDDEN TESTS\n"
)


def meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: int = 0) -> dict:
    data = {
        "grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
        "solution": solution, "task": False,
    }  # fmt: skip
    if grade:
        data["points"] = points
    return {"nbgrader": data}


def toy_source() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    intro = meta("intro", grade=False, solution=False, locked=True)
    setup = meta("setup", grade=False, solution=False, locked=True)
    answer = meta("double_solution", grade=False, solution=True, locked=False)
    visible = meta("double_tests", grade=True, solution=False, locked=True, points=1)
    hidden = meta("double_hidden", grade=True, solution=False, locked=True, points=2)
    cells = [
        nbformat.v4.new_markdown_cell("# Toy", metadata=intro),
        nbformat.v4.new_code_cell("import numpy as np", metadata=setup),
        nbformat.v4.new_code_cell(ANSWER, metadata=answer),
        nbformat.v4.new_code_cell(VISIBLE, metadata=visible),
        nbformat.v4.new_code_cell(HIDDEN, metadata=hidden),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell{i}"
    nb.cells = cells
    return nb


def toy_release() -> nbformat.NotebookNode:
    nb = toy_source()
    nb.cells[2].source = "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    nb.cells[4].source = "# hidden tests\n"
    return nb


def student(source: str) -> nbformat.NotebookNode:
    nb = toy_release()
    nb.cells[2].source = source
    return nb


def make_course(folder: Path) -> Path:
    """Write a course with the toy assignment's source into ``folder``; return it."""
    (folder / "solutions" / "toy").mkdir(parents=True)
    (folder / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    nbformat.write(toy_source(), folder / "solutions" / "toy" / "toy.ipynb")
    return folder
