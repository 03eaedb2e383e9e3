"""The console in headless Chromium: sign in, the overview's charts, phone width."""

from __future__ import annotations

from typing import Any

from web_support import Shoot, browser_page, browser_sign_in


def test_sign_in_and_overview_in_chromium(browser: Any, live_console: str, shoot: Shoot) -> None:
    page = browser_page(browser, live_console)
    page.goto("/overview")
    assert "/login" in page.url
    shoot(page, "01-sign-in")
    browser_sign_in(page, "analyst")
    assert page.url.endswith("/overview")
    page.get_by_role("heading", name="消费者资产", level=1).wait_for()
    # ECharts drew every chart (SVG renderer): five panels with a drawing in each.
    page.wait_for_function("document.querySelectorAll('.chart svg').length >= 5")
    shoot(page, "02-overview")
    page.get_by_role("link", name="English").click()
    page.get_by_role("heading", name="Consumer assets", level=1).wait_for()
    page.context.close()


def test_overview_at_phone_width(browser: Any, live_console: str, shoot: Shoot) -> None:
    page = browser_page(browser, live_console, width=390, height=844)
    browser_sign_in(page, "operator")
    page.goto("/overview")
    page.wait_for_function("document.querySelectorAll('.chart svg').length >= 5")
    # Nothing wider than the screen: the page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "03-overview-phone")
    page.context.close()
