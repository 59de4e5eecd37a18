"""Deploy the course where its users are, from the one file a course edits: ``course.toml``.

``course.toml`` says where the course lives: its repository and branch, its published site,
its JupyterHub (or none) and any extra data mirrors. This module is the only reader of that
file, and everything that needs those facts asks it:

* **the setup cell** at the top of every chapter (``book/NN_*.md``) and every graded notebook
  (``solutions/*/*.ipynb``, hence ``exercises/``): ``python _ext/course.py sync`` rewrites it
  from ``course.toml``, and ``python _ext/course.py check`` (run by the test suite) fails while
  any is stale. The same command writes each chapter's notebook twin ``book/NN_*.ipynb`` (with
  jupytext), which Colab, Binder and a hub open, since none of them opens MyST Markdown.
* **the website**, as a Sphinx extension: the repository and launch buttons (no hub button
  without a hub), the ``{{ course.X }}`` values in the pages' text, the student wheel served
  under ``wheels/`` (so a notebook installs the version its page was built with), each
  assignment as one ``downloads/<assignment>.zip`` and a box on each exercise page saying how
  to get it, check it and hand it in.
* **the publishing workflow**: ``python _ext/course.py verify-repository OWNER/NAME`` stops a
  fork from publishing pages whose buttons open somebody else's repository.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP_TAG = "course-setup"
# Pages that run code (chapters, notation) are MyST notebooks: each gets a setup cell and a
# notebook twin.
NOTEBOOK_PAGES = "book/*.md"
ASSIGNMENTS = "solutions/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"


@dataclass(frozen=True)
class Course:
    """Where one course is deployed, as ``course.toml`` says."""

    repository_url: str
    branch: str
    site_url: str
    hub_url: str
    binder_url: str
    colab_url: str
    mirrors: tuple[str, ...]
    version: str

    @property
    def wheel_name(self) -> str:
        """Return the file name of the student wheel this version builds."""
        return f"pixels_to_predictions-{self.version}-py3-none-any.whl"

    @property
    def wheel_url(self) -> str:
        """Return where the published site serves the student wheel."""
        return f"{self.site_url}wheels/{self.wheel_name}"

    def tokens(self) -> dict[str, str]:
        """Return the values pages may quote as ``{{ course.NAME }}``."""
        return {
            "repository": self.repository_url,
            "branch": self.branch,
            "site": self.site_url,
            "hub": self.hub_url,
            "version": self.version,
            "wheel": self.wheel_name,
            "wheel_url": self.wheel_url,
        }


class CourseConfigError(ValueError):
    """``course.toml`` is missing a value or holds one that cannot work."""


def load_course(root: Path = ROOT) -> Course:
    """Read ``course.toml`` (and the version from ``pyproject.toml``) under ``root``."""
    path = root / "course.toml"
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CourseConfigError(f"cannot read {path}: {err}") from err
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]

    def value(section: str, key: str) -> str:
        try:
            found = raw[section][key]
        except KeyError:
            raise CourseConfigError(f"{path} has no [{section}] {key} = ...") from None
        if not isinstance(found, str):
            raise CourseConfigError(f"{path}: [{section}] {key} must be a string")
        return found.strip()

    course = Course(
        repository_url=value("repository", "url").rstrip("/"),
        branch=value("repository", "branch"),
        site_url=value("site", "url").rstrip("/") + "/",
        hub_url=value("hub", "url").rstrip("/"),
        binder_url=value("launch", "binder").rstrip("/"),
        colab_url=value("launch", "colab").rstrip("/"),
        mirrors=tuple(str(m) for m in raw.get("data", {}).get("mirrors", [])),
        version=version,
    )
    for name, url in [("repository url", course.repository_url), ("site url", course.site_url)]:
        if not url.startswith("https://"):
            raise CourseConfigError(f"{path}: the {name} must start with https://, not {url!r}")
    if course.hub_url and not course.hub_url.startswith("https://"):
        raise CourseConfigError(f'{path}: [hub] url must be https://... or "" for no hub')
    return course


# --- the setup cell ---------------------------------------------------------------------------

SETUP_CELL = """\
# Course setup: run this cell first. Where the course's package `helpers` is missing (Colab,
# Binder, a laptop) it installs the version this notebook was written for, then it makes sure
# the data below is on disk. Where all is in place it only says so. Made by _ext/course.py.
import importlib.util
import os
import subprocess
import sys

