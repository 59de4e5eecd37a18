"""Every launch and download link on every page of the built website leads somewhere real.

A launch button (Binder, Colab, the course's JupyterHub) opens a file of the course's
repository: its owner, name and branch must be course.toml's, and the file must be in
``git ls-files`` (a file git ignores never reaches GitHub). A download link opens a file of the
site: it must exist under ``_build/html``. The site serves the student wheel, each chapter's
notebook twin and each assignment as one zip, laid out as the course's Sphinx extension
promises (``_ext/course.py``): ``wheels/``, ``_sources/book/NN_name.ipynb`` and
``downloads/<assignment>.zip``. No page may link to the build machine or name a placeholder
host -- the same check ``make publish`` runs before it lets a site out (tools/publish_site.py).

Uses the ``built_site`` fixture (one book build per session; ``P2P_BUILT_SITE=_build/html``
tests a site built already).
"""

from __future__ import annotations

import re
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import pytest
from site_tools import repository_files

from tools.publish_site import site_problems

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# What a reader downloads (as opposed to a page, a script or a picture the browser loads).
DOWNLOADS = (".ipynb", ".zip", ".whl", ".md", ".pdf", ".py", ".txt", ".csv")
# The theme's own template fragments, copied into _static, are not pages.
NOT_PAGES = ("_static", ".doctrees")


# --- reading the site ---------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One <a href> of one page; `page` is the page's path inside the site."""

    page: str
    href: str
    classes: frozenset[str]
    title: str

    def target(self, site: Path) -> Path | None:
        """Return the site file a relative link opens, or None for an absolute URL."""
        parts = urlsplit(self.href)
        if parts.scheme or parts.netloc or not parts.path:
            return None
        return (site / PurePosixPath(self.page).parent / unquote(parts.path)).resolve()


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            values = {name: value or "" for name, value in attrs}
            if values.get("href"):
                self.anchors.append(values)


def page_anchors(page: str, text: str) -> Iterator[Link]:
    parser = _Anchors()
    parser.feed(text)
    for a in parser.anchors:
        yield Link(
            page, a["href"].strip(), frozenset(a.get("class", "").split()), a.get("title", "")
        )


@pytest.fixture(scope="module")
def pages(built_site: Path) -> dict[str, str]:
    found = {
        page.relative_to(built_site).as_posix(): page.read_text(encoding="utf-8", errors="replace")
        for page in sorted(built_site.rglob("*.html"))
        if not set(page.relative_to(built_site).parts) & set(NOT_PAGES)
    }
    assert len(found) > 10, f"the site has only {len(found)} pages: is {built_site} a built site?"
    return found


@pytest.fixture(scope="module")
def links(pages: dict[str, str]) -> list[Link]:
    return [link for page, text in pages.items() for link in page_anchors(page, text)]


# --- the course and its repository --------------------------------------------------------


@dataclass(frozen=True)
class Course:
    repository: str  # owner/name
    repository_url: str
    branch: str
    site: str
    hub: str
    binder: str
    colab: str
    version: str

    @property
    def wheel(self) -> str:
        return f"pixels_to_predictions-{self.version}-py3-none-any.whl"


