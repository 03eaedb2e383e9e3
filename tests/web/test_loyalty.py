"""会员 over HTTP: programs, members, a member's ledger; adjustments need a reason and are
journaled with the signed-in user; analysts read but never write."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from siyu import loyalty, profiles
from siyu.runtime import Runtime
from web_support import sign_in

PROGRAM = "webmk"


@pytest.fixture(scope="module")
def member_oneids(console_runtime: Runtime) -> Iterator[list[str]]:
    """A program made through the service, with two demo persons enrolled."""
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        if PROGRAM not in {p.code for p in loyalty.program_views(session=session, tenant=tenant)}:
            loyalty.create_program(
                session=session,
                tenant=tenant,
                code=PROGRAM,
                name="测试会员",
                settings=loyalty.ProgramSettings(pending_days=0),
            )
        found = profiles.search_persons(session=session, tenant=tenant, query="王")[:2]
        oneids = [person.oneid for person in found]
        for oneid in oneids:
            loyalty.enrol_member(session=session, tenant=tenant, program=PROGRAM, oneid=oneid)
        loyalty.create_coupon_template(
            session=session,
            tenant=tenant,
            code="web10",
            name="满100减10",
            rules=loyalty.CouponRules(kind="threshold", amount=10, threshold=100, valid_days=30),
        )
        session.commit()
    yield oneids


def _spendable(runtime: Runtime, oneid: str) -> int:
    with runtime.session() as session:
        return loyalty.get_member(
            session=session, tenant=runtime.tenant(session), program=PROGRAM, oneid=oneid
        ).balance.spendable


def test_program_page_lists_members_and_searches(
    console: TestClient, member_oneids: list[str]
) -> None:
    sign_in(console, "analyst")
    page = console.get("/loyalty", params={"program": PROGRAM})
    assert page.status_code == 200
    assert 'id="tiers"' in page.text and 'id="members-table"' in page.text
    for oneid in member_oneids:
        assert f"/loyalty/{PROGRAM}/members/{oneid}" in page.text
    found = console.get("/loyalty", params={"program": PROGRAM, "q": member_oneids[0]})
    assert f"members/{member_oneids[0]}" in found.text
    assert f"members/{member_oneids[1]}" not in found.text
    assert 'data-template="web10"' in page.text


def test_adjustment_needs_a_reason_and_is_journaled_with_the_user(
    console: TestClient, console_runtime: Runtime, member_oneids: list[str]
) -> None:
    csrf = sign_in(console, "operator")
    oneid = member_oneids[0]
    url = f"/loyalty/{PROGRAM}/members/{oneid}/adjust"
    before = _spendable(console_runtime, oneid)
    refused = console.post(url, data={"csrf": csrf, "points": "200", "reason": "  "})
    assert refused.status_code == 422
    assert "needs a reason" in refused.text
    assert _spendable(console_runtime, oneid) == before

    done = console.post(url, data={"csrf": csrf, "points": "200", "reason": "客诉补偿 web"})
    assert done.status_code == 200  # followed to the member page
    assert _spendable(console_runtime, oneid) == before + 200
    row = re.search(r'<tr data-entry="\d+">(.*?)</tr>', done.text, re.S)
    assert row is not None
    assert "+200" in row.group(1) and "客诉补偿 web" in row.group(1)
    assert "user:t-operator" in row.group(1)
    shown = re.search(r'id="spendable">([\d,]+)<', done.text)
    assert shown and int(shown.group(1).replace(",", "")) == before + 200

    taken = console.post(url, data={"csrf": csrf, "points": "-50", "reason": "撤回部分"})
    assert taken.status_code == 200
    assert _spendable(console_runtime, oneid) == before + 150
    too_much = console.post(url, data={"csrf": csrf, "points": "-999999", "reason": "x"})
    assert too_much.status_code == 422 and 'role="alert"' in too_much.text
    assert _spendable(console_runtime, oneid) == before + 150
    not_a_number = console.post(url, data={"csrf": csrf, "points": "lots", "reason": "x"})
    assert not_a_number.status_code == 422 and "whole number" in not_a_number.text


def test_issue_a_coupon_to_a_member(console: TestClient, member_oneids: list[str]) -> None:
    csrf = sign_in(console, "admin")
    oneid = member_oneids[1]
    issued = console.post(
        f"/loyalty/{PROGRAM}/members/{oneid}/coupons", data={"csrf": csrf, "template": "web10"}
    )
    assert issued.status_code == 200
    table = issued.text[issued.text.index('id="member-coupon-table"') :]
    assert "web10" in table.split("</table>")[0]


def test_program_coupon_template_and_reward_forms(
    console: TestClient, member_oneids: list[str]
) -> None:
    csrf = sign_in(console, "operator")
    made = console.post(
        "/loyalty/coupon-templates",
        data={
            "csrf": csrf,
            "program": PROGRAM,
            "code": "web5",
            "name": "立减5元",
            "kind": "fixed",
            "amount": "5",
            "valid_days": "7",
        },  # fmt: skip
    )
    assert made.status_code == 200 and 'data-template="web5"' in made.text
    bad = console.post(
        "/loyalty/coupon-templates",
        data={"csrf": csrf, "program": PROGRAM, "code": "webbad", "name": "x", "kind": "fixed"},
    )
    assert bad.status_code == 422 and "needs an amount" in bad.text
    reward = console.post(
        f"/loyalty/{PROGRAM}/rewards",
        data={"csrf": csrf, "code": "web-mug", "name": "马克杯", "points": "300", "stock": "10"},
    )
    assert reward.status_code == 200 and "马克杯" in reward.text


def test_a_program_can_be_created_from_the_page(console: TestClient) -> None:
    csrf = sign_in(console, "admin")
    made = console.post(
        "/loyalty/programs",
        data={"csrf": csrf, "code": "webnew", "name": "新计划", "sample_tiers": "1"},
    )
    assert made.status_code == 200 and "新计划" in made.text and "金卡" in made.text
    again = console.post("/loyalty/programs", data={"csrf": csrf, "code": "webnew", "name": "x"})
    assert again.status_code == 422 and "already exists" in again.text


def test_analysts_cannot_write(console: TestClient, member_oneids: list[str]) -> None:
    csrf = sign_in(console, "analyst")
    oneid = member_oneids[0]
    page = console.get(f"/loyalty/{PROGRAM}/members/{oneid}")
    assert page.status_code == 200 and "/adjust" not in page.text
    refused = console.post(
        f"/loyalty/{PROGRAM}/members/{oneid}/adjust",
        data={"csrf": csrf, "points": "10", "reason": "analyst"},
    )
    assert refused.status_code == 403
    assert (
        console.post("/loyalty/programs", data={"csrf": csrf, "code": "a", "name": "a"}).status_code
        == 403
    )
    assert console.get(f"/loyalty/{PROGRAM}/members/NOSUCHPERSON").status_code == 404


def test_program_settings_are_edited_as_one_validated_document(
    console: TestClient, console_runtime: Runtime
) -> None:
    code = "websets"
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        loyalty.create_program(session=session, tenant=tenant, code=code, name="设置测试")
        session.commit()
    csrf = sign_in(console, "operator")
    editor = console.get(f"/loyalty/{code}/settings")
    assert editor.status_code == 200 and "growth_per_yuan" in editor.text
    shown = re.search(r"<textarea[^>]*>(.*?)</textarea>", editor.text, re.S)
    assert shown is not None
    edited = json.loads(html.unescape(shown.group(1)))
    edited["tiers"]["tiers"].append({"code": "silver", "name": "银卡", "threshold": 800})
    edited["earn_rates"] = [{"points_per_yuan": "2"}]
    saved = console.post(
        f"/loyalty/{code}/settings", data={"csrf": csrf, "settings": json.dumps(edited)}
    )
    assert saved.status_code == 200 and "设置已保存为第 2 版" in saved.text and "银卡" in saved.text

    def stored() -> loyalty.ProgramView:
        with console_runtime.session() as session:
            tenant = console_runtime.tenant(session)
            return next(
                p for p in loyalty.program_views(session=session, tenant=tenant) if p.code == code
            )

    program = stored()
    assert program.version == 2
    assert [t.threshold for t in program.settings.tiers.tiers] == [0, 800]
    assert [r.points_per_yuan for r in program.settings.earn_rates] == [2]

    edited["tiers"]["tiers"][0]["threshold"] = 100  # the first tier must start at 0
    refused = console.post(
        f"/loyalty/{code}/settings", data={"csrf": csrf, "settings": json.dumps(edited)}
    )
    assert refused.status_code == 422
    assert "tiers: Value error, the first tier is the base tier, with threshold 0" in refused.text
    assert "threshold&#34;: 100" in refused.text  # the edited text is kept to fix
    broken = console.post(f"/loyalty/{code}/settings", data={"csrf": csrf, "settings": "{"})
    assert broken.status_code == 422 and "Invalid JSON" in broken.text
    assert stored().version == 2  # nothing saved by either

    sign_in(console, "analyst")
    assert console.get(f"/loyalty/{code}/settings").status_code == 403
    assert console.get("/loyalty/nosuch/settings").status_code in (403, 404)


def test_exchange_points_and_redeem_a_coupon_at_the_till(
    console: TestClient, console_runtime: Runtime, member_oneids: list[str]
) -> None:
    oneid = member_oneids[0]
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        loyalty.adjust_points(
            session=session, tenant=tenant, program=PROGRAM, oneid=oneid, points=120,
            reason="test", actor="test",
        )  # fmt: skip
        loyalty.create_reward(
            session=session, tenant=tenant, program=PROGRAM, code="web-cup", name="保温杯",
            points=50,
        )  # fmt: skip
        coupon = loyalty.issue_coupon(
            session=session, tenant=tenant, template="web10", oneid=oneid, key="till-1", via="test"
        )
        session.commit()
    before = _spendable(console_runtime, oneid)
    csrf = sign_in(console, "operator")
    page = console.get(f"/loyalty/{PROGRAM}/members/{oneid}")
    assert 'id="exchange-form"' in page.text and coupon.code in page.text
    member_path = f"/loyalty/{PROGRAM}/members/{oneid}"
    exchanged = console.post(
        f"{member_path}/rewards", data={"csrf": csrf, "reward": "web-cup", "quantity": "1"}
    )
    assert exchanged.status_code == 200 and "积分已兑换" in exchanged.text
    assert _spendable(console_runtime, oneid) == before - 50
    too_many = console.post(
        f"{member_path}/rewards", data={"csrf": csrf, "reward": "web-cup", "quantity": "1000"}
    )
    assert too_many.status_code == 422
    assert _spendable(console_runtime, oneid) == before - 50

    till = {"csrf": csrf, "code": coupon.code, "order_ref": "POS-1", "amount": "120"}
    redeemed = console.post(f"{member_path}/coupons/redeem", data=till)
    assert redeemed.status_code == 200 and "已核销" in redeemed.text
    with console_runtime.session() as session:
        mine = loyalty.person_coupons(
            session=session, tenant=console_runtime.tenant(session), oneid=oneid
        )
    used = next(c for c in mine if c.code == coupon.code)
    assert (used.status, used.order_ref) == ("redeemed", "POS-1")
    again = console.post(f"{member_path}/coupons/redeem", data={**till, "order_ref": "POS-2"})
    assert again.status_code == 422 and "is redeemed" in again.text
    bad = console.post(f"{member_path}/coupons/redeem", data={**till, "amount": "abc"})
    assert bad.status_code == 422 and "amount must be a number" in bad.text

    sign_in(console, "analyst")
    assert console.post(f"{member_path}/rewards", data={"reward": "web-cup"}).status_code == 403
