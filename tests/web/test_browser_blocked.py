"""Blocked merges in headless Chromium: an operator approves one with a reason, and finds
it under the reviewed tab."""

from __future__ import annotations

from typing import Any

from siyu.runtime import Runtime
from web_support import Shoot, blocked_pair, browser_page, browser_sign_in


def test_operator_approves_a_blocked_merge_in_chromium(
    browser: Any, live_console: str, console_runtime: Runtime, shoot: Shoot
) -> None:
    item = blocked_pair(console_runtime)
    page = browser_page(browser, live_console)
    browser_sign_in(page, "operator")
    page.get_by_role("link", name="导入与身份").click()
    page.get_by_role("link", name="被拦截的合并").click()
    row = page.locator(f"#blocked-{item.id}")
    row.wait_for()
    assert item.identifier in row.inner_text()
    row.locator(f"#reason-{item.id}").fill("同一位顾客，两个微信")
    shoot(page, "23-imports-blocked")
    row.get_by_role("button", name="批准：合并").click()
    page.get_by_role("status").wait_for()
    assert f"#{item.id}" in page.get_by_role("status").inner_text()
    assert page.locator(f"#blocked-{item.id}").count() == 0  # no longer open
    page.get_by_role("link", name="已处理").click()
    decided = page.locator(f"#blocked-{item.id}")
    decided.wait_for()
    assert "已批准" in decided.inner_text() and "同一位顾客，两个微信" in decided.inner_text()
    page.context.close()
