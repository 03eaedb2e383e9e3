"""Reads for the console: members (search), lots, growth, coupon templates, mall orders."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from loyalty_support import at, enrolled, make_program, paid
from siyu import loyalty
from siyu.tenants import TenantContext


def test_members_lots_growth_templates_and_mall_orders(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=0, expiry={"kind": "never"})
    first = enrolled(session, tenant, "c1", phone="13800000001")
    second = enrolled(session, tenant, "c2", phone="13800000002")
    first.order(paid("o1", "120.00", customer_id="c1"))
    first.adjust(30, reason="welcome")
    where = {"session": session, "tenant": tenant, "program": "main"}

    listed = loyalty.list_members(**where, now=at(1))
    assert {m.oneid for m in listed} == {first.oneid, second.oneid}
    spendable = {m.oneid: m.spendable for m in listed}
    assert spendable[first.oneid] == first.spendable(at(1)) == 150
    assert [m.oneid for m in loyalty.list_members(**where, query="13800000002")] == [second.oneid]
    card = next(m.card_no for m in listed if m.oneid == first.oneid)
    assert card and [m.oneid for m in loyalty.list_members(**where, query=card)] == [first.oneid]
    assert loyalty.list_members(**where, query="nobody") == []

    lots = loyalty.member_lots(**where, oneid=first.oneid)
    assert sorted(lot.amount for lot in lots) == [30, 120]
    assert sum(lot.remaining for lot in lots) == 150
    growth = loyalty.member_growth(**where, oneid=first.oneid)
    assert [g.points for g in growth] == [120]

    loyalty.create_coupon_template(
        session=session, tenant=tenant, code="t10", name="10 off",
        rules=loyalty.CouponRules(kind="fixed", amount=Decimal(10), valid_days=30), stock=5,
    )  # fmt: skip
    loyalty.issue_coupon(
        session=session, tenant=tenant, template="t10", oneid=second.oneid, key="k1", via="test"
    )
    templates = loyalty.list_coupon_templates(session=session, tenant=tenant)
    assert [(t.code, t.stock, t.issued, t.rules.kind) for t in templates] == [
        ("t10", 5, 1, "fixed")
    ]

    loyalty.create_reward(**where, code="mug", name="Mug", points=100)
    loyalty.redeem_reward(**where, oneid=first.oneid, reward="mug", key="m1", now=at(1))
    orders = loyalty.reward_orders(**where)
    assert [(o.reward, o.oneid, o.points) for o in orders] == [("mug", first.oneid, 100)]
