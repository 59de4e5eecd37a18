"""Every third-party import is declared in pyproject.toml, pinned exactly, for the right audience.

Each audience installs only its own lists (see the comment above ``dependencies`` in
pyproject.toml), so each part of the repository may import only from those:

- the student (``helpers``, the exercises, the chapters' code cells, which run on Colab or
  Binder with the student package alone): ``dependencies``;
- the instructor (``grader``, the solutions' hidden tests, nbgrader's config, docs/):
  ``dependencies`` + ``instructor``;
- the book's build (``_ext``, ``tools``): ``dependencies`` + ``book``;
- the course's own tests and benchmarks: everything.

An import inside ``try: ... except ImportError`` (or under ``if TYPE_CHECKING:``) is optional:
a module that is not installed at all is fine there (``google.colab``), but an installed one
must be declared for the audience all the same (the offline fallback's mlxtend), unless
OPTIONAL_ELSEWHERE names it. An import that works only because something else happened to pull
the package in is how a fresh machine breaks.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = tuple(PYPROJECT["project"]["optional-dependencies"])

STUDENT: tuple[str | None, ...] = (None,)
INSTRUCTOR: tuple[str | None, ...] = (None, "instructor")
BOOK: tuple[str | None, ...] = (None, "book")
EVERYTHING: tuple[str | None, ...] = (None, *EXTRAS)
# Where each part of the repository runs, hence which lists it may import from.
AUDIENCES: dict[str, tuple[str | None, ...]] = {
    "helpers": STUDENT,
    "exercises": STUDENT,
    "book": STUDENT,
    "grader": INSTRUCTOR,
    "solutions": INSTRUCTOR,
    "nbgrader_config.py": INSTRUCTOR,
    "docs": INSTRUCTOR,
    "_ext": BOOK,
    "tools": BOOK,
    "tests": EVERYTHING,
    "benchmarks": EVERYTHING,
}
MAGIC = re.compile(r"^\s*[%!]")  # IPython magics and shell escapes are not Python
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Optional imports that may come from another audience's list: what the code does without them.
OPTIONAL_ELSEWHERE = {
    "myst_nb": "helpers.glue records values for the website's text; elsewhere it shows them",
}
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


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


def _allowed(groups: Sequence[str | None]) -> dict[str, str]:
    allowed: dict[str, str] = {}
    for group in groups:
        allowed |= _requirements(group)
    return allowed


@functools.cache
def _repository_files() -> list[str]:
    """Tracked files and new ones not ignored: what a clone of the next commit holds."""
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line for line in proc.stdout.splitlines() if (ROOT / line).is_file()]


def _is_code_file(rel: str) -> bool:
    return rel.endswith((".py", ".ipynb")) or (rel.startswith("book/") and rel.endswith(".md"))


def _sources(path: Path) -> Iterator[str]:
    """Yield the Python source of a module, or of each code cell of a notebook or MyST page."""
    if path.suffix == ".py":
        yield path.read_text()
        return
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        blocks = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    else:
        blocks = CODE_CELL.findall(path.read_text())
    for block in blocks:
        # A MyST cell's options come first (`:tags: [...]` lines, or a `---` YAML block).
        lines = block.splitlines()
        if lines and lines[0].strip() == "---":
            lines = lines[lines.index("---", 1) + 1 :] if "---" in lines[1:] else []
        lines = [line for line in lines if not line.startswith(":")]
        # Magics and shell escapes become blank lines.
        yield "\n".join("" if MAGIC.match(line) else line for line in lines)


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        if handler.type is None:
            return True
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(k, ast.Name) and k.id in IMPORT_ERRORS for k in kinds):
            return True
    return False


def _walk_imports(node: ast.AST, optional: bool = False) -> Iterator[tuple[str, bool]]:
    """Yield (top-level module, optional) for every absolute import under ``node``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name.split(".")[0], optional
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        yield node.module.split(".")[0], optional
    if isinstance(node, ast.Try) and _catches_import_error(node):
        for child in node.body:
            yield from _walk_imports(child, True)
        for part in (node.handlers, node.orelse, node.finalbody):
            for child in part:
                yield from _walk_imports(child, optional)
        return
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        for child in node.body:
            yield from _walk_imports(child, True)
        for child in node.orelse:
            yield from _walk_imports(child, optional)
        return
    for child in ast.iter_child_nodes(node):
        yield from _walk_imports(child, optional)


def _imports(paths: Sequence[Path]) -> dict[str, tuple[str, bool]]:
    """Map every top-level module imported in ``paths`` to (one file, optional everywhere)."""
    found: dict[str, tuple[str, bool]] = {}
    for path in paths:
        where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        for source in _sources(path):
            for module, optional in _walk_imports(ast.parse(source, where)):
                seen = found.get(module)
                if seen is None or (seen[1] and not optional):
                    found[module] = (where, optional)
    return found


def _local_modules(paths: Sequence[Path]) -> set[str]:
    # The repository's own top-level packages and modules (helpers, grader, tools, ...), and a
    # folder's own helper modules (site_tools, redteam, ...), are first party.
    tops = {
        rel.split("/")[0].removesuffix(".py") for rel in _repository_files() if rel.endswith(".py")
    }
    local = {p.stem for p in paths if p.suffix == ".py"}
    return tops | local | {parent.name for p in paths for parent in p.parents}


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()


