"""What only 07_capstone checks: its grading rule, and the instructor's command grading it.

The capstone grades a network students train at home and hand in as ``digitnet.pt``; the
notebook must say so, must not train when graded, and the course's ``python -m grader`` must
refuse to release a checkpoint and grade only against the instructor's reference network.
"""

from __future__ import annotations

import copy
import json
import shutil
import time

import nbformat
import pytest
from assignments.cases_07_capstone import ASSIGNMENT, CHECKPOINT, NAME
from nbgrader_tools import (
    ROOT,
    SOLUTION_BEGIN,
    cell_by_id,
    course_cli,
    load_notebook,
    make_course,
    nbgrader_meta,
)


def test_no_checkpoint_or_data_file_lives_in_the_assignment_folders():
    for folder in (ASSIGNMENT.source.parent, ASSIGNMENT.release.parent):
        files = sorted(p.name for p in folder.rglob("*") if p.is_file())
        assert files == [ASSIGNMENT.notebook], f"{folder} should hold only the notebook: {files}"


def test_the_grading_rule_is_documented_and_the_training_cell_obeys_it():
    nb = load_notebook(ASSIGNMENT.source)
    intro = cell_by_id(nb, "intro").source
    for phrase in ("NBGRADER_EXECUTION", "weights_only=True", "digitnet.pt", "scores 0 on Part 5"):
        assert phrase in intro, f"the introduction does not explain the grading rule ({phrase})"
    setup = cell_by_id(nb, "setup").source
    assert 'GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))' in setup
    assert "threads=1" in setup, "grading should run torch on one thread"
    run = cell_by_id(nb, "run_solution").source
    guard, trained = run.index("if GRADING or SELF_CHECK:"), run.index(SOLUTION_BEGIN)
    assert guard < trained, "the training code must sit behind the grading guard"


def _hand_in(course, student: str, nb: nbformat.NotebookNode, checkpoint) -> None:
    folder = course / "submitted" / student / NAME
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / ASSIGNMENT.notebook)
    shutil.copy2(checkpoint, folder / CHECKPOINT)


@pytest.mark.slow
def test_course_command_grades_the_capstone_against_the_reference_network(
    tmp_path, digitnet_checkpoint
):
    from grader.sandbox import available

    reason = available()
    if reason:
        pytest.fail(f"grading the capstone needs the sandbox: {reason}")
    good = digitnet_checkpoint.path
    course = make_course(ROOT, tmp_path / "course", [NAME])

    # A checkpoint in the source folder would be released to students: refused.
    shutil.copy2(good, course / "solutions" / NAME / CHECKPOINT)
    proc = course_cli(course, "release")
    assert proc.returncode == 1 and "grading/reference" in proc.stderr, proc.stderr
    assert not (course / "exercises").exists()
    (course / "solutions" / NAME / CHECKPOINT).unlink()
    proc = course_cli(course, "release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list((course / "exercises" / NAME).glob("*.pt"))

    release = nbformat.read(course / "exercises" / NAME / ASSIGNMENT.notebook, as_version=4)
    source = nbformat.read(course / "solutions" / NAME / ASSIGNMENT.notebook, as_version=4)
    answers = {gid: cell_by_id(source, gid).source for gid in ASSIGNMENT.parts}
    honest = copy.deepcopy(release)
    for cell in honest.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    _hand_in(course, "ada", honest, good)
    _hand_in(course, "bob", release, good)

    # Without the instructor's network nobody is graded, and the fault says what to do.
    proc = course_cli(course, "autograde", "--jobs", "2", "--quiet")
    assert proc.returncode == 1 and "make capstone-checkpoint" in proc.stdout + proc.stderr, (
        proc.stdout + proc.stderr
    )

    reference = course / "grading" / "reference" / NAME
    reference.mkdir(parents=True)
    shutil.copy2(good, reference / CHECKPOINT)
    started = time.perf_counter()
    proc = course_cli(course, "autograde", "--jobs", "2", "--quiet")
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {
        p.parent.name: json.loads(p.read_text())
        for p in (course / "grading" / "results" / NAME).glob(f"*/{NAME}.json")
    }
    ada, bob = results["ada"], results["bob"]
    assert ada["status"] == "graded" and ada["score"] == ada["max_score"] == 100, ada
    assert not ada["flags"] and not ada["refuted"], ada
    # The untouched release, even with a good network beside it, earns nothing (Part 5 loads
    # the network into the student's DigitNet), and its grading guard, which reads
    # NBGRADER_EXECUTION, is the course's code and not held against the student.
    assert bob["status"] == "graded" and bob["score"] == 0, bob
    assert not bob["flags"], bob["flags"]
    print(f"course autograde of 2 capstone submissions (+ the reference run): {seconds:.0f} s")
