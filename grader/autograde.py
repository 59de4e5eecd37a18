"""Grade many submissions at once: pre-check, sandboxed workers, cross-check, gradebook.

:func:`autograde` is what ``python -m grader autograde`` runs. For every
student × assignment × notebook it pre-checks the submission, rebuilds the notebook from
the instructor's version, and hands it to a worker process
(:mod:`grader.worker`) that runs it in a sandbox with a wall-clock budget. N
workers run at once; only this process writes the gradebook, one submission at a time,
under a lock. Everything a run produces lands in ``grading/runs/<time>/`` (a log per
submission, the summary) and ``grading/results/`` (the latest record per submission).
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
from traitlets.config.loader import PyFileConfigLoader

import helpers
from grader import crosscheck as cc
from grader import harness, reference_cache
from grader.gradebook import Ledger, locked, write_scores
from grader.notebooks import (
    answer_sources,
    hidden_lines,
    is_answer,
    nbgrader_meta,
    precheck,
    read_notebook,
    rebuild,
    scrub_outputs,
)
from grader.sandbox import (
    Limits,
    Sandbox,
    claim_uids,
    clean_env,
    die_with_parent,
    exposed,
    kill_group,
    kill_uid,
    preflight,
    python_paths,
)
from grader.worker import scores

# This package's folder: never bound into a sandbox, and on the path of every worker.
GRADER_DIR = Path(__file__).resolve().parent


@dataclass
class Course:
    """Where an nbgrader course keeps things, read from its ``nbgrader_config.py``."""

    root: Path
    source: Path
    release: Path
    submitted: Path
    autograded: Path
    feedback: Path
    db_path: Path
    cell_timeout: float
    kernel_arguments: list[str]

    @property
    def db_url(self) -> str:
        """The gradebook's SQLAlchemy address."""
        return f"sqlite:///{self.db_path}"

    @property
    def grading(self) -> Path:
        """The grader's own folder: runs, results, the sealed ledger, reference files."""
        return self.root / "grading"

    def reference_files(self, assignment: str) -> list[Path]:
        """Return the files the instructor's notebook reads beside it while it is graded.

        They live in ``grading/reference/<assignment>/`` (a trained checkpoint, say), never
        in the source folder, whose every file nbgrader copies into the student release.
        """
        folder = self.grading / "reference" / assignment
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink())

    def assignments(self) -> list[str]:
        """Return the released assignments (folders of the release holding a notebook)."""
        return sorted(
            p.name for p in self.release.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
        )

    def notebooks(self, assignment: str) -> list[str]:
        """Return the file names of an assignment's released notebooks."""
        return sorted(p.name for p in (self.release / assignment).glob("*.ipynb"))


def load_course(root: Path) -> Course:
    """Read the course layout from ``root/nbgrader_config.py``."""
    root = root.resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise SystemExit(f"{root} has no nbgrader_config.py: run this from the course folder.")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    folders = config.get("CourseDirectory", {})

    def folder(name: str, default: str) -> Path:
        return root / folders.get(name, default)

    db_url = folders.get("db_url", f"sqlite:///{root / 'gradebook.db'}")
    execute = config.get("Execute", {})
    return Course(
        root=root,
        source=folder("source_directory", "source"),
        release=folder("release_directory", "release"),
        submitted=folder("submitted_directory", "submitted"),
        autograded=folder("autograded_directory", "autograded"),
        feedback=folder("feedback_directory", "feedback"),
        db_path=Path(db_url.removeprefix("sqlite:///")),
        cell_timeout=float(execute.get("timeout", 30)),
        kernel_arguments=list(execute.get("extra_arguments", [])),
    )


@dataclass
class Settings:
    """How one grading run isolates and times each submission."""

    jobs: int = 1
    cell_timeout: float = 120.0
    budget: float = 900.0
    limits: Limits = field(default_factory=Limits)
    output_cap: int = 2 * 2**20
    crosscheck: bool = True
    write_gradebook: bool = True
    keep_jobs: bool = False
    data_dir: Path | None = None
    # Reuse the instructor's reference run while nothing it depends on has changed.
    reuse_reference: bool = True


