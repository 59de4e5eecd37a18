"""Tests of the LMS exports and the late policy (grader.lms, grader.late).

One module-scoped toy course goes through the real commands once: release, collect
``--from`` a folder whose files' times are set around the due date, autograde with two
workers, then ``grades --format all`` and ``status``. The tests read what those wrote.
Fast tests check the penalty rule and the error messages on their own.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader_tools import course_cli
from toy_course import make_course, student
from traitlets.config import Config

from grader.autograde import Record, load_course, store
from grader.cli import main
from grader.gradebook import Ledger
from grader.late import CoursePenalty, PolicyError, Rule, load_policy
from grader.lms import RosterError, load_roster

DUE = datetime(2026, 10, 1, 23, 59, tzinfo=UTC)
HOUR = timedelta(hours=1)
RIGHT = "def double(x):\n    return 2 * x"

POLICY = """\
[defaults]
penalty_per_day = 0.1
max_days = 3

[assignments.toy]
due = 2026-10-01T23:59:00+00:00
canvas_id = 4242

[extensions]
"cy/toy" = 2026-10-04T23:59:00+00:00
"fay/toy" = 2
"gil/toy" = 1
"""

ROSTER = """\
student,lms_id,name,email,section
ada,S1,Ada Lovelace,ada@uni.example,A
bob,S2,Bob Byte,bob@uni.example,A
cy,S3,Cy Borg,cy@uni.example,B
dee,S4,Dee Bug,dee@uni.example,B
eve,S5,Eve Late,eve@uni.example,B
fay,S6,Fay Days,fay@uni.example,B
gil,S7,Gil Later,gil@uni.example,B
ghost,S9,Gus Host,ghost@uni.example,B
"""

# student -> when the file handed in was last changed (collect stamps that time).
HANDED_IN = {
    "ada": DUE - 24 * HOUR,  # a day early
    "bob": DUE + 36 * HOUR,  # 1.5 days late: two started days, 0.2 of the max score
    "cy": DUE + 48 * HOUR,  # late, but within the extension
    "dee": DUE,  # just in time
    "eve": DUE + 100 * HOUR,  # past max_days: zero
    "fay": DUE + 40 * HOUR,  # within an extension of two days
    "gil": DUE + 60 * HOUR,  # 36 h past an extension of one day: 0.2 of the max score
    "zoe": DUE - HOUR,  # graded, but missing from the roster
}


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run ``python -m grader ARGV`` in this process; return (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a toy course released, collected, scored and exported once.

    Release and collect are the real commands (collect stamps each file's time); the
    scores go in through ``store``, the writer autograde itself calls with each result,
    so no sandboxed kernel runs: the export reads only the gradebook and the stamps.
    """
    root = tmp_path_factory.mktemp("lms")
    course = make_course(root / "course")
    proc = course_cli(course, "release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    inbox = root / "inbox"
    inbox.mkdir()
    for name, when in HANDED_IN.items():
        path = inbox / f"{name}.ipynb"
        nbformat.write(student(RIGHT), path)
        ns = int(when.timestamp()) * 10**9
        os.utime(path, ns=(ns, ns))
    assert run_cli("--root", str(course), "collect", "toy", "--from", str(inbox))[0] == 0
    loaded = load_course(course)
    ledger = Ledger(loaded.grading)
    full = {"double_tests": [1.0, 1.0], "double_hidden": [2.0, 2.0]}
    for name in HANDED_IN:
        record = Record("toy", name, "toy.ipynb", cells=full, score=3.0, max_score=3.0)
        store(loaded, record, ledger)
    (course / "grading" / "late.toml").write_text(POLICY)
    (course / "grading" / "roster.csv").write_text(ROSTER)
    grades = course / "grades.csv"
    code, out, err = run_cli(
        "--root", str(course), "grades", "--csv", str(grades), "--format", "all"
    )
    assert code == 0, out + err
    (course / "grades.out").write_text(out)
    code, out, err = run_cli("--root", str(course), "status")
    (course / "status.out").write_text(out + err)
    return course


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def long_rows(course: Path) -> dict[str, dict[str, str]]:
    with open(course / "grades-generic.csv", newline="") as handle:
        return {r["student"]: r for r in csv.DictReader(handle)}


# --- the penalty rule ----------------------------------------------------------------------


def test_rule_charges_each_started_day_and_zeroes_past_max_days() -> None:
    rule = Rule(penalty_per_day=0.1, max_days=3, grace_minutes=5)
    assert rule.penalty(10, 10, 0) == 0
    assert rule.penalty(10, 10, 5 * 60) == 0  # within the grace period
    assert rule.penalty(10, 10, 5 * 60 + 1) == 1  # one started day
    assert rule.penalty(10, 10, 86400 + 5 * 60 + 1) == 2
    assert rule.penalty(10, 10, 3 * 86400 + 5 * 60 + 1) == 10  # past max_days: all of it
    assert rule.penalty(0.5, 10, 2 * 86400) == 0.5  # never more than the score


# --- the exports ---------------------------------------------------------------------------


@pytest.mark.slow
def test_canvas_export_has_canvas_columns_points_possible_and_roster_ids(term: Path) -> None:
    table = read_csv(term / "grades-canvas.csv")
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "toy (4242)"]
    assert table[1][0].strip() == "Points Possible" and table[1][1:] == ["", "", "", "", "3"]
    rows = {r[2]: r for r in table[2:]}
    assert list(rows) == ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S9"]  # roster order, SIS ids
    assert rows["S1"][0] == "Ada Lovelace" and rows["S1"][4] == "A"
    assert rows["S1"][5] == "3" and rows["S2"][5] == "2.4"  # final scores
    assert rows["S9"][5] == ""  # no submission: blank, the grade in Canvas is left alone
    assert "zoe" not in {r[0] for r in table}


