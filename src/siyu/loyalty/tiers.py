"""Tiers driven by growth value: real-time upgrade, period-end retention (保级), grace,
downgrade by one tier or by recalculation, manual set and lock. Rules: docs/loyalty.md."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.loyalty import coupons, events
from siyu.loyalty.journal import Account, inserted_id
from siyu.loyalty.models import Growth, Member, TierChange
from siyu.loyalty.programs import ProgramRef
from siyu.loyalty.schemas import TierPolicy
from siyu.loyalty.views import TierStatus
from siyu.store.base import table
from siyu.store.fast import Fast

_GROWTH = table(Growth)
_MEMBER = table(Member)
_INSERT = Fast(
    insert(_GROWTH),
    keys=["tenant_id", "program_id", "member_id", "key", "cause", "ref", "points", "at"],
)
_SUM = Fast(
    select(func.coalesce(func.sum(_GROWTH.c.points), 0)).where(
        _GROWTH.c.member_id == bindparam("member"),
        _GROWTH.c.at > bindparam("start"),
        _GROWTH.c.at <= bindparam("end"),
    )
)


def add_growth(
    session: Session,
    account: Account,
    *,
    points: int,
    key: str,
    cause: str,
    at: datetime,
    ref: str | None = None,
) -> bool:
    """Append a growth entry (False: nothing to add). Growth is written with the points
    entry of the same key, and callers check that key on the journal first; the unique
    key still refuses a second write."""
    if points == 0:
        return False
    _INSERT.run(
        session,
        {
            "tenant_id": account.tenant_id,
            "program_id": account.program.id,
            "member_id": account.id,
            "key": key,
            "cause": cause,
            "ref": ref,
            "points": points,
            "at": at,
        },
    )
    return True


def growth_between(session: Session, member_id: int, start: datetime, end: datetime) -> int:
    """Growth value earned in (start, end]."""
    return int(_SUM.scalar(session, {"member": member_id, "start": start, "end": end}) or 0)


def add_months(moment: datetime, months: int, program: ProgramRef) -> datetime:
    """The same local wall time `months` later (clamped to the month's last day)."""
    local = moment.astimezone(program.tenant.zone)
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day).astimezone(UTC)


def _year_start(year: int, program: ProgramRef) -> datetime:
    return datetime(year, 1, 1, tzinfo=program.tenant.zone).astimezone(UTC)


def window_start(policy: TierPolicy, end: datetime, program: ProgramRef) -> datetime:
    """Where the evaluation window ending at `end` starts (exclusive)."""
    if policy.window == "rolling_12_months":
        return add_months(end, -12, program)
    local = (end - timedelta(microseconds=1)).astimezone(program.tenant.zone)
    return _year_start(local.year, program) - timedelta(microseconds=1)


def period_end(policy: TierPolicy, reached: datetime, program: ProgramRef) -> datetime:
    """When a tier reached at `reached` comes up for retention: 12 months later (rolling),
    or at the end of the next calendar year (calendar year)."""
    if policy.window == "rolling_12_months":
        return add_months(reached, 12, program)
    return _year_start(reached.astimezone(program.tenant.zone).year + 2, program)


def record_change(
    session: Session,
    account: Account,
    *,
    action: str,
    from_tier: str | None,
    to_tier: str,
    growth: int,
    at: datetime,
    reason: str | None = None,
    actor: str = "system",
    event: str | None = None,
) -> int:
    """Tier history row plus the outbox event journeys trigger on; returns the row's id."""
    change_id = inserted_id(
        session.execute(
            insert(table(TierChange)).values(
                tenant_id=account.tenant_id,
                program_id=account.program.id,
                member_id=account.id,
                action=action,
                from_tier=from_tier,
                to_tier=to_tier,
                growth=growth,
                reason=reason,
                actor=actor,
                at=at,
            )
        )
    )
    if event is not None:
        events.emit(
            session, account, event, key=f"tier:{change_id}", at=at,
            payload={"from": from_tier, "to": to_tier, "growth": growth, "reason": reason},
        )  # fmt: skip
    return change_id


def _set(session: Session, member_id: int, **values: Any) -> None:
    session.execute(update(_MEMBER).where(_MEMBER.c.id == member_id).values(**values))