@dataclass
class Submission:
    """One notebook one student handed in for one assignment."""

    assignment: str
    student: str
    notebook: str


@dataclass
class Record:
    """What happened to one submitted notebook."""

    assignment: str
    student: str
    notebook: str
    status: str = "graded"  # graded | rejected | failed
    reason: str = ""
    cells: dict[str, list[float]] = field(default_factory=dict)
    score: float = 0.0
    max_score: float = 0.0
    crosscheck_score: float | None = None
    refuted: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    run: str = ""

    @property
    def flagged(self) -> bool:
        """Whether anything about this notebook asks for a human look."""
        return bool(self.flags)


@dataclass
class Reference:
    """The instructor's side of an assignment notebook, prepared once per run."""

    source: nbformat.NotebookNode
    secret_lines: set[str]
    cases: list[dict]
    expected: dict[int, dict]
    fault: str = ""


def sandbox_readonly(settings: Settings) -> tuple[Path, ...]:
    """Return what a sandbox may read: Python, the student package ``helpers``, the data."""
    paths = [*python_paths(), Path(helpers.__file__).resolve().parent]
    if settings.data_dir is not None and settings.data_dir.is_dir():
        paths.append(settings.data_dir.resolve())
    return tuple(paths)


def private_paths(course: Course) -> tuple[Path, ...]:
    """Return what no sandbox may show: the grader, solutions, gradebook, ledger, students."""
    return (
        GRADER_DIR,
        course.source,
        course.grading,
        course.db_path,
        course.submitted,
        course.autograded,
        course.feedback,
        course.root / "nbgrader_config.py",
    )


def sandbox_env(
    workdir: Path, settings: Settings, data_cache: Path | None = None
) -> dict[str, str]:
    """Return the environment of a sandboxed process (the data folder included)."""
    extra = {}
    if settings.data_dir is not None:
        extra["CNN_COURSE_DATA"] = str(settings.data_dir.resolve())
    if data_cache is not None:
        extra["CNN_COURSE_CACHE"] = str(data_cache)
    return clean_env(workdir, extra)


def start_data_cache(settings: Settings) -> tuple[Path | None, subprocess.Popen | None]:
    """Start hashing the data folder into a fresh cache folder; return it and the process.

    Every notebook's setup cell checks the course's data against its checksums. A sandbox
    starts with an empty home, so it would hash every file again: about 1.4 s per notebook
    on a 2-core machine, twice per submission with the cross-check. The hash book written
    here (:class:`helpers.data.checksums.HashBook`, valid while a file's size and date are
    unchanged) lets every sandbox of the run skip that. Sandboxes get the folder read-only,
    so no submission can plant a digest there.
    """
    if settings.data_dir is None or not settings.data_dir.is_dir():
        return None, None
    cache = Path(tempfile.mkdtemp(prefix="p2p-data-cache-"))
    cache.chmod(0o755)
    env = dict(
        os.environ, CNN_COURSE_CACHE=str(cache), CNN_COURSE_DATA=str(settings.data_dir.resolve())
    )
    command = [sys.executable, "-m", "helpers.course_setup", "--data", "mnist", "--data", "fruits"]
    # A data set the folder lacks only leaves its hashes out; the notebooks then say why.
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, umask=0o022
    )
    return cache, proc


