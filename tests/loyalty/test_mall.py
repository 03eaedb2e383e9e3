"""The points mall: points or points + cash, stock, per-person limits, reversible orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from loyalty_support import Member, at, enrolled, make_program
from siyu import loyalty
from siyu.tenants import TenantContext


@pytest.fixture
def member(session: Session, tenant: TenantContext) -> Member:
    make_program(session, tenant, pending_days=0, expiry={"kind": "never"})
    member = enrolled(session, tenant)
    member.adjust(1000, reason="seed")
    return member


def _reward(member: Member, code: str, points: int, **options: Any) -> loyalty.RewardView:
    return loyalty.create_reward(
        session=member.session, tenant=member.tenant, program="main", code=code, name=code,
        points=points, **options,
    )  # fmt: skip


def _redeem(member: Member, reward: str, key: str, quantity: int = 1) -> loyalty.RewardOrderView:
    return loyalty.redeem_reward(
        session=member.session, tenant=member.tenant, program="main", oneid=member.oneid,
        reward=reward, key=key, quantity=quantity, now=at(1),
    )  # fmt: skip


def _cancel(member: Member, key: str) -> loyalty.RewardOrderView:
    return loyalty.cancel_reward_order(
        session=member.session, tenant=member.tenant, program="main", key=key,
        reason="customer cancelled", now=at(2),
    )  # fmt: skip


def _stock(member: Member, code: str) -> int:
    rewards = loyalty.list_rewards(session=member.session, tenant=member.tenant, program="main")
    return next(r.taken for r in rewards if r.code == code)


def test_points_plus_cash_with_stock_and_a_per_person_limit(member: Member) -> None:
    _reward(member, "cup", 150, cash=Decimal("19.90"), stock=3, per_person_limit=2)
    order = _redeem(member, "cup", "m1", quantity=2)
    assert (order.points, order.cash, order.status) == (300, Decimal("39.80"), "placed")
    assert _redeem(member, "cup", "m1", quantity=2).id == order.id  # the same key again
    assert member.spendable() == 700 and _stock(member, "cup") == 2
    with pytest.raises(loyalty.LimitError, match="limit 2 per person"):
        _redeem(member, "cup", "m2")
    other = enrolled(member.session, member.tenant, "c2")
    other.adjust(1000, reason="seed")
    with pytest.raises(loyalty.LimitError, match="1 left, 2 asked"):
        _redeem(other, "cup", "m3", quantity=2)
    _redeem(other, "cup", "m4")
    assert _stock(member, "cup") == 3


def test_not_enough_points_takes_no_stock(member: Member) -> None:
    _reward(member, "bag", 5000, stock=1)
    with pytest.raises(loyalty.InsufficientPointsError):
        _redeem(member, "bag", "m1")
    assert _stock(member, "bag") == 0
    assert (
        loyalty.member_reward_orders(
            session=member.session, tenant=member.tenant, program="main", oneid=member.oneid
        )
        == []
    )


def test_a_cancelled_order_returns_points_and_stock(member: Member) -> None:
    _reward(member, "cup", 400, stock=1)
    _redeem(member, "cup", "m1")
    cancelled = _cancel(member, "m1")
    assert (cancelled.status, cancelled.cancelled_at) == ("cancelled", at(2))
    assert _cancel(member, "m1").status == "cancelled"  # again: nothing more happens
    assert member.spendable(at(2)) == 1000 and _stock(member, "cup") == 0
    assert [e.kind for e in member.history()][:2] == ["return", "spend"]
    assert member.verify() == []
    _redeem(member, "cup", "m2")  # the stock is back


def test_a_reward_can_be_a_coupon_withdrawn_on_cancel_unless_used(member: Member) -> None:
    loyalty.create_coupon_template(
        session=member.session, tenant=member.tenant, code="T5", name="5 off",
        rules=loyalty.CouponRules(kind="fixed", amount=Decimal("5.00"), valid_days=30),
    )  # fmt: skip
    _reward(member, "voucher", 100, coupon_template="T5")
    order = _redeem(member, "voucher", "m1", quantity=2)
    assert len(order.coupon_codes) == 2
    _cancel(member, "m1")
    coupons = loyalty.person_coupons(
        session=member.session, tenant=member.tenant, oneid=member.oneid
    )
    assert {c.status for c in coupons} == {"void"}
    used = _redeem(member, "voucher", "m2")
    loyalty.redeem_coupon(
        session=member.session, tenant=member.tenant, code=used.coupon_codes[0],
        order_ref="order:pos/x", amount=Decimal("20.00"), source="pos", now=at(1),
    )  # fmt: skip
    with pytest.raises(loyalty.LimitError, match="was already used"):
        _cancel(member, "m2")


def test_rewards_must_cost_something(member: Member) -> None:
    with pytest.raises(loyalty.LoyaltyError, match="costs points, cash or both"):
        _reward(member, "free", 0)
    _reward(member, "cash_only", 0, cash=Decimal("9.90"))
    assert _redeem(member, "cash_only", "m1").points == 0
