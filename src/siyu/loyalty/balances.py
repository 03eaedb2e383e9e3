"""Reading the ledger: a member's balance summed from lots and the journal, and the
invariants `verify` checks (journal = lots − debt; 0 ≤ remaining ≤ amount)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.loyalty.journal import LIVE, debt_of
from siyu.loyalty.models import Allocation, Entry, Lot
from siyu.loyalty.views import Balance
from siyu.store.base import table

_ENTRY = table(Entry)
_LOT = table(Lot)
_ALLOCATION = table(Allocation)


def balance(session: Session, member_id: int, now: datetime) -> Balance:
    """Available, pending and owed points, summed from the lots and the journal."""
    rows = session.execute(
        select(_LOT.c.remaining, _LOT.c.activates_at, _LOT.c.expires_at).where(
            _LOT.c.member_id == member_id, _LOT.c.status.in_(LIVE), _LOT.c.remaining > 0
        )
    ).all()
    available = pending = 0
    expiring: dict[datetime, int] = {}
    for row in rows:
        if row.expires_at is not None and row.expires_at <= now:
            continue
        if row.activates_at > now:
            pending += row.remaining
        else:
            available += row.remaining
        if row.expires_at is not None:
            expiring[row.expires_at] = expiring.get(row.expires_at, 0) + row.remaining
    owed = debt_of(session, member_id)
    return Balance(
        available=available,
        pending=pending,
        debt=owed,
        spendable=available - owed,
        expiring=sorted(expiring.items())[:3],
    )


def verify(session: Session, member_id: int) -> list[str]:
    """Ledger invariants of one member; returns the violations found (none when sound)."""
    problems: list[str] = []
    taken = {
        int(lot): int(points)
        for lot, points in session.execute(
            select(_ALLOCATION.c.lot_id, func.sum(_ALLOCATION.c.points))
            .join(_LOT, _LOT.c.id == _ALLOCATION.c.lot_id)
            .where(_LOT.c.member_id == member_id)
            .group_by(_ALLOCATION.c.lot_id)
        )
    }
    lots = session.execute(
        select(_LOT.c.id, _LOT.c.amount, _LOT.c.remaining).where(_LOT.c.member_id == member_id)
    ).all()
    for lot in lots:
        if lot.remaining < 0 or lot.remaining > lot.amount:
            problems.append(f"lot {lot.id}: remaining {lot.remaining} outside 0..{lot.amount}")
        if lot.remaining != lot.amount - int(taken.get(lot.id, 0)):
            problems.append(
                f"lot {lot.id}: remaining {lot.remaining} != amount {lot.amount} "
                f"- allocated {taken.get(lot.id, 0)}"
            )
    points, debt = session.execute(
        select(
            func.coalesce(func.sum(_ENTRY.c.points), 0), func.coalesce(func.sum(_ENTRY.c.debt), 0)
        ).where(_ENTRY.c.member_id == member_id)
    ).one()
    held = sum(lot.remaining for lot in lots)
    if int(points) != held - int(debt):
        problems.append(f"journal sums to {points}, lots hold {held} and debt is {debt}")
    if int(debt) < 0:
        problems.append(f"debt is negative ({debt})")
    return problems
