"""The red team: 50+ bad submissions graded in ONE batch, each with its expected outcome.

The batch runs ``python -m grader autograde --jobs 2`` on a copy of the course
in a temporary folder, with every case of ``redteam/cases.py`` handed in by its own
student, spread over assignments 01-06 (the capstone, which grades a trained network, is
tested in tests/assignments), next to one honest submission and one plainly wrong
"control" per assignment. Then, per case: the expected status, the
cheated item at 0 or refuted by the cross-check, every honest item at full points.
For the batch: it finishes within its budget, the gradebook matches the sealed ledger,
no feedback page shows a hidden test, and no sandboxed process survives.

``REDTEAM_CASES=name,group,...`` grades only those cases (and the honest and control
submissions), each on the assignment it gets in the full batch: for trying out a case.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader_tools import course_cli

from grader.sandbox import FIRST_UID, available, processes_of

sys.path.insert(0, str(Path(__file__).parent))
from redteam.cases import Case, Context, cases  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
JOBS = 2
CELL_TIMEOUT = 6
BATCH_BUDGET_S = 900
CASES = cases()
WANTED = {w.strip() for w in os.environ.get("REDTEAM_CASES", "").split(",") if w.strip()}
SELECTED = [c for c in CASES if not WANTED or c.name in WANTED or c.group in WANTED]

pytestmark = pytest.mark.slow


def assignments() -> list[str]:
    # The capstone grades a trained network handed in beside the notebook; without the
    # instructor's reference checkpoint every submission would stop at the environment
    # check and the cases placed there would test nothing. Its grading (good and bad
    # checkpoints included) is tested end to end in tests/assignments (the 07_capstone case of
    # test_every_assignment.py and test_07_capstone.py). The debugging lab imports PyTorch,
    # which alone takes most of this batch's short cell limit on a busy 2-core machine; its
    # grading is tested end to end there too (the 08_debugging case).
    return sorted(
        p.name
        for p in (ROOT / "solutions").iterdir()
        if any(p.glob("*.ipynb")) and p.name not in ("07_capstone", "08_debugging")
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    reason = available()
    if reason:
        pytest.fail(f"the red-team test needs the grading sandbox: {reason}")
    course = tmp_path_factory.mktemp("redteam") / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    names = assignments()
    for name in names:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    proc = course_cli(course, "release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    contexts = {}
    for name in names:
        (nb_path,) = sorted((course / "exercises" / name).glob("*.ipynb"))
        contexts[name] = Context(
            release=nbformat.read(nb_path, as_version=4),
            source=nbformat.read(course / "solutions" / name / nb_path.name, as_version=4),
            filename=nb_path.name,
            course=str(course),
        )

    def hand_in(student: str, assignment: str, files: dict[str, bytes]) -> None:
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        for filename, data in files.items():
            (folder / filename).write_bytes(data)

    plan = {}
    for name, ctx in contexts.items():
        # What the instructor keeps beside the solution (a checkpoint) is what an honest
        # student hands in beside the notebook.
        extra = {
            p.name: p.read_bytes()
            for p in (course / "solutions" / name).iterdir()
            if p.is_file() and p.suffix != ".ipynb"
        }
        hand_in(f"honest-{name}", name, {**ctx.files(ctx.honest()), **extra})
        wrong = ctx.files(ctx.with_target(ctx.wrong_function()))
        hand_in(f"control-{name}", name, {**wrong, **extra})
    for i, case in enumerate(CASES):
        plan[case.name] = case.assignment or names[i % len(names)]
    for case in SELECTED:
        hand_in(case.name, plan[case.name], case.build(contexts[plan[case.name]]))
    started = time.monotonic()
    proc = course_cli(
        course, "autograde", "--jobs", str(JOBS), "--cell-timeout", str(CELL_TIMEOUT),
        "--budget", "150", "--quiet", timeout=BATCH_BUDGET_S,
    )  # fmt: skip
    seconds = time.monotonic() - started
    records = {}
    for path in (course / "grading" / "results").glob("*/*/*.json"):
        rec = json.loads(path.read_text())
        records[rec["student"]] = rec
    result = {
        "course": course,
        "plan": plan,
        "records": records,
        "seconds": seconds,
        "log": proc.stdout + proc.stderr,
        "returncode": proc.returncode,
        "names": names,
    }
    if not WANTED:
        # The table for the instructors' page, from this very run (of every case).
        out = ROOT / "_build" / "redteam"
        out.mkdir(parents=True, exist_ok=True)
        (out / "table.md").write_text(redteam_table(result) + f"\n\nbatch: {seconds:.0f} s\n")
    return result


def _faulted(batch: dict, assignment: str) -> str:
    """The environment fault reported for an assignment ('' if its reference ran fine)."""
    honest = batch["records"][f"honest-{assignment}"]
    return honest["reason"] if "environment fault" in honest["reason"] else ""


def _item_cells(batch: dict, assignment: str) -> set[str]:
    control = batch["records"][f"control-{assignment}"]
    return {gid for gid, (score, top) in control["cells"].items() if score < top}


def test_batch_finished_within_budget(batch: dict) -> None:
    assert batch["returncode"] == 0, batch["log"][-4000:]
    assert batch["seconds"] < BATCH_BUDGET_S, f"the batch took {batch['seconds']:.0f} s"
    expected = len(SELECTED) + 2 * len(batch["names"])
    assert len(batch["records"]) == expected, batch["log"][-4000:]


def test_no_assignment_hit_an_environment_fault(batch: dict) -> None:
    faults = {name: _faulted(batch, name) for name in batch["names"]}
    assert not any(faults.values()), faults


def test_honest_and_control_grade_as_expected(batch: dict) -> None:
    for name in batch["names"]:
        honest = batch["records"][f"honest-{name}"]
        assert honest["status"] == "graded" and honest["score"] == honest["max_score"], honest
        assert not honest["flags"], honest["flags"]
        item = _item_cells(batch, name)
        assert item, "the control submission lost no points: the item cannot be told apart"
        assert len(item) < len(honest["cells"]), "the control lost every point"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(batch: dict, case: Case) -> None:
    if case not in SELECTED:
        pytest.skip("not in REDTEAM_CASES")
    rec = batch["records"][case.name]
    assignment = batch["plan"][case.name]
    if case.expect == "rejected":
        assert rec["status"] == "rejected" and rec["reason"], rec
        return
    assert rec["status"] == "graded", f"{rec['status']}: {rec['reason']}"
    item = _item_cells(batch, assignment)
    for gid, (score, top) in rec["cells"].items():
        if case.expect == "item" and gid in item:
            assert score == 0 or gid in rec["refuted"], (
                f"{gid} kept {score}/{top} and the cross-check did not refute it"
            )
        else:
            assert score == top, f"honest cell {gid} got {score}/{top}; notes: {rec['notes']}"
    if case.flag:
        assert rec["flags"], "the case should have been flagged for review"
    if case.flag_text:
        assert any(case.flag_text in f for f in rec["flags"]), rec["flags"]
    if case.clean:
        assert not rec["flags"], rec["flags"]


def test_gradebook_matches_the_sealed_ledger(batch: dict) -> None:
    proc = course_cli(batch["course"], "status")
    assert "changed outside grading: 0" in proc.stdout, proc.stdout
    proc = course_cli(batch["course"], "grades", "--csv", "grades.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graded = [r for r in batch["records"].values() if r["status"] == "graded"]
    rows = (batch["course"] / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(graded)


def test_feedback_never_shows_hidden_tests(batch: dict) -> None:
    proc = course_cli(batch["course"], "feedback", timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    pages = list((batch["course"] / "feedback").glob("*/*/*.html"))
    assert len(pages) >= len(batch["names"])
    page = batch["course"] / "feedback" / "print-hidden-tests"
    if "print-hidden-tests" in {c.name for c in SELECTED}:
        assert any(page.rglob("*.html")), "the student whose hook printed the tests got no feedback"


def test_no_process_survives(batch: dict) -> None:
    left = {uid: processes_of(uid) for uid in range(FIRST_UID, FIRST_UID + JOBS + 1)}
    assert not any(left.values()), left
    course = str(batch["course"])
    strays = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if course in cmdline or "/tmp/grade-" in cmdline:
                strays.append(cmdline.replace("\0", " ")[:200])
    assert not strays, strays


def redteam_table(batch: dict) -> str:
    """Markdown: case → expected → observed (used for the instructors' page)."""
    lines = [
        "| case | group | what it does | expected | observed |",
        "|---|---|---|---|---|",
    ]
    for case in SELECTED:
        rec = batch["records"][case.name]
        if rec["status"] != "graded":
            seen = f"{rec['status']}: {rec['reason'][:70]}"
        else:
            seen = f"{rec['score']:g}/{rec['max_score']:g}"
            if rec["refuted"]:
                seen += f", cross-check refutes {len(rec['refuted'])} cells"
            if rec["flags"]:
                seen += ", flagged"
        want = {
            "rejected": "reported, not graded",
            "honest": "full marks",
            "item": "item 0 or refuted",
        }
        flag = " + flagged" if case.flag else ""
        lines.append(
            f"| {case.name} | {case.group} | {case.what} | {want[case.expect]}{flag} | {seen} |"
        )
    return "\n".join(lines)
