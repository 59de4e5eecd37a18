"""Self-check a graded notebook: run its saved file in a fresh kernel and report part by part.

From a terminal, in any folder (give the path of the notebook)::

    python -m helpers.check 01_pixels.ipynb

or from a notebook cell::

    from helpers.check import check_notebook
    check_notebook("01_pixels.ipynb")

The notebook on disk is read, never written: a fresh kernel runs a copy of it in
memory. Each graded test cell is reported under its part (the ``##`` heading above it)
with its points, and the message of its first failed assert. Hidden tests are not in
the student version; they are listed with their points and run only at grading time.

The kernel is the one the notebook names; a Python notebook saved with a kernel that is not
installed here (e.g. a hub's) runs in this Python's own kernel instead.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HIDDEN_MARKER = "BEGIN HIDDEN TESTS"
# Set while a notebook is being checked, so a check_notebook() cell inside it does not
# start yet another check of the same file.
RUNNING_FLAG = "PIXELS_TO_PREDICTIONS_CHECK"


class NotebookError(Exception):
    """The file cannot be checked: missing, damaged, not a notebook, or no kernel."""


@dataclass
class TestResult:
    """One graded test cell after the run."""

    part: str
    grade_id: str
    points: float
    kind: str  # "visible", "hidden" (not in this file) or "hidden-source" (instructor copy)
    passed: bool | None  # None: not run here (hidden)
    message: str = ""


@dataclass
class PartNotes:
    """Errors raised by the non-test cells of one part (usually the student's code)."""

    part: str
    errors: list[str] = field(default_factory=list)


@dataclass
class Report:
    """Everything :func:`check_notebook` found, and a printable summary."""

    path: Path
    tests: list[TestResult]
    notes: dict[str, PartNotes]

    @property
    def visible(self) -> list[TestResult]:
        """The test cells whose code is in the student's file."""
        return [t for t in self.tests if t.kind == "visible"]

    @property
    def ran(self) -> list[TestResult]:
        """The test cells that ran here, passed or failed (hidden ones did not)."""
        return [t for t in self.tests if t.passed is not None]

    @property
    def failed(self) -> list[TestResult]:
        """The test cells that ran and raised."""
        return [t for t in self.ran if not t.passed]

    @property
    def ok(self) -> bool:
        """True when at least one test ran and none failed."""
        return bool(self.ran) and not self.failed

    def summary(self) -> str:
        """Return the printable report: every part with its tests, points and messages."""
        lines = [f"Self-check of {self.path.name}", ""]
        parts: dict[str, list[TestResult]] = {}
        for test in self.tests:
            parts.setdefault(test.part, []).append(test)
        for part, tests in parts.items():
            total = sum(t.points for t in tests)
            lines.append(f"{part}  ({_pts(total)})")
            for t in tests:
                label = {
                    "visible": "visible tests",
                    "hidden": "hidden tests ",
                    "hidden-source": "hidden tests ",
                }[t.kind]
                if t.passed is None:
                    status, tail = "  --  ", "run when your notebook is graded"
                else:
                    status, tail = ("PASSED" if t.passed else "FAILED"), ""
                lines.append(f"  {status}  {label}  {_pts(t.points):>10}  {tail}".rstrip())
                if t.message:
                    lines.append(f"          {t.message}")
            for error in self.notes.get(part, PartNotes(part)).errors:
                lines.append(f"          note: a code cell in this part raised {error}")
            lines.append("")
        visible = self.visible
        passed = [t for t in visible if t.passed]
        lines.append(
            f"Visible tests passed: {len(passed)} of {len(visible)} "
            f"({_pts(sum(t.points for t in passed))} of {_pts(sum(t.points for t in visible))})."
        )
        hidden = [t for t in self.tests if t.kind != "visible"]
        if any(t.kind == "hidden-source" for t in hidden):
            hidden_passed = [t for t in hidden if t.passed]
            lines.append(
                f"Hidden tests (instructor copy) passed: {len(hidden_passed)} of {len(hidden)}."
            )
        elif hidden:
            lines.append(
                f"Hidden tests: {_pts(sum(t.points for t in hidden))}, run when your notebook "
                "is graded; passing the visible tests does not guarantee them."
            )
        return "\n".join(lines)


def _pts(points: float) -> str:
    """Write a number of points as "1 point", "2 points" or "1.5 points"."""
    value = int(points) if float(points).is_integer() else points
    return f"{value} point" + ("" if value == 1 else "s")


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    """Read and validate a notebook file, explaining any problem in plain words.

    **Shapes:** none.

    Returns the notebook; raises :class:`NotebookError` if it cannot be used.
    """
    path = Path(path)
    if not path.is_file():
        where = "a folder" if path.is_dir() else "not there"
        raise NotebookError(f"{path} is {where}: give the path of your .ipynb file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(f"{path} cannot be read as text ({error}).") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{path} is damaged: it is not valid notebook JSON (line {error.lineno}, "
            f"column {error.colno}: {error.msg}). This happens when a file is cut short or "
            "edited in a text editor. Open it in Jupyter to see whether it still loads, or "
            "start again from a fresh copy of the exercise and paste your code back in."
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise NotebookError(
            f"{path} is JSON but not a Jupyter notebook (no 'cells' and 'nbformat'). "
            "Check that you gave the .ipynb file of the exercise."
        )
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several types for a broken structure
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise NotebookError(
            f"{path} looks like a notebook but its structure is broken ({first}). "
            "Start again from a fresh copy of the exercise and paste your code back in."
        ) from None
    return nb


def _is_code(source: str) -> bool:
    """Return True if ``source`` holds at least one statement (not only comments)."""
    try:
        return bool(ast.parse(source).body)
    except SyntaxError:
        return True


def _heading(source: str) -> str | None:
    """Return the first heading of a markdown cell without its points, or None."""
    for line in source.splitlines():
        if line.startswith("## ") or line.startswith("# "):
            # The report prints the points itself.
            return re.sub(r"\s*\(\d+(\.\d+)? points?\)\s*$", "", line.lstrip("#").strip())
    return None


def _error_text(outputs: list) -> str | None:
    """Return "Name: message" of the first error among a cell's outputs, or None."""
    for out in outputs:
        if out.get("output_type") == "error":
            name, value = out.get("ename", "Error"), str(out.get("evalue", "")).strip()
            return f"{name}: {value}" if value else name
    return None


def _kernel_name(nb: nbformat.NotebookNode) -> str:
    """Return the kernel to run ``nb`` in: its own, or this Python's for a Python notebook
    whose kernel is not installed here."""
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager

    spec = nb.metadata.get("kernelspec", {})
    name = spec.get("name") or NATIVE_KERNEL_NAME
    language = spec.get("language") or nb.metadata.get("language_info", {}).get("name")
    if language != "python" or name in KernelSpecManager().find_kernel_specs():
        return name
    return NATIVE_KERNEL_NAME


def _run(nb: nbformat.NotebookNode, folder: Path, timeout: int, kernel: str) -> None:
    """Execute ``nb`` in place in a fresh ``kernel`` started in ``folder``, keeping every error."""
    # Starting kernels pulls in zmq and asyncio machinery: load it only when a check runs,
    # not whenever a test cell imports helpers.check.
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    client = NotebookClient(
        nb,
        timeout=timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name=kernel,
        resources={"metadata": {"path": str(folder)}},
        extra_arguments=["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"],
    )
    previous = os.environ.get(RUNNING_FLAG)
    os.environ[RUNNING_FLAG] = "1"
    try:
        # The kernel's own start-up chatter on stderr is not the student's business.
        client.execute(stderr=subprocess.DEVNULL)
    except NoSuchKernel:
        raise NotebookError(
            f"the notebook asks for the Jupyter kernel '{kernel}', which is not installed "
            f"here. Install a Python kernel into this Python ({sys.executable}) with "
            "`python -m pip install ipykernel`, or open the notebook in Jupyter, pick a "
            "Python 3 kernel (Kernel > Change Kernel), save it and check again."
        ) from None
    except DeadKernelError:
        raise NotebookError(
            "the Python kernel died while running the notebook (out of memory, or code that "
            "crashed Python). Restart and run all cells in Jupyter to find the cell."
        ) from None
    except CellTimeoutError:
        raise NotebookError(
            f"a cell ran longer than {timeout} s and could not be interrupted; look for a "
            "loop that never ends."
        ) from None
    finally:
        if previous is None:
            os.environ.pop(RUNNING_FLAG, None)
        else:
            os.environ[RUNNING_FLAG] = previous


def check_notebook(path: str | os.PathLike, *, timeout: int = 120, quiet: bool = False) -> Report:
    """Run a saved notebook in a fresh kernel and report its graded tests, part by part.

    **Shapes:** none.

    Returns the :class:`Report` (and prints its summary unless ``quiet``); raises
    :class:`NotebookError` if the file cannot be checked.
    """
    path = Path(path).resolve()
    if os.environ.get(RUNNING_FLAG) or os.environ.get("NBGRADER_EXECUTION"):
        # This call sits in the notebook being checked or graded: do nothing.
        return Report(path=path, tests=[], notes={})
    nb = read_notebook(path)
    graded = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    if not any(c.cell_type == "code" for c in graded):
        raise NotebookError(
            f"{path.name} has no graded test cells, so there is nothing to check. "
            "Give the assignment's notebook, as downloaded (e.g. 01_pixels.ipynb)."
        )
    kernel = _kernel_name(nb)
    if not quiet:
        print(f"Running {path.name} in a fresh kernel (the saved file; unsaved edits are not seen)")
        asked = nb.metadata.get("kernelspec", {}).get("name")
        if asked and asked != kernel:
            print(f"Its kernel '{asked}' is not installed here: using the '{kernel}' kernel.")
    _run(nb, path.parent, timeout, kernel)

    tests: list[TestResult] = []
    notes: dict[str, PartNotes] = {}
    part = "Notebook"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            part = _heading(cell.source) or part
            continue
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        error = _error_text(cell.get("outputs", []))
        if meta.get("grade"):
            if HIDDEN_MARKER in cell.source:
                kind = "hidden-source"
            elif _is_code(cell.source):
                kind = "visible"
            else:
                kind = "hidden"
            passed = None if kind == "hidden" else error is None
            tests.append(
                TestResult(
                    part=part,
                    grade_id=str(meta.get("grade_id", "")),
                    points=float(meta.get("points", 0)),
                    kind=kind,
                    passed=passed,
                    message=error or "",
                )
            )
        elif error is not None:
            notes.setdefault(part, PartNotes(part)).errors.append(error)
    report = Report(path=path, tests=tests, notes=notes)
    if not quiet:
        print(report.summary())
    return report


def main(argv: list[str] | None = None) -> int:
    """Check the one notebook named on the command line and return the exit status.

    Returns 0 if every test that ran passed, 1 if one failed, 2 if the notebook could not
    be checked (or the command line was wrong).
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m helpers.check PATH/TO/NOTEBOOK.ipynb", file=sys.stderr)
        return 2
    try:
        report = check_notebook(args[0])
    except NotebookError as error:
        print(f"Cannot check the notebook: {error}", file=sys.stderr)
        return 2
    return 0 if report.ok else 1