def share_read_only(folder: Path | None) -> None:
    """Let every user read ``folder`` (files are written private, 0600, by mkstemp)."""
    if folder is None:
        return
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class Runner:
    """Runs jobs in worker processes, each in its own sandbox slot."""

    def __init__(self, course: Course, settings: Settings, run_dir: Path) -> None:
        self.course = course
        self.settings = settings
        self.run_dir = run_dir
        self.data_cache, hashing = start_data_cache(settings)
        if self.data_cache is not None:
            weakref.finalize(self, shutil.rmtree, self.data_cache, True)
        self.readonly = sandbox_readonly(settings)
        if self.data_cache is not None:
            self.readonly += (self.data_cache,)
        shown = exposed(self.readonly, private_paths(course))
        if shown:
            raise SystemExit(
                "refusing to grade: the sandbox would show "
                + ", ".join(map(str, shown))
                + " (move the data folder or the Python installation out of the course)"
            )
        self.slots: queue.Queue[int] = queue.Queue()
        for slot in range(max(1, settings.jobs)):
            self.slots.put(slot)
        # Held for the run's life: another run on this machine never gets these ids.
        self.uids, self._uid_locks = claim_uids(max(1, settings.jobs))
        try:
            self.preflight()
        finally:
            if hashing is not None:
                hashing.wait()
                share_read_only(self.data_cache)

    def preflight(self) -> None:
        """Stop the run before anyone is graded if a sandbox cannot import the course."""
        jobdir = self.job_dir("_preflight")
        try:
            reason = preflight(self.box(jobdir, 0))
        finally:
            shutil.rmtree(jobdir, ignore_errors=True)
        if reason:
            raise SystemExit(f"refusing to grade: {reason}")

    def job_dir(self, *parts: str) -> Path:
        """Make a private folder for one job (short: it holds the kernel's socket paths)."""
        path = Path(tempfile.mkdtemp(prefix="grade-"))
        (path / "sandbox").mkdir()
        (path / "what.txt").write_text("/".join(parts) + f"\n{self.run_dir}\n")
        return path

    def box(self, jobdir: Path, slot: int) -> Sandbox:
        """Return the sandbox of a job in worker slot ``slot``."""
        workdir = jobdir / "sandbox"
        return Sandbox(
            workdir=workdir,
            readonly=self.readonly,
            env=sandbox_env(workdir, self.settings, self.data_cache),
            limits=self.settings.limits,
            uid=self.uids[slot],
        )

    def run_worker(
        self, jobdir: Path, nb: nbformat.NotebookNode, slot: int, log: Path, crosscheck: dict | None
    ) -> tuple[dict | None, str]:
        """Run one notebook through a worker; return (result or None, failure reason)."""
        box = self.box(jobdir, slot)
        nbformat.write(nb, jobdir / "graded.ipynb")
        job = {
            "jobdir": str(jobdir),
            "notebook": str(jobdir / "graded.ipynb"),
            "executed": str(jobdir / "executed.ipynb"),
            "result": str(jobdir / "result.json"),
            "workdir": str(box.workdir),
            "readonly": [str(p) for p in box.readonly],
            "env": box.env,
            "limits": asdict(box.limits),
            "uid": box.uid,
            "cell_timeout": self.settings.cell_timeout,
            "output_cap": self.settings.output_cap,
            "kernel_arguments": self.course.kernel_arguments,
            "crosscheck": crosscheck,
        }
        (jobdir / "job.json").write_text(json.dumps(job, indent=1))
        log.parent.mkdir(parents=True, exist_ok=True)
        reason = ""
        with open(log, "ab") as handle:
            proc = subprocess.Popen(
                [sys.executable, "-m", "grader.worker", str(jobdir / "job.json")],
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=jobdir,
                env=worker_env(),
                # If the grading command dies, its workers (and their sandboxes) go too.
                preexec_fn=die_with_parent,
            )
            try:
                proc.wait(timeout=self.settings.budget)
            except subprocess.TimeoutExpired:
                reason = f"stopped after the budget of {self.settings.budget:g} s per submission"
            kill_group(proc.pid)
            proc.wait()
        survivors = kill_uid(box.uid)
        if survivors:
            reason = reason or f"processes {survivors} survived the sandbox"
        result_path = jobdir / "result.json"
        if not result_path.exists():
            tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
            return (
                None,
                reason or f"the worker stopped without a result (exit {proc.returncode}): {tail}",
            )
        return json.loads(result_path.read_text()), reason