def _row(session: Session, member_id: int) -> Row[Any]:
    return session.execute(select(_MEMBER).where(_MEMBER.c.id == member_id)).one()


def check_upgrade(session: Session, account: Account, *, now: datetime) -> str | None:
    """Real-time check after growth: upgrade, or keep the tier when in grace; new tier."""
    policy = account.program.settings.tiers
    current = policy.index(account.tier)
    in_grace = account.grace_until is not None and account.tier_expires_at is not None
    if current == len(policy.tiers) - 1 and not in_grace:
        return None  # at the top and not in grace: nothing can change now
    growth = growth_between(session, account.id, window_start(policy, now, account.program), now)
    best = max(i for i, tier in enumerate(policy.tiers) if tier.threshold <= growth)
    if best > current:
        target = policy.tiers[best].code
        expires = period_end(policy, now, account.program)
        _set(
            session, account.id, tier=target, tier_since=now, grace_until=None,
            tier_expires_at=expires,
        )  # fmt: skip
        change = record_change(
            session, account, action="upgrade", from_tier=account.tier, to_tier=target,
            growth=growth, at=now, event="tier_upgraded",
        )  # fmt: skip
        account.tier, account.tier_expires_at, account.grace_until = target, expires, None
        for benefit in policy.tiers[best].benefits:  # 升级礼
            if benefit.kind == "upgrade_gift" and benefit.value:
                coupons.issue(
                    session=session, tenant=account.program.tenant, template=benefit.value,
                    oneid=account.oneid, key=f"gift:upgrade:{change}:{benefit.code}",
                    via=f"benefit:{benefit.code}", now=now,
                )  # fmt: skip
        return target
    if in_grace and account.tier_expires_at is not None:
        end = account.tier_expires_at
        kept = growth_between(session, account.id, window_start(policy, end, account.program), now)
        if kept >= policy.tiers[current].keep:
            _retain(session, account, account.tier, kept, now=now, start=end)
            return account.tier
    return None


def _retain(
    session: Session, account: Account, tier: str, growth: int, *, now: datetime,
    start: datetime, reason: str | None = None,
) -> None:  # fmt: skip
    expires = add_months(start, 12, account.program)
    _set(session, account.id, grace_until=None, tier_expires_at=expires)
    account.tier_expires_at, account.grace_until = expires, None
    record_change(
        session, account, action="retain", from_tier=tier, to_tier=tier, growth=growth,
        at=now, reason=reason, event="tier_retained",
    )  # fmt: skip


def evaluate(session: Session, account: Account, *, now: datetime) -> list[str]:
    """Period-end evaluation of a locked member: retain, grace, or downgrade (repeated while
    periods ended in the past, e.g. after downtime); returns the actions taken."""
    policy = account.program.settings.tiers
    actions: list[str] = []
    for _ in range(len(policy.tiers) + 2):
        row = _row(session, account.id)
        due = row.grace_until or row.tier_expires_at
        if due is None or due > now:
            break
        end = row.tier_expires_at or due
        growth = growth_between(
            session, account.id, window_start(policy, end, account.program), due
        )
        current = policy.index(row.tier)
        if row.tier_locked_until is not None and row.tier_locked_until > now:
            _retain(session, account, row.tier, growth, now=now, start=end, reason="tier locked")
            actions.append("retain")
        elif growth >= policy.tiers[current].keep:
            _retain(session, account, row.tier, growth, now=now, start=end)
            actions.append("retain")
        elif policy.grace_days and row.grace_until is None:
            _set(session, account.id, grace_until=end + timedelta(days=policy.grace_days))
            record_change(
                session, account, action="grace", from_tier=row.tier, to_tier=row.tier,
                growth=growth, at=now, event="tier_grace_started",
            )  # fmt: skip
            actions.append("grace")
        else:
            if policy.downgrade == "one_tier":
                lower = max(current - 1, 0)
            else:
                lower = max(i for i in range(current + 1) if policy.tiers[i].keep <= growth)
            target = policy.tiers[lower].code
            _set(
                session, account.id, tier=target, tier_since=now, grace_until=None,
                tier_expires_at=add_months(end, 12, account.program) if lower else None,
            )  # fmt: skip
            record_change(
                session, account, action="downgrade", from_tier=row.tier, to_tier=target,
                growth=growth, at=now, event="tier_downgraded",
            )  # fmt: skip
            account.tier = target
            actions.append("downgrade")
    return actions


