"""Orders and refunds reaching loyalty: points, growth, tiers and coupons.

The integration point: `apply_order`, `apply_refund` (and `interactions.apply_event`) take
the canonical record (siyu.records) and the OneID identity gave it, in the caller's
transaction.
Every effect is keyed by the business event, so applying a record again changes nothing.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from siyu.loyalty import coupons, journal, ledger, tiers
from siyu.loyalty.journal import Account
from siyu.loyalty.members import enrol, lock_member, lock_member_id
from siyu.loyalty.models import Entry, Growth
from siyu.loyalty.programs import ProgramRef, programs_for_source
from siyu.loyalty.rules import order_earning, proportional
from siyu.loyalty.views import OrderOutcome
from siyu.records import OrderIn, RefundIn
from siyu.store.base import table, utcnow
from siyu.store.fast import Fast
from siyu.tenants import TenantContext

EARNING_STATUSES = frozenset({"paid", "shipped", "completed", "partially_refunded"})
_ENTRY = table(Entry)
_GROWTH = table(Growth)
_OF_REF = Fast(
    select(
        _ENTRY.c.key,
        _ENTRY.c.kind,
        _ENTRY.c.points,
        _ENTRY.c.member_id,
        _ENTRY.c.detail,
        _ENTRY.c.at,
    )
    .where(
        _ENTRY.c.tenant_id == bindparam("tenant"),
        _ENTRY.c.program_id == bindparam("program"),
        _ENTRY.c.ref == bindparam("ref"),
    )
    .order_by(_ENTRY.c.id)
)


def order_ref(source: str, order_id: str) -> str:
    return f"order:{source}/{order_id}"


def apply_order(
    *,
    session: Session,
    tenant: TenantContext,
    order: OrderIn,
    oneid: str | None,
    now: datetime | None = None,
) -> list[OrderOutcome]:
    """Award (or, for a refunded order, reverse) points and growth for an order, enrol by
    rule, and attribute its coupons; one outcome per program covering its source."""
    now = now or utcnow()
    return [
        _order(session, program, order, oneid, now)
        for program in programs_for_source(session=session, tenant=tenant, source=order.source)
    ]


def _order(
    session: Session, program: ProgramRef, order: OrderIn, oneid: str | None, now: datetime
) -> OrderOutcome:
    outcome = OrderOutcome(program=program.code, member=False)
    if oneid is None:
        outcome.note = "the order has no OneID"
        return outcome
    paid = order.status in EARNING_STATUSES
    account = lock_member(session, program, oneid, now=now)
    if account is None:
        if not (paid and program.settings.auto_enrol_on_paid_order):
            outcome.note = "not a member"
            return outcome
        account, outcome.enrolled = enrol(
            session, program, oneid, via="rule:first_paid_order", now=now,
            enrolled_at=order.paid_at or order.created_at,
        )  # fmt: skip
    outcome.member = True
    ref = order_ref(order.source, order.order_id)
    if paid:
        _earn_order(session, account, order, ref, now, outcome)
        outcome.coupons = coupons.attribute_order(
            session, program.tenant, order, account.oneid, now=now
        )
    elif order.status == "refunded":
        reversed_ = _refund(session, account, ref, key=f"{ref}:refunded", amount=None, now=now)
        outcome.reversed = reversed_
        coupons.release_order(session, program.tenant, ref, now=now)
    return outcome


def _entries(session: Session, program: ProgramRef, ref: str) -> dict[str, Any]:
    """Every journal entry of one order, by key (read under the member's lock)."""
    rows = _OF_REF.rows(session, {"tenant": program.tenant.id, "program": program.id, "ref": ref})
    return {row.key: row for row in rows}


def _earn_order(
    session: Session,
    account: Account,
    order: OrderIn,
    ref: str,
    now: datetime,
    outcome: OrderOutcome,
) -> None:
    program = account.program
    key = f"{ref}:earn"
    known = _entries(session, program, ref)
    if key in known:
        outcome.replayed = True
        outcome.earned = known[key].points
        return
    at = order.paid_at or order.created_at
    policy = program.settings.tiers
    tier = policy.tiers[policy.index(account.tier)]
    earning = order_earning(
        program.settings, order, tier, at.astimezone(program.tenant.zone).date()
    )
    points = earning.points
    cap = program.settings.max_order_points_per_day
    if cap is not None:
        points = min(points, max(cap - _earned_on_day(session, account, "order", at), 0))
    detail = {
        "paid": str(order.paid_amount),
        "eligible": str(earning.eligible),
        "base": earning.base,
        "multiplier": str(earning.multiplier),
        "growth": earning.growth,
    }
    result = ledger.earn(
        session, account, points=points, key=key, cause="order", ref=ref, at=at, now=now,
        detail=detail, checked=True,
    )  # fmt: skip
    outcome.earned = result.points
    if tiers.add_growth(
        session, account, points=earning.growth, key=key, cause="order", ref=ref, at=at
    ):
        outcome.growth = earning.growth
        tiers.check_upgrade(session, account, now=now)
    if any(row.kind == "reverse" for row in known.values()):
        # Refunds recorded before the order earned: reverse their share now.
        outcome.reversed = _refund(
            session, account, ref, key=f"{ref}:catch-up", amount=Decimal(0), now=now
        )


def _earned_on_day(session: Session, account: Account, cause: str, at: datetime) -> int:
    """Points the member already earned from `cause` on the local day of `at`."""
    start = datetime.combine(at.astimezone(account.program.tenant.zone).date(), time(),
                             tzinfo=account.program.tenant.zone)  # fmt: skip
    total = session.scalar(
        select(func.coalesce(func.sum(_ENTRY.c.points), 0)).where(
            _ENTRY.c.member_id == account.id,
            _ENTRY.c.kind == "earn",
            _ENTRY.c.cause == cause,
            _ENTRY.c.at >= start,
            _ENTRY.c.at < start + timedelta(days=1),
        )
    )
    return int(total or 0)


def _refund(
    session: Session,
    account: Account,
    ref: str,
    *,
    key: str,
    amount: Decimal | None,
    now: datetime,
) -> int:
    """Bring the order's reversal up to the refunded share; `amount` None = the rest.

    Returns the points reversed now. Without an earn yet, the refund is remembered (a
    0-point entry) and reversed when the order earns.
    """
    program = account.program
    known = _entries(session, program, ref)
    if key in known:
        return 0
    earn = known.get(f"{ref}:earn")
    refunds = [row for row in known.values() if row.kind == "reverse"]
    before = sum((Decimal(r.detail["refund"]) for r in refunds if r.detail), Decimal(0))
    if earn is None:
        if amount is None:  # a refunded order never seen paid: nothing earned, nothing owed
            return 0
        ledger.reverse(
            session, account, points=0, key=key, cause="refund", ref=ref, now=now,
            detail={"refund": str(amount)},
        )  # fmt: skip
        return 0
    paid = Decimal(earn.detail["paid"])
    this = max(paid - before, Decimal(0)) if amount is None else amount
    target = proportional(earn.points, before + this, paid)
    done = -sum(r.points for r in refunds)
    result = ledger.reverse(
        session, account, points=max(target - done, 0), key=key, cause="refund", ref=ref,
        now=now, detail={"refund": str(this), "refunded_total": str(before + this)},
    )  # fmt: skip
    growth = proportional(int(earn.detail.get("growth", 0)), before + this, paid)
    growth_done = -int(
        session.scalar(
            select(func.coalesce(func.sum(_GROWTH.c.points), 0)).where(
                _GROWTH.c.tenant_id == program.tenant.id,
                _GROWTH.c.program_id == program.id,
                _GROWTH.c.ref == ref,
                _GROWTH.c.points < 0,
            )
        )
        or 0
    )
    # Dated like the order's growth: an order's net growth always falls in one window.
    tiers.add_growth(
        session, account, points=-(growth - growth_done), key=key, cause="refund", ref=ref,
        at=earn.at,
    )  # fmt: skip
    return -result.points


def apply_refund(
    *,
    session: Session,
    tenant: TenantContext,
    refund: RefundIn,
    oneid: str | None = None,
    now: datetime | None = None,
) -> list[OrderOutcome]:
    """Reverse points and growth in proportion to a refund (the order's OneID helps only
    when the refund arrives before the order earned)."""
    now = now or utcnow()
    ref = order_ref(refund.source, refund.order_id)
    key = f"refund:{refund.source}/{refund.refund_id}"
    outcomes = []
    for program in programs_for_source(session=session, tenant=tenant, source=refund.source):
        outcome = OrderOutcome(program=program.code, member=False)
        earn = journal.find_entry(session, program, f"{ref}:earn")
        account = None
        if earn is not None:
            account = lock_member_id(session, program, earn.member_id, now=now)
        elif oneid is not None:
            account = lock_member(session, program, oneid, now=now)
        if account is not None:
            outcome.member = True
            outcome.reversed = _refund(
                session, account, ref, key=key, amount=refund.amount, now=now
            )
        outcomes.append(outcome)
    return outcomes