def worker_env() -> dict[str, str]:
    """Return a worker's environment: this process's, with the grader on the path."""
    # The grader is not installed; the worker runs in its job folder, away from the course.
    inherited = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    path = [str(GRADER_DIR.parent), *filter(None, inherited)]
    return dict(
        os.environ,
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONPATH=os.pathsep.join(path),
    )


def prepare_reference(runner: Runner, assignment: str, notebook: str, secret: bytes) -> Reference:
    """Run the instructor's notebook once: environment check and cross-check capture."""
    course = runner.course
    source = read_notebook(course.source / assignment / notebook)
    release = read_notebook(course.release / assignment / notebook)
    ref = Reference(
        source=source, secret_lines=hidden_lines(source, release), cases=[], expected={}
    )
    capture = nbformat.v4.new_notebook(metadata=source.metadata)
    jobdir = runner.job_dir(assignment, "_reference", Path(notebook).stem)
    hook = cc.capture_cell(jobdir / "sandbox" / cc.CAPTURE_FILE)
    capture.cells.append(nbformat.v4.new_code_cell(hook))
    for cell in source.cells:
        if nbgrader_meta(cell).get("grade") and cell.cell_type == "code":
            capture.cells.append(
                nbformat.v4.new_code_cell(cc.marker_cell(nbgrader_meta(cell)["grade_id"]))
            )
        capture.cells.append(cell)
    log = runner.run_dir / "logs" / assignment / f"_reference-{Path(notebook).stem}.log"
    # The instructor's reference files (a trained checkpoint, say) stand in for what a
    # student hands in beside their notebook; so do data files next to the solution.
    beside = [
        p
        for p in (course.source / assignment).iterdir()
        if p.is_file() and p.suffix != ".ipynb" and not p.is_symlink()
    ]
    settings = runner.settings
    kept_at = reference_cache.cache_path(
        course.grading,
        assignment,
        notebook,
        reference_cache.reference_key(
            source=course.source / assignment / notebook,
            release=course.release / assignment / notebook,
            beside=[*beside, *course.reference_files(assignment)],
            data_dir=settings.data_dir,
            settings=[
                settings.cell_timeout,
                settings.limits,
                settings.crosscheck,
                course.kernel_arguments,
            ],
        ),
    )
    kept = reference_cache.load(kept_at) if settings.reuse_reference else None
    if kept is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"reference unchanged since it last passed: {kept_at.name}\n")
        ref.cases, ref.expected = kept["cases"], kept["expected"]
        shutil.rmtree(jobdir, ignore_errors=True)
        return ref
    for path in [*beside, *course.reference_files(assignment)]:
        shutil.copy2(path, jobdir / "sandbox" / path.name)
    slot = runner.slots.get()
    try:
        result, reason = runner.run_worker(jobdir, capture, slot, log, None)
        if result is None:
            ref.fault = f"the instructor's notebook could not run here: {reason}"
        else:
            executed = nbformat.read(jobdir / "executed.ipynb", as_version=4)
            result["cells"] = scores(executed)
            ref.fault = _reference_fault(runner, assignment, notebook, result, executed)
        if not ref.fault and settings.crosscheck:
            _expect(runner, ref, assignment, notebook, jobdir, secret, slot, log)
        if not ref.fault:
            reference_cache.save(kept_at, ref.cases, ref.expected)
    finally:
        runner.slots.put(slot)
        if not runner.settings.keep_jobs:
            shutil.rmtree(jobdir, ignore_errors=True)
    return ref


