"""The points ledger's operations: earn, spend (earliest expiry first), repay debt,
reverse (refunds, by policy), give back (cancelled redemptions) and expire; all replay-safe
by idempotency key, inside the caller's transaction with the member's account locked."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.loyalty.errors import InsufficientPointsError, LoyaltyError
from siyu.loyalty.expiry import expiry_of
from siyu.loyalty.journal import (
    LIVE,
    Account,
    Plan,
    add_lot,
    apply_plan,
    available_lots,
    debt_of,
    find_entry,
    replayed,
    write_entry,
)
from siyu.loyalty.models import Allocation, Lot
from siyu.loyalty.views import OpResult
from siyu.store.base import table

_LOT = table(Lot)
_ALLOCATION = table(Allocation)


def earn(
    session: Session,
    account: Account,
    *,
    points: int,
    key: str,
    cause: str,
    at: datetime,
    now: datetime,
    ref: str | None = None,
    pending: bool = True,
    expires_at: datetime | None | Literal["policy"] = "policy",
    reason: str | None = None,
    actor: str = "system",
    detail: dict[str, Any] | None = None,
    checked: bool = False,
) -> OpResult:
    """Record an earn and its lot (none for 0 points); a replayed key earns nothing more.

    The lot expires by the program's policy unless `expires_at` is given (migrations);
    `checked` says the caller already looked the key up under the lock."""
    found = None if checked else find_entry(session, account.program, key)
    if found is not None:
        return replayed(found, key)
    if points < 0:
        raise LoyaltyError("an earn cannot be negative")
    settings = account.program.settings
    entry_id = write_entry(
        session, account, key=key, kind="earn", cause=cause, points=points, at=at, ref=ref,
        reason=reason, actor=actor, detail={**(detail or {}), "earned_at": at.isoformat()},
    )  # fmt: skip
    if points:
        activates = at + timedelta(days=settings.pending_days) if pending else at
        if expires_at == "policy":
            expires_at = expiry_of(settings.expiry, at, account.program)
        add_lot(
            session, account, entry_id=entry_id, points=points, earned_at=at,
            activates_at=activates, expires_at=expires_at, now=now, ref=ref,
        )  # fmt: skip
        # Debts only arise under the negative balance policy; spends and the scheduler
        # settle any left from an earlier policy.
        if activates <= now and settings.refund_policy == "negative_balance":
            repay(session, account, now=now)
    return OpResult(key=key, points=points, entry_id=entry_id, detail=detail or {})


def repay(
    session: Session,
    account: Account,
    *,
    now: datetime,
    lots: list[list[int]] | None = None,
    owed: int | None = None,
) -> int:
    """Settle debt from spendable lots (earliest expiry first); returns points repaid."""
    owed = debt_of(session, account.id) if owed is None else owed
    if owed <= 0:
        return 0
    lots = available_lots(session, account, now) if lots is None else lots
    plan = Plan()
    plan.take(lots, owed)
    if not plan.takes:
        return 0
    entry_id = write_entry(
        session, account, key=f"repay:{uuid.uuid4().hex}", kind="repay", cause="debt",
        points=0, debt=-plan.total, at=now,
    )  # fmt: skip
    apply_plan(session, account, entry_id, plan)
    return plan.total


def spend(
    session: Session,
    account: Account,
    *,
    points: int,
    key: str,
    cause: str,
    now: datetime,
    kind: str = "spend",
    ref: str | None = None,
    reason: str | None = None,
    actor: str = "system",
    detail: dict[str, Any] | None = None,
) -> OpResult:
    """Spend points, earliest-expiring lots first; all or nothing; replay-safe."""
    found = find_entry(session, account.program, key)
    if found is not None:
        return replayed(found, key)
    if points <= 0:
        raise LoyaltyError("points to spend must be positive")
    lots = available_lots(session, account, now)
    owed = debt_of(session, account.id)
    if owed > 0:
        owed -= repay(session, account, now=now, lots=lots, owed=owed)
    spendable = sum(remaining for _id, remaining in lots) - owed
    if spendable < points:
        raise InsufficientPointsError(
            f"member {account.oneid} has {max(spendable, 0)} spendable points, {points} asked"
        )
    plan = Plan()
    plan.take(lots, points)
    entry_id = write_entry(
        session, account, key=key, kind=kind, cause=cause, points=-points, at=now, ref=ref,
        reason=reason, actor=actor, detail=detail,
    )  # fmt: skip
    apply_plan(session, account, entry_id, plan)
    return OpResult(key=key, points=-points, entry_id=entry_id, detail=detail or {})


def reverse(
    session: Session,
    account: Account,
    *,
    points: int,
    key: str,
    cause: str,
    ref: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> OpResult:
    """Take back `points` earned under `ref`: from its own lots first, then by the program's
    refund policy (claw back from other lots, or owe them as a negative balance)."""
    found = find_entry(session, account.program, key)
    if found is not None:
        return replayed(found, key)
    own = [
        [row.id, row.remaining]
        for row in session.execute(
            select(_LOT.c.id, _LOT.c.remaining)
            .where(
                _LOT.c.member_id == account.id,
                _LOT.c.ref == ref,
                _LOT.c.status.in_(LIVE),
                _LOT.c.remaining > 0,
            )
            .order_by(_LOT.c.id)
        )
    ]
    plan = Plan()
    short = plan.take(own, points)
    owed = written_off = 0
    if short and account.program.settings.refund_policy == "negative_balance":
        owed = short
    elif short:
        others = available_lots(session, account, now, exclude=[lot[0] for lot in own])
        written_off = plan.take(others, short)
    info = {**(detail or {}), "written_off": written_off} if written_off else detail
    entry_id = write_entry(
        session, account, key=key, kind="reverse", cause=cause, ref=ref,
        points=-(plan.total + owed), debt=owed, at=now, detail=info,
    )  # fmt: skip
    apply_plan(session, account, entry_id, plan)
    emptied = [lot_id for lot_id, remaining in own if remaining == 0]
    if emptied:
        session.execute(update(_LOT).where(_LOT.c.id.in_(emptied)).values(status="reversed"))
    return OpResult(key=key, points=-(plan.total + owed), entry_id=entry_id, detail=info or {})


def give_back(
    session: Session,
    account: Account,
    *,
    spend_key: str,
    key: str,
    cause: str,
    now: datetime,
    reason: str | None = None,
    actor: str = "system",
) -> OpResult:
    """Return the points of an earlier spend to the lots they came from; points of lots that
    have expired since are not returned (they would have expired anyway)."""
    found = find_entry(session, account.program, key)
    if found is not None:
        return replayed(found, key)
    spent = find_entry(session, account.program, spend_key)
    if spent is None or spent.points >= 0:
        raise LoyaltyError(f"no spend with key {spend_key!r} to give back")
    rows = session.execute(
        select(_LOT.c.id, _LOT.c.member_id, _LOT.c.status, _LOT.c.expires_at, _ALLOCATION.c.points)
        .join(_LOT, _LOT.c.id == _ALLOCATION.c.lot_id)
        .where(_ALLOCATION.c.entry_id == spent.id)
        .order_by(_ALLOCATION.c.id)
    ).all()
    back = Plan()
    fresh: list[tuple[int, datetime | None]] = []
    lost = 0
    for row in rows:
        if row.expires_at is not None and row.expires_at <= now:
            lost += row.points
        elif row.member_id == account.id and row.status in LIVE:
            back.takes.append((row.id, -row.points))
        else:  # the lot moved with a membership merge: a new lot with its expiry
            fresh.append((row.points, row.expires_at))
    returned = -back.total + sum(points for points, _ in fresh)
    entry_id = write_entry(
        session, account, key=key, kind="return", cause=cause, ref=spend_key, points=returned,
        at=now, reason=reason, actor=actor, detail={"lost_to_expiry": lost} if lost else None,
    )  # fmt: skip
    apply_plan(session, account, entry_id, back)
    for points, expires_at in fresh:
        add_lot(
            session, account, entry_id=entry_id, points=points, earned_at=now,
            activates_at=now, expires_at=expires_at, now=now, ref=spend_key,
        )  # fmt: skip
    return OpResult(key=key, points=returned, entry_id=entry_id)


def expire_lot(
    session: Session, account: Account, lot_id: int, remaining: int, now: datetime
) -> int:
    """Expire what is left of a lot (one entry per lot: replay-safe); returns points expired."""
    if remaining > 0 and find_entry(session, account.program, f"expire:{lot_id}") is None:
        entry_id = write_entry(
            session, account, key=f"expire:{lot_id}", kind="expire", cause="expiry",
            points=-remaining, at=now,
        )  # fmt: skip
        apply_plan(session, account, entry_id, Plan([(lot_id, remaining)]))
    else:
        remaining = 0
    session.execute(update(_LOT).where(_LOT.c.id == lot_id).values(status="expired"))
    return remaining
