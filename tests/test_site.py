"""The built website in a real browser: widgets work without a kernel, nothing leaves the machine.

These tests build the book once (the ``built_site`` fixture, with warnings as errors), serve
it on 127.0.0.1 and drive headless Chromium through selenium. Every request the browser
makes is read from Chrome's performance log, so a page that quietly fetches a script from a
CDN fails here even though it would look fine on a developer's (online) machine.

Set ``P2P_SCREENSHOTS=/some/folder`` to keep screenshots of what the browser saw.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

pytestmark = pytest.mark.slow

CHAPTER_0 = "book/00_why_cnns.html"
CHAPTER_1 = "book/01_pixels.html"
INTRO = "book/intro.html"
PAGE_BUDGET = 4 * 1024 * 1024
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


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    return None


@pytest.fixture()
def browser() -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (new profile, cache off) that logs console and network."""
    chrome = _find("chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
    driver_path = _find("chromedriver", "/usr/bin/chromedriver")
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


def _network_events(driver: webdriver.Chrome) -> list[dict]:
    """Drain Chrome's performance log and return its Network.* events."""
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"].startswith("Network."):
            events.append(message)
    return events


def _requested_urls(events: list[dict]) -> list[str]:
    return [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]


def _assert_all_local(urls: list[str], site_url: str) -> None:
    host = urlparse(site_url).hostname
    outside = [
        url
        for url in urls
        if not url.startswith(BROWSER_INTERNAL) and urlparse(url).hostname != host
    ]
    assert urls, "the browser logged no requests at all: the performance log is not working"
    assert not outside, f"the page requested resources outside {host}: {outside}"


def _assert_no_console_errors(driver: webdriver.Chrome) -> None:
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, "the browser console shows errors:\n" + "\n".join(errors)


def _open(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _shot(driver: webdriver.Chrome, name: str) -> None:
    folder = os.environ.get("P2P_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def _demos(driver: webdriver.Chrome) -> list[WebElement]:
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


def _shown_image(demo: WebElement) -> tuple[WebElement, bytes]:
    """Return the one picture of a demo that is visible now, and its pixels as a screenshot."""
    visible = [img for img in demo.find_elements(By.TAG_NAME, "img") if img.is_displayed()]
    assert len(visible) == 1, f"a demo should show exactly one picture, it shows {len(visible)}"
    return visible[0], visible[0].screenshot_as_png


def _wait_for_change(demo: WebElement, before: bytes, what: str) -> bytes:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, now = _shown_image(demo)
        if now != before:
            return now
        time.sleep(0.2)
    pytest.fail(f"{what}: the demo's picture did not change")


def test_intro_page_loads_offline(browser: webdriver.Chrome, site_url: str) -> None:
    _open(browser, f"{site_url}/{INTRO}")
    assert "Pixels to Predictions" in browser.title
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert any("student" in h.lower() for h in headings), f"no 'student's path' section: {headings}"
    link = browser.find_element(By.CSS_SELECTOR, "a[href*='01_pixels']")
    assert link.is_displayed()
    _shot(browser, "intro")
    _assert_all_local(_requested_urls(_network_events(browser)), site_url)
    _assert_no_console_errors(browser)


def test_chapter_1_demos_work_without_a_kernel(browser: webdriver.Chrome, site_url: str) -> None:
    _open(browser, f"{site_url}/{CHAPTER_1}")
    demos = _demos(browser)
    assert len(demos) >= 2, (
        f"chapter 1 should have the pixel inspector and the size demo, found {len(demos)}"
    )
    _shot(browser, "chapter1_top")
    inspector, sizes = demos[0], demos[1]
    overflowing = browser.execute_script(
        "return [...document.querySelectorAll('.p2p-static-demo, .p2p-static-demo *')]"
        ".filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1"
        " && getComputedStyle(e).overflowX === 'auto').length"
    )
    assert overflowing == 0, "a demo is wider than the page column (it shows a scroll bar)"

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", inspector)
    time.sleep(0.5)
    _, first = _shown_image(inspector)
    _shot(browser, "chapter1_inspector_before")

    # A toggle button (the channel): click "G".
    buttons = [b for b in inspector.find_elements(By.TAG_NAME, "button") if b.text.strip() == "G"]
    assert buttons, "the pixel inspector has no 'G' channel button"
    buttons[0].click()
    after_click = _wait_for_change(inspector, first, "clicking the G channel button")

    # A dropdown (the region): choose another region.
    select = Select(inspector.find_element(By.TAG_NAME, "select"))
    select.select_by_index(3)
    after_select = _wait_for_change(inspector, after_click, "choosing another region")
    _shot(browser, "chapter1_inspector_after")

    # Going back to the first choices shows the very first picture again.
    select.select_by_index(0)
    [b for b in inspector.find_elements(By.TAG_NAME, "button") if b.text.strip() == "R"][0].click()
    back = _wait_for_change(inspector, after_select, "going back to the first region and R")
    assert back == first, "returning to the first settings did not bring back the first picture"

    # A slider (the input size), moved with the keyboard and with the mouse.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", sizes)
    time.sleep(0.5)
    _, size_before = _shown_image(sizes)
    handle = sizes.find_element(By.CSS_SELECTOR, ".noUi-handle, .ui-slider-handle, [role='slider']")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    size_after = _wait_for_change(sizes, size_before, "pressing the right arrow on the size slider")
    webdriver.ActionChains(browser).click_and_hold(handle).move_by_offset(
        120, 0
    ).release().perform()
    _wait_for_change(sizes, size_after, "dragging the size slider")
    _shot(browser, "chapter1_sizes_after")

    _assert_all_local(_requested_urls(_network_events(browser)), site_url)
    _assert_no_console_errors(browser)


def test_chapter_0_shift_demo_works_without_a_kernel(
    browser: webdriver.Chrome, site_url: str
) -> None:
    _open(browser, f"{site_url}/{CHAPTER_0}")
    demo = _demos(browser)[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", demo)
    time.sleep(0.5)
    _, before = _shown_image(demo)
    handle = demo.find_element(By.CSS_SELECTOR, ".noUi-handle, [role='slider']")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    _wait_for_change(demo, before, "moving the shift slider")
    _assert_all_local(_requested_urls(_network_events(browser)), site_url)
    _assert_no_console_errors(browser)


def test_chapter_1_page_weight(browser: webdriver.Chrome, site_url: str, built_site: Path) -> None:
    """Weigh chapter 1 as a reader's browser loads it: the HTML plus every resource it pulls.

    The budget applies to what a web server sends, gzip-compressed (every static host,
    GitHub Pages included, compresses HTML, CSS and JS). The uncompressed size is printed
    too: the theme, MathJax and the widget manager alone are several MB of it.
    """
    _open(browser, f"{site_url}/{CHAPTER_1}")
    _demos(browser)
    time.sleep(1.0)  # let late resources (MathJax fonts) arrive
    events = _network_events(browser)
    urls = _requested_urls(events)
    _assert_all_local(urls, site_url)
    host = urlparse(site_url).netloc
    url_of = {
        e["params"]["requestId"]: e["params"]["request"]["url"]
        for e in events
        if e["method"] == "Network.requestWillBeSent"
    }
    wire = sum(
        e["params"]["encodedDataLength"]
        for e in events
        if e["method"] == "Network.loadingFinished"
        and urlparse(url_of.get(e["params"]["requestId"], "")).netloc == host
    )
    files = set()
    for url in urls:
        parsed = urlparse(url)
        if parsed.netloc == host:
            path = built_site / parsed.path.lstrip("/")
            # A missing file (a 404) weighs nothing; the console-error checks report it.
            if path.is_file():
                files.add(path)
    raw = sum(path.stat().st_size for path in files)
    compressed = sum(len(gzip.compress(path.read_bytes(), compresslevel=6)) for path in files)
    html = built_site / CHAPTER_1
    own = html.stat().st_size + sum(p.stat().st_size for p in files if "_images" in p.parts)
    print(
        f"\nchapter 1 page weight: {compressed:,} bytes gzip-compressed, {raw:,} bytes "
        f"uncompressed ({len(files)} files; {wire:,} bytes received from the test server); "
        f"the chapter's own HTML and figures: {own:,} bytes"
    )
    assert wire >= html.stat().st_size, "the browser received less than the HTML alone"
    assert html in files
    assert compressed < PAGE_BUDGET, (
        f"chapter 1 weighs {compressed:,} bytes compressed, over the {PAGE_BUDGET:,} budget"
    )
