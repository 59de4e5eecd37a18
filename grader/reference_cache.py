"""Keep the instructor's reference run between grading runs, keyed on all it depends on.

Before anyone is graded, :func:`grader.autograde.prepare_reference` runs the instructor's
notebook (the environment check and the cross-check's recorded calls) and the cross-check
harness on fresh inputs (the expected results). For a class that is paid once; for one
student's late submission, or a shard on each of many nodes, it doubles the work. A
reference that passed is therefore kept in ``grading/reference-cache/`` (private: no
sandbox sees ``grading/``) under a key made of everything that could change it: the source
and released notebooks, the files handed in beside the solution, the grader and
``helpers`` code, the Python and NumPy versions, the data folder's listing and the grading
settings. Change any of them and the reference runs again. A failed reference (an
environment fault) is never kept, so a broken machine is caught on every run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

import helpers

GRADER_DIR = Path(__file__).resolve().parent
HELPERS_DIR = Path(helpers.__file__).resolve().parent
VERSION = 1  # bump when the cached object's layout changes


def _hash_files(digest: Any, paths: Iterable[Path], root: Path | None = None) -> None:
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root else path.name
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def _hash_tree(digest: Any, folder: Path, pattern: str = "*.py") -> None:
    # Compiled files come and go with imports; the sources they come from are hashed.
    paths = (p for p in folder.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    _hash_files(digest, paths, folder)


def _hash_listing(digest: Any, folder: Path | None) -> None:
    # The data is large: its names, sizes and times stand for it (a replaced or missing
    # file changes them).
    if folder is None or not folder.is_dir():
        digest.update(b"no data folder")
        return
    digest.update(str(folder.resolve()).encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())


def reference_key(
    *,
    source: Path,
    release: Path,
    beside: Iterable[Path],
    data_dir: Path | None,
    settings: Iterable[Any],
) -> str:
    """Return the hex key of one assignment notebook's reference run."""
    digest = hashlib.sha256(f"v{VERSION}|{sys.version}|{np.__version__}".encode())
    _hash_files(digest, [source, release])
    _hash_files(digest, beside)
    _hash_tree(digest, GRADER_DIR)
    _hash_tree(digest, HELPERS_DIR, "*")
    _hash_listing(digest, data_dir)
    digest.update(repr(list(settings)).encode())
    return digest.hexdigest()


def cache_path(grading: Path, assignment: str, notebook: str, key: str) -> Path:
    """Return where the reference of ``assignment/notebook`` with ``key`` is kept."""
    return grading / "reference-cache" / f"{assignment}-{Path(notebook).stem}-{key[:24]}.pickle"


def load(path: Path) -> dict | None:
    """Return the kept reference (its cases and expected results), or None."""
    try:
        with open(path, "rb") as handle:
            kept = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return kept if isinstance(kept, dict) and kept.get("version") == VERSION else None


def save(path: Path, cases: list[dict], expected: dict[int, dict]) -> None:
    """Keep a reference that passed; replace any older one of the same notebook atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name.rsplit("-", 1)[0]
    for old in path.parent.glob(f"{stem}-*.pickle"):
        old.unlink(missing_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with open(partial, "wb") as handle:
        pickle.dump({"version": VERSION, "cases": cases, "expected": expected}, handle)
    os.replace(partial, path)