@pytest.mark.slow
def test_moodle_export_has_an_id_column_then_one_column_per_item(term: Path) -> None:
    table = read_csv(term / "grades-moodle.csv")
    assert table[0] == ["ID number", "Email address", "Full name", "toy"]
    rows = {r[0]: r for r in table[1:]}
    assert rows["S2"] == ["S2", "bob@uni.example", "Bob Byte", "2.4"]
    assert rows["S5"][3] == "0" and rows["S9"][3] == ""
    assert len(table) == 1 + 8


@pytest.mark.slow
def test_late_penalty_spares_extensions_and_just_in_time(term: Path) -> None:
    rows = long_rows(term)
    assert (rows["ada"]["score"], rows["ada"]["late_penalty"], rows["ada"]["final_score"]) == (
        "3", "0", "3",
    )  # fmt: skip
    bob = rows["bob"]
    assert (bob["score"], bob["late_penalty"], bob["final_score"]) == ("3", "0.6", "2.4")
    assert bob["flags"].startswith("late 1 d 12 h") and bob["due"] == "2026-10-01T23:59:00+00:00"
    assert bob["submitted_at"] == "2026-10-03T11:59:00+00:00"
    cy = rows["cy"]
    assert (cy["late_penalty"], cy["final_score"], cy["extension"]) == (
        "0", "3", "2026-10-04T23:59:00+00:00",
    )  # fmt: skip
    assert (rows["dee"]["late_penalty"], rows["dee"]["final_score"]) == ("0", "3")
    assert (rows["eve"]["late_penalty"], rows["eve"]["final_score"]) == ("3", "0")
    fay, gil = rows["fay"], rows["gil"]
    assert (fay["late_penalty"], fay["final_score"], fay["extension"]) == ("0", "3", "+2 days")
    assert (gil["late_penalty"], gil["final_score"], gil["extension"]) == ("0.6", "2.4", "+1 days")


@pytest.mark.slow
def test_roster_gaps_are_reported_and_kept_in_the_long_file(term: Path) -> None:
    out = (term / "grades.out").read_text()
    assert "not in the roster" in out and "zoe" in out.split("not in the roster")[1]
    assert "never graded: ghost" in out
    rows = long_rows(term)
    assert rows["zoe"]["lms_id"] == "" and "not in roster" in rows["zoe"]["flags"]
    assert rows["ghost"]["score"] == "" and rows["ghost"]["flags"] == "no submission"


@pytest.mark.slow
def test_the_gradebook_keeps_the_raw_score(term: Path) -> None:
    with Gradebook(f"sqlite:///{term / 'gradebook.db'}") as gb:
        assert gb.find_submission("toy", "bob").score == 3
        assert gb.find_submission("toy", "eve").score == 3
    grades = read_csv(term / "grades.csv")
    assert ",".join(grades[0]).startswith("student,assignment,score,max_score,crosscheck_score")
    bob = dict(zip(grades[0], next(r for r in grades if r[0] == "bob"), strict=True))
    assert (bob["score"], bob["late_penalty"], bob["final_score"]) == ("3.0", "0.6", "2.4")
    assert "changed outside grading: 0" in (term / "status.out").read_text()


