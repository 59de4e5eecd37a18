"""Every third-party import is declared in pyproject.toml, pinned exactly, for the right audience.

The student wheel must install everything ``helpers`` imports; the grader and the book use the
same list; tests and benchmarks may also use the ``dev`` extra. An import that works only
because something else happened to pull the package in is how a fresh machine breaks.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"helpers", "grader", "benchmarks", "tests", "conftest"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(group: str | None) -> dict[str, str]:
    project = PYPROJECT["project"]
    specs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    found = {}
    for spec in specs:
        name, _, version = spec.partition("==")
        found[_norm(name)] = version
    return found


def _local_modules(folder: Path) -> set[str]:
    # A test folder's own helper modules (site_tools, redteam, ...) are first party too.
    return {p.stem for p in folder.rglob("*.py")} | {
        p.name for p in folder.rglob("*") if p.is_dir()
    }


def _imports(folder: Path) -> dict[str, str]:
    """Map every top-level module imported under ``folder`` to one file that imports it."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _undeclared(folder: str, allowed: dict[str, str]) -> list[str]:
    distributions = packages_distributions()
    local = _local_modules(ROOT / folder)
    missing = []
    for module, where in _imports(ROOT / folder).items():
        if module in sys.stdlib_module_names or module in FIRST_PARTY or module in local:
            continue
        owners = {_norm(d) for d in distributions.get(module, [])}
        if not owners:
            missing.append(f"{module} (imported in {where}) is not installed by any package")
        elif not owners & allowed.keys():
            missing.append(
                f"{module} (imported in {where}) comes from {sorted(owners)}, not declared"
            )
    return missing


@pytest.mark.parametrize(
    ("folder", "groups"),
    [
        ("helpers", [None]),
        ("grader", [None]),
        ("tests", [None, "dev"]),
        ("benchmarks", [None, "dev"]),
    ],
)
def test_every_import_is_declared(folder, groups):
    allowed: dict[str, str] = {}
    for group in groups:
        allowed |= _requirements(group)
    assert _undeclared(folder, allowed) == []


def test_every_requirement_is_pinned_exactly():
    for group in (None, "dev"):
        loose = [name for name, version in _requirements(group).items() if not version]
        assert loose == [], f"not pinned with == (see the pin policy in pyproject.toml): {loose}"


def test_the_check_finds_an_undeclared_import():
    # The test above must be able to fail: without numpy declared, helpers' imports are flagged.
    allowed = {k: v for k, v in _requirements(None).items() if k != "numpy"}
    assert any(line.startswith("numpy ") for line in _undeclared("helpers", allowed))
