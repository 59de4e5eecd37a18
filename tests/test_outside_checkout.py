"""A student who starts from the website, in an empty folder outside the repository.

No make, no checkout on the path, a fresh virtual environment with nothing but pip: the
student downloads an exercise notebook and a chapter notebook from the served site (the
download buttons' files), runs the exercise's setup cell in plain Python, which installs the
student wheel from the site's ``wheels/`` folder, and then

* the untouched exercise's self-check reports every part and fails its visible tests;
* the exercise completed with the solution's code gets full marks from ``python -m
  helpers.check`` run in that folder;
* the chapter notebook runs top to bottom in a kernel of that environment;
* the assignment's .zip holds the same notebook and the same wheel the site serves.

The data comes from the course's shared copy (``CNN_COURSE_DATA``): CI has no internet for it.
The site is the one the ``built_site`` fixture builds, served on loopback.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest
from student_tools import complete_with_solutions, fresh_venv

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01_pixels"
CHAPTER = "01_pixels"

pytestmark = pytest.mark.slow


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _setup_code(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    (cell,) = [c for c in nb["cells"] if "course-setup" in c["metadata"].get("tags", [])]
    return "".join(cell["source"])


@pytest.fixture(scope="module")
def student(
    tmp_path_factory: pytest.TempPathFactory, site_url: str, data_dir: Path
) -> dict[str, object]:
    """An empty folder and a fresh venv; the exercise and the chapter downloaded from the site."""
    home = tmp_path_factory.mktemp("student")
    assert ROOT not in home.parents, "the student's folder must be outside the repository"
    python = fresh_venv(home / "venv")
    site = site_url.rstrip("/") + "/"
    work = home / "work"
    (work / "chapter").mkdir(parents=True)
    exercise = work / f"{ASSIGNMENT}.ipynb"
    exercise.write_bytes(_get(f"{site}_sources/exercises/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    chapter = work / "chapter" / f"{CHAPTER}.ipynb"
    chapter.write_bytes(_get(f"{site}_sources/book/{CHAPTER}.ipynb"))
    # A clean environment: nothing of the checkout or of the course's own venv leaks in.
    env = {
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(home)),
        "CNN_COURSE_DATA": str(data_dir),
        "CNN_COURSE_CACHE": str(home / "cache"),
        "P2P_COURSE_SITE": site,
        "MPLBACKEND": "Agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    return {"python": python, "work": work, "env": env, "site": site}


def _run(student: dict, *args: str, cwd: Path | None = None, timeout: int = 900):
    return subprocess.run(
        [str(student["python"]), *args],
        cwd=cwd or student["work"], env=student["env"],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def installed(student: dict) -> str:
    """Run the exercise's setup cell in plain Python: it installs the served wheel."""
    code = _setup_code(student["work"] / f"{ASSIGNMENT}.ipynb")
    proc = _run(student, "-c", code)
    assert proc.returncode == 0, f"the setup cell failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


def test_the_setup_cell_installs_the_served_wheel(student: dict, installed: str) -> None:
    assert "Ready" in installed, installed
    where = _run(
        student,
        "-c",
        "import helpers, importlib.metadata as m; "
        "print(helpers.__file__); print(m.version('pixels-to-predictions'))",
    )
    assert where.returncode == 0, where.stderr
    location, version = where.stdout.split()
    assert str(ROOT) not in location, f"helpers came from the checkout: {location}"
    assert "site-packages" in location
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{version}"' in pyproject
    # Run again with helpers importable: the cell does nothing but say it is ready.
    again = _run(student, "-c", _setup_code(student["work"] / f"{ASSIGNMENT}.ipynb"))
    assert again.returncode == 0 and "Ready" in again.stdout
    assert "Successfully installed" not in again.stdout + again.stderr


def test_the_untouched_exercise_reports_every_part(student: dict, installed: str) -> None:
    proc = _run(student, "-m", "helpers.check", f"{ASSIGNMENT}.ipynb")
    report = proc.stdout + proc.stderr
    assert proc.returncode == 1, report
    parts = re.findall(r"^(\S.*)  \(\d+(?:\.\d+)? points?\)$", report, re.MULTILINE)
    assert len(parts) >= 3, f"expected a line per part:\n{report}"
    assert "FAILED" in report and "Visible tests passed: 0 of" in report
    assert "run when your notebook is graded" in report


def test_the_completed_exercise_gets_full_marks(student: dict, installed: str) -> None:
    done = student["work"] / "done" / f"{ASSIGNMENT}.ipynb"
    done.parent.mkdir()
    complete_with_solutions(
        student["work"] / f"{ASSIGNMENT}.ipynb",
        ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        done,
    )
    proc = _run(student, "-m", "helpers.check", done.name, cwd=done.parent)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    passed = re.search(r"Visible tests passed: (\d+) of (\d+) \((.+) of (.+)\)\.", report)
    assert passed and passed.group(1) == passed.group(2) and int(passed.group(2)) > 0, report
    assert "FAILED" not in report


def test_the_chapter_runs_top_to_bottom(student: dict, installed: str) -> None:
    chapter = student["work"] / "chapter" / f"{CHAPTER}.ipynb"
    code = (
        "import nbformat, nbclient, sys\n"
        f"nb = nbformat.read({str(chapter)!r}, as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',\n"
        f"    resources={{'metadata': {{'path': {str(chapter.parent)!r}}}}}).execute()\n"
        "print('ran', sum(c.cell_type == 'code' for c in nb.cells), 'code cells')\n"
    )
    proc = _run(student, "-c", code, cwd=chapter.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-6000:]
    assert re.search(r"ran \d+ code cells", proc.stdout)


def test_the_assignment_zip_holds_the_notebook_and_the_served_wheel(student: dict) -> None:
    site = student["site"]
    with zipfile.ZipFile(io.BytesIO(_get(f"{site}downloads/{ASSIGNMENT}.zip"))) as zf:
        names = set(zf.namelist())
        notebook = zf.read(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
        (wheel_name,) = [n for n in names if n.endswith(".whl")]
        wheel = zf.read(wheel_name)
    assert f"{ASSIGNMENT}/README.txt" in names
    assert notebook == (student["work"] / f"{ASSIGNMENT}.ipynb").read_bytes()
    assert wheel == _get(f"{site}wheels/{Path(wheel_name).name}")