@pytest.mark.slow
def test_status_lists_the_late_submissions(term: Path) -> None:
    out = (term / "status.out").read_text()
    assert "late: 3" in out
    assert "toy: bob: 1 d 12 h late (due 2026-10-01T23:59:00+00:00), penalty 0.6/3" in out
    assert "toy: eve: 4 d 4 h late" in out and "penalty 3/3" in out
    due = "due 2026-10-01T23:59:00+00:00, extension +1 days"
    assert f"toy: gil: 1 d 12 h late ({due}), penalty 0.6/3" in out
    late = out.split("late: 3")[1]
    assert not any(f"toy: {who}:" in late for who in ("ada", "cy", "dee", "fay", "zoe"))


@pytest.mark.slow
def test_the_plugin_works_inside_nbgraders_late_penalty_step(term: Path, tmp_path: Path) -> None:
    from nbgrader.preprocessors import AssignLatePenalties

    db = tmp_path / "gradebook.db"
    shutil.copyfile(term / "gradebook.db", db)
    url = f"sqlite:///{db}"
    with Gradebook(url) as gb:  # nbgrader's own due date, as `nbgrader db assignment add`
        gb.update_or_create_assignment("toy", duedate=DUE.replace(tzinfo=None))
    config = Config()
    config.AssignLatePenalties.plugin_class = CoursePenalty
    config.CoursePenalty.policy_file = str(term / "grading" / "late.toml")
    step = AssignLatePenalties(config=config)
    nb = nbformat.read(term / "submitted" / "bob" / "toy" / "toy.ipynb", as_version=4)
    for who in ("bob", "ada"):
        info = {"notebook": "toy", "assignment": "toy", "student": who, "db_url": url}
        step.preprocess(nb, {"nbgrader": info})
    with Gradebook(url) as gb:
        assert gb.find_submission_notebook("toy", "toy", "bob").late_submission_penalty == 0.6
        assert gb.find_submission_notebook("toy", "toy", "ada").late_submission_penalty is None
        assert gb.find_submission("toy", "bob").score == 3  # nbgrader keeps it apart too


# --- clear errors ---------------------------------------------------------------------------


def test_a_roster_without_lms_id_or_with_a_repeated_student_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("student,name\nada,Ada\n")
    with pytest.raises(RosterError, match=rf"^{path} line 1: the header lacks lms_id"):
        load_roster(path)
    path.write_text("student,lms_id\nada,S1\nbob,S2\nada,S3\n")
    with pytest.raises(RosterError, match=rf"^{path} line 4: student 'ada' is already on line 2"):
        load_roster(path)
    path.write_text("student,lms_id\nada,S1\nbob,S1\n")
    with pytest.raises(
        RosterError, match=rf"^{path} line 3: lms_id 'S1' is already 'ada''s, on line 2"
    ):
        load_roster(path)


def test_a_policy_with_a_bad_date_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "late.toml"
    path.write_text('[assignments.a]\ndue = 2026-10-01T23:59:00Z\n[assignments.b]\ndue = "soon"\n')
    with pytest.raises(PolicyError, match=rf"^{path} line 4: due must be a date and time"):
        load_policy(path)
    path.write_text("[assignments.a]\ndue = 2026-10-01T23:59:00\n")  # no UTC offset
    with pytest.raises(PolicyError, match=rf"^{path} line 2: due must be"):
        load_policy(path)
    path.write_text("[assignments.a]\ndue = 2026-13-01T23:59:00Z\n")
    with pytest.raises(PolicyError, match=rf"^{path}: .*line 2"):
        load_policy(path)
    path.write_text('[extensions]\n"ada/a" = "next week"\n')
    with pytest.raises(PolicyError, match=rf"^{path} line 2: ada/a must be a date"):
        load_policy(path)


@pytest.mark.slow
def test_grades_stops_with_one_line_on_a_broken_roster(term: Path, tmp_path: Path) -> None:
    bad = tmp_path / "roster.csv"
    bad.write_text("student,email\nada,ada@uni.example\n")
    out = tmp_path / "g.csv"
    code, _, err = run_cli("--root", str(term), "grades", "--csv", str(out), "--roster", str(bad))
    assert code == 2
    assert (
        err
        == f"grades: {bad} line 1: the header lacks lms_id (it needs at least student,lms_id).\n"
    )
    assert not out.exists()