COURSE = {{
{course}
}}
if importlib.util.find_spec("helpers") is None:
    if not (3, 11) <= sys.version_info[:2] <= (3, 12):
        raise RuntimeError(f"The course needs Python 3.11 or 3.12, not {{sys.version.split()[0]}}.")
    site = os.environ.get("P2P_COURSE_SITE", COURSE["site"])
    wheel = f"pixels_to_predictions-{{COURSE['version']}}-py3-none-any.whl"
    links = ["--find-links", ".", "--find-links", site + "wheels/"]
    for source in (
        [f"pixels-to-predictions=={{COURSE['version']}}", *links],
        [f"pixels-to-predictions @ git+{{COURSE['repository']}}@{{COURSE['branch']}}"],
    ):
        pip = [sys.executable, "-m", "pip", "install", "--quiet", *source]
        if subprocess.run(pip).returncode == 0:
            break
    else:
        raise RuntimeError(
            "Could not install the course package (pip says why above). Offline? Connect and "
            "run this cell again. No pip? Use a Python that has it. Or in a terminal: "
            f"pip install {{site}}wheels/{{wheel}}"
        )
    importlib.invalidate_caches()
importlib.import_module("helpers.course_setup").prepare(COURSE, data={data})"""


def data_needed(code: str) -> tuple[str, ...]:
    """Return the data sets a notebook's code loads, in the course's order."""
    lowered = code.lower()
    return tuple(
        name for name, word in [("mnist", "mnist"), ("fruits", "fruit")] if word in lowered
    )


def setup_cell_source(course: Course, data: tuple[str, ...]) -> str:
    """Return the setup cell for a notebook that needs the data sets ``data``."""
    facts = {
        "version": course.version,
        "site": course.site_url,
        "repository": course.repository_url,
        "branch": course.branch,
        "hub": course.hub_url,
        "mirrors": list(course.mirrors),
    }
    lines = "\n".join(f"    {json.dumps(k)}: {json.dumps(v)}," for k, v in facts.items())
    names = ", ".join(json.dumps(name) for name in data) + ("," if len(data) == 1 else "")
    return SETUP_CELL.format(course=lines, data=f"({names})")


# MyST: a code cell tagged course-setup, or (first sync) the page's title line.
_MYST_SETUP = re.compile(
    r"```\{code-cell\} ipython3\n:tags: \[[^\]]*" + SETUP_TAG + r"[^\]]*\]\n\n.*?\n```\n",
    re.DOTALL,
)
_MYST_TITLE = re.compile(r"^# .*\n", re.MULTILINE)


def sync_myst(text: str, course: Course) -> str:
    """Return MyST notebook text with its setup cell written from ``course``."""
    body = _MYST_SETUP.sub("", text)
    cell = (
        f"```{{code-cell}} ipython3\n:tags: [remove-cell, {SETUP_TAG}]\n\n"
        f"{setup_cell_source(course, data_needed(_myst_code(body)))}\n```\n"
    )
    if _MYST_SETUP.search(text):
        return _MYST_SETUP.sub(lambda _: cell, text, count=1)
    title = _MYST_TITLE.search(text)
    if title is None:
        raise CourseConfigError("a chapter needs a '# Title' line to put its setup cell under")
    return text[: title.end()] + "\n" + cell + text[title.end() :]


def _myst_code(text: str) -> str:
    return "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.DOTALL))


def sync_ipynb(nb: dict, course: Course) -> dict:
    """Return a notebook (JSON dict) with its setup cell written from ``course``."""
    cells = [c for c in nb["cells"] if SETUP_TAG not in c.get("metadata", {}).get("tags", [])]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    source = setup_cell_source(course, data_needed(code))
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["remove-cell", SETUP_TAG]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }
    if (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5):
        # Cell ids arrived with nbformat 4.5; a fixed one keeps `sync` a no-op when nothing changed.
        cell = {"id": SETUP_TAG, **cell}
    # Under the title cell, as in the chapters, so a student sees what the notebook is first.
    at = 1 if cells and cells[0]["cell_type"] == "markdown" else 0
    return {**nb, "cells": [*cells[:at], cell, *cells[at:]]}


def notebook_twin(myst_text: str) -> str:
    """Return the .ipynb twin of a MyST chapter: same cells, no outputs, jupytext's reading."""
    import jupytext

    nb = jupytext.reads(myst_text, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    # nbformat would draw random cell ids: derive them from the cells, so a rebuild is a no-op.
    seen: set[str] = set()
    for cell in nb.cells:
        digest = hashlib.sha1(cell.source.encode()).hexdigest()[:12]
        cell.id = digest if digest not in seen else f"{digest}-{len(seen)}"
        seen.add(cell.id)
    return jupytext.writes(nb, fmt="ipynb")


def _write_json(nb: dict) -> str:
    # nbformat's own layout (sorted keys, as Jupyter and ruff format write), so the files diff
    # like notebooks saved by Jupyter and a formatter never fights `sync` over key order.
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def planned_files(root: Path = ROOT) -> dict[Path, str]:
    """Return every file ``sync`` owns under ``root``, with the text it should hold."""
    course = load_course(root)
    files: dict[Path, str] = {}
    for page in sorted(root.glob(NOTEBOOK_PAGES)):
        if "\nkernelspec:" not in page.read_text().split("\n---\n", 1)[0]:
            continue
        text = sync_myst(page.read_text(), course)
        files[page] = text
        files[page.with_suffix(".ipynb")] = notebook_twin(text)
    for path in sorted(root.glob(ASSIGNMENTS)):
        files[path] = _write_json(sync_ipynb(json.loads(path.read_text()), course))
    return files


def stale_files(root: Path = ROOT) -> list[Path]:
    """Return the files ``sync`` would change (an empty list when all are in step)."""
    return [
        path
        for path, text in planned_files(root).items()
        if not path.is_file() or path.read_text() != text
    ]


def sync(root: Path = ROOT) -> list[Path]:
    """Rewrite every setup cell and notebook twin from ``course.toml``; return what changed."""
    changed = []
    for path, text in planned_files(root).items():
        if not path.is_file() or path.read_text() != text:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            changed.append(path)
    return changed


def verify_repository(github_repository: str, root: Path = ROOT) -> str | None:
    """Return why ``course.toml`` does not describe GitHub's ``OWNER/NAME``, or None if it does."""
    course = load_course(root)
    expected = f"https://github.com/{github_repository}".lower()
    if course.repository_url.lower() != expected:
        return (
            f"course.toml says the course lives at {course.repository_url}, but this workflow "
            f"runs in {expected}. Edit [repository] url (and [site] url) in course.toml, run "
            "`python _ext/course.py sync`, commit, and push again."
        )
    return None


# --- the website ----------------------------------------------------------------------------

_TOKEN = re.compile(r"\{\{\s*course\.(\w+)\s*\}\}")
_HUB_BLOCK = re.compile(r"<!-- if-hub -->\n(.*?)<!-- end-if-hub -->\n?", re.DOTALL)


def render_text(text: str, course: Course) -> str:
    """Return page text with hub-only blocks resolved and ``{{ course.X }}`` filled in."""
    text = _HUB_BLOCK.sub(lambda m: m.group(1) if course.hub_url else "", text)
    tokens = course.tokens()

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in tokens:
            raise CourseConfigError(
                f"unknown value {{{{ course.{name} }}}}; known: {sorted(tokens)}"
            )
        return tokens[name]

    return _TOKEN.sub(fill, text)


def build_wheel(into: Path, root: Path = ROOT) -> Path:
    """Build the student wheel from a clean copy of the package (never a stale build/)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE", "LICENSE-CONTENT.md"):
            shutil.copy2(root / name, source / name)
        shutil.copytree(
            root / "helpers",
            source / "helpers",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"),
        )
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
             "--no-build-isolation", "--quiet", "-w", str(into)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"building the student wheel failed:\n{proc.stdout}{proc.stderr}")
    (wheel,) = into.glob("pixels_to_predictions-*.whl")
    return wheel


ASSIGNMENT_README = """\
{name}: a graded notebook of Pixels to Predictions ({site})

1. Open {name}.ipynb in Jupyter (JupyterLab, Notebook, VS Code) or upload it to Colab.
2. Run its first cell. It installs the course package from the wheel in this folder
   ({wheel}) when it is missing, and fetches the data the notebook uses.
3. Check your work at any time: python -m helpers.check {name}.ipynb
   (it runs the visible tests part by part; hidden tests run when your work is graded).
4. Hand in {name}.ipynb with its file name unchanged, as your course says (its LMS, or the
   Assignments tab of its JupyterHub).

Help: {site}book/get_started.html
"""


def write_assignment_zips(outdir: Path, wheel: Path, course: Course, root: Path = ROOT) -> None:
    """Write ``downloads/<assignment>.zip``: the student notebook, the wheel and a README."""
    downloads = outdir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for folder in sorted((root / "exercises").glob("[0-9][0-9]_*")):
        name = folder.name
        tmp = downloads / f"{name}.zip.tmp"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                    zf.write(path, f"{name}/{path.relative_to(folder).as_posix()}")
            zf.write(wheel, f"{name}/{wheel.name}")
            readme = ASSIGNMENT_README.format(name=name, site=course.site_url, wheel=wheel.name)
            zf.writestr(f"{name}/README.txt", readme)
        tmp.replace(downloads / f"{name}.zip")


def hand_in_files(notebook: Path) -> list[str]:
    """Return the files a graded notebook's own "Hand in" step names (the notebook at least)."""
    files = [notebook.name]
    for cell in json.loads(notebook.read_text())["cells"]:
        for line in "".join(cell["source"]).splitlines():
            if cell["cell_type"] == "markdown" and "**Hand in" in line:
                named = re.findall(r"`([\w.-]+\.(?:ipynb|pt|npz|csv))`", line)
                files += [f for f in named if f not in files]
    return files


def assignment_box(docname: str, course: Course, root: Path = ROOT) -> str:
    """Return the HTML box an exercise page opens with: get it, check it, hand it in."""
    name = docname.split("/")[1]
    up = posixpath.relpath(".", posixpath.dirname(docname))
    files = " and ".join(f"<code>{f}</code>" for f in hand_in_files(root / f"{docname}.ipynb"))
    where = "your course's LMS (upload the .ipynb file)"
    if course.hub_url:
        where += f", or the Assignments tab of the course's JupyterHub ({course.hub_url})"
    return f"""
<div class="admonition tip p2p-assignment">
<p class="admonition-title">Get it, check it, hand it in</p>
<ul>
<li><strong>Get it:</strong> <a class="reference download" href="{up}/downloads/{name}.zip"
download>{name}.zip</a> holds the notebook, the course package it installs and a short README.
Or open it straight away with the Colab or Binder button at the top of this page.</li>
<li><strong>Check it:</strong> <code>python -m helpers.check {name}.ipynb</code> in the folder
holding the notebook runs its visible tests and reports each part
(<a href="{up}/book/get_started.html#check-your-work">how</a>).</li>
<li><strong>Hand it in:</strong> {files} with file names unchanged, to
{where}. Your instructor then also runs <em>hidden tests</em>: the same checks with fresh
inputs that no one has seen, so code that only fits the visible tests loses those points.</li>
</ul>
</div>
"""


def _config_inited(app, config) -> None:
    course = load_course(Path(app.srcdir))
    app.env_course = course
    options = config.html_theme_options
    options["repository_url"] = course.repository_url
    options["use_repository_button"] = True
    options["repository_branch"] = course.branch
    launch = dict(options.get("launch_buttons") or {})
    launch["binderhub_url"] = course.binder_url
    launch["colab_url"] = course.colab_url
    if course.hub_url:
        launch["jupyterhub_url"] = course.hub_url
    else:
        launch.pop("jupyterhub_url", None)
    options["launch_buttons"] = launch


def _source_read(app, docname: str, source: list[str]) -> None:
    source[0] = render_text(source[0], app.env_course)


def _doctree_read(app, doctree) -> None:
    from docutils import nodes

    docname = app.env.docname
    if not docname.startswith("exercises/"):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    title = next(iter(section.findall(nodes.title)))
    html = assignment_box(docname, app.env_course, Path(app.srcdir))
    box = nodes.raw("", html, format="html")
    section.insert(section.index(title) + 1, box)


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if not pagename.startswith("exercises/"):
        return
    name = pagename.split("/")[1]
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].insert(
                0,
                {
                    "type": "link",
                    "url": f"{context['pathto']('downloads', 1)}/{name}.zip",
                    "text": ".zip",
                    "icon": "fas fa-file-zipper",
                    "tooltip": "Download the assignment: notebook, course package, README",
                    "label": "download-assignment-button",
                },
            )


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.name != "html":
        return
    outdir = Path(app.outdir)
    course: Course = app.env_course
    wheels = outdir / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir()
    wheel = build_wheel(wheels)
    # pip --find-links reads links from an HTML page.
    (wheels / "index.html").write_text(
        f'<!DOCTYPE html>\n<html><body><a href="{wheel.name}">{wheel.name}</a></body></html>\n'
    )
    write_assignment_zips(outdir, wheel, course, Path(app.srcdir))
    # The theme offers the executed notebook (outputs, widget state) as the chapter's .ipynb;
    # offer the committed twin instead, the same file the launch buttons open.
    for twin in sorted(Path(app.srcdir).glob("book/*.ipynb")):
        dest = outdir / "_sources" / "book" / twin.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(twin, dest)


def setup(app):
    """Register the course's deployment hooks with Sphinx."""
    app.connect("config-inited", _config_inited)
    app.connect("source-read", _source_read)
    app.connect("doctree-read", _doctree_read)
    app.connect("html-page-context", _page_context, priority=600)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run ``sync``, ``check`` or ``verify-repository OWNER/NAME``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["sync"]:
        for path in sync():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if args[:1] == ["check"]:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}")
        if stale:
            print("Run `python _ext/course.py sync` (then `make exercises`) and commit the result.")
        return 1 if stale else 0
    if args[:1] == ["verify-repository"] and len(args) == 2:
        problem = verify_repository(args[1])
        print(problem or f"course.toml matches {args[1]}")
        return 1 if problem else 0
    print("usage: python _ext/course.py sync | check | verify-repository OWNER/NAME")
    return 2


if __name__ == "__main__":
    sys.exit(main())
