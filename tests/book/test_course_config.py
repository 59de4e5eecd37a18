"""course.toml is the one place a deployment is configured, and everything follows it.

Fast checks of ``_ext/course.py``: the setup cells and the chapters' notebook twins are in step
with course.toml (and a change there makes them stale), the pages' ``{{ course.X }}`` values
and hub-only blocks, the theme's launch buttons, and what the setup cell does where it cannot
install anything (no pip, the wrong Python).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("course_ext", ROOT / "_ext" / "course.py")
assert _spec and _spec.loader
course_ext = importlib.util.module_from_spec(_spec)
sys.modules["course_ext"] = course_ext
_spec.loader.exec_module(course_ext)

CHAPTERS = sorted(ROOT.glob("book/[0-9][0-9]_*.md"))
GRADED = sorted(ROOT.glob("solutions/[0-9][0-9]_*/[0-9][0-9]_*.ipynb")) + sorted(
    ROOT.glob("exercises/[0-9][0-9]_*/[0-9][0-9]_*.ipynb")
)


def _copy_course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    for name in ("course.toml", "pyproject.toml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    shutil.copytree(ROOT / "book", root / "book", ignore=shutil.ignore_patterns("_vendor"))
    shutil.copytree(ROOT / "solutions", root / "solutions")
    return root


def _setup_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if "course-setup" in c["metadata"].get("tags", [])]


def test_setup_cells_and_notebook_twins_follow_course_toml() -> None:
    stale = course_ext.stale_files(ROOT)
    assert not stale, (
        f"out of step with course.toml: {[str(p.relative_to(ROOT)) for p in stale]}. "
        "Run `python _ext/course.py sync`, then `make exercises`."
    )


def test_a_changed_course_toml_makes_every_setup_cell_stale(tmp_path: Path) -> None:
    root = _copy_course(tmp_path)
    toml = root / "course.toml"
    toml.write_text(toml.read_text().replace('url = ""', 'url = "https://hub.uni.example"', 1))
    stale = {p.relative_to(root).as_posix() for p in course_ext.stale_files(root)}
    for chapter in CHAPTERS:
        assert f"book/{chapter.name}" in stale
        assert f"book/{chapter.stem}.ipynb" in stale
    assert "solutions/01_pixels/01_pixels.ipynb" in stale
    course_ext.sync(root)
    assert course_ext.stale_files(root) == []
    assert '"hub": "https://hub.uni.example"' in (root / "book/01_pixels.md").read_text()


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_graded_notebook_opens_with_one_hidden_setup_cell(path: Path) -> None:
    nb = json.loads(path.read_text())
    cells = _setup_cells(nb)
    assert len(cells) == 1, f"{path.name}: {len(cells)} setup cells"
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert first_code is cells[0], f"{path.name}: the setup cell must be the first code cell"
    assert "remove-cell" in cells[0]["metadata"]["tags"]
    assert "nbgrader" not in cells[0]["metadata"], "the setup cell is not graded or locked"
    # Jupyter, nbgrader and ruff format all write sorted keys; a sync writing another order
    # would be undone by the formatter and then reported stale.
    assert path.read_text() == json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_and_its_twin_open_with_the_setup_cell(path: Path) -> None:
    twin = json.loads(path.with_suffix(".ipynb").read_text())
    first_code = next(c for c in twin["cells"] if c["cell_type"] == "code")
    assert "course-setup" in first_code["metadata"].get("tags", [])
    assert not any(c.get("outputs") for c in twin["cells"] if c["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert "prepare(COURSE, data=" in source
    course = course_ext.load_course(ROOT)
    assert json.dumps(course.site_url) in source and json.dumps(course.repository_url) in source


def test_data_needed_reads_the_code() -> None:
    assert course_ext.data_needed("x = load_mnist('train')") == ("mnist",)
    assert course_ext.data_needed("example_fruit(); load_mnist()") == ("mnist", "fruits")
    assert course_ext.data_needed("import numpy") == ()


def test_page_values_and_hub_blocks() -> None:
    course = course_ext.load_course(ROOT)
    text = (
        "Clone {{ course.repository }} ({{course.branch}}), wheel {{ course.wheel_url }}\n"
        "<!-- if-hub -->\nYour hub: {{ course.hub }}\n<!-- end-if-hub -->\nEnd.\n"
    )
    without = course_ext.render_text(text, _with(course, hub_url=""))
    assert "Your hub" not in without
    assert course.repository_url in without and "{{" not in without
    assert without.endswith("End.\n")
    with_hub = course_ext.render_text(text, _with(course, hub_url="https://hub.uni.example"))
    assert "Your hub: https://hub.uni.example" in with_hub
    assert "if-hub" not in with_hub
    with pytest.raises(course_ext.CourseConfigError, match="unknown value"):
        course_ext.render_text("{{ course.hubb }}", course)


def _with(course, **changes):
    import dataclasses

    return dataclasses.replace(course, **changes)


@pytest.mark.parametrize("hub", ["", "https://hub.uni.example"])
def test_the_theme_gets_a_hub_button_only_with_a_hub(tmp_path: Path, hub: str) -> None:
    root = _copy_course(tmp_path)
    toml = root / "course.toml"
    toml.write_text(toml.read_text().replace('url = ""', f'url = "{hub}"', 1))
    options = {"launch_buttons": {"notebook_interface": "jupyterlab", "jupyterhub_url": "x"}}
    app = SimpleNamespace(srcdir=str(root))
    course_ext._config_inited(app, SimpleNamespace(html_theme_options=options))
    course = course_ext.load_course(root)
    assert options["repository_url"] == course.repository_url
    assert options["launch_buttons"]["colab_url"] == course.colab_url
    assert options["launch_buttons"].get("jupyterhub_url") == (hub or None)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('branch = "main"', "", "no \\[repository\\] branch"),
        ('url = "https://pixels', 'url = "http://pixels', "must start with https://"),
        ('url = ""', 'url = "hub.uni"', "hub"),
    ],
)
def test_a_broken_course_toml_is_explained(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    root = _copy_course(tmp_path)
    toml = root / "course.toml"
    assert old in toml.read_text()
    toml.write_text(toml.read_text().replace(old, new, 1))
    with pytest.raises(course_ext.CourseConfigError, match=message):
        course_ext.load_course(root)


def test_verify_repository_stops_a_fork_with_the_upstream_address() -> None:
    course = course_ext.load_course(ROOT)
    owner_name = course.repository_url.removeprefix("https://github.com/")
    assert course_ext.verify_repository(owner_name, ROOT) is None
    problem = course_ext.verify_repository("someone-else/fork", ROOT)
    assert problem and "course.toml" in problem and "someone-else/fork" in problem


def _setup_cell_code() -> str:
    nb = json.loads((ROOT / "exercises/01_pixels/01_pixels.ipynb").read_text())
    return "".join(_setup_cells(nb)[0]["source"])


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with neither the course package nor pip: what the setup cell must explain."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python"


def test_the_setup_cell_says_what_to_do_without_pip(bare_python: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(bare_python), "-c", _setup_cell_code()],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "P2P_COURSE_SITE": "http://127.0.0.1:9/"},
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Could not install the course package" in proc.stderr
    assert "No pip?" in proc.stderr and "wheels/pixels_to_predictions-" in proc.stderr


def test_the_setup_cell_names_the_pythons_it_needs(bare_python: Path, tmp_path: Path) -> None:
    code = "import sys\nsys.version_info = (3, 10, 4)\n" + _setup_cell_code()
    proc = subprocess.run(
        [str(bare_python), "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "needs Python 3.11 or 3.12" in proc.stderr