def _errors(cell: nbformat.NotebookNode) -> list[str]:
    return [
        f"{out.get('ename')}: {str(out.get('evalue'))[:200]}"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def _reference_fault(
    runner: Runner, assignment: str, notebook: str, result: dict, executed: nbformat.NotebookNode
) -> str:
    """Return why the instructor's run says the machine cannot grade ('' if it can)."""
    lost = {g for g, (score, top) in result["cells"].items() if score < top}
    if lost:
        errors = [
            f"{nbgrader_meta(cell)['grade_id']}: {error}"
            for cell in executed.cells
            if nbgrader_meta(cell).get("grade_id") in lost
            for error in _errors(cell)
        ]
        fault = (
            f"environment fault: the instructor's solution of {assignment}/{notebook} loses "
            f"points here ({', '.join(sorted(lost))}); fix the grading machine before grading "
            f"students. {' | '.join(errors)}"
        )
        if "digitnet" in str(errors) and not runner.course.reference_files(assignment):
            fault += (
                " The solution grades a trained network handed in beside it:"
                " `make capstone-checkpoint` trains the instructor's own into"
                f" grading/reference/{assignment}/."
            )
        return fault
    hook = _errors(executed.cells[0])
    if hook and runner.settings.crosscheck:
        # Without its recorded calls the cross-check would quietly check nothing.
        return (
            f"environment fault: the cross-check's capture hook failed in {assignment}/"
            f"{notebook}: {hook[0]}"
        )
    return ""


def _expect(
    runner: Runner,
    ref: Reference,
    assignment: str,
    notebook: str,
    jobdir: Path,
    secret: bytes,
    slot: int,
    log: Path,
) -> None:
    """Give the recorded calls fresh inputs and keep what the instructor's answers return."""
    calls = cc.read_capture(jobdir / "sandbox" / cc.CAPTURE_FILE)
    ref.cases = cc.perturb(calls, secret=secret)
    cells = answer_sources(ref.source)
    harness = run_harness(runner, assignment, "_expected", notebook, cells, ref.cases, slot, log)
    by_id = {case["id"]: case for case in ref.cases}
    ref.expected = {
        r["id"]: r
        for r in harness.get("records", [])
        if r.get("id") in by_id and cc.checkable(by_id[r["id"]], r)
    }
    if ref.cases and not ref.expected:
        with open(log, "a") as handle:
            handle.write("cross-check: no recorded call could be replayed on fresh inputs\n")


def run_harness(
    runner: Runner,
    assignment: str,
    who: str,
    notebook: str,
    cells: list[str],
    cases: list[dict],
    slot: int,
    log: Path,
) -> dict:
    """Run the cross-check harness once (used for the instructor's expected results)."""
    from grader.worker import run_harness as worker_harness

    jobdir = runner.job_dir(assignment, who, Path(notebook).stem)
    box = runner.box(jobdir, slot)
    check = crosscheck_job(jobdir / "crosscheck", cells, cases)
    result = worker_harness({"crosscheck": check}, box)
    with open(log, "a") as handle:
        handle.write(
            f"\n--- cross-check harness ({who}): {result['status']}, "
            f"{len(result['records'])} records\n"
        )
        handle.write(result["log"])
    if not runner.settings.keep_jobs:
        shutil.rmtree(jobdir, ignore_errors=True)
    return result


def crosscheck_job(folder: Path, cells: list[str], cases: list[dict]) -> dict:
    """Put the harness, its cells and its cases in ``folder``; return the job's part.

    The folder lies outside the sandbox's private folder: the kernel gets the fresh inputs
    only after the notebook's last cell (:meth:`grader.worker.SandboxedRun._crosscheck`),
    and a harness sandbox, if the kernel was stopped before, gets the folder read-only.
    """
    folder.mkdir()
    shutil.copyfile(harness.__file__, folder / "harness.py")
    (folder / "cells.json").write_text(json.dumps(cells))
    with open(folder / "cases.pkl", "wb") as handle:
        pickle.dump(cases, handle)
    # The sandbox's user reads them, whatever this process's umask is.
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)
    return {
        "folder": str(folder),
        "harness": str(folder / "harness.py"),
        "cells": str(folder / "cells.json"),
        "cases": str(folder / "cases.pkl"),
        "timeout": 60 + 2 * len(cases),
        "max_cases": len(cases),
    }


