"""Tags & audiences in Chromium: build an audience with a live count, save it, overlap."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from siyu import audiences
from siyu.runtime import Runtime
from web_support import Shoot, browser_page, browser_sign_in, htmx_settled

ACTIVE = {"trait": "lifecycle_stage", "value": "active"}
BOUGHT_TWICE = {"bought": {}, "within_days": 365, "min": 2}


def _expected(runtime: Runtime, rule: dict[str, Any]) -> int:
    with runtime.session() as session:
        return audiences.preview(
            session=session,
            tenant=runtime.tenant(session),
            rule=rule,
            engine_dir=Path(runtime.settings.engine_dir),
        ).count


def _second_audience(runtime: Runtime) -> None:
    """Another audience (made through the service), so the overlap has a pair to show."""
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        audiences.create_audience(
            session=session,
            tenant=tenant,
            audience=audiences.AudienceIn(name="浏览器-复购", rule=BOUGHT_TWICE),
            by="test",
        )
        session.commit()
        audiences.refresh_audiences(
            session=session,
            tenant=tenant,
            names=["浏览器-复购"],
            engine_dir=Path(runtime.settings.engine_dir),
        )


def _type(field: Any, text: str) -> None:
    field.fill("")
    field.press_sequentially(text)


def _shows(page: Any, count: int) -> None:
    """Wait until the live count shows `count` (the service's count for the rule)."""
    page.wait_for_function(
        "n => Number(document.querySelector('.count-number')?.dataset.count) === n", arg=count
    )


def test_build_count_save_and_overlap_in_chromium(
    browser: Any, live_console: str, shoot: Shoot, console_runtime: Runtime
) -> None:
    page = browser_page(browser, live_console)
    browser_sign_in(page, "operator")
    page.goto("/audiences/new")
    page.get_by_role("heading", name="新建人群", level=1).wait_for()
    page.locator(".count-number").wait_for()
    _shows(page, _expected(console_runtime, ACTIVE))

    # Second condition: bought at least twice in the last 365 days.
    page.get_by_role("button", name="＋ 条件").first.click()
    page.locator('select[name="n-1.kind"]').wait_for()
    htmx_settled(page)
    page.locator('select[name="n-1.kind"]').select_option("bought")
    page.locator('input[name="n-1.within_days"]').wait_for()
    htmx_settled(page)
    # Typed as a person types (keyup drives the debounced count).
    _type(page.locator('input[name="n-1.within_days"]'), "365")
    _type(page.locator('input[name="n-1.min"]'), "2")
    with_both = _expected(console_runtime, {"all": [ACTIVE, BOUGHT_TWICE]})
    _shows(page, with_both)
    # NOT on the first row: the count follows.
    page.locator('input[name="n-0.not"]').check()
    _shows(page, _expected(console_runtime, {"all": [{"not": ACTIVE}, BOUGHT_TWICE]}))
    page.locator('input[name="n-0.not"]').uncheck()
    _shows(page, with_both)
    _type(page.get_by_label("名称"), "浏览器-活跃且一年内购买")
    page.wait_for_load_state("networkidle")
    shoot(page, "20-audiences-builder-live-count")

    page.get_by_role("button", name="保存人群").click()
    page.wait_for_url(re.compile(r"/audiences\?saved="))
    row = page.locator('tr[data-audience="浏览器-活跃且一年内购买"]')
    row.wait_for()
    row.get_by_role("button", name="刷新").click()
    page.wait_for_url(re.compile(r"/audiences/%E6"))
    assert page.locator("#size").inner_text().replace(",", "") == str(with_both)
    page.wait_for_function("document.querySelectorAll('.chart svg').length >= 1")
    shoot(page, "21-audiences-detail-history")
    page.goto("/audiences")
    page.locator('tr[data-audience="浏览器-活跃且一年内购买"]').wait_for()
    shoot(page, "22-audiences-list")

    _second_audience(console_runtime)
    page.goto("/audiences/overlap")
    page.locator("#overlap").wait_for()
    page.get_by_role("heading", name="人群重叠", level=1).wait_for()
    if page.locator(".chart").count():
        page.wait_for_function("document.querySelectorAll('.chart svg').length >= 1")
    shoot(page, "23-audiences-overlap")
    page.goto("/audiences/tags")
    page.get_by_role("heading", name="标签", level=1).wait_for()
    shoot(page, "24-audiences-tags")
    page.context.close()


def test_builder_at_phone_width(browser: Any, live_console: str, shoot: Shoot) -> None:
    page = browser_page(browser, live_console, width=390, height=844)
    browser_sign_in(page, "operator")
    page.goto("/audiences/new")
    page.locator(".count-number").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "25-audiences-builder-phone")
    page.context.close()
