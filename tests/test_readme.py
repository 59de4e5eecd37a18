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


def test_layout_table_lists_every_top_level_folder_and_nothing_else():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    folders = {path.split("/")[0] + "/" for path in tracked if "/" in path}
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
