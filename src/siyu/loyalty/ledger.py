"""The points ledger: idempotent entries, lots and allocations; balances summed from lots.

Every function here runs inside the caller's transaction with the member's account row
already locked (see `members.lock_member`), so reading lots and then allocating from them
cannot race another writer of the same member.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Result, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.loyalty.errors import InsufficientPointsError, LoyaltyError
from siyu.loyalty.expiry import expiry_of
from siyu.loyalty.models import Allocation, Entry, Lot
from siyu.loyalty.programs import ProgramRef
from siyu.loyalty.views import Balance, OpResult
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


def available_lots(
    session: Session, account: Account, now: datetime, *, exclude: Sequence[int] = ()
) -> list[list[int]]:
    """[lot id, remaining] of spendable lots, earliest expiry first (never-expiring last)."""
    rows = _AVAILABLE.rows(session, {"member": account.id, "now": now})
    return [[lot_id, remaining] for lot_id, remaining in rows if lot_id not in exclude]


def debt_of(session: Session, member_id: int) -> int:
    """Points the member owes (negative balance policy), summed from the journal."""
    return int(_DEBT.scalar(session, {"member": member_id}) or 0)


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
