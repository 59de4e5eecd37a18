"""Binder's environment (binder/) installs the course and runs assignment 01 to full marks.

mybinder.org builds its image with repo2docker: Python from ``runtime.txt``, then, from the
repository's root, ``pip install -r binder/requirements.txt`` and ``./binder/postBuild``. The
slow test does the same into a fresh virtual environment outside the repository, from a copy
of what a clone holds (less the line naming PyTorch's CPU index, which this machine cannot
reach: its local wheels hold that same build), with the data served by a loopback mirror (no
internet for data here), then plays a student: the solution's code typed into the exercise
gets full marks from ``python -m helpers.check``, the untouched exercise does not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
from student_tools import complete_with_solutions, fresh_venv, served_site, student_env

from helpers.data import COURSE_FRUITS, FRUITS_ARCHIVE_NAME, MNIST_FILES

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ASSIGNMENT = "01_pixels"
# Binder takes PyTorch's CPU build from here; this machine has the same build among its local
# wheels and reaches no index but PyPI, so the slow test installs the file without this line.
CPU_TORCH = "--extra-index-url https://download.pytorch.org/whl/cpu"
# Where the student's helpers come from, and which torch build was installed (not imported:
# importing torch takes seconds).
PROGRAM = "import helpers, importlib.metadata as m; print(helpers.__file__, m.version('torch'))"
VISIBLE = re.compile(r"Visible tests passed: (\d+) of (\d+) \(([\d.]+) points? of ([\d.]+) points?")


def _requirement_lines() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_binder_installs_the_course_with_the_lab_extra_and_repeats_no_pin() -> None:
    # The pins live in pyproject.toml alone; Binder names the package, so nothing can drift.
    assert _requirement_lines() == [CPU_TORCH, ".[lab]"]
    assert "lab" in PYPROJECT["project"]["optional-dependencies"]
    torch = [s for s in PYPROJECT["project"]["dependencies"] if s.startswith("torch==")]
    # A pin without a local label (+cpu) is what lets the CPU index's build satisfy it.
    assert len(torch) == 1 and "+" not in torch[0], torch


def test_binder_python_is_the_one_the_pins_are_tested_with() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime == f"python-{PYPROJECT['tool']['pyright']['pythonVersion']}", runtime
    assert PYPROJECT["project"]["requires-python"].startswith(">=3.11"), "update runtime.txt"


def test_postbuild_is_an_executable_script_that_stops_at_the_first_error() -> None:
    script = BINDER / "postBuild"
    text = script.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text
    assert script.stat().st_mode & stat.S_IXUSR, "chmod +x binder/postBuild"
    assert "python -m helpers.course_setup --data mnist --data fruits" in text
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _clone(tmp: Path) -> Path:
    """Copy what a clone of the next commit holds (tracked and new, unignored files)."""
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    repo = tmp / "repo"
    for rel in proc.stdout.splitlines():
        source = ROOT / rel
        if source.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / rel)
    return repo


def _mirror(data_dir: Path, folder: Path) -> None:
    """Lay out a course data mirror: mnist/<file>.gz and fruits-360/<release zip>."""
    (folder / "mnist").mkdir(parents=True)
    for name in MNIST_FILES:
        os.symlink(data_dir / "mnist" / name, folder / "mnist" / name)
    # The release zip's layout, with the course's classes only (their photos are checked
    # against the manifest one by one, as with the real archive).
    (folder / "fruits-360").mkdir()
    prefix = FRUITS_ARCHIVE_NAME.removesuffix(".zip")
    with zipfile.ZipFile(folder / "fruits-360" / FRUITS_ARCHIVE_NAME, "w") as zf:
        for split in ("Training", "Test"):
            for name in COURSE_FRUITS:
                for photo in sorted((data_dir / "fruits-360" / split / name).glob("*.jpg")):
                    zf.write(photo, f"{prefix}/{split}/{name}/{photo.name}")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int) -> tuple[int, str, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


@pytest.mark.slow
def test_the_binder_environment_runs_assignment_01_to_full_marks(
    tmp_path: Path, data_dir: Path
) -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    if runtime != f"python-{sys.version_info.major}.{sys.version_info.minor}":
        pytest.skip(f"Binder runs {runtime}; these tests run Python {sys.version.split()[0]}")
    times: dict[str, float] = {}
    start = time.perf_counter()
    repo = _clone(tmp_path)
    requests: list[str] = []
    _mirror(data_dir, tmp_path / "mirror")
    times["copy of the repository, mirror"] = time.perf_counter() - start
    start = time.perf_counter()
    python = fresh_venv(tmp_path / "venv")
    times["venv"] = time.perf_counter() - start
    with served_site(tmp_path / "mirror", requests) as mirror:
        env = student_env(python, tmp_path / "home", {"CNN_COURSE_MIRRORS": mirror})
        # As repo2docker does, from the root of the repository; with the machine's pip cache
        # (not --no-cache-dir), and without byte-compiling the modules (60 s of 100 here).
        here = repo / "binder" / "requirements-here.txt"
        here.write_text("\n".join(line for line in _requirement_lines() if line != CPU_TORCH))
        install = ["install", "--quiet", "--no-compile", "-r", str(here.relative_to(repo))]
        rc, out, times["pip install -r binder/requirements.txt"] = _run(
            [str(python), "-m", "pip", *install], repo, env, timeout=900
        )
        assert rc == 0, out
        rc, out, times["postBuild"] = _run(["./binder/postBuild"], repo, env, timeout=600)
    assert rc == 0, out
    ready = [line for line in out.splitlines() if line.startswith("Ready: ")]
    assert ready and "NOT AVAILABLE" not in ready[0], out
    assert {"/mnist/train-images-idx3-ubyte.gz", f"/fruits-360/{FRUITS_ARCHIVE_NAME}"} <= {
        r.split("?")[0] for r in requests
    }
    cache = tmp_path / "home" / ".cache" / "pixels-to-predictions"
    assert ready[0].count(str(cache)) == 2, out  # both in the course's cache, from the mirror
    assert (cache / "fruits-360" / "Training" / "Strawberry").is_dir(), sorted(cache.rglob("*"))
    assert not list(cache.rglob("*.zip")), "postBuild keeps the release zip out of the image"
    assert not (repo / "build").exists() and not list(repo.glob("*.egg-info"))
    config = (tmp_path / "home" / ".jupyter" / "jupyter_server_config.py").read_text()
    assert '"/lab/tree/exercises"' in config

    # A student in another folder, with the mirror gone: the data must be in the cache.
    env = student_env(python, tmp_path / "home")
    work = tmp_path / "student"
    solved, untouched = work / "solved" / f"{ASSIGNMENT}.ipynb", work / f"{ASSIGNMENT}.ipynb"
    exercise = repo / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    complete_with_solutions(
        exercise, repo / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", solved
    )
    shutil.copy(exercise, untouched)
    where, torch = subprocess.run(
        [str(python), "-c", PROGRAM],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert Path(where).is_relative_to(tmp_path / "venv"), where  # installed, not the checkout
    assert torch.endswith("+cpu"), torch  # the CPU build wins over PyPI's CUDA one
    # Both checks at once: each is mostly a kernel starting.
    check = [str(python), "-m", "helpers.check"]
    start = time.perf_counter()
    procs = {
        name: subprocess.Popen(
            [*check, str(path.relative_to(work))],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for name, path in (("solved", solved), ("untouched", untouched))
    }
    results = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=600)
        results[name] = (proc.returncode, out)
    times["both self-checks"] = time.perf_counter() - start
    print("binder round trip, seconds:", {k: round(v, 1) for k, v in times.items()})

    rc, out = results["solved"]
    match = VISIBLE.search(out)
    assert rc == 0 and match, out
    assert match[1] == match[2] and match[3] == match[4] and int(match[2]) > 0, out
    rc, out = results["untouched"]
    match = VISIBLE.search(out)
    assert rc == 1 and match, out
    assert int(match[1]) < int(match[2]) and "FAILED" in out, out


def test_complete_with_solutions_types_in_every_answer_and_nothing_else(tmp_path: Path) -> None:
    assignments = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    assert ASSIGNMENT in assignments
    for name in assignments:
        exercise = ROOT / "exercises" / name / f"{name}.ipynb"
        solution = ROOT / "solutions" / name / f"{name}.ipynb"
        out = tmp_path / name / f"{name}.ipynb"
        complete_with_solutions(exercise, solution, out)
        before, after = json.loads(exercise.read_text()), json.loads(out.read_text())
        answers = {
            c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
            for c in json.loads(solution.read_text())["cells"]
            if c["metadata"].get("nbgrader", {}).get("solution")
        }
        assert len(before["cells"]) == len(after["cells"])
        for old, new in zip(before["cells"], after["cells"], strict=True):
            grade_id = old["metadata"].get("nbgrader", {}).get("grade_id")
            if old["metadata"].get("nbgrader", {}).get("solution"):
                typed = [line for line in answers[grade_id].splitlines() if "SOLUTION" not in line]
                assert "".join(new["source"]) == "\n".join(typed), (name, grade_id)
            else:
                assert new["source"] == old["source"], (name, grade_id)
    with pytest.raises(ValueError, match="differ in their answer cells"):
        complete_with_solutions(
            ROOT / "exercises" / assignments[0] / f"{assignments[0]}.ipynb",
            ROOT / "solutions" / assignments[1] / f"{assignments[1]}.ipynb",
            tmp_path / "mismatch.ipynb",
        )


def test_served_site_serves_a_folder_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "index.html").write_text("<a href='x.whl'>x.whl</a>")
    requests: list[str] = []
    with served_site(tmp_path, requests) as base:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", base), base
        with urllib.request.urlopen(base + "wheels/index.html", timeout=10) as page:
            assert page.read() == b"<a href='x.whl'>x.whl</a>"
    assert requests == ["/wheels/index.html"]
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "wheels/index.html", timeout=5)
