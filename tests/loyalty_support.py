"""Helpers for the loyalty tests: persons through ingest, canonical orders, a program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from siyu import loyalty
from siyu.records import EventIn, OrderIn, RefundIn
from siyu.tenants import TenantContext
from support import customer, event, ingest, order

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI)  # a Wednesday


def at(days: float = 0, hours: float = 0) -> datetime:
    """T0 shifted by days/hours."""
    return T0 + timedelta(days=days, hours=hours)


def person(session: Session, tenant: TenantContext, external_id: str, **ids: str) -> str:
    """A person made the real way (a customer record through ingest); returns the OneID."""
    results = ingest(session, tenant, customer("pos", external_id, ids or None))
    oneid = results[0].oneid
    assert oneid is not None
    return oneid


def paid(
    order_id: str,
    amount: str,
    *,
    customer_id: str = "c1",
    when: datetime = T0,
    source: str = "pos",
    status: str = "paid",
    total: str | None = None,
    **fields: Any,
) -> OrderIn:
    """A canonical order paying `amount` yuan (of a list price `total`, default the same)."""
    data = order(
        source, order_id, customer_id=customer_id, total=total or amount, paid=amount,
        status=status, created_at=when.isoformat(), paid_at=when.isoformat(), **fields,
    )  # fmt: skip
    return OrderIn.model_validate(data)


def refund(refund_id: str, order_id: str, amount: str, *, source: str = "pos") -> RefundIn:
    return RefundIn.model_validate(
        {
            "source": source,
            "refund_id": refund_id,
            "order_id": order_id,
            "amount": amount,
            "created_at": T0.isoformat(),
        }
    )


def an_event(event_id: str, type_: str, when: datetime, customer_id: str = "c1") -> EventIn:
    return EventIn.model_validate(
        event("pos", event_id, customer_id=customer_id, type=type_, occurred_at=when.isoformat())
    )


def make_program(
    session: Session, tenant: TenantContext, code: str = "main", **settings: Any
) -> str:
    """A program with the given settings (defaults: 7-day window, no auto-enrol)."""
    loyalty.create_program(
        session=session,
        tenant=tenant,
        code=code,
        name=code.title(),
        settings=loyalty.ProgramSettings.model_validate(settings),
    )
    return code


@dataclass
class Member:
    """A person enrolled in a program, with shortcuts to the service calls tests make."""

    session: Session
    tenant: TenantContext
    program: str
    oneid: str

    def view(self, now: datetime = T0) -> loyalty.MemberView:
        return loyalty.get_member(
            session=self.session, tenant=self.tenant, program=self.program, oneid=self.oneid,
            now=now,
        )  # fmt: skip

    def spendable(self, now: datetime = T0) -> int:
        return self.view(now).balance.spendable

    def order(self, order: OrderIn, now: datetime = T0) -> loyalty.OrderOutcome:
        outcomes = loyalty.apply_order(
            session=self.session, tenant=self.tenant, order=order, oneid=self.oneid, now=now
        )
        return next(o for o in outcomes if o.program == self.program)

    def refund(self, refund: RefundIn, now: datetime = T0) -> loyalty.OrderOutcome:
        outcomes = loyalty.apply_refund(
            session=self.session, tenant=self.tenant, refund=refund, oneid=self.oneid, now=now
        )
        return next(o for o in outcomes if o.program == self.program)

    def redeem(self, points: int, key: str, now: datetime = T0) -> loyalty.OpResult:
        return loyalty.redeem_points(
            session=self.session, tenant=self.tenant, program=self.program, oneid=self.oneid,
            points=points, key=key, now=now,
        )  # fmt: skip

    def adjust(self, points: int, now: datetime = T0, reason: str = "test") -> loyalty.OpResult:
        return loyalty.adjust_points(
            session=self.session, tenant=self.tenant, program=self.program, oneid=self.oneid,
            points=points, reason=reason, actor="tester", now=now,
        )  # fmt: skip

    def history(self) -> list[loyalty.EntryView]:
        return loyalty.member_history(
            session=self.session, tenant=self.tenant, program=self.program, oneid=self.oneid
        )

    def verify(self) -> list[str]:
        return loyalty.verify_member(
            session=self.session, tenant=self.tenant, program=self.program, oneid=self.oneid
        )


def enrolled(
    session: Session,
    tenant: TenantContext,
    external_id: str = "c1",
    program: str = "main",
    **ids: str,
) -> Member:
    """A new person, enrolled in `program` at T0."""
    oneid = person(session, tenant, external_id, **ids)
    loyalty.enrol_member(session=session, tenant=tenant, program=program, oneid=oneid, now=T0)
    return Member(session, tenant, program, oneid)
