"""Measure grading throughput: submissions per minute for 1, 2, ... workers.

    .venv/bin/python docs/cluster/throughput.py --assignment 01_pixels --students 8 --jobs 1 2 4

Builds a throwaway copy of the course in a temporary folder, hands in ``--students``
honest submissions (the instructor's answers pasted into the released notebook), and
runs ``python -m grader autograde --jobs J`` once per J, cross-check included.
Prints one Markdown table row per J. Run it on the grading machine itself: the numbers
say how many workers that machine can keep busy.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


def honest(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return the release with the instructor's answers filled in: a student right on every part."""
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not meta.get("locked"):
            cell.source = answers[meta["grade_id"]]
    return nb


def main() -> int:
    """Grade a class of honest students with each number of jobs and print submissions/minute."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assignment", default="01_pixels")
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1", MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        course.mkdir()
        shutil.copy2(ROOT / "nbgrader_config.py", course)
        shutil.copytree(
            ROOT / "solutions" / args.assignment, course / "solutions" / args.assignment
        )

        def cli(*words: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-m", "grader", *words],
                cwd=course, env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip

        cli("release", args.assignment)
        (nb_path,) = (course / "exercises" / args.assignment).glob("*.ipynb")
        release = nbformat.read(nb_path, as_version=4)
        source = nbformat.read(course / "solutions" / args.assignment / nb_path.name, as_version=4)
        for i in range(args.students):
            folder = course / "submitted" / f"student{i:03d}" / args.assignment
            folder.mkdir(parents=True)
            nbformat.write(honest(release, source), folder / nb_path.name)
        print(f"| workers | notebooks | seconds | per minute |  ({os.cpu_count()} cores)")
        print("|---|---|---|---|")
        for jobs in args.jobs:
            started = time.monotonic()
            cli("autograde", args.assignment, "--jobs", str(jobs), "--quiet")
            seconds = time.monotonic() - started
            runs = sorted((course / "grading" / "runs").iterdir())
            summary = json.loads((runs[-1] / "summary.json").read_text())
            assert summary["graded"] == args.students, summary
            per_minute = 60 * args.students / seconds
            print(f"| {jobs} | {args.students} | {seconds:.0f} | {per_minute:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
