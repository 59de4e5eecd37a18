"""The built website in a real browser: widgets work without a kernel, nothing leaves the machine.

These tests build the book once (the ``built_site`` fixture, with warnings as errors), serve
it on 127.0.0.1 and drive headless Chromium through selenium. Every request the browser
makes is read from Chrome's performance log, so a page that quietly fetches a script from a
CDN fails here even though it would look fine on a developer's (online) machine.

Set ``P2P_SCREENSHOTS=/some/folder`` to keep screenshots of what the browser saw.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from site_tools import (
    PAGE_BUDGET,
    assert_all_local,
    assert_no_console_errors,
    network_events,
    open_page,
    page_weight,
    requested_urls,
    shot,
    shown_image,
    wait_for_change,
    wait_for_demos,
)

pytestmark = pytest.mark.slow

CHAPTER_0 = "book/00_why_cnns.html"
CHAPTER_1 = "book/01_pixels.html"
INTRO = "book/intro.html"


def test_intro_page_loads_offline(browser: webdriver.Chrome, site_url: str) -> None:
    open_page(browser, f"{site_url}/{INTRO}")
    assert "Pixels to Predictions" in browser.title
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert any("student" in h.lower() for h in headings), f"no 'student's path' section: {headings}"
    link = browser.find_element(By.CSS_SELECTOR, "a[href*='01_pixels']")
    assert link.is_displayed()
    shot(browser, "intro")
    assert_all_local(requested_urls(network_events(browser)), site_url)
    assert_no_console_errors(browser)


def test_chapter_1_demos_work_without_a_kernel(browser: webdriver.Chrome, site_url: str) -> None:
    open_page(browser, f"{site_url}/{CHAPTER_1}")
    demos = wait_for_demos(browser)
    assert len(demos) >= 2, (
        f"chapter 1 should have the pixel inspector and the size demo, found {len(demos)}"
    )
    shot(browser, "chapter1_top")
    inspector, sizes = demos[0], demos[1]
    overflowing = browser.execute_script(
        "return [...document.querySelectorAll('.p2p-static-demo, .p2p-static-demo *')]"
        ".filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1"
        " && getComputedStyle(e).overflowX === 'auto').length"
    )
    assert overflowing == 0, "a demo is wider than the page column (it shows a scroll bar)"

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", inspector)
    time.sleep(0.5)
    _, first = shown_image(inspector)
    shot(browser, "chapter1_inspector_before")

    # A toggle button (the channel): click "G".
    buttons = [b for b in inspector.find_elements(By.TAG_NAME, "button") if b.text.strip() == "G"]
    assert buttons, "the pixel inspector has no 'G' channel button"
    buttons[0].click()
    after_click = wait_for_change(inspector, first, "clicking the G channel button")

    # A dropdown (the region): choose another region.
    select = Select(inspector.find_element(By.TAG_NAME, "select"))
    select.select_by_index(3)
    after_select = wait_for_change(inspector, after_click, "choosing another region")
    shot(browser, "chapter1_inspector_after")

    # Going back to the first choices shows the very first picture again.
    select.select_by_index(0)
    [b for b in inspector.find_elements(By.TAG_NAME, "button") if b.text.strip() == "R"][0].click()
    back = wait_for_change(inspector, after_select, "going back to the first region and R")
    assert back == first, "returning to the first settings did not bring back the first picture"

    # A slider (the input size), moved with the keyboard and with the mouse.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", sizes)
    time.sleep(0.5)
    _, size_before = shown_image(sizes)
    handle = sizes.find_element(By.CSS_SELECTOR, ".noUi-handle, .ui-slider-handle, [role='slider']")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    size_after = wait_for_change(sizes, size_before, "pressing the right arrow on the size slider")
    webdriver.ActionChains(browser).click_and_hold(handle).move_by_offset(
        120, 0
    ).release().perform()
    wait_for_change(sizes, size_after, "dragging the size slider")
    shot(browser, "chapter1_sizes_after")

    assert_all_local(requested_urls(network_events(browser)), site_url)
    assert_no_console_errors(browser)


def test_chapter_0_shift_demo_works_without_a_kernel(
    browser: webdriver.Chrome, site_url: str
) -> None:
    open_page(browser, f"{site_url}/{CHAPTER_0}")
    demo = wait_for_demos(browser)[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", demo)
    time.sleep(0.5)
    _, before = shown_image(demo)
    handle = demo.find_element(By.CSS_SELECTOR, ".noUi-handle, [role='slider']")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    wait_for_change(demo, before, "moving the shift slider")
    assert_all_local(requested_urls(network_events(browser)), site_url)
    assert_no_console_errors(browser)


def test_chapter_1_page_weight(browser: webdriver.Chrome, site_url: str, built_site: Path) -> None:
    """Weigh chapter 1 as a reader's browser loads it (the budget applies to the gzip size)."""
    open_page(browser, f"{site_url}/{CHAPTER_1}")
    wait_for_demos(browser)
    weight = page_weight(browser, site_url, built_site, CHAPTER_1)
    print(
        f"\nchapter 1 page weight: {weight['compressed']:,} bytes gzip-compressed, "
        f"{weight['raw']:,} bytes uncompressed ({weight['files']} files); "
        f"the chapter's own HTML and figures: {weight['own']:,} bytes"
    )
    assert weight["compressed"] < PAGE_BUDGET, (
        f"chapter 1 weighs {weight['compressed']:,} bytes compressed, over {PAGE_BUDGET:,}"
    )
