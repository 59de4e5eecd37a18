"""The student wheel: ``helpers`` and its data, nothing of the instructor's side.

The wheel is built from a copy of the checkout (setuptools writes build/ and egg-info
into the folder it builds, and a stale build/ would leak into the next wheel), with the
instructor's private files put beside it as on a grading machine. Then the wheel is
unpacked into an empty folder and imported from another one, away from the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Build outputs, environments and caches: never part of a wheel's source.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "_build", "build", "dist", "node_modules", "_vendor", "*.egg-info",
    "__pycache__", ".*_cache", ".hypothesis", ".ipynb_checkpoints",
)  # fmt: skip
# What an instructor's checkout holds besides the repository (all ignored by git).
PRIVATE_FILES = ("grading/reference/07_capstone/digitnet.pt", "grading/.ledger-key", "gradebook.db")
NEVER_SHIPPED = ("grader/", "solutions/", "exercises/", "tests/", "grading/", "book/")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    for name in PRIVATE_FILES:
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(b"the instructor's, never the students'")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp / "dist")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = (tmp / "dist").glob("*.whl")
    return built


def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_the_wheel_holds_helpers_with_its_data(wheel: Path) -> None:
    files = set(names(wheel))
    packages = sorted(
        p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "helpers").rglob("__init__.py")
    )
    assert "helpers" in packages and len(packages) > 5, packages
    missing = [f"{p}/__init__.py" for p in packages if f"{p}/__init__.py" not in files]
    assert not missing, missing
    manifests = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "helpers/data/manifests").glob("*.sha256")
    }
    assert manifests and manifests <= files, manifests - files


def test_the_wheel_holds_nothing_of_the_instructors_side(wheel: Path) -> None:
    tops = {name.split("/")[0] for name in names(wheel)}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"helpers"}, tops
    shipped = [n for n in names(wheel) if n.startswith(NEVER_SHIPPED)]
    assert not shipped, shipped
    assert not [n for n in names(wheel) if n.endswith((".pt", ".db", ".ledger-key"))]


def test_the_installed_wheel_imports_helpers_but_not_the_grader(
    wheel: Path, tmp_path: Path
) -> None:
    target, elsewhere = tmp_path / "site", tmp_path / "empty"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
         str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    program = (
        "import importlib.util, helpers, helpers.ops, helpers.check\n"
        "print(helpers.__file__)\n"
        "print(importlib.util.find_spec('grader'))\n"
    )
    # The wheel's copy comes first on the path: the checkout's editable install only
    # answers for what the path does not have.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(target)
    proc = subprocess.run(
        [sys.executable, "-c", program],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    where, grader = proc.stdout.splitlines()
    assert Path(where).is_relative_to(target), where
    assert grader == "None"


def _name(spec: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s;=<>!~\[]", spec.strip(), maxsplit=1)[0]).lower()


def requires_dist(wheel: Path) -> dict[str | None, set[str]]:
    """Map each extra of the wheel's METADATA (None: always) to the packages it requires."""
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        text = zf.read(meta).decode()
    found: dict[str | None, set[str]] = {}
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        spec = line.removeprefix("Requires-Dist:").strip()
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", spec)
        found.setdefault(extra[1] if extra else None, set()).add(_name(spec))
    return found


def test_a_student_install_pulls_in_no_tooling(wheel: Path) -> None:
    # `pip install pixels-to-predictions` installs the unmarked requirements only: never the
    # book's build, the instructor's grading or the course's own test tools.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {None: project["dependencies"], **project["optional-dependencies"]}
    metadata = requires_dist(wheel)
    assert metadata == {group: {_name(s) for s in specs} for group, specs in declared.items()}
    for tooling in ("nbgrader", "sphinx", "jupyter-book", "myst-nb", "pytest", "jupyterlab"):
        assert tooling not in metadata[None], tooling
    for extra in ("book", "instructor", "dev"):
        leaked = metadata[extra] & metadata[None]
        assert not leaked, f"{extra} packages a student install would pull in: {leaked}"
