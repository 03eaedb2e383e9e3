"""会员 in Chromium: a member's page, adjust points with a reason, the ledger shows it."""

from __future__ import annotations

from typing import Any

from siyu import loyalty, profiles
from siyu.runtime import Runtime
from web_support import Shoot, browser_page, browser_sign_in

PROGRAM = "webbrowser"


def _member(runtime: Runtime) -> str:
    """A program and a demo person enrolled in it, made through the service."""
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        loyalty.create_program(
            session=session,
            tenant=tenant,
            code=PROGRAM,
            name="浏览器会员",
            settings=loyalty.ProgramSettings(
                pending_days=0,
                tiers=loyalty.TierPolicy.model_validate(
                    {
                        "tiers": [
                            {"code": "base", "name": "普卡", "threshold": 0},
                            {"code": "gold", "name": "金卡", "threshold": 3000},
                        ]
                    }
                ),
            ),  # fmt: skip
        )
        oneid = profiles.search_persons(session=session, tenant=tenant, query="李")[0].oneid
        loyalty.enrol_member(session=session, tenant=tenant, program=PROGRAM, oneid=oneid)
        session.commit()
    return oneid


def test_adjust_points_in_chromium(
    browser: Any, live_console: str, shoot: Shoot, console_runtime: Runtime
) -> None:
    oneid = _member(console_runtime)
    page = browser_page(browser, live_console)
    browser_sign_in(page, "operator")
    page.goto(f"/loyalty?program={PROGRAM}")
    page.get_by_role("heading", name="会员", exact=False, level=1).wait_for()
    shoot(page, "30-loyalty-program")
    page.get_by_placeholder("卡号、OneID、手机号或邮箱").fill(oneid)
    page.get_by_role("button", name="搜索").click()
    page.locator(f'a[href="/loyalty/{PROGRAM}/members/{oneid}"]').first.click()
    page.get_by_role("heading", name="调整积分").wait_for()

    page.get_by_label("积分（+ 增加，- 扣减）").fill("120")
    page.get_by_role("button", name="调整").click()
    page.get_by_role("alert").wait_for()  # no reason: refused, nothing written
    assert "needs a reason" in page.get_by_role("alert").inner_text()
    page.get_by_label("原因（必填，记入账本）").fill("门店活动补发")
    page.get_by_role("button", name="调整").click()
    page.get_by_role("status").wait_for()
    first = page.locator("#entries tbody tr").first
    assert "+120" in first.inner_text() and "门店活动补发" in first.inner_text()
    assert "user:t-operator" in first.inner_text()
    assert page.locator("#spendable").inner_text() == "120"
    shoot(page, "31-loyalty-member-ledger")
    page.context.close()
