"""The README's layout table and architecture table name exactly what the repository holds."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _first_column_paths(section: str) -> set[str]:
    paths: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            paths.update(re.findall(r"`([^`]+)`", first_cell))
    return paths


# Top-level files every Python project has, explained elsewhere in the README or self-evident.
CONVENTIONAL_FILES = {
    ".gitignore",
    ".pre-commit-config.yaml",
    "LICENSE",
    "LICENSE-CONTENT.md",
    "Makefile",
    "README.md",
    "pyproject.toml",
}


def _repository_files() -> list[str]:
    """Return what the repository holds: tracked files and new ones not ignored by git."""
    return subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def test_layout_table_lists_every_top_level_folder_and_nothing_else():
    folders = {path.split("/")[0] + "/" for path in _repository_files() if "/" in path}
    named = _first_column_paths(_section("Layout"))
    named_folders = {p.split("/")[0] + "/" for p in named if "/" in p}
    assert named_folders == folders, (
        f"folders missing from the table: {sorted(folders - named_folders)}; "
        f"named but absent: {sorted(named_folders - folders)}"
    )
    missing = [p for p in named if not (ROOT / p).exists()]
    assert missing == [], f"the layout table names paths that do not exist: {missing}"


def test_architecture_table_names_existing_subpackages():
    named = _first_column_paths(_section("Architecture"))
    assert named, "the architecture table lists no modules"
    for dotted in named:
        path = ROOT / dotted.replace(".", "/")
        assert path.is_dir() or path.with_suffix(".py").is_file(), f"{dotted} does not exist"
    packages = {p.name for p in (ROOT / "helpers").iterdir() if (p / "__init__.py").is_file()}
    listed = {d.split(".")[1] for d in named if d.count(".") == 1}
    assert packages <= listed, f"subpackages missing from the table: {sorted(packages - listed)}"


def test_layout_table_names_every_top_level_configuration_file():
    top_files = {path for path in _repository_files() if "/" not in path}
    named = _first_column_paths(_section("Layout"))
    missing = sorted(top_files - CONVENTIONAL_FILES - named)
    assert missing == [], f"top-level files the layout table does not explain: {missing}"


def test_students_start_from_the_get_started_page_not_from_make():
    students = _section("For students")
    assert "book/get_started.md" in students, "the student section does not link Get started"
    commands = re.findall(r"```bash\n(.*?)```", students, re.DOTALL)
    first_words = [line.split()[0] for block in commands for line in block.splitlines() if line]
    assert "make" not in first_words, "the student section's commands still assume make"
