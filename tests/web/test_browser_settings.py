"""Settings in Chromium: an admin adds a user; channel secrets stay hidden."""

from __future__ import annotations

from typing import Any

from web_support import Shoot, browser_page, browser_sign_in


def test_admin_adds_an_operator_in_chromium(browser: Any, live_console: str, shoot: Shoot) -> None:
    page = browser_page(browser, live_console)
    browser_sign_in(page, "admin")
    page.get_by_role("link", name="设置").click()
    page.get_by_role("heading", name="已接入的数据源").wait_for()
    shoot(page, "40-settings-sources")
    page.get_by_role("link", name="用户").click()
    page.get_by_label("用户名").fill("op-browser")
    page.get_by_label("显示名").fill("浏览器运营")
    page.get_by_label("密码").fill("browser-pass-1")
    page.get_by_role("button", name="创建").click()
    page.get_by_role("cell", name="浏览器运营").wait_for()
    shoot(page, "41-settings-users")
    page.get_by_role("link", name="渠道与凭证").click()
    page.locator("#channel-sms-aliyun").wait_for()
    shoot(page, "42-settings-channels")
    page.context.close()
