"""What the graded notebooks' test cells and a student's self-check need.

:mod:`~helpers.check.asserts` holds the checks that test cells call (each raises
``AssertionError`` with a sentence a student can act on); :mod:`~helpers.check.notebook`
runs a notebook's visible tests and reports each graded part: ``python -m helpers.check
NOTEBOOK.ipynb`` or ``check_notebook("NOTEBOOK.ipynb")`` in a cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpers.check.asserts import (
    REFERENCE_MODULES,
    call_student,
    check_array,
    check_raises,
    check_value,
    describe,
    forbidden_calls,
)

if TYPE_CHECKING:
    from helpers.check.notebook import NotebookError, Report, check_notebook

# Every graded test cell imports this package, but only the self-check needs nbformat and
# nbclient (seconds to import): load the notebook runner on first use.
_NOTEBOOK_NAMES = {"NotebookError", "Report", "check_notebook"}


def __getattr__(name: str) -> Any:
    if name in _NOTEBOOK_NAMES:
        from helpers.check import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'helpers.check' has no attribute {name!r}")


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
