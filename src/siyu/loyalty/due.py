"""Scheduled work (`siyu loyalty run-due`, or a worker): merge memberships of merged
persons, activate lots whose return window ended, expire lots, warn of points expiring
soon, and evaluate tier periods. Every step is replay-safe and bounded by `limit`."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu import identity
from siyu.loyalty import cursors, events, journal, ledger, tiers
from siyu.loyalty.members import lock_member, lock_member_id, member_row
from siyu.loyalty.models import Entry, Lot
from siyu.loyalty.programs import ProgramRef, list_programs
from siyu.loyalty.views import DueReport
from siyu.store.base import table
from siyu.tenants import TenantContext

_LOT = table(Lot)
_ENTRY = table(Entry)


def sync_merges(
    *, session: Session, tenant: TenantContext, now: datetime, limit: int = 1000
) -> int:
    """Merge the memberships of persons identity merged since the last run."""
    cursor = cursors.take(session, tenant.id, "merges")
    merges = identity.merges_since(
        session=session, tenant=tenant, after=int(cursor.get("id", 0)), limit=limit
    )
    if not merges:
        return 0
    programs = list_programs(session=session, tenant=tenant)
    for merge in merges:
        for program in programs:
            lock_member(session, program, merge.kept_oneid, now=now)
    cursors.move(session, tenant.id, "merges", {"id": merges[-1].id})
    return len(merges)


def run_due(
    *, session: Session, tenant: TenantContext, now: datetime, limit: int = 10_000
) -> DueReport:
    """Everything that is due at `now` for the tenant's programs (call again while busy)."""
    report = DueReport(merges=sync_merges(session=session, tenant=tenant, now=now))
    for program in list_programs(session=session, tenant=tenant):
        report.activated += _activate(session, program, now, limit)
        _expire(session, program, now, limit, report)
        report.expiring_events += _warn(session, program, now, limit)
        for member_id in tiers.due_members(session, program, now, limit):
            account = lock_member_id(session, program, member_id, now=now)
            if account is None:
                continue
            report.tiers_evaluated += 1
            for action in tiers.evaluate(session, account, now=now):
                report.tier_changes[action] = report.tier_changes.get(action, 0) + 1
    return report


def _activate(session: Session, program: ProgramRef, now: datetime, limit: int) -> int:
    """Pending lots whose return window has ended become active; debts are repaid."""
    due = session.execute(
        select(_LOT.c.id, _LOT.c.member_id)
        .where(
            _LOT.c.tenant_id == program.tenant.id,
            _LOT.c.program_id == program.id,
            _LOT.c.status == "pending",
            _LOT.c.activates_at <= now,
        )
        .limit(limit)
    ).all()
    if not due:
        return 0
    session.execute(
        update(_LOT)
        .where(_LOT.c.id.in_([row.id for row in due]), _LOT.c.status == "pending")
        .values(status="active")
    )
    members = sorted({row.member_id for row in due})
    owing = session.scalars(
        select(_ENTRY.c.member_id)
        .where(_ENTRY.c.member_id.in_(members), _ENTRY.c.debt != 0)
        .group_by(_ENTRY.c.member_id)
        .having(func.sum(_ENTRY.c.debt) > 0)
    ).all()
    for member_id in owing:
        account = lock_member_id(session, program, member_id, now=now)
        if account is not None:
            ledger.repay(session, account, now=now)
    return len(due)


def _expire(
    session: Session, program: ProgramRef, now: datetime, limit: int, report: DueReport
) -> None:
    """Expire lots past their expiry: one entry per lot, one event per member and day."""
    due = session.execute(
        select(_LOT.c.member_id, _LOT.c.id)
        .where(
            _LOT.c.tenant_id == program.tenant.id,
            _LOT.c.program_id == program.id,
            _LOT.c.status.in_(journal.LIVE),
            _LOT.c.expires_at <= now,
        )
        .order_by(_LOT.c.member_id, _LOT.c.id)
        .limit(limit)
    ).all()
    by_member: dict[int, list[int]] = defaultdict(list)
    for row in due:
        by_member[row.member_id].append(row.id)
    for member_id, lot_ids in by_member.items():
        account = lock_member_id(session, program, member_id, now=now)
        if account is None:
            continue
        # Re-read under the lock: a concurrent spend may have changed what is left.
        lots = session.execute(
            select(_LOT.c.id, _LOT.c.remaining).where(
                _LOT.c.id.in_(lot_ids), _LOT.c.status.in_(journal.LIVE)
            )
        ).all()
        expired = sum(
            ledger.expire_lot(session, account, lot.id, lot.remaining, now) for lot in lots
        )
        report.expired_lots += len(lots)
        report.expired_points += expired
        if expired:
            day = now.astimezone(program.tenant.zone).date().isoformat()
            events.emit(
                session, account, "points_expired", key=f"expired:{account.id}:{day}", at=now,
                payload={"points": expired},
            )  # fmt: skip


def _warn(session: Session, program: ProgramRef, now: datetime, limit: int) -> int:
    """A "points expiring in N days" event per member and expiry date, once."""
    days = program.settings.expiry.warn_days
    if not days:
        return 0
    rows = session.execute(
        select(_LOT.c.member_id, _LOT.c.expires_at, func.sum(_LOT.c.remaining))
        .where(
            _LOT.c.tenant_id == program.tenant.id,
            _LOT.c.program_id == program.id,
            _LOT.c.status.in_(journal.LIVE),
            _LOT.c.remaining > 0,
            _LOT.c.expires_at > now,
            _LOT.c.expires_at <= now + timedelta(days=days),
        )
        .group_by(_LOT.c.member_id, _LOT.c.expires_at)
        .limit(limit)
    ).all()
    sent = 0
    for member_id, expires_at, points in rows:
        row = member_row(session, member_id)
        account = journal.Account(program=program, id=member_id, oneid=row.oneid, tier=row.tier)
        local = expires_at.astimezone(program.tenant.zone)
        sent += events.emit(
            session, account, "points_expiring", key=f"expiring:{member_id}:{local.isoformat()}",
            at=now, payload={"points": int(points), "expires_at": expires_at.isoformat(),
                             "days_left": (expires_at - now).days},
        )  # fmt: skip
    return sent
