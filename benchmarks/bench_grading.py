"""How long grading one student's five NumPy assignments (02-06) takes.

Target (issue "Graded assignments 02-06"): under 90 s on 2 cores. Measured two ways on a
throw-away copy of the course, with the instructor's solutions handed in as the student's
work (so every test runs to the end, the slowest honest case):

- plain ``nbgrader autograde``, one assignment after the other, as nbgrader alone does it;
- the course's grading command, ``python -m grader autograde … --jobs N``: every
  notebook in its own sandbox, plus the cross-check, plus one run of the instructor's
  notebook per assignment (the environment check, paid once per assignment for the whole
  class);
- the same command again on the same course, as for a resubmission or a regrade: the
  instructor's runs are then kept from the first run (``grader/reference_cache.py``).

Run with ``python -m benchmarks bench_grading`` (part of ``make bench``).
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


def _course(folder: Path) -> Path:
    course = folder / "course"
    course.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", course)
    for name in ASSIGNMENTS:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    _run(course, "grader", "release", *ASSIGNMENTS)
    for name in ASSIGNMENTS:
        handed_in = course / "submitted" / STUDENT / name
        handed_in.mkdir(parents=True)
        for nb in (course / "solutions" / name).glob("*.ipynb"):
            shutil.copy2(nb, handed_in / nb.name)
    return course


def main() -> None:
    from grader.sandbox import available

    cores = os.cpu_count() or 1
    print(f"One student's five assignments ({', '.join(ASSIGNMENTS)}), {cores} cores.")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        course = _course(Path(tmp))
        per = {}
        for name in ASSIGNMENTS:
            per[name] = _run(course, "nbgrader", "autograde", name, "--student", STUDENT)
        total = sum(per.values())
        for name, seconds in per.items():
            print(f"  nbgrader autograde {name:<16} {seconds:6.1f} s")
        rows.append(("plain nbgrader autograde, one after the other", total))

    reason = available()
    if reason:
        print(f"  (the sandboxed grading command was not measured: {reason})")
    else:
        jobs = max(1, cores - 1) if cores > 2 else 2
        command = (
            "grader", "autograde", *ASSIGNMENTS, "--student", STUDENT, "--jobs", str(jobs),
            "--quiet",
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            course = _course(Path(tmp))
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

    print()
    plain = rows[0][1]
    print(f"| how | seconds | × plain nbgrader | target {TARGET_S:.0f} s |")
    print("|---|---|---|---|")
    for how, seconds in rows:
        verdict = "met" if seconds < TARGET_S else "MISSED"
        print(f"| {how} | {seconds:.1f} | {seconds / plain:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
