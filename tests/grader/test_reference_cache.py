"""The instructor's reference run is kept between grading runs until what it depends on changes."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbgrader_tools import course_cli
from toy_course import make_course, student

from grader import reference_cache
from grader.sandbox import available

PATCHED = (
    "import helpers.check, helpers.check.asserts\n"
    "helpers.check.call_student = helpers.check.asserts.call_student = "
    "lambda f, x, **k: 2 * x\n"
    "def double(x):\n    return 0"
)


def _grade(course: Path) -> tuple[dict, str]:
    proc = course_cli(course, "autograde", "--jobs", "2", "--cell-timeout", "10", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {
        p.parent.name: json.loads(p.read_text())
        for p in (course / "grading" / "results" / "toy").glob("*/toy.json")
    }
    run = max((course / "grading" / "runs").iterdir())
    return results, (run / "logs" / "toy" / "_reference-toy.log").read_text()


@pytest.mark.slow
def test_the_reference_runs_once_until_the_solution_changes(tmp_path: Path) -> None:
    if available():
        pytest.fail(f"the grading sandbox is not available: {available()}")
    course = make_course(tmp_path / "course")
    assert course_cli(course, "release").returncode == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    nbformat.write(student("def double(x):\n    return 2 * x"), inbox / "ada.ipynb")
    nbformat.write(student(PATCHED), inbox / "mal.ipynb")
    assert course_cli(course, "collect", "toy", "--from", str(inbox)).returncode == 0

    first, log = _grade(course)
    assert "unchanged" not in log
    kept = list((course / "grading" / "reference-cache").glob("toy-toy-*.pickle"))
    assert len(kept) == 1

    # Second run: the kept reference stands in, and the cross-check still catches the
    # patched grading helper with the kept expected results.
    second, log = _grade(course)
    assert "reference unchanged since it last passed" in log
    for name in ("ada", "mal"):
        assert second[name]["score"] == first[name]["score"]
        assert second[name]["crosscheck_score"] == first[name]["crosscheck_score"]
    assert second["mal"]["crosscheck_score"] == 0 and second["ada"]["crosscheck_score"] == 3

    # A changed solution runs again, and replaces the kept file.
    source = course / "solutions" / "toy" / "toy.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("return 2 * x", "return x + x")
    nbformat.write(nb, source)
    _, log = _grade(course)
    assert "unchanged" not in log
    assert len(list((course / "grading" / "reference-cache").glob("toy-toy-*.pickle"))) == 1


def test_the_key_follows_the_data_folder_and_the_settings(tmp_path: Path) -> None:
    notebook = tmp_path / "a.ipynb"
    notebook.write_text("{}")
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.idx").write_bytes(b"1234")

    def key(settings: list) -> str:
        return reference_cache.reference_key(
            source=notebook, release=notebook, beside=[], data_dir=data, settings=settings
        )

    before = key([30.0, True])
    assert key([30.0, True]) == before
    assert key([30.0, False]) != before
    (data / "x.idx").write_bytes(b"12345")
    assert key([30.0, True]) != before
    (data / "x.idx").unlink()
    assert key([30.0, True]) != before


def test_a_damaged_cache_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "toy-toy-abc.pickle"
    reference_cache.save(path, [{"id": 1}], {1: {"id": 1}})
    assert reference_cache.load(path) == {
        "version": 1,
        "cases": [{"id": 1}],
        "expected": {1: {"id": 1}},
    }
    path.write_bytes(b"not a pickle")
    assert reference_cache.load(path) is None