def due_members(session: Session, program: ProgramRef, now: datetime, limit: int) -> list[int]:
    """Members whose tier period or grace has ended."""
    return list(
        session.scalars(
            select(_MEMBER.c.id)
            .where(
                _MEMBER.c.tenant_id == program.tenant.id,
                _MEMBER.c.program_id == program.id,
                _MEMBER.c.status == "active",
                or_(_MEMBER.c.tier_expires_at <= now, _MEMBER.c.grace_until <= now),
            )
            .order_by(_MEMBER.c.id)
            .limit(limit)
        )
    )


def set_tier(
    session: Session,
    account: Account,
    *,
    tier: str,
    reason: str,
    actor: str,
    now: datetime,
    locked_until: datetime | None = None,
    expires_at: datetime | None = None,
    action: str = "set",
) -> None:
    """Set a member's tier by hand or by migration (a new period starts unless `expires_at`
    is given); optionally lock it (no downgrade) until a date."""
    policy = account.program.settings.tiers
    index = policy.index(tier)
    row = _row(session, account.id)
    _set(
        session, account.id, tier=tier, tier_since=now, grace_until=None,
        tier_expires_at=(expires_at or period_end(policy, now, account.program)) if index else None,
        tier_locked_until=locked_until,
    )  # fmt: skip
    growth = growth_between(session, account.id, window_start(policy, now, account.program), now)
    record_change(
        session, account, action="lock" if locked_until else action, from_tier=row.tier,
        to_tier=tier, growth=growth, at=now, reason=reason, actor=actor, event="tier_changed",
    )  # fmt: skip
    account.tier = tier


def take_highest(session: Session, target: Account, rows: list[Row[Any]], *, now: datetime) -> str:
    """After a merge: the higher tier of the memberships, with its latest period and lock."""
    policy = target.program.settings.tiers
    known = [r for r in rows if r.tier in {t.code for t in policy.tiers}]
    best = max(known, key=lambda r: (policy.index(r.tier), r.tier_expires_at or now))
    locks = [r.tier_locked_until for r in rows if r.tier_locked_until is not None]
    current = next(r for r in rows if r.id == target.id)
    _set(
        session, target.id, tier=best.tier, tier_since=best.tier_since,
        tier_expires_at=best.tier_expires_at, grace_until=best.grace_until,
        tier_locked_until=max(locks) if locks else None,
    )  # fmt: skip
    if best.tier != current.tier:
        growth = growth_between(session, target.id, window_start(policy, now, target.program), now)
        record_change(
            session, target, action="merge", from_tier=current.tier, to_tier=best.tier,
            growth=growth, at=now, reason="memberships merged", event="tier_changed",
        )  # fmt: skip
    return str(best.tier)


def status(session: Session, program: ProgramRef, row: Row[Any], *, now: datetime) -> TierStatus:
    """Where the member stands: tier, period end, and the growth to keep it or go up."""
    policy = program.settings.tiers
    index = policy.index(row.tier) if row.tier in {t.code for t in policy.tiers} else 0
    tier = policy.tiers[index]
    growth = growth_between(session, row.id, window_start(policy, now, program), now)
    counted = growth
    if row.tier_expires_at is not None:
        counted = growth_between(
            session, row.id, window_start(policy, row.tier_expires_at, program), now
        )
    following = policy.tiers[index + 1] if index + 1 < len(policy.tiers) else None
    return TierStatus(
        tier=tier.code,
        tier_name=tier.name,
        since=row.tier_since,
        expires_at=row.tier_expires_at,
        grace_until=row.grace_until,
        locked_until=row.tier_locked_until,
        growth=growth,
        growth_for_retention=counted,
        to_keep=max(tier.keep - counted, 0) if row.tier_expires_at is not None else 0,
        next_tier=following.code if following else None,
        to_next=max(following.threshold - growth, 0) if following else None,
        benefits=tier.benefits,
    )
