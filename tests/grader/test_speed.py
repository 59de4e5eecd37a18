"""What keeps grading as fast as plain nbgrader (issue "Instructors at scale", item 5).

The times themselves are measured by ``make bench`` (benchmarks/bench_grading.py); these
tests pin the three things that made the difference, so a change that undoes one fails here
instead of quietly doubling a class's grading time:

- a worker process (one per submission) imports neither ``nbgrader`` (its server extensions
  cost about 2 s) nor ``rfc3987_syntax`` (whose grammar costs about 4 s): the scores are
  computed by the grading command, which has nbgrader loaded already;
- every sandbox of a run reads one hash book of the data folder, made once per run, so a
  notebook's setup cell checks sizes and dates instead of hashing 50 MB of data;
- a submission does not wait for the instructor's runs of the other assignments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from toy_course import make_course, student

from grader import autograde as ag
from grader.autograde import Runner, Settings, load_course
from grader.sandbox import available, prepare_workdir

ROOT = Path(__file__).resolve().parents[2]
DATA = os.environ.get("CNN_COURSE_DATA")


@pytest.fixture
def sandbox_ok() -> None:
    reason = available()
    if reason:
        pytest.fail(f"the grading sandbox is not available: {reason}")


def test_a_worker_process_imports_neither_nbgrader_nor_the_iri_grammar() -> None:
    code = (
        "import sys, grader.worker\n"
        "print(sorted(m for m in ('nbgrader', 'rfc3987_syntax') if sys.modules.get(m)))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", (
        f"importing grader.worker loads {proc.stdout.strip()}: each costs seconds per "
        "submission (see the module docstring)"
    )


@pytest.mark.skipif(not DATA, reason="CNN_COURSE_DATA names no data folder")
def test_sandboxes_read_the_runs_hash_book_instead_of_hashing_the_data(
    tmp_path: Path, sandbox_ok: None
) -> None:
    assert DATA is not None
    runner = Runner(load_course(ROOT), Settings(data_dir=Path(DATA)), tmp_path / "run")
    cache = runner.data_cache
    assert cache is not None and cache in runner.readonly
    books = list((cache / "hashes").glob("*.json"))
    assert books and all(p.stat().st_mode & 0o004 for p in books), books
    # Loading MNIST in a sandbox succeeds with hashing disabled: every digest came from the
    # run's hash book. And the sandbox cannot add one of its own.
    code = (
        "import helpers.data.checksums as c\n"
        "def refuse(path): raise SystemExit(f'hashed {path} again')\n"
        "c.sha256_file = refuse\n"
        "from helpers.data.mnist import ensure_mnist\n"
        "print(ensure_mnist())\n"
        "try:\n"
        "    open(c.cache_dir() / 'hashes' / 'planted.json', 'w')\n"
        "    print('planted')\n"
        "except OSError:\n"
        "    print('read-only')\n"
    )
    jobdir = runner.job_dir("_test", "hash-book")
    box = runner.box(jobdir, 0)
    prepare_workdir(box.workdir, box.uid)
    proc = subprocess.run(
        box.argv([sys.executable, "-c", code]), capture_output=True, text=True, env=box.env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "read-only", proc.stdout
    del runner, box
    import gc

    gc.collect()
    assert not cache.exists(), "the run's hash book outlived its run"


def test_a_submission_starts_before_the_other_assignments_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two assignments; the reference of "b" is slow. The submission of "a" must be graded
    # while "b"'s reference still runs, not after it (the old barrier between the phases).
    course_dir = make_course(tmp_path / "course")
    course = load_course(course_dir)
    subs = [ag.Submission("a", "ada", "a.ipynb"), ag.Submission("b", "ada", "b.ipynb")]
    events: list[str] = []
    b_reference_done = threading.Event()

    class FakeRunner:
        def __init__(self, *args: object) -> None:
            pass

    def fake_reference(runner: object, assignment: str, notebook: str, secret: bytes):
        if assignment == "b":
            time.sleep(1.0)
            b_reference_done.set()
        events.append(f"reference {assignment}")
        return ag.Reference(source=student(""), secret_lines=set(), cases=[], expected={})

    def fake_grade(runner: object, sub: ag.Submission, ref: ag.Reference, run_id: str):
        events.append(f"grade {sub.assignment}" + (" late" if b_reference_done.is_set() else ""))
        return ag.Record(sub.assignment, sub.student, sub.notebook)

    monkeypatch.setattr(ag, "find_submissions", lambda *args: subs)
    monkeypatch.setattr(ag, "Runner", FakeRunner)
    monkeypatch.setattr(ag, "prepare_reference", fake_reference)
    monkeypatch.setattr(ag, "grade_one", fake_grade)
    summary = ag.autograde(course, Settings(jobs=2, write_gradebook=False), progress=False)
    assert summary["submissions"] == 2
    assert "grade a" in events, events
    assert events.index("grade a") < events.index("reference b"), events
