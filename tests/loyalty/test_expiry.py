"""Expiry policies and the scheduler: activation, expiry, "points expiring" warnings."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from loyalty_support import SHANGHAI, at, enrolled, make_program, paid, refund
from siyu import loyalty
from siyu.loyalty.expiry import expiry_of
from siyu.loyalty.programs import ProgramRef
from siyu.loyalty.schemas import ExpiryPolicy, ProgramSettings
from siyu.tenants import TenantContext


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("policy", "earned", "expires"),
    [
        ({"kind": "rolling_days", "days": 30}, "2024-05-01T10:00", "2024-05-31T10:00"),
        ({"kind": "end_of_month", "months_after": 0}, "2024-05-01T10:00", "2024-06-01T00:00"),
        ({"kind": "end_of_month", "months_after": 12}, "2024-01-31T10:00", "2025-02-01T00:00"),
        ({"kind": "end_of_month", "months_after": 1}, "2024-12-15T10:00", "2025-02-01T00:00"),
        ({"kind": "end_of_year", "years_after": 0}, "2024-05-01T10:00", "2025-01-01T00:00"),
        ({"kind": "end_of_year", "years_after": 1}, "2024-12-31T23:00", "2026-01-01T00:00"),
        ({"kind": "annual_reset", "reset_month": 6, "reset_day": 30, "years_after": 0},
         "2024-05-01T10:00", "2024-07-01T00:00"),
        ({"kind": "annual_reset", "reset_month": 6, "reset_day": 30, "years_after": 0},
         "2024-07-01T10:00", "2025-07-01T00:00"),
        ({"kind": "annual_reset", "reset_month": 2, "reset_day": 29, "years_after": 1},
         "2024-03-01T10:00", "2026-03-01T00:00"),
    ],
)  # fmt: skip
def test_expiry_policies_in_the_tenants_zone(
    tenant: TenantContext, policy: dict[str, object], earned: str, expires: str
) -> None:
    program = ProgramRef(
        id=1, tenant=tenant, code="p", name="p", version=1, settings=ProgramSettings()
    )
    found = expiry_of(ExpiryPolicy.model_validate(policy), _local(earned), program)
    assert found == _local(expires)


def test_never_expiring_points(tenant: TenantContext) -> None:
    program = ProgramRef(
        id=1, tenant=tenant, code="p", name="p", version=1, settings=ProgramSettings()
    )
    assert expiry_of(ExpiryPolicy(kind="never"), _local("2024-05-01T10:00"), program) is None


def test_the_scheduler_expires_lots_once_and_emits_events(
    session: Session, tenant: TenantContext
) -> None:
    make_program(
        session, tenant, pending_days=7,
        expiry={"kind": "rolling_days", "days": 60, "warn_days": 30},
    )  # fmt: skip
    member = enrolled(session, tenant)
    member.order(paid("o1", "100.00"))
    member.order(paid("o2", "40.00", when=at(20)), now=at(20))
    member.redeem(30, "r1", now=at(30))  # from o1 (earliest expiry)
    early = loyalty.run_due(session=session, tenant=tenant, now=at(35))
    assert (early.activated, early.expiring_events, early.expired_points) == (2, 1, 0)
    assert loyalty.run_due(session=session, tenant=tenant, now=at(36)).expiring_events == 0
    due = loyalty.run_due(session=session, tenant=tenant, now=at(61))
    assert (due.expired_lots, due.expired_points, due.expiring_events) == (1, 70, 1)
    assert loyalty.run_due(session=session, tenant=tenant, now=at(62)).expired_lots == 0
    assert member.view(at(62)).balance.available == 40
    expiry = [e for e in member.history() if e.kind == "expire"]
    assert [(e.points, e.cause) for e in expiry] == [(-70, "expiry")]
    events = [
        (e.type, e.payload.get("points"))
        for e in loyalty.events_since(session=session, tenant=tenant)
    ]
    assert events.count(("points_expiring", 70)) == 1
    assert ("points_expired", 70) in events and ("points_expiring", 40) in events
    assert member.verify() == []


def test_points_past_expiry_are_not_spendable_before_the_scheduler_runs(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=0, expiry={"kind": "rolling_days", "days": 10})
    member = enrolled(session, tenant)
    member.order(paid("o1", "100.00"))
    assert member.spendable(at(9)) == 100
    assert member.spendable(at(10)) == 0
    with pytest.raises(loyalty.InsufficientPointsError):
        member.redeem(1, "r1", now=at(10))


def test_activation_repays_a_debt_from_points_that_became_available(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, pending_days=7, refund_policy="negative_balance")
    member = enrolled(session, tenant)
    member.order(paid("o1", "100.00"))
    member.redeem(100, "r1", now=at(8))
    member.refund(refund("rf1", "o1", "100.00"), now=at(9))
    member.order(paid("o2", "60.00", when=at(9)), now=at(9))
    assert member.view(at(10)).balance.debt == 100
    report = loyalty.run_due(session=session, tenant=tenant, now=at(17))
    assert report.activated == 2  # o1's lot (spent, still marked pending) and o2's
    balance = member.view(at(17)).balance
    assert (balance.available, balance.debt, balance.spendable) == (0, 40, -40)
    assert member.verify() == []