def _undeclared(paths: Sequence[Path], groups: Sequence[str | None]) -> list[str]:
    distributions = _distributions()
    allowed, declared = _allowed(groups), _allowed(EVERYTHING)
    local = _local_modules(paths)
    missing = []
    for module, (where, optional) in sorted(_imports(paths).items()):
        if module in sys.stdlib_module_names or module in local:
            continue
        owners = {_norm(d) for d in distributions.get(module, [])}
        if not owners:
            if not optional:  # e.g. `import google.colab` in a try: absent here, and fine
                missing.append(f"{module} (imported in {where}) is not installed by any package")
        elif module in OPTIONAL_ELSEWHERE and optional:
            if not owners & declared.keys():
                missing.append(
                    f"{module} (optional import in {where}) comes from {sorted(owners)}, "
                    "declared in no list"
                )
        elif not owners & allowed.keys():
            names = "+".join(g or "dependencies" for g in groups)
            missing.append(
                f"{module} (imported in {where}) comes from {sorted(owners)}, not in {names}"
            )
    return missing


def _audience_files(audience: str) -> list[Path]:
    return [
        ROOT / rel
        for rel in _repository_files()
        if _is_code_file(rel) and (rel == audience or rel.startswith(audience + "/"))
    ]


@pytest.mark.parametrize("audience", sorted(AUDIENCES))
def test_every_import_is_declared_for_its_audience(audience: str) -> None:
    paths = _audience_files(audience)
    assert paths, f"no code under {audience}: drop it from AUDIENCES"
    assert _undeclared(paths, AUDIENCES[audience]) == []


def test_every_code_file_has_an_audience() -> None:
    # A new folder of code must say who runs it (and so which lists it may import from).
    orphans = [
        rel
        for rel in _repository_files()
        if _is_code_file(rel) and not any(rel.split("/")[0] == a for a in AUDIENCES)
    ]
    assert orphans == [], f"add these to AUDIENCES: {orphans}"


def test_every_requirement_is_pinned_exactly_once() -> None:
    seen: dict[str, str] = {}
    for group in EVERYTHING:
        for name, version in _requirements(group).items():
            where = group or "dependencies"
            assert version, f"{name} in {where} is not pinned with == (see the pin policy)"
            assert name not in seen, f"{name} is listed in both {seen[name]} and {where}"
            seen[name] = where


def test_the_student_lists_hold_no_tooling() -> None:
    # A student's `pip install` of the wheel must not pull in the instructor's or the book's
    # machinery (tests/test_packaging.py checks the same on the built wheel's metadata).
    student = set(_requirements(None))
    for name in ("nbgrader", "sphinx", "jupyter-book", "myst-nb", "pytest", "jupyterlab"):
        assert name not in student, name


def test_the_check_finds_an_undeclared_import() -> None:
    # Must be able to fail: without numpy declared, helpers' imports are flagged.
    paths = _audience_files("helpers")
    assert _undeclared(paths, STUDENT) == []
    original = PYPROJECT["project"]["dependencies"]
    try:
        PYPROJECT["project"]["dependencies"] = [s for s in original if not s.startswith("numpy")]
        assert any(line.startswith("numpy ") for line in _undeclared(paths, STUDENT))
    finally:
        PYPROJECT["project"]["dependencies"] = original


def test_the_check_keeps_each_audience_to_its_lists() -> None:
    # The grader imports nbgrader, which a student never installs: as student code it is flagged.
    flagged = _undeclared(_audience_files("grader"), STUDENT)
    assert any(line.startswith("nbgrader ") for line in flagged), flagged


def test_optional_imports(tmp_path: Path) -> None:
    plain, guarded, other = (tmp_path / n for n in ("plain.py", "guarded.py", "other.py"))
    plain.write_text("import myst_nb\n")
    guarded.write_text(
        "try:\n    import myst_nb\n    import google.colab\nexcept ImportError:\n    pass\n"
    )
    # Guarded, but neither excused nor a student's package: still flagged.
    other.write_text("try:\n    import nbgrader\nexcept ModuleNotFoundError:\n    pass\n")
    assert [line.split()[0] for line in _undeclared([plain], STUDENT)] == ["myst_nb"]
    assert _undeclared([guarded], STUDENT) == []
    assert [line.split()[0] for line in _undeclared([other], STUDENT)] == ["nbgrader"]
    assert _undeclared([other], INSTRUCTOR) == []


def test_code_cells_are_read_from_notebooks_and_chapters(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A chapter\n\n```python\nimport not_run\n```\n\n"
        "```{code-cell} ipython3\n:tags: [hide-input]\n%matplotlib inline\nimport sklearn\n```\n"
    )
    notebook = tmp_path / "n.ipynb"
    cells = [{"cell_type": "code", "source": ["!pip list\n", "import nbgrader\n"]}]
    notebook.write_text(json.dumps({"cells": cells}))
    assert set(_imports([page])) == {"sklearn"}
    assert set(_imports([notebook])) == {"nbgrader"}