@pytest.fixture(scope="module")
def course() -> Course:
    config = tomllib.loads((ROOT / "course.toml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    url = config["repository"]["url"].rstrip("/")
    return Course(
        repository="/".join(urlsplit(url).path.strip("/").split("/")[:2]),
        repository_url=url,
        branch=config["repository"]["branch"],
        site=config["site"]["url"],
        hub=config["hub"]["url"].rstrip("/"),
        binder=config["launch"]["binder"].rstrip("/"),
        colab=config["launch"]["colab"].rstrip("/"),
        version=version,
    )


@pytest.fixture(scope="module")
def repo_files() -> set[str]:
    # Committed files, and new ones git would commit: CI's fresh clone holds exactly the
    # committed ones, and an ignored file (never pushed) fails here as it would on GitHub.
    return repository_files(ROOT)


# --- launch links -------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """Where a launch button sends a reader: a service, a repository, a branch, a file."""

    service: str
    repository: str
    branch: str
    path: str


NOTEBOOK_PATH_PREFIXES = ("lab/tree/", "tree/", "notebooks/", "doc/tree/")


def _strip_interface(urlpath: str) -> str:
    for prefix in NOTEBOOK_PATH_PREFIXES:
        if urlpath.startswith(prefix):
            return urlpath[len(prefix) :]
    return urlpath


def launch_of(href: str, course: Course) -> Launch | None:
    """Parse a Binder, Colab or JupyterHub (nbgitpuller) launch URL; None for other links."""
    parts = urlsplit(href)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    if href.startswith(course.binder + "/v2/gh/"):
        owner, name, branch = parts.path.split("/v2/gh/", 1)[1].split("/", 2)
        path = query.get("labpath") or query.get("filepath") or query.get("urlpath", "")
        return Launch("binder", f"{owner}/{name}", unquote(branch), _strip_interface(path))
    if href.startswith(course.colab + "/github/"):
        owner, name, blob, branch, path = parts.path.split("/github/", 1)[1].split("/", 4)
        assert blob == "blob", f"a Colab link that opens no file: {href}"
        return Launch("colab", f"{owner}/{name}", branch, unquote(path))
    if "git-pull" in parts.path and "repo" in query:
        # nbgitpuller clones into a folder named after the repository: urlpath names it first.
        repository = "/".join(urlsplit(query["repo"]).path.strip("/").split("/")[:2])
        path = _strip_interface(query.get("urlpath", ""))
        folder = repository.split("/")[-1].removesuffix(".git") + "/"
        return Launch("hub", repository, query.get("branch", ""), path.removeprefix(folder))
    return None


def repository_file_of(href: str, course: Course) -> tuple[str, str, str] | None:
    """For a github.com blob/tree/raw link into the course's repository: (kind, branch, path)."""
    prefix = f"https://github.com/{course.repository}/"
    if not href.lower().startswith(prefix.lower()):
        return None
    rest = urlsplit(href).path.strip("/").split("/", 4)[2:]
    if len(rest) < 3 or rest[0] not in ("blob", "tree", "raw"):
        return None
    return rest[0], rest[1], unquote(rest[2])


def test_launch_links_open_committed_notebooks_of_this_course(
    links: list[Link], course: Course, repo_files: set[str]
) -> None:
    problems, launches = [], 0
    for link in links:
        launch = launch_of(link.href, course)
        if launch is None:
            continue
        launches += 1
        where = f"{link.page}: {link.href}"
        if launch.service == "hub" and not course.hub:
            problems.append(f"{where}: a hub button, but course.toml names no hub")
        if launch.service == "hub" and course.hub and not link.href.startswith(course.hub + "/"):
            problems.append(f"{where}: a hub other than course.toml's {course.hub}")
        if launch.repository.lower() != course.repository.lower():
            problems.append(f"{where}: repository {launch.repository}, not {course.repository}")
        if launch.branch != course.branch:
            problems.append(f"{where}: branch {launch.branch!r}, not {course.branch!r}")
        if not launch.path.endswith(".ipynb"):
            problems.append(f"{where}: opens {launch.path!r}, which is not a notebook")
        elif launch.path not in repo_files:
            problems.append(f"{where}: {launch.path} is not in the repository (git ls-files)")
        # A page launches its own notebook, not another page's.
        if PurePosixPath(launch.path).with_suffix("") != PurePosixPath(link.page).with_suffix(""):
            problems.append(f"{where}: page {link.page} launches {launch.path}")
    assert launches > 0, "no launch button on any page: did the launch_buttons config go?"
    assert problems == [], "\n".join(problems)


def test_every_notebook_page_has_its_launch_buttons(
    pages: dict[str, str], links: list[Link], course: Course, repo_files: set[str]
) -> None:
    expected = {"binder", "colab"} | ({"hub"} if course.hub else set())
    notebooks = sorted(
        f
        for f in repo_files
        if re.fullmatch(r"book/[^/]+\.ipynb|exercises/([^/]+)/\1\.ipynb", f)
        and f.removesuffix(".ipynb") + ".html" in pages
    )
    assert len(notebooks) >= 14, f"expected every chapter and exercise as a notebook: {notebooks}"
    missing = {}
    for notebook in notebooks:
        page = notebook.removesuffix(".ipynb") + ".html"
        services = {
            launch.service
            for link in links
            if link.page == page and (launch := launch_of(link.href, course))
        }
        if services != expected:
            missing[page] = sorted(services)
    assert missing == {}, f"pages whose launch buttons are not {sorted(expected)}: {missing}"


def test_links_into_the_repository_name_files_that_exist(
    links: list[Link], course: Course, repo_files: set[str]
) -> None:
    folders = {str(PurePosixPath(f).parent) for f in repo_files}
    problems = []
    for link in links:
        found = repository_file_of(link.href, course)
        if found is None:
            continue
        kind, branch, path = found
        exists = path in repo_files or (kind == "tree" and path.rstrip("/") in folders)
        if branch != course.branch or not exists:
            problems.append(f"{link.page}: {link.href}")
    assert problems == [], "links to missing repository files:\n" + "\n".join(problems)


def test_the_repository_button_points_at_the_course_repository(
    pages: dict[str, str], links: list[Link], course: Course
) -> None:
    buttons = [link for link in links if "btn-source-repository-button" in link.classes]
    # Every page in the book's theme (not the redirect index.html, not wheels/index.html).
    themed = {page for page, text in pages.items() if "sphinx-book-theme.css" in text}
    assert len(themed) > 10, "the theme's stylesheet is no longer sphinx-book-theme.css"
    missing = sorted(themed - {link.page for link in buttons})
    assert missing == [], f"pages without a repository button: {missing}"
    wrong = {link.page: link.href for link in buttons if link.href != course.repository_url}
    assert wrong == {}, f"repository buttons not pointing at {course.repository_url}: {wrong}"


# --- download links -----------------------------------------------------------------------


def test_every_download_link_opens_a_file_of_the_site(
    built_site: Path, links: list[Link], course: Course
) -> None:
    site = built_site.resolve()
    problems, downloads = [], 0
    for link in links:
        target = link.target(built_site)
        if target is None and link.href.startswith(course.site):
            # An absolute link into the published site (the wheel's URL, say) must exist too.
            rest = unquote(urlsplit(link.href).path)[len(urlsplit(course.site).path) :]
            target = (built_site / rest).resolve()
        if target is None or target.suffix.lower() not in DOWNLOADS:
            continue
        downloads += 1
        if site not in target.parents or not target.is_file():
            problems.append(f"{link.page}: {link.href} -> {target} does not exist")
    assert downloads > 0, "no download link on any page"
    assert problems == [], "\n".join(problems)


def chapters(repo_files: set[str]) -> list[str]:
    return sorted(
        f.removesuffix(".md") for f in repo_files if re.fullmatch(r"book/\d\d_\w+\.md", f)
    )


def assignments(repo_files: set[str]) -> list[str]:
    return sorted(
        f.split("/")[1] for f in repo_files if re.fullmatch(r"exercises/([^/]+)/\1\.ipynb", f)
    )


def links_of(links: list[Link], page: str, built_site: Path) -> set[Path]:
    return {t for link in links if link.page == page and (t := link.target(built_site))}


def test_each_chapter_offers_its_committed_notebook(
    built_site: Path, links: list[Link], repo_files: set[str]
) -> None:
    names = chapters(repo_files)
    assert len(names) >= 9, names
    problems = []
    for chapter in names:
        served = built_site / "_sources" / f"{chapter}.ipynb"
        if not served.is_file():
            problems.append(f"{served.relative_to(built_site)} is not on the site")
            continue
        if served.read_bytes() != (ROOT / f"{chapter}.ipynb").read_bytes():
            problems.append(f"{served.relative_to(built_site)} differs from {chapter}.ipynb")
        if served.resolve() not in links_of(links, f"{chapter}.html", built_site):
            problems.append(f"{chapter}.html has no link to its notebook")
    assert problems == [], "\n".join(problems)


def test_the_site_serves_the_student_wheel(built_site: Path, course: Course) -> None:
    wheel = built_site / "wheels" / course.wheel
    assert wheel.is_file(), f"the site does not serve {wheel.relative_to(built_site)}"
    names = zipfile.ZipFile(wheel).namelist()
    assert "helpers/__init__.py" in names, "the wheel does not hold the helpers package"
    assert not [n for n in names if n.startswith(("grader/", "solutions/", "tests/"))]
    # pip --find-links reads the index page's <a href>s.
    index = (built_site / "wheels" / "index.html").read_text()
    hrefs = [link.href for link in page_anchors("wheels/index.html", index)]
    assert any(urljoin("wheels/", h) == f"wheels/{course.wheel}" for h in hrefs), hrefs


def test_each_assignment_is_one_download(
    built_site: Path, links: list[Link], repo_files: set[str], course: Course
) -> None:
    names = assignments(repo_files)
    assert len(names) >= 7, names
    problems = []
    for name in names:
        archive = built_site / "downloads" / f"{name}.zip"
        page = f"exercises/{name}/{name}.html"
        if archive.resolve() not in links_of(links, page, built_site):
            problems.append(f"{page} does not link to downloads/{name}.zip")
        if not archive.is_file():
            problems.append(f"downloads/{name}.zip is not on the site")
            continue
        with zipfile.ZipFile(archive) as z:
            members = z.namelist()
            notebook = f"{name}/{name}.ipynb"
            if notebook not in members:
                problems.append(f"downloads/{name}.zip lacks {notebook}: {members}")
            elif z.read(notebook) != (ROOT / "exercises" / notebook).read_bytes():
                problems.append(f"downloads/{name}.zip: {notebook} is not the committed one")
            for wanted in (course.wheel, "README.txt"):
                if not any(PurePosixPath(m).name == wanted for m in members):
                    problems.append(f"downloads/{name}.zip lacks {wanted}: {members}")
    assert problems == [], "\n".join(problems)


# --- nothing points at the build machine or a placeholder ---------------------------------


def test_no_link_points_at_the_build_machine_or_a_placeholder_host(built_site: Path) -> None:
    # A launch button or link to a host that is not the course's own is a dead end for a
    # student: make publish refuses such a site, and this says so before it gets that far.
    problems = [str(p) for p in site_problems(built_site)]
    assert problems == [], "\n".join(problems)


TOKEN = re.compile(r"\{\{\s*course\.\w+\s*\}\}")


def test_no_course_setting_is_left_as_a_token(pages: dict[str, str]) -> None:
    left = {page: m.group(0) for page, text in pages.items() for m in [TOKEN.search(text)] if m}
    assert left == {}, f"pages still showing {{{{ course.* }}}} tokens: {left}"
