"""Prepare the built website for static hosting: check its links, add .nojekyll, copy it.

Usage: ``python tools/publish_site.py [SITE] [DEST]`` (defaults ``_build/html`` and
``_build/publish``; ``make publish`` builds the book first and runs this).

The site is refused (exit 1, one line per problem) when a page

- links to this machine: a ``file:`` URL, a host such as ``127.0.0.1`` or ``localhost``, or a
  root-relative path such as ``/work/main/...`` (an absolute path on the build machine; on a
  GitHub Pages project site, ``https://owner.github.io/repo/``, a link starting with ``/``
  also leaves the site), or
- names a placeholder host (``example.org``, ``your-hub...``, ``hub.example.edu``...) anywhere,
  in a link or in the text: a reader who copies it gets nowhere.

Loopback addresses in the *text* stay allowed: the pages tell students to run ``make serve``
and open ``http://127.0.0.1:8000``.

A checked site is copied to DEST rather than published in place: Sphinx keeps its own state
in the build folder (``.buildinfo``), and a refused site must leave no folder behind that a
later step could deploy by mistake. ``.nojekyll`` keeps Jekyll (GitHub Pages' default for a
branch) from dropping the folders whose names start with ``_`` (``_static``, ``_sources``,
``_images``); the Actions deployment (.github/workflows/publish.yml) does not run Jekyll, so
there it is only harmless.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SITE = Path("_build/html")
DEFAULT_DEST = Path("_build/publish")

# Sphinx's own bookkeeping, which a host should not serve.
NOT_PUBLISHED = (".buildinfo", ".doctrees")

# Attributes whose value is one URL (``srcset`` holds several, split below).
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "cite", "background"}

LOOPBACK_HOST = re.compile(r"^(localhost|.*\.localhost|127(\.\d{1,3}){3}|0\.0\.0\.0|::1|\[::1\])$")

# A placeholder host: a reserved example name (example.org, hub.example.edu, *.invalid; RFC
# 2606 and 6761) or one that asks the reader to fill something in (your-hub.*, placeholder).
PLACEHOLDER_HOST = re.compile(
    r"(^|[.-])(example|your|placeholder|changeme|replace-?me)([.-]|$)|\.(invalid|test)$",
    re.IGNORECASE,
)

# Any absolute or protocol-relative http(s) URL in a page's source, for the placeholder check.
ANY_URL_HOST = re.compile(r"(?:https?:)?//([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)")


@dataclass(frozen=True)
class Problem:
    """One link or address that keeps the site from being published."""

    page: str
    url: str
    reason: str

    def __str__(self) -> str:
        return f"{self.page}: {self.url}  ({self.reason})"


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in URL_ATTRIBUTES:
                self.urls.append(value.strip())
            elif name in ("srcset", "imagesrcset"):
                self.urls.extend(part.split()[0] for part in value.split(",") if part.strip())
            elif name == "content" and "url=" in value.lower():
                # <meta http-equiv="refresh" content="0; url=...">
                self.urls.append(value.split("=", 1)[1].strip(" '\""))


def page_links(text: str) -> list[str]:
    """Return every URL a page links to or loads (href, src, srcset, refresh, ...)."""
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    return parser.urls


def local_link_reason(url: str) -> str | None:
    """Say why `url` points at the build machine, or return None when it does not."""
    if url.startswith("//"):
        return None if not LOOPBACK_HOST.match(urlsplit(url).hostname or "") else "loopback host"
    if url.startswith("/") or url.startswith("\\"):
        return "absolute path: a file on the build machine, or outside a project site's folder"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return "file: URL on the build machine"
    if len(scheme) == 1 and url[1:3] in (":\\", ":/"):
        return "Windows drive path on the build machine"
    if scheme in ("http", "https", "ws", "wss") and LOOPBACK_HOST.match(parts.hostname or ""):
        return "loopback host: this machine, not the reader's"
    return None


def placeholder_hosts(text: str) -> list[str]:
    """Return the placeholder host names mentioned anywhere in `text` (links and prose)."""
    found = []
    for match in ANY_URL_HOST.finditer(html.unescape(text)):
        host = match.group(1).rstrip(".")
        # A host name has a dot; "//your/" inside base64 image data is no address.
        if "." in host and PLACEHOLDER_HOST.search(host) and host not in found:
            found.append(host)
    return found


def page_problems(text: str, page: str) -> list[Problem]:
    """Return the problems of one HTML page (`page` is its path, for the message)."""
    problems = []
    for url in page_links(text):
        reason = local_link_reason(url)
        if reason:
            problems.append(Problem(page, url, reason))
    for host in placeholder_hosts(text):
        problems.append(Problem(page, host, "placeholder host"))
    return problems


def html_pages(site: Path) -> Iterator[Path]:
    """Yield the site's HTML pages in a stable order, Sphinx's bookkeeping left out."""
    for page in sorted(site.rglob("*.html")):
        if not any(part in NOT_PUBLISHED for part in page.relative_to(site).parts):
            yield page


def site_problems(site: Path) -> list[Problem]:
    """Return every problem of every page of the site."""
    problems = []
    for page in html_pages(site):
        text = page.read_text(encoding="utf-8", errors="replace")
        problems.extend(page_problems(text, page.relative_to(site).as_posix()))
    return problems


def _ignore_unpublished(folder: str, names: Iterable[str]) -> list[str]:
    return [name for name in names if name in NOT_PUBLISHED]


def publish(site: Path, dest: Path) -> list[Problem]:
    """Check `site`; when it is clean, replace `dest` by a copy with .nojekyll.

    Returns the problems found: when there are any, `dest` is removed and nothing is written.
    """
    if not (site / "index.html").is_file():
        raise FileNotFoundError(
            f"{site}/index.html does not exist: build the website first (make book)."
        )
    if dest.resolve() == site.resolve() or site.resolve() in dest.resolve().parents:
        raise ValueError(f"the destination {dest} must lie outside the site {site}")
    problems = site_problems(site)
    # A refused site leaves no artefact behind, not even the last good one: a later deploy
    # step must fail, not ship yesterday's site as if it were today's.
    shutil.rmtree(dest, ignore_errors=True)
    if problems:
        return problems
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Copy next to dest, then rename: an interrupted copy never looks like a finished site.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        shutil.copytree(site, staging / "site", ignore=_ignore_unpublished, symlinks=False)
        (staging / "site" / ".nojekyll").write_bytes(b"")
        (staging / "site").rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return []


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main(argv: list[str] | None = None) -> int:
    """Run the command line: check and copy SITE to DEST, exit 1 when the site is refused."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 2 or any(a.startswith("-") for a in args):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    site = Path(args[0]) if args else DEFAULT_SITE
    dest = Path(args[1]) if len(args) > 1 else DEFAULT_DEST
    try:
        problems = publish(site, dest)
    except (FileNotFoundError, ValueError) as error:
        print(f"publish: {error}", file=sys.stderr)
        return 1
    if problems:
        print(
            f"publish: refused: {len(problems)} link(s) in {site} point at the build machine "
            "or at a placeholder host. A reader of the published site cannot follow them; "
            "fix the pages (or course.toml) and build again:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    count, size = _size(dest)
    print(f"publish: {dest} is ready for static hosting ({count} files, {size / 1e6:.1f} MB).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
