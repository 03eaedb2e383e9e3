"""旅程 in Chromium: build a journey on the canvas with the forms, save, start; the results
page of a journey people went through; an enrolment's trace; the list at phone width."""

from __future__ import annotations

from typing import Any

import pytest

from journey_console_support import journey_with_results
from siyu import journeys
from siyu.runtime import Runtime
from web_support import Shoot, browser_page, browser_sign_in, htmx_settled


def _add_step(page: Any, kind: str, step_id: str, fields: dict[str, str]) -> None:
    bench = page.locator("#workbench")
    htmx_settled(page)
    bench.get_by_label("步骤类型").select_option(kind)
    # the type's own fields arrive as an HTMX fragment
    first = next(iter(fields), None)
    if first:
        page.locator(f"#step-fields [name='{first}']").wait_for()
        htmx_settled(page)
    bench.get_by_label("步骤 ID", exact=True).fill(step_id)
    for name, value in fields.items():
        field = page.locator(f"#step-fields [name='{name}']")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    bench.get_by_role("button", name="添加步骤").click()
    page.locator(f'svg.journey-canvas g[data-step="{step_id}"]').wait_for()


def test_build_save_and_start_a_journey_on_the_canvas(
    browser: Any, live_console: str, shoot: Shoot, console_runtime: Runtime
) -> None:
    page = browser_page(browser, live_console, width=1280, height=900)
    browser_sign_in(page, "operator")
    page.goto("/journeys")
    page.get_by_role("link", name="新建旅程").click()
    page.get_by_role("heading", name="新建旅程", level=1).wait_for()
    definition = page.get_by_label("旅程定义（JSON 或 YAML）")
    # name and key in the text; the trigger and the steps through the forms
    text = definition.input_value()
    text = text.replace('"new-journey"', '"browser-welcome"').replace(
        '"New journey"', '"新会员欢迎"'
    )
    definition.fill(text)
    page.get_by_label("触发类型").select_option("event")
    page.get_by_label("事件类型、订单状态、人群或日期属性").fill("member_joined")
    page.get_by_role("button", name="设置触发").click()
    page.wait_for_function("document.querySelector('#definition').value.includes('member_joined')")
    # remove the starter's exit step, then build: send → wait → branch
    page.get_by_role("button", name="删除步骤 exit").click()
    page.wait_for_function("!document.querySelector('svg.journey-canvas g[data-step=\"exit\"]')")
    _add_step(page, "send", "welcome-sms", {"channel": "sms", "template": "SMS_100"})
    _add_step(page, "wait", "wait-3d", {"duration": "P3D"})
    _add_step(
        page,
        "branch",
        "bought",
        {"field": "person.orders", "operator": "gt", "value": "0", "then": "end"},
    )
    _add_step(page, "tag", "nudge-tag", {"add": "welcome-no-order"})
    page.wait_for_load_state("networkidle")
    nodes = page.locator("svg.journey-canvas g.node").evaluate_all(
        "els => els.map(e => e.dataset.step)"
    )
    assert nodes[:5] == ["@trigger", "welcome-sms", "wait-3d", "bought", "nudge-tag"]
    assert page.locator(".problems").count() == 0
    # edit one step on its own: wait two days instead of three
    page.get_by_role("button", name="编辑步骤 wait-3d").click()
    step = page.get_by_label("步骤定义（JSON）")
    step.fill(step.input_value().replace("P3D", "P2D"))
    page.get_by_role("button", name="应用").click()
    page.locator('svg.journey-canvas g[data-step="wait-3d"]', has_text="等待 2 天").wait_for()
    shoot(page, "40-journeys-canvas-build")
    page.get_by_role("button", name="创建旅程").click()
    page.get_by_text("旅程已创建为草稿。").wait_for()
    page.get_by_role("button", name="启动").click()
    page.get_by_text("旅程已上线。").wait_for()
    shoot(page, "41-journeys-canvas-live")
    with console_runtime.session() as session:
        saved = journeys.get_journey(
            session=session, tenant=console_runtime.tenant(session), key="browser-welcome"
        )
    assert saved.status == "live"
    assert [s.id for s in saved.definition.steps] == [
        "welcome-sms",
        "wait-3d",
        "bought",
        "nudge-tag",
    ]
    assert saved.definition.trigger.type == "event"
    page.get_by_role("link", name="返回旅程列表").click()
    row = page.locator('tr[data-key="browser-welcome"]')
    assert "运行中" in row.inner_text()
    shoot(page, "42-journeys-list")
    page.context.close()


def test_invalid_definition_shows_its_problems_inline(browser: Any, live_console: str) -> None:
    page = browser_page(browser, live_console)
    browser_sign_in(page, "operator")
    page.goto("/journeys/_new")
    definition = page.get_by_label("旅程定义（JSON 或 YAML）")
    definition.fill(definition.input_value().replace('"exit"', '"jump"', 2))
    page.locator(".problems").wait_for()
    assert "steps[0]" in page.locator(".problems").inner_text()
    page.context.close()


@pytest.fixture(scope="module")
def results_journey(console_runtime: Runtime) -> str:
    journey_with_results(console_runtime, "browser-results", "1370002")
    return "browser-results"


def test_results_and_trace_pages(
    browser: Any, live_console: str, shoot: Shoot, results_journey: str
) -> None:
    page = browser_page(browser, live_console, width=1280, height=900)
    browser_sign_in(page, "analyst")
    page.goto(f"/journeys/{results_journey}/results")
    page.get_by_role("heading", name="逐步漏斗").wait_for()
    page.wait_for_function("document.querySelectorAll('.chart svg').length >= 2")
    assert page.locator("table.arms tbody tr").count() == 3
    shoot(page, "43-journeys-results")
    page.get_by_role("link", name="参与记录").first.click()
    page.locator("table tbody tr a").first.click()
    page.get_by_role("heading", name="已执行的步骤").wait_for()
    shoot(page, "44-journeys-enrolment-trace")
    page.context.close()


def test_journeys_at_phone_width(
    browser: Any, live_console: str, shoot: Shoot, results_journey: str
) -> None:
    page = browser_page(browser, live_console, width=390, height=844)
    browser_sign_in(page, "operator")
    page.goto(f"/journeys/{results_journey}")
    page.locator("svg.journey-canvas").wait_for()
    # the canvas scrolls inside its own box; the page itself does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "45-journeys-phone")
    page.context.close()