def grade_one(runner: Runner, sub: Submission, ref: Reference, run_id: str) -> Record:
    """Pre-check, rebuild, run and cross-check one submitted notebook."""
    course = runner.course
    started = time.monotonic()
    record = Record(sub.assignment, sub.student, sub.notebook, run=run_id)
    log = runner.run_dir / "logs" / sub.assignment / f"{sub.student}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    folder = course.submitted / sub.student / sub.assignment
    check = precheck(folder, course.release / sub.assignment / sub.notebook)
    record.flags += check.flags
    record.notes += check.notes
    record.max_score = sum(
        float(nbgrader_meta(c).get("points", 0))
        for c in ref.source.cells
        if nbgrader_meta(c).get("grade")
    )
    if check.fatal or check.notebook is None:
        record.status, record.reason = "rejected", check.fatal
    elif ref.fault:
        record.status, record.reason = "failed", ref.fault
    else:
        student = check.restored or read_notebook(check.notebook)
        merged, used = rebuild(ref.source, student)
        wanted = sum(1 for c in ref.source.cells if is_answer(c))
        if wanted and not used:
            record.status = "rejected"
            record.reason = (
                f"none of the {wanted} answer cells of the release is in this notebook "
                "(was it started from the released file?)"
            )
        else:
            _run_submission(runner, sub, ref, record, merged, check.extra_files, log)
    record.seconds = round(time.monotonic() - started, 2)
    with open(log, "a") as handle:
        handle.write("\n--- record\n" + json.dumps(asdict(record), indent=1) + "\n")
    return record


def _run_submission(runner, sub, ref, record, merged, extra_files, log) -> None:
    jobdir = runner.job_dir(sub.assignment, sub.student, Path(sub.notebook).stem)
    workdir = jobdir / "sandbox"
    for path in extra_files:
        shutil.copy2(path, workdir / path.name)
    check = None
    if ref.cases and ref.expected:
        check = crosscheck_job(
            jobdir / "crosscheck",
            answer_sources(merged),
            [c for c in ref.cases if c["id"] in ref.expected],
        )
    slot = runner.slots.get()
    try:
        result, reason = runner.run_worker(jobdir, merged, slot, log, check)
    finally:
        runner.slots.put(slot)
    if result is None:
        record.status, record.reason = "failed", reason
    else:
        if reason:
            record.notes.append(reason)
        executed = nbformat.read(jobdir / "executed.ipynb", as_version=4)
        record.cells = scores(executed)
        record.notes += result["notes"]
        record.flags += [n for n in result["notes"] if n.startswith("IPython hooks removed")]
        record.flags += result.get("flags", [])
        if result.get("survivors"):
            record.flags.append(f"processes survived the kernel: {result['survivors']}")
        record.score = sum(s for s, _ in record.cells.values())
        if check is not None and "crosscheck" in result:
            verdicts = cc.cell_verdicts(ref.cases, ref.expected, result["crosscheck"]["records"])
            record.crosscheck_score, record.refuted = cc.crosscheck_score(record.cells, verdicts)
            if record.score > record.crosscheck_score:
                record.flags.append(
                    f"cross-check: nbgrader gave {record.score:g} but the functions earn "
                    f"{record.crosscheck_score:g} on fresh inputs "
                    f"(cells {', '.join(record.refuted)})"
                )
        for cell in executed.cells:
            if not nbgrader_meta(cell).get("grade") and "HIDDEN TESTS" in cell.source:
                # A marker in a student's own cell would derail nbgrader's ClearHiddenTests
                # when their feedback is made; the thin space defuses it.
                cell.source = cell.source.replace("HIDDEN TESTS", "HIDDEN\u2009TESTS")
        removed = scrub_outputs(executed, ref.secret_lines)
        if removed:
            record.flags.append(f"{removed} outputs quoted hidden tests (removed from feedback)")
        target = runner.course.autograded / sub.student / sub.assignment / sub.notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, target)
    if not runner.settings.keep_jobs:
        shutil.rmtree(jobdir, ignore_errors=True)


