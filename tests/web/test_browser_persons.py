"""Persons in headless Chromium: search, the 360° view, and a guide on a phone."""

from __future__ import annotations

from typing import Any

from siyu import profiles
from siyu.runtime import Runtime
from web_support import GUIDE_STAFF_ID, Shoot, browser_page, browser_sign_in

PANELS_LOADED = "document.querySelectorAll('.panel-body[hx-get]').length > 0 && " + (
    "[...document.querySelectorAll('.panel-body')].every(p => !p.textContent.includes('加载中'))"
)


def _rich_person(runtime: Runtime) -> profiles.PersonView:
    """A customer of the test guide with orders and more than one record."""
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        views = [
            profiles.get_person(session=session, tenant=tenant, oneid=p.oneid)
            for p in profiles.persons_of_staff(
                session=session, tenant=tenant, staff_id=GUIDE_STAFF_ID
            )
        ]
    return max(views, key=lambda v: (len(v.record_refs) > 1, len(v.orders), len(v.events)))


def test_search_and_open_the_360_view(
    browser: Any, live_console: str, shoot: Shoot, console_runtime: Runtime
) -> None:
    person = _rich_person(console_runtime)
    phone = str(person.attributes["phone"])
    page = browser_page(browser, live_console)
    browser_sign_in(page, "operator")
    page.get_by_role("link", name="消费者", exact=True).click()
    page.get_by_label("手机号、姓名、OneID 或任意标识").fill(phone)
    page.get_by_role("button", name="搜索").click()
    page.locator(f"a[href='/persons/{person.oneid}']").click()
    page.get_by_role("heading", name="合并记录").wait_for()
    page.wait_for_function(PANELS_LOADED)
    page.get_by_role("button", name="解释：为什么这些记录是同一个人？").click()
    page.get_by_role("heading", name="为什么这些记录是同一个人").wait_for()
    assert page.url.endswith(f"/persons/{person.oneid}")
    shoot(page, "10-persons-360")
    page.context.close()


def test_a_guide_on_a_phone(
    browser: Any, live_console: str, shoot: Shoot, console_runtime: Runtime
) -> None:
    person = _rich_person(console_runtime)
    page = browser_page(browser, live_console, width=390, height=844)
    browser_sign_in(page, "guide")
    assert page.url.endswith("/persons")
    page.get_by_text("你只能看到自己的顾客。").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "11-persons-guide-list-phone")
    page.locator(f"a[href='/persons/{person.oneid}']").click()
    page.wait_for_function(PANELS_LOADED)
    assert page.locator("a[href*='/unmerge']").count() == 0  # guides do not unmerge
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "12-persons-guide-360-phone")
    page.context.close()
