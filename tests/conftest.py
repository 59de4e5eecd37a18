"""Shared fixtures: the data location, the built website and a local server for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from site_tools import browser  # noqa: F401  (a headless Chromium for the site tests)
from student_tools import served_site

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests read the real data sets from ../shared/data unless told otherwise.
if "CNN_COURSE_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["CNN_COURSE_DATA"] = str(SHARED_DATA)
# Decoded-data caches go to the build folder, never to the user's home cache.
os.environ.setdefault("CNN_COURSE_CACHE", str(ROOT / "_build" / "data-cache"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("CNN_COURSE_DATA", SHARED_DATA))
    if not (path / "mnist").is_dir():
        pytest.fail(
            f"The course data is not at {path}. Set CNN_COURSE_DATA to a folder holding "
            "mnist/ and fruits-360/ (CI uses ../shared/data)."
        )
    return path


@pytest.fixture(scope="session")
def built_site() -> Path:
    """Build the website once per test session with warnings as errors; return _build/html.

    ``P2P_BUILT_SITE=folder`` skips the build and tests an already built site instead
    (handy while writing a page; the full suite always builds).
    """
    prebuilt = os.environ.get("P2P_BUILT_SITE")
    if prebuilt:
        return Path(prebuilt)
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--builder", "html", "-W", "--keep-going"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    log = proc.stdout + proc.stderr
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "test-build.log").write_text(log)
    if proc.returncode != 0:
        pytest.fail(f"jupyter-book build failed (exit {proc.returncode}):\n{log[-6000:]}")
    html = ROOT / "_build" / "html"
    assert (html / "index.html").is_file(), "the build finished but wrote no index.html"
    return html


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """Serve the built site on 127.0.0.1 (a free port) for the browser tests."""
    with served_site(built_site) as url:
        yield url.rstrip("/")
