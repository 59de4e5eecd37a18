"""Every page of the website in a real browser, and every demo on it driven once.

The page list comes from ``_toc.yml``, so a new chapter is checked as soon as it is in the
book. For each page: it loads from 127.0.0.1 alone, the console shows no error, it weighs
less than the budget, and each static demo on it changes its picture when its first control
moves (a dropdown choice, a toggle button or a slider step), with no kernel running.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select
from site_tools import (
    OWN_BUDGET,
    PAGE_BUDGET,
    assert_no_console_errors,
    open_page,
    own_weight,
    page_weight,
    shot,
    shown_image,
    wait_for_change,
    wait_for_demos,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            pages.append(chapter["file"])
            pages.extend(section["file"] for section in chapter.get("sections", []))
    return [f"{page}.html" for page in pages]


PAGES = _toc_pages()


def _move_first_control(browser: webdriver.Chrome, demo: WebElement) -> str:
    """Change the first control of a demo the way a reader would; say what was done."""
    row = demo.find_elements(By.CSS_SELECTOR, ":scope > .widget-hbox")[0]
    selects = row.find_elements(By.TAG_NAME, "select")
    if selects:
        Select(selects[0]).select_by_index(1)
        return "choosing the second option of its first dropdown"
    toggles = row.find_elements(By.CSS_SELECTOR, ".widget-toggle-buttons button")
    if toggles:
        toggles[1].click()
        return "clicking the second button of its first control"
    handles = row.find_elements(By.CSS_SELECTOR, ".noUi-handle, [role='slider']")
    assert handles, "the demo's first row has no dropdown, toggle buttons or slider"
    handles[0].click()
    handles[0].send_keys(Keys.ARROW_RIGHT)
    return "moving its first slider one step"


RAW_MYST = ("```{", ":::{", "{glue:", "{admonition}", ":class: dropdown", "{code-cell}")


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_offline_and_its_demos_respond(
    browser: webdriver.Chrome, site_url: str, built_site: Path, page: str
) -> None:
    html = built_site / page
    assert html.is_file(), f"{page} is in _toc.yml but the build wrote no such page"
    open_page(browser, f"{site_url}/{page}")
    # MyST that did not parse (a backtick in a ```-fence title, say) shows up as raw text.
    text = browser.find_element(By.TAG_NAME, "main").text
    raw = [m for m in RAW_MYST if m in text]
    assert not raw, f"{page} shows unparsed MyST to the reader: {raw}"
    has_demos = "p2p-static-demo" in html.read_text(encoding="utf-8")
    demos = wait_for_demos(browser) if has_demos else []
    for number, demo in enumerate(demos, start=1):
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", demo)
        time.sleep(0.3)
        _, before = shown_image(demo)
        action = _move_first_control(browser, demo)
        wait_for_change(demo, before, f"{page}, demo {number}: {action}")
    name = page.replace("/", "_").removesuffix(".html")
    shot(browser, f"page_{name}")
    weight = page_weight(browser, site_url, built_site, page)
    own = own_weight(built_site, page)
    print(
        f"\n{page}: {len(demos)} demo(s), {weight['compressed']:,} bytes gzip-compressed, "
        f"{weight['raw']:,} uncompressed, own HTML and figures loaded {weight['own']:,}; "
        f"own in all: HTML {own['html']:,} + figures {own['figures']:,} "
        f"+ every demo frame {own['frames']:,} = {own['total']:,}"
    )
    assert weight["compressed"] < PAGE_BUDGET, (
        f"{page} weighs {weight['compressed']:,} bytes compressed, over {PAGE_BUDGET:,}"
    )
    assert own["total"] < OWN_BUDGET, (
        f"{page}: its own HTML ({own['html']:,}), figures ({own['figures']:,}) and demo frames "
        f"({own['frames']:,}) weigh {own['total']:,} bytes, over {OWN_BUDGET:,}: show fewer or "
        "smaller pictures, or move long listings behind a link"
    )
    assert_no_console_errors(browser)
