"""How long grading takes: one student's five NumPy assignments, and a class on assignment 01.

Issue "Instructors at scale", item 5 (safety for free): the sandboxed, cross-checked
grading must take no longer than plain ``nbgrader autograde`` on the same machine in the
same run, and grade assignment 01 at >= 30 submissions/min with ``--jobs 2``. Measured on
throw-away copies of the course, with the instructor's solutions handed in as the
students' work (so every test runs to the end, the slowest honest case):

1. one student's five assignments (02-06):
   - plain ``nbgrader autograde``, one assignment after the other, as nbgrader alone does it;
   - the course's command, ``python -m grader autograde … --jobs N``: every notebook in its
     own sandbox, plus the cross-check, plus one run of the instructor's notebook per
     assignment (the environment check, paid once per assignment for the whole class);
   - the same command again on the same course, as for a resubmission or a regrade: the
     instructor's runs are then kept from the first run (``grader/reference_cache.py``);
2. a class of ``CLASS_SIZE`` students on assignment 01: plain ``nbgrader autograde
   01_pixels`` (one command, every student) against the course's command with ``--jobs 2``,
   in submissions per minute.

Run with ``python -m benchmarks bench_grading`` (part of ``make bench``); ``--quick`` grades
a class of 6 instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = [
    "02_convolution",
    "03_activations",
    "04_pooling",
    "05_dense_heads",
    "06_backprop",
]
STUDENT = "ada"
TARGET_S = 90.0
CLASS_ASSIGNMENT = "01_pixels"
CLASS_SIZE = 24
TARGET_PER_MINUTE = 30.0


def _env() -> dict[str, str]:
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1", MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # The grader is not installed: it runs from the checkout, whatever the course folder.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _run(course: Path, *args: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=course, env=_env(), capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds


def _course(folder: Path, assignments: list[str], students: list[str]) -> Path:
    course = folder / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    for name in assignments:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    _run(course, "grader", "release", *assignments)
    for student in students:
        for name in assignments:
            handed_in = course / "submitted" / student / name
            handed_in.mkdir(parents=True)
            for nb in (course / "solutions" / name).glob("*.ipynb"):
                shutil.copy2(nb, handed_in / nb.name)
    return course


def five_assignments(cores: int) -> list[tuple[str, float]]:
    """Time one student's five assignments: plain nbgrader, ours cold, ours warm."""
    print(f"One student's five assignments ({', '.join(ASSIGNMENTS)}), {cores} cores.")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        course = _course(Path(tmp), ASSIGNMENTS, [STUDENT])
        per = {}
        for name in ASSIGNMENTS:
            per[name] = _run(course, "nbgrader", "autograde", name, "--student", STUDENT)
        for name, seconds in per.items():
            print(f"  nbgrader autograde {name:<16} {seconds:6.1f} s")
        rows.append(("plain nbgrader autograde, one after the other", sum(per.values())))
    jobs = max(1, cores - 1) if cores > 2 else 2
    command = (
        "grader", "autograde", *ASSIGNMENTS, "--student", STUDENT, "--jobs", str(jobs), "--quiet",
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        course = _course(Path(tmp), ASSIGNMENTS, [STUDENT])
        cold = _run(course, *command)
        # The same student graded again (a resubmission, a regrade): the instructor's
        # reference runs are kept from the first run (grader/reference_cache.py).
        warm = _run(course, *command)
    rows.append(
        (
            f"course autograde --jobs {jobs} (sandbox, cross-check and the 5 instructor "
            "runs included)",
            cold,
        )
    )
    rows.append((f"course autograde --jobs {jobs} again (instructor runs kept)", warm))
    return rows


def class_throughput(size: int) -> list[tuple[str, float, float]]:
    """Grade a class of ``size`` on assignment 01 both ways; return (how, seconds, per min)."""
    students = [f"s{number:03d}" for number in range(size)]
    print(f"A class of {size} on {CLASS_ASSIGNMENT}.")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        course = _course(Path(tmp), [CLASS_ASSIGNMENT], students)
        plain = _run(course, "nbgrader", "autograde", CLASS_ASSIGNMENT)
        rows.append(("plain nbgrader autograde (one command, 1 kernel at a time)", plain))
    with tempfile.TemporaryDirectory() as tmp:
        course = _course(Path(tmp), [CLASS_ASSIGNMENT], students)
        ours = _run(course, "grader", "autograde", CLASS_ASSIGNMENT, "--jobs", "2", "--quiet")
        rows.append(("course autograde --jobs 2 (reference run included)", ours))
    return [(how, seconds, 60 * size / seconds) for how, seconds in rows]


def main(argv: list[str] | None = None) -> None:
    from grader.sandbox import available

    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    reason = available()
    if reason:
        print(f"The sandboxed grading command cannot run here ({reason}): nothing to compare.")
        return
    cores = os.cpu_count() or 1
    rows = five_assignments(cores)
    print()
    plain = rows[0][1]
    print(f"| how | seconds | × plain nbgrader | target {TARGET_S:.0f} s |")
    print("|---|---|---|---|")
    for how, seconds in rows:
        verdict = "met" if seconds < TARGET_S else "MISSED"
        print(f"| {how} | {seconds:.1f} | {seconds / plain:.2f} | {verdict} |")
    print()
    throughput = class_throughput(6 if quick else CLASS_SIZE)
    print()
    base = throughput[0][2]
    print(f"| how | seconds | submissions/min | × plain | target {TARGET_PER_MINUTE:.0f}/min |")
    print("|---|---|---|---|---|")
    for how, seconds, per_minute in throughput:
        verdict = "met" if per_minute >= TARGET_PER_MINUTE else "MISSED"
        print(f"| {how} | {seconds:.1f} | {per_minute:.1f} | {per_minute / base:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
