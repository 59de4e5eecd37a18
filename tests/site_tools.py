"""Shared tools for the browser tests: a headless Chromium that logs console and network.

Used by ``test_site.py`` (chapter-specific checks) and ``test_site_pages.py`` (every page).
Set ``P2P_SCREENSHOTS=/some/folder`` to keep screenshots of what the browser saw.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

PAGE_BUDGET = 4 * 1024 * 1024
# A page's own HTML and pictures (figures and every frame its demos can show), uncompressed.
OWN_BUDGET = 1_000_000
# Not network traffic: inline data, in-page blobs and Chromium's own pages (its new-tab page).
BROWSER_INTERNAL = ("data:", "blob:", "about:", "chrome:", "chrome-untrusted:", "devtools:")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,2000",
]


def repository_files(root: Path) -> set[str]:
    """Return the files a push would carry: committed, or new and not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.splitlines())


def find_executable(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    return None


@pytest.fixture()
def browser() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (new profile, cache off) that logs console and network."""
    chrome = find_executable("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
    driver_path = find_executable("chromedriver", "/usr/bin/chromedriver")
    if not chrome or not driver_path:
        pytest.fail(
            "The browser tests need Chromium and chromedriver "
            "(Debian: apt-get install chromium chromium-driver)."
        )
    profile = tempfile.mkdtemp(prefix="p2p-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def network_events(driver: webdriver.Chrome) -> list[dict]:
    """Drain Chrome's performance log and return its Network.* events."""
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"].startswith("Network."):
            events.append(message)
    return events


def requested_urls(events: list[dict]) -> list[str]:
    return [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]


def assert_all_local(urls: list[str], site_url: str) -> None:
    host = urlparse(site_url).hostname
    outside = [
        url
        for url in urls
        if not url.startswith(BROWSER_INTERNAL) and urlparse(url).hostname != host
    ]
    assert urls, "the browser logged no requests at all: the performance log is not working"
    assert not outside, f"the page requested resources outside {host}: {outside}"


def assert_no_console_errors(driver: webdriver.Chrome) -> None:
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, "the browser console shows errors:\n" + "\n".join(errors)


def open_page(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def shot(driver: webdriver.Chrome, name: str) -> None:
    folder = os.environ.get("P2P_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def wait_for_demos(driver: webdriver.Chrome) -> list[WebElement]:
    """Wait until the widget manager has drawn the static demos, and return them."""
    try:
        WebDriverWait(driver, 45).until(
            lambda d: (
                len(d.find_elements(By.CSS_SELECTOR, ".p2p-static-demo img")) > 0
                and any(
                    i.is_displayed()
                    for i in d.find_elements(By.CSS_SELECTOR, ".p2p-static-demo img")
                )
            )
        )
    except TimeoutException:
        pytest.fail(
            "no static demo was rendered within 45 s. Console: " + repr(driver.get_log("browser"))
        )
    return driver.find_elements(By.CSS_SELECTOR, ".p2p-static-demo")


def shown_image(demo: WebElement) -> tuple[WebElement, bytes]:
    """Return the one picture of a demo that is visible now, and its pixels as a screenshot."""
    visible = [img for img in demo.find_elements(By.TAG_NAME, "img") if img.is_displayed()]
    assert len(visible) == 1, f"a demo should show exactly one picture, it shows {len(visible)}"
    return visible[0], visible[0].screenshot_as_png


def wait_for_change(demo: WebElement, before: bytes, what: str) -> bytes:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, now = shown_image(demo)
        if now != before:
            return now
        time.sleep(0.2)
    pytest.fail(f"{what}: the demo's picture did not change")


def own_weight(built_site: Path, page: str) -> dict:
    """Weigh what belongs to one page alone, whether or not a reader opens every demo frame.

    Returns the HTML's bytes, the figures' bytes (``<img>`` files under ``_images``), the
    demo frames' bytes (every picture its widget state points at) and their total.
    """
    import base64
    import re

    html = built_site / page
    text = html.read_text(encoding="utf-8")
    figures = {
        (html.parent / src).resolve()
        for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', text)
        if "_images/" in src and not src.startswith(("http:", "https:", "data:"))
    }
    frames: set[Path] = set()
    for block in re.findall(
        r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', text, re.S
    ):
        for model in json.loads(block).get("state", {}).values():
            if model.get("model_name") != "ImageModel":
                continue
            for buffer in model.get("buffers") or []:
                # A frame still inside the page (base64) is counted with the HTML.
                if model["state"].get("format") == "url":
                    url = base64.b64decode(buffer["data"]).decode()
                    frames.add((html.parent / url).resolve())
    sizes = {
        "html": html.stat().st_size,
        "figures": sum(p.stat().st_size for p in figures),
        "frames": sum(p.stat().st_size for p in frames),
    }
    sizes["total"] = sum(sizes.values())
    return sizes


def page_weight(driver: webdriver.Chrome, site_url: str, built_site: Path, page: str) -> dict:
    """Weigh a loaded page as a reader's browser loads it: the HTML plus every resource it pulls.

    Returns bytes gzip-compressed (what a static host such as GitHub Pages sends), bytes
    uncompressed, the number of files, and the page's own HTML and figures.
    """
    time.sleep(1.0)  # let late resources (MathJax fonts) arrive
    events = network_events(driver)
    urls = requested_urls(events)
    assert_all_local(urls, site_url)
    host = urlparse(site_url).netloc
    files = set()
    for url in urls:
        parsed = urlparse(url)
        if parsed.netloc == host:
            path = built_site / parsed.path.lstrip("/")
            # A missing file (a 404) weighs nothing; the console-error checks report it.
            if path.is_file():
                files.add(path)
    html = built_site / page
    assert html in files, f"the browser never loaded {page}"
    return {
        "compressed": sum(len(gzip.compress(p.read_bytes(), compresslevel=6)) for p in files),
        "raw": sum(p.stat().st_size for p in files),
        "files": len(files),
        "own": html.stat().st_size + sum(p.stat().st_size for p in files if "_images" in p.parts),
    }


@dataclass(frozen=True)
class GluedValue:
    """A value that myst-nb pasted into a page's text, with the text around it."""

    text: str  # what the reader sees, entities decoded
    before: str  # up to 80 characters of the page's text before it
    after: str  # up to 40 characters after it

    def context(self) -> str:
        """The value in its sentence, marked with guillemets, on one line."""
        return " ".join(f"{self.before}«{self.text}»{self.after}".split())


class _GlueCollector(HTMLParser):
    """Collect the page's visible text and the spans a glue role pasted into it.

    myst-nb writes ``{glue:text}`` as ``<span class="pasted-text">`` and ``{glue:}`` (the
    value's own text/plain or html representation) as ``<span class="output text_plain">``
    (``text_html``...); code-cell outputs are ``<div>``s and are not collected.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.length = 0
        self.spans: list[tuple[int, int]] = []
        self._open: list[tuple[int, int]] = []  # (span depth, start offset) of glue spans
        self._depth = 0
        self._skip = 0  # inside <script> or <style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag != "span":
            return
        self._depth += 1
        classes = set((dict(attrs).get("class") or "").split())
        if not self._open and (classes & {"pasted-text", "pasted-inline"} or ("output" in classes)):
            self._open.append((self._depth, self.length))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        if tag != "span":
            return
        if self._open and self._open[-1][0] == self._depth:
            _, start = self._open.pop()
            self.spans.append((start, self.length))
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)
            self.length += len(data)


def glued_values(html_file: Path) -> list[GluedValue]:
    """Every value a glue role pasted into the text of a built page, in page order."""
    collector = _GlueCollector()
    collector.feed(html_file.read_text(encoding="utf-8"))
    text = "".join(collector.text)
    return [
        GluedValue(text[start:end], text[max(0, start - 80) : start], text[end : end + 40])
        for start, end in sorted(collector.spans)
    ]
