"""The points ledger: lots, pending window, spending order, refunds, debt, adjustments."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_support import T0, Member, at, enrolled, make_program, paid, refund
from siyu import loyalty
from siyu.loyalty.models import Allocation, Lot
from siyu.tenants import TenantContext


@pytest.fixture
def member(session: Session, tenant: TenantContext) -> Member:
    make_program(session, tenant, pending_days=7, expiry={"kind": "rolling_days", "days": 100})
    return enrolled(session, tenant)


def test_points_are_pending_for_the_return_window_then_spendable(member: Member) -> None:
    outcome = member.order(paid("o1", "120.50"))
    assert outcome.earned == 120 and outcome.growth == 120
    balance = member.view(at(1)).balance
    assert (balance.pending, balance.available, balance.spendable) == (120, 0, 0)
    with pytest.raises(loyalty.InsufficientPointsError):
        member.redeem(1, "r1", now=at(1))
    balance = member.view(at(7)).balance
    assert (balance.pending, balance.available) == (0, 120)
    assert member.verify() == []


def test_a_replayed_order_earns_once(member: Member) -> None:
    first = member.order(paid("o1", "100.00"))
    again = member.order(paid("o1", "100.00"))
    shipped = member.order(paid("o1", "100.00", status="shipped"))
    assert (first.earned, first.replayed) == (100, False)
    assert again.replayed and shipped.replayed
    assert member.view(at(8)).balance.available == 100
    assert [e.kind for e in member.history()] == ["earn"]


def test_spends_take_the_earliest_expiring_lots_first(session: Session, member: Member) -> None:
    member.order(paid("late", "50.00", when=at(10)))  # expires at(110)
    member.order(paid("early", "30.00", when=at(0)))  # expires at(100)
    member.order(paid("middle", "40.00", when=at(5)))  # expires at(105)
    member.redeem(50, "r1", now=at(20))
    mine = Lot.member_id == member.view().member_id
    remaining = dict(session.execute(select(Lot.ref, Lot.remaining).where(mine)).tuples().all())
    assert remaining == {"order:pos/early": 0, "order:pos/middle": 20, "order:pos/late": 50}
    assert member.spendable(at(20)) == 70
    assert member.verify() == []


def test_a_failed_spend_writes_nothing(session: Session, member: Member) -> None:
    member.order(paid("o1", "10.00"))
    with pytest.raises(loyalty.InsufficientPointsError, match="10 spendable points, 11 asked"):
        member.redeem(11, "r1", now=at(8))
    assert [e.kind for e in member.history()] == ["earn"]
    lots = select(Lot.id).where(Lot.member_id == member.view().member_id)
    assert session.scalars(select(Allocation).where(Allocation.lot_id.in_(lots))).all() == []


def test_a_replayed_redemption_spends_once(member: Member) -> None:
    member.order(paid("o1", "100.00"))
    first = member.redeem(60, "r1", now=at(8))
    again = member.redeem(60, "r1", now=at(8))
    assert (first.replayed, again.replayed, again.points) == (False, True, -60)
    assert member.spendable(at(8)) == 40


def test_partial_refunds_reverse_proportionally_and_a_full_refund_the_rest(member: Member) -> None:
    member.order(paid("o1", "200.00"))
    assert member.refund(refund("rf1", "o1", "50.00")).reversed == 50
    assert member.refund(refund("rf1", "o1", "50.00")).reversed == 0  # replayed
    assert member.refund(refund("rf2", "o1", "30.33")).reversed == 30  # floor(200*80.33/200)-50
    assert member.order(paid("o1", "200.00", status="refunded")).reversed == 120
    assert member.view(at(8)).balance.available == 0
    assert member.view(at(8)).tier.growth == 0  # growth reversed too
    assert member.verify() == []


def test_a_refund_arriving_before_the_order_is_reversed_when_it_earns(member: Member) -> None:
    assert member.refund(refund("rf1", "o1", "25.00")).reversed == 0
    outcome = member.order(paid("o1", "100.00"))
    assert (outcome.earned, outcome.reversed) == (100, 25)
    assert member.view(at(8)).balance.available == 75


def test_claw_back_takes_spent_points_from_other_lots_and_writes_off_the_rest(
    member: Member,
) -> None:
    member.order(paid("o1", "100.00"))
    member.order(paid("o2", "30.00"))
    member.redeem(110, "r1", now=at(8))  # o1 fully spent, 20 left of o2
    outcome = member.refund(refund("rf1", "o1", "100.00"), now=at(9))
    assert outcome.reversed == 20
    entry = member.history()[0]
    assert entry.detail == {"refund": "100.00", "refunded_total": "100.00", "written_off": 80}
    assert member.view(at(9)).balance.spendable == 0
    assert member.verify() == []


def test_negative_balance_policy_owes_spent_points_and_repays_from_new_earnings(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=0, refund_policy="negative_balance")
    member = enrolled(session, tenant)
    member.order(paid("o1", "100.00"))
    member.redeem(90, "r1")
    assert member.refund(refund("rf1", "o1", "100.00")).reversed == 100
    balance = member.view().balance
    assert (balance.available, balance.debt, balance.spendable) == (0, 90, -90)
    member.order(paid("o2", "50.00"))  # active at once: repays 50 of the debt
    balance = member.view().balance
    assert (balance.available, balance.debt, balance.spendable) == (0, 40, -40)
    member.order(paid("o3", "70.00"))
    assert member.view().balance.spendable == 30
    assert [e.kind for e in member.history()][:2] == ["repay", "earn"]
    assert member.verify() == []


def test_manual_adjustments_need_a_reason_and_are_recorded_with_who_and_why(member: Member) -> None:
    with pytest.raises(loyalty.LoyaltyError, match="reason"):
        member.adjust(10, reason=" ")
    member.adjust(30, reason="goodwill: late delivery")
    member.adjust(-5, reason="correction")
    entries = member.history()
    assert [(e.kind, e.points, e.actor, e.reason) for e in entries] == [
        ("adjust", -5, "tester", "correction"),
        ("earn", 30, "tester", "goodwill: late delivery"),
    ]
    assert member.spendable() == 25


def test_a_cancelled_redemption_gives_points_back_to_their_lots(member: Member) -> None:
    member.order(paid("o1", "100.00"))
    member.redeem(80, "r1", now=at(8))
    back = loyalty.cancel_redemption(
        session=member.session, tenant=member.tenant, program="main", oneid=member.oneid,
        key="r1", reason="customer changed mind", now=at(9),
    )  # fmt: skip
    assert back.points == 80
    assert member.spendable(at(9)) == 100
    # points whose lot expired meanwhile are not given back
    member.redeem(100, "r2", now=at(10))
    late = loyalty.cancel_redemption(
        session=member.session, tenant=member.tenant, program="main", oneid=member.oneid,
        key="r2", reason="late", now=at(101),
    )  # fmt: skip
    assert (late.points, late.detail) == (0, {})
    assert member.history()[0].detail == {"lost_to_expiry": 100}
    assert member.verify() == []


def test_balance_is_summed_from_lots_never_stored(session: Session, member: Member) -> None:
    member.order(paid("o1", "100.00"))
    member.redeem(40, "r1", now=at(8))
    lots = session.scalars(select(Lot).where(Lot.member_id == member.view().member_id)).all()
    assert sum(lot.remaining for lot in lots) == member.spendable(at(8)) == 60
    mine = [lot.id for lot in lots]
    allocations = session.scalars(select(Allocation).where(Allocation.lot_id.in_(mine))).all()
    assert [(a.lot_id, a.points) for a in allocations] == [(lots[0].id, 40)]
    assert member.view(at(8)).balance.expiring[0][0] > T0
