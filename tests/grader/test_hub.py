"""The hub path end to end, through nbgrader's own exchange (as on a JupyterHub).

The instructor releases and publishes the toy assignment; three students, each with their
own home and working folder, fetch it, answer it and submit (one twice); the instructor
collects through the exchange, grades, makes the feedback and releases it; each student
fetches their feedback and finds their own page only.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from nbgrader_tools import course_cli
from toy_course import make_course
from traitlets.config import Config

from grader.sandbox import available

COURSE_ID = "pixels-to-predictions"  # the course id of the checkout's nbgrader_config.py

# Each answer carries its author's name, so a page shows whose answer it holds.
ANSWERS = {
    "ada": "def double(x):  # ada's answer\n    return 2 * x\n",
    "bob": "def double(x):  # bob's answer\n    return 4\n",
    "cat": "def double(x):  # cat's answer\n    return x + x\n",
}
CAT_FIRST = "def double(x):  # cat's first try\n    return 0\n"
EXPECTED = {"ada": 3.0, "bob": 1.0, "cat": 3.0}  # the visible test is 1 point, the hidden 2


def as_student(name: str, tmp: Path, exchange: Path, step: str) -> None:
    """Do one exchange ``step`` (``FetchAssignment``, ``Submit``…) of the toy as ``name``.

    nbgrader's own exchange classes, as its ``fetch_assignment``/``submit``/``fetch_feedback``
    commands run them, in this process (a command costs seconds to start); each student has
    their own working folder and their own nbgrader cache, as in their own home on a hub.
    """
    home = tmp / "home" / name
    (home / "work").mkdir(parents=True, exist_ok=True)
    config = Config()
    config.CourseDirectory.course_id = COURSE_ID
    config.CourseDirectory.assignment_id = "toy"
    # On a hub nbgrader takes the login name; --student says the same on the command line.
    config.CourseDirectory.student_id = name
    config.Exchange.root = str(exchange)
    config.Exchange.cache = str(home / ".local/share/jupyter/nbgrader_cache")
    config.Exchange.assignment_dir = str(home / "work")
    action = getattr(ExchangeFactory(config=config), step)(
        coursedir=CourseDirectory(config=config),
        authenticator=Authenticator(config=config),
        config=config,
    )
    action.start()


def answer(tmp: Path, name: str, source: str) -> None:
    """Write ``source`` into the answer cell of the student's fetched notebook."""
    path = tmp / "home" / name / "work" / "toy" / "toy.ipynb"
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    cell.source = source
    nbformat.write(nb, path)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_term_through_the_nbgrader_exchange(tmp_path: Path) -> None:
    reason = available()
    if reason:
        pytest.fail(f"the grading sandbox is not available: {reason}")
    course = make_course(tmp_path / "course")
    exchange = tmp_path / "exchange"
    # What an instructor adds to nbgrader_config.py on a hub (the default is /srv/nbgrader).
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")

    ok(course_cli(course, "release", "toy", "--exchange"))
    assert (exchange / COURSE_ID / "outbound" / "toy" / "toy.ipynb").is_file()

    for name in ANSWERS:
        as_student(name, tmp_path, exchange, "FetchAssignment")
    answer(tmp_path, "cat", CAT_FIRST)
    as_student("cat", tmp_path, exchange, "Submit")
    for name, source in ANSWERS.items():
        answer(tmp_path, name, source)
        as_student(name, tmp_path, exchange, "Submit")
    inbound = sorted((exchange / COURSE_ID / "inbound").iterdir())
    cats = sorted(p.name.split("+")[2] for p in inbound if p.name.startswith("cat+"))
    assert len(inbound) == 4 and len(cats) == 2

    ok(course_cli(course, "collect", "toy"))
    assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted(ANSWERS)
    # The latest of cat's two submissions is the one collected, with its own time.
    submitted = (course / "submitted" / "cat" / "toy" / "toy.ipynb").read_text()
    assert "cat's answer" in submitted and "first try" not in submitted
    assert (course / "submitted" / "cat" / "toy" / "timestamp.txt").read_text() == cats[-1]

    ok(course_cli(course, "autograde", "--jobs", "2", "--cell-timeout", "10", "--quiet"))
    with sqlite3.connect(course / "gradebook.db") as db:
        rows = db.execute(
            "SELECT a.student_id, a.timestamp, SUM(g.auto_score) FROM grade g "
            "JOIN submitted_notebook n ON g.notebook_id = n.id "
            "JOIN submitted_assignment a ON n.assignment_id = a.id GROUP BY a.id"
        ).fetchall()
    assert {student: score for student, _, score in rows} == EXPECTED
    stamps = {student: stamp for student, stamp, _ in rows}
    assert stamps["cat"] == cats[-1].removesuffix(" UTC")
    for name, score in EXPECTED.items():
        result = json.loads((course / "grading/results/toy" / name / "toy.json").read_text())
        assert result["score"] == score, result

    log = ok(course_cli(course, "feedback", "--release"))
    assert "not released" not in log
    for name in ANSWERS:
        as_student(name, tmp_path, exchange, "FetchFeedback")
        pages = list((tmp_path / "home" / name / "work" / "toy" / "feedback").rglob("*.html"))
        # cat's first submission has no feedback: only the graded (latest) one has.
        assert len(pages) == 1, (name, pages)
        assert name != "cat" or pages[0].parent.name == cats[-1]
        page = html.unescape(re.sub(r"<[^>]+>", "", pages[0].read_text()))
        assert f"{name}'s answer" in page
        assert f"toy (Score: {EXPECTED[name]:.1f} / 3.0)" in page, name
        others = [other for other in ANSWERS if other != name]
        assert not any(f"{other}'s answer" in page for other in others), name
        assert ("double(21) should be 42" in page) == (EXPECTED[name] < 3)
        assert "call_student(double, 21)" not in page  # the hidden test itself stays hidden
