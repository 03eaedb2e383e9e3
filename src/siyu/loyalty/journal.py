"""The journal's building blocks: entries, lots and allocations written through pre-built
statements, the locked `Account`, and allocation plans. `ledger` builds operations on them.

Every function here runs inside the caller's transaction with the member's account row
already locked (see `members.lock_member`), so reading lots and then allocating from them
cannot race another writer of the same member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.loyalty.models import Allocation, Entry, Lot
from siyu.loyalty.programs import ProgramRef
from siyu.loyalty.views import OpResult
from siyu.store.base import table
from siyu.store.fast import Fast

LIVE = ("pending", "active")  # lots that still hold points
_ENTRY = table(Entry)
_LOT = table(Lot)
_ALLOCATION = table(Allocation)
# Statements built once and run through `Fast`: each operation runs several, and
# SQLAlchemy's per-execution set-up would otherwise cost more than the work itself.
_TAKE = Fast(
    update(_LOT)
    .where(_LOT.c.id == bindparam("b_lot"))
    .values(remaining=_LOT.c.remaining - bindparam("b_take"))
)
_FIND = Fast(
    select(_ENTRY.c.id, _ENTRY.c.points, _ENTRY.c.member_id, _ENTRY.c.kind, _ENTRY.c.detail).where(
        _ENTRY.c.tenant_id == bindparam("tenant"),
        _ENTRY.c.program_id == bindparam("program"),
        _ENTRY.c.key == bindparam("key"),
    )
)
_AVAILABLE = Fast(
    select(_LOT.c.id, _LOT.c.remaining)
    .where(
        _LOT.c.member_id == bindparam("member"),
        or_(_LOT.c.status == "pending", _LOT.c.status == "active"),
        _LOT.c.remaining > 0,
        _LOT.c.activates_at <= bindparam("now"),
        or_(_LOT.c.expires_at.is_(None), _LOT.c.expires_at > bindparam("now")),
    )
    .order_by(_LOT.c.expires_at.is_(None), _LOT.c.expires_at, _LOT.c.id)
)
_DEBT = Fast(
    select(func.coalesce(func.sum(_ENTRY.c.debt), 0)).where(
        _ENTRY.c.member_id == bindparam("member"), _ENTRY.c.debt != 0
    )
)
_INSERT_ENTRY = Fast(
    insert(_ENTRY).returning(_ENTRY.c.id),
    keys=[
        "tenant_id",
        "program_id",
        "member_id",
        "key",
        "kind",
        "cause",
        "ref",
        "points",
        "debt",
        "reason",
        "actor",
        "detail",
        "at",
    ],
)
_INSERT_LOT = Fast(
    insert(_LOT),
    keys=[
        "tenant_id",
        "program_id",
        "member_id",
        "entry_id",
        "amount",
        "remaining",
        "status",
        "ref",
        "earned_at",
        "activates_at",
        "expires_at",
    ],
)
_INSERT_ALLOCATION = Fast(insert(_ALLOCATION), keys=["tenant_id", "entry_id", "lot_id", "points"])


@dataclass
class Account:
    """A member's account, locked for the current transaction."""

    program: ProgramRef
    id: int
    oneid: str
    tier: str
    tier_expires_at: datetime | None = None
    grace_until: datetime | None = None

    @property
    def tenant_id(self) -> int:
        return self.program.tenant.id


@dataclass
class Plan:
    """Allocations worked out in memory before the entry that makes them is written."""

    takes: list[tuple[int, int]] = field(default_factory=list)  # (lot id, points)

    @property
    def total(self) -> int:
        return sum(points for _lot, points in self.takes)

    def take(self, lots: list[list[int]], points: int) -> int:
        """Take up to `points` from `lots` ([id, remaining], in order); returns the shortfall."""
        left = points
        for lot in lots:
            if left <= 0:
                break
            taken = min(left, lot[1])
            if taken > 0:
                self.takes.append((lot[0], taken))
                lot[1] -= taken
                left -= taken
        return left


def inserted_id(result: Result[Any]) -> int:
    """The primary key of the row a single-row INSERT made."""
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None, "not a single-row INSERT"
    return int(key[0])


def find_entry(session: Session, program: ProgramRef, key: str) -> Any:
    """The entry an idempotency key already produced, if any."""
    return _FIND.one(session, {"tenant": program.tenant.id, "program": program.id, "key": key})


def replayed(row: Any, key: str) -> OpResult:
    return OpResult(
        key=key, points=row.points, replayed=True, entry_id=row.id, detail=row.detail or {}
    )


def write_entry(
    session: Session,
    account: Account,
    *,
    key: str,
    kind: str,
    cause: str,
    points: int,
    at: datetime,
    ref: str | None = None,
    debt: int = 0,
    reason: str | None = None,
    actor: str = "system",
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one journal line; returns its id."""
    return int(
        _INSERT_ENTRY.scalar(
            session,
            {
                "tenant_id": account.tenant_id,
                "program_id": account.program.id,
                "member_id": account.id,
                "key": key,
                "kind": kind,
                "cause": cause,
                "ref": ref,
                "points": points,
                "debt": debt,
                "reason": reason,
                "actor": actor,
                "detail": detail,
                "at": at,
            },
        )
    )


def add_lot(
    session: Session,
    account: Account,
    *,
    entry_id: int,
    points: int,
    earned_at: datetime,
    activates_at: datetime,
    expires_at: datetime | None,
    now: datetime,
    ref: str | None = None,
) -> None:
    """A new lot holding `points`; pending until `activates_at`."""
    _INSERT_LOT.run(
        session,
        {
            "tenant_id": account.tenant_id,
            "program_id": account.program.id,
            "member_id": account.id,
            "entry_id": entry_id,
            "amount": points,
            "remaining": points,
            "status": "pending" if activates_at > now else "active",
            "ref": ref,
            "earned_at": earned_at,
            "activates_at": activates_at,
            "expires_at": expires_at,
        },
    )


def apply_plan(session: Session, account: Account, entry_id: int, plan: Plan) -> None:
    """Write a plan's allocations and take the points off its lots."""
    if not plan.takes:
        return
    _INSERT_ALLOCATION.many(
        session,
        [
            {"tenant_id": account.tenant_id, "entry_id": entry_id, "lot_id": lot, "points": pts}
            for lot, pts in plan.takes
        ],
    )
    _TAKE.many(session, [{"b_lot": lot, "b_take": pts} for lot, pts in plan.takes])


def available_lots(
    session: Session, account: Account, now: datetime, *, exclude: Sequence[int] = ()
) -> list[list[int]]:
    """[lot id, remaining] of spendable lots, earliest expiry first (never-expiring last)."""
    rows = _AVAILABLE.rows(session, {"member": account.id, "now": now})
    return [[lot_id, remaining] for lot_id, remaining in rows if lot_id not in exclude]


def debt_of(session: Session, member_id: int) -> int:
    """Points the member owes (negative balance policy), summed from the journal."""
    return int(_DEBT.scalar(session, {"member": member_id}) or 0)
