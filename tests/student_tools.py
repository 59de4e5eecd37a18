"""Tools for the tests that play a student outside the repository.

- :func:`complete_with_solutions`: a student's notebook with the solution's code typed in;
- :func:`served_site`: a folder served on loopback, like the course's website or a data mirror;
- :func:`fresh_venv`: a new virtual environment, as a student makes one with ``python -m venv``;
- :func:`student_env`: the environment variables of a student's shell that uses such a venv.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
# Variables that would make a student's python look at the checkout or this venv, or behave
# unlike a student's (without .pyc files every process compiles what it imports again).
LEAKY_ENV = (
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE",
    "PYTHONDONTWRITEBYTECODE",
)  # fmt: skip


def _solution_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    cells = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            cells[meta["grade_id"]] = cell
    return cells


def complete_with_solutions(exercise: Path, solution: Path, out: Path) -> None:
    """Write the student notebook `exercise` to `out` with every answer cell's code solved.

    Each nbgrader solution cell (matched by grade_id) takes the source of the same cell in
    `solution`, without nbgrader's solution markers, as a student would type it. Every other
    cell (a setup cell, the tests, the prose) stays the student's. Raises ValueError when the
    two notebooks do not have the same answer cells.
    """
    student, answers = _read(exercise), _solution_cells(_read(solution))
    todo = _solution_cells(student)
    if not todo or set(todo) != set(answers):
        raise ValueError(
            f"{exercise} and {solution} differ in their answer cells: "
            f"{sorted(todo)} vs {sorted(answers)}"
        )
    for grade_id, cell in todo.items():
        lines = answers[grade_id].source.splitlines()
        cell.source = "\n".join(line for line in lines if line.strip() not in SOLUTION_MARKERS)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, out)


def _read(path: Path) -> nbformat.NotebookNode:
    with warnings.catch_warnings():
        # A cell without an id is nbformat's to fix (it adds one); no news for these tests.
        warnings.simplefilter("ignore", nbformat.validator.MissingIDFieldWarning)
        return nbformat.read(path, as_version=4)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serve files without a log line per request on stderr; remember the paths asked for."""

    requests: list[str]

    def __init__(self, *args, requests: list[str], **kwargs) -> None:
        self.requests = requests
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:
        self.requests.append(self.path)


@contextmanager
def served_site(folder: Path, requests: list[str] | None = None) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 at a free port; yield its base URL (with a trailing slash).

    Every request path is appended to `requests` when a list is given. Stops on exit.
    """
    log = requests if requests is not None else []
    handler = functools.partial(_QuietHandler, directory=str(folder), requests=log)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def venv_python(venv: Path) -> Path:
    """Return the python of the virtual environment `venv`, on any OS."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def student_env(python: Path, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return a student's shell environment: `python`'s venv first on PATH, HOME at `home`.

    Nothing points into the checkout or the course's own venv; the machine's pip settings
    (its indexes and local wheels) stay. Data and cache variables are dropped, so the course
    finds its data the way a student's machine does, unless `extra` sets them.
    """
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    for name in ("CNN_COURSE_DATA", "CNN_COURSE_CACHE", "CNN_COURSE_MIRRORS", "XDG_CACHE_HOME"):
        env.pop(name, None)
    for name in [k for k in env if k.startswith("JUPYTER")]:
        env.pop(name)
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["USERPROFILE"] = str(home)
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    env.setdefault("MPLBACKEND", "Agg")
    cache = _pip_cache()
    if cache:
        # A student's pip would fill its own cache; sharing the machine's keeps tests fast.
        env.setdefault("PIP_CACHE_DIR", cache)
    env.update(extra or {})
    return env


@functools.cache
def _pip_cache() -> str | None:
    """Return this machine's pip cache folder, or None where the cache is switched off."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def fresh_venv(path: Path) -> Path:
    """Make a new virtual environment at `path` with this Python and this pip; return its python.

    The venv is what ``python -m venv`` makes; its pip is this pip's version, put there by this
    pip (``--python``) from the machine's pip cache rather than by ensurepip plus an upgrade
    (4 s instead of 11), so every later install behaves as it does for the course.
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120
    )
    python = venv_python(path)
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         f"pip=={version('pip')}"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"pip could not be installed in {path}:\n{proc.stdout}{proc.stderr}")
    return python