def find_submissions(
    course: Course, assignments: list[str] | None, students: list[str] | None
) -> list[Submission]:
    """List the submitted notebooks to grade (one per student × assignment × notebook)."""
    subs = []
    wanted = assignments or course.assignments()
    if not course.submitted.is_dir():
        return subs
    for student_dir in sorted(course.submitted.iterdir()):
        if not student_dir.is_dir() or (students and student_dir.name not in students):
            continue
        for assignment in wanted:
            if (student_dir / assignment).is_dir():
                for notebook in course.notebooks(assignment):
                    subs.append(Submission(assignment, student_dir.name, notebook))
    return subs


def save_record(course: Course, record: Record) -> Path:
    """Keep ``record`` as the latest of its student and notebook in grading/results."""
    path = (
        course.grading
        / "results"
        / record.assignment
        / record.student
        / f"{Path(record.notebook).stem}.json"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed over: a run killed mid-write (a cluster node lost, say)
    # leaves the previous result whole, never half a file for `merge` to choke on.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(asdict(record), indent=1))
    os.replace(partial, path)
    return path


def store(course: Course, record: Record, ledger: Ledger | None) -> None:
    """Save the record; write the gradebook if the notebook was graded (under the lock)."""
    save_record(course, record)
    if ledger is None or record.status != "graded":
        return
    stamp_file = course.submitted / record.student / record.assignment / "timestamp.txt"
    stamp = None
    if stamp_file.is_file():
        try:
            stamp = datetime.fromisoformat(stamp_file.read_text().strip()[:26])
        except ValueError:
            stamp = None
    with locked(course.db_path):
        write_scores(
            course.db_url,
            ledger,
            assignment=record.assignment,
            student=record.student,
            notebook=Path(record.notebook).stem,
            cells=record.cells,
            timestamp=stamp,
        )


def autograde(
    course: Course,
    settings: Settings,
    *,
    assignments: list[str] | None = None,
    students: list[str] | None = None,
    shard: tuple[int, int] = (1, 1),
    progress: bool = True,
) -> dict[str, Any]:
    """Grade the selected submissions; return the run's summary."""
    from tqdm import tqdm

    started = time.monotonic()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = course.grading / "runs" / run_id
    run_dir.mkdir(parents=True)
    subs = find_submissions(course, assignments, students)
    index, count = shard
    subs = [s for i, s in enumerate(subs) if i % count == index - 1]
    runner = Runner(course, settings, run_dir)
    secret = os.urandom(16)
    keys = sorted({(s.assignment, s.notebook) for s in subs})
    ledger = Ledger(course.grading) if settings.write_gradebook else None
    counts = {"graded": 0, "flagged": 0, "rejected": 0, "failed": 0}
    records: list[Record] = []
    bar = tqdm(total=len(subs), unit="nb", disable=not progress, dynamic_ncols=True)
    jobs = max(1, settings.jobs)
    # No barrier between the instructor's runs and the students': a submission starts as
    # soon as its own assignment's reference is ready, so no worker slot idles while the
    # last reference finishes. The slots (runner.slots) bound what runs at once.
    with ThreadPoolExecutor(jobs) as ref_pool, ThreadPoolExecutor(jobs) as pool:
        refs = {key: ref_pool.submit(prepare_reference, runner, *key, secret) for key in keys}

        def grade(sub: Submission) -> Record:
            return grade_one(runner, sub, refs[(sub.assignment, sub.notebook)].result(), run_id)

        pending = {pool.submit(grade, s) for s in subs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                record = future.result()
                store(course, record, ledger)
                records.append(record)
                counts[record.status] += 1
                counts["flagged"] += record.flagged
                bar.update(1)
                bar.set_postfix(counts, refresh=False)
    bar.close()
    elapsed = time.monotonic() - started
    summary = {
        "run": run_id,
        "submissions": len(subs),
        **counts,
        "seconds": round(elapsed, 1),
        "per_minute": round(60 * len(subs) / elapsed, 2) if elapsed else 0.0,
        "jobs": settings.jobs,
        "faults": sorted({f.result().fault for f in refs.values() if f.result().fault}),
        "records": [asdict(r) for r in records],
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
