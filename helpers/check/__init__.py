"""What the graded notebooks' test cells and a student's self-check need.

:mod:`~helpers.check.asserts` holds the checks that test cells call (each raises
``AssertionError`` with a sentence a student can act on); :mod:`~helpers.check.notebook`
runs a notebook's visible tests and reports each graded part: ``python -m helpers.check
NOTEBOOK.ipynb`` or ``check_notebook("NOTEBOOK.ipynb")`` in a cell.
"""

from __future__ import annotations

from helpers.check.asserts import (
    REFERENCE_MODULES,
    call_student,
    check_array,
    check_raises,
    check_value,
    describe,
    forbidden_calls,
)
from helpers.check.notebook import NotebookError, Report, check_notebook

__all__ = [
    "REFERENCE_MODULES",
    "NotebookError",
    "Report",
    "call_student",
    "check_array",
    "check_notebook",
    "check_raises",
    "check_value",
    "describe",
    "forbidden_calls",
]
