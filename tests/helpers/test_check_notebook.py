"""Tests of the student self-check, `python -m helpers.check NOTEBOOK`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.check.notebook import RUNNING_FLAG, NotebookError, check_notebook, main, read_notebook

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "solutions" / "01_pixels" / "01_pixels.ipynb"
RELEASE = ROOT / "exercises" / "01_pixels" / "01_pixels.ipynb"
PARTS = 7


def run_cli(path: Path | str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers.check", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.mark.slow  # starts a kernel
def test_solution_passes_every_test_and_is_not_modified(capsys):
    before = SOURCE.read_bytes()
    assert main([str(SOURCE)]) == 0
    out = capsys.readouterr().out
    assert f"Visible tests passed: {PARTS} of {PARTS} (35 points of 35 points)." in out
    assert f"Hidden tests (instructor copy) passed: {PARTS} of {PARTS}." in out
    assert "FAILED" not in out
    assert SOURCE.read_bytes() == before


@pytest.mark.slow  # starts a kernel
def test_untouched_student_version_fails_part_by_part(tmp_path):
    # As a student runs it: the command line, in the folder of a downloaded notebook, far
    # from the repository (whose root is not the working directory).
    student = tmp_path / "01_pixels.ipynb"
    student.write_bytes(RELEASE.read_bytes())
    assert not tmp_path.resolve().is_relative_to(ROOT)
    proc = run_cli("01_pixels.ipynb", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert out.count("FAILED  visible tests") == PARTS
    assert out.count("still the stub") == PARTS
    assert out.count("--    hidden tests") == PARTS
    for part in ("Part 1 · Read a picture file  (15 points)", "Part 6 · Cut out the middle"):
        assert part in out
    assert "Visible tests passed: 0 of 7 (0 points of 35 points)." in out
    assert "Hidden tests: 65 points, run when your notebook is graded" in out
    assert student.read_bytes() == RELEASE.read_bytes()


@pytest.mark.slow  # starts a kernel
def test_one_wrong_part_is_reported_with_its_message(tmp_path):
    source = nbformat.read(SOURCE, as_version=4)
    student = nbformat.read(RELEASE, as_version=4)
    # A student who solved everything except the greyscale weights (BGR order).
    for theirs, ours in zip(student.cells, source.cells, strict=True):
        if theirs.metadata.get("nbgrader", {}).get("solution"):
            theirs.source = ours.source
            if theirs.metadata["nbgrader"]["grade_id"] == "grayscale_solution":
                theirs.source = theirs.source.replace(
                    "[0.299, 0.587, 0.114]", "[0.114, 0.587, 0.299]"
                )
    path = tmp_path / "01_pixels.ipynb"
    nbformat.write(student, path)
    report = check_notebook(path, quiet=True)
    assert [t.grade_id for t in report.failed] == ["grayscale_tests"]
    (failure,) = report.failed
    assert failure.part == "Part 4 · From colour to grey" and failure.points == 5
    assert "to_grayscale(fruit)[50, 50] should be 0.299*" in failure.message
    assert not report.ok
    assert "Visible tests passed: 6 of 7 (30 points of 35 points)." in report.summary()


@pytest.mark.slow  # starts a kernel
def test_a_cell_that_never_ends_is_interrupted(tmp_path):
    nb = new_notebook(
        cells=[
            new_markdown_cell("## Part 1 · Loops"),
            new_code_cell(
                "while True:\n    pass",
                metadata={"nbgrader": {"grade": True, "grade_id": "loop", "points": 1}},
            ),
            new_code_cell(
                "assert 1 + 1 == 2",
                metadata={"nbgrader": {"grade": True, "grade_id": "after", "points": 2}},
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "loop.ipynb"
    nbformat.write(nb, path)
    report = check_notebook(path, timeout=3, quiet=True)
    assert [(t.grade_id, t.passed) for t in report.tests] == [("loop", False), ("after", True)]
    assert "KeyboardInterrupt" in report.tests[0].message


def test_a_check_inside_the_checked_notebook_does_nothing(monkeypatch):
    monkeypatch.setenv(RUNNING_FLAG, "1")
    report = check_notebook(SOURCE, quiet=True)
    assert report.tests == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"cells": [', "is damaged: it is not valid notebook JSON (line 1"),
        ("", "is damaged: it is not valid notebook JSON"),
        ('{"name": "not a notebook"}', "is JSON but not a Jupyter notebook"),
        ('{"cells": 5, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "structure is broken"),
    ],
)
def test_broken_files_get_a_sentence_not_a_traceback(tmp_path, content, expected, capsys):
    path = tmp_path / "01_pixels.ipynb"
    path.write_text(content)
    assert main([str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Cannot check the notebook: ")
    assert expected in captured.err
    assert len(captured.err.splitlines()) == 1


def test_the_command_line_reports_a_damaged_file_in_one_line(tmp_path):
    path = tmp_path / "01_pixels.ipynb"
    path.write_text('{"cells": [{"cell_type": "code", "source": "x = ')
    proc = run_cli(path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"Cannot check the notebook: {path} is damaged")
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_missing_file_and_notebook_without_tests(tmp_path):
    with pytest.raises(NotebookError, match="is not there: give the path of your .ipynb file"):
        read_notebook(tmp_path / "nope.ipynb")
    plain = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1")]), plain)
    with pytest.raises(NotebookError, match="has no graded test cells"):
        check_notebook(plain, quiet=True)
    assert main([]) == 2


def _one_test_notebook(path: Path, kernelspec: dict) -> Path:
    nb = new_notebook(
        cells=[
            new_markdown_cell("## Part 1 · Sums"),
            new_code_cell(
                "assert 1 + 1 == 2",
                metadata={"nbgrader": {"grade": True, "grade_id": "sum", "points": 1}},
            ),
        ]
    )
    nb.metadata["kernelspec"] = kernelspec
    nbformat.write(nb, path)
    return path


def test_a_python_notebook_saved_with_another_kernel_runs_in_this_python(tmp_path, capsys):
    # E.g. saved on a hub whose kernel has its own name: checked here with this Python's kernel.
    spec = {"name": "conda-env-course-py", "display_name": "Course", "language": "python"}
    path = _one_test_notebook(tmp_path / "hub.ipynb", spec)
    report = check_notebook(path)
    assert report.ok and [t.passed for t in report.tests] == [True]
    note = "Its kernel 'conda-env-course-py' is not installed here: using the 'python3' kernel."
    assert note in capsys.readouterr().out


def test_a_kernel_that_is_not_installed_says_what_to_do(tmp_path):
    spec = {"name": "ir", "display_name": "R", "language": "R"}
    path = _one_test_notebook(tmp_path / "r.ipynb", spec)
    with pytest.raises(NotebookError) as error:
        check_notebook(path, quiet=True)
    message = str(error.value)
    assert "asks for the Jupyter kernel 'ir', which is not installed here" in message
    assert "`python -m pip install ipykernel`" in message and "pick a Python 3 kernel" in message
    assert "make" not in message, "a student with only the wheel has no Makefile"
