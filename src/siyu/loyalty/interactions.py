"""Events (behaviour) reaching loyalty: fixed points for sign-in streaks, reviews, follows,
referrals, birthdays... within each rule's caps; and the birthday gift benefit of a tier."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from siyu.loyalty import coupons, journal, ledger, tiers
from siyu.loyalty.journal import Account
from siyu.loyalty.members import lock_member
from siyu.loyalty.models import Entry
from siyu.loyalty.programs import programs_for_source
from siyu.loyalty.rules import event_rule
from siyu.loyalty.schemas import EventRule
from siyu.loyalty.views import OrderOutcome
from siyu.records import EventIn
from siyu.store.base import table, utcnow
from siyu.store.fast import Fast
from siyu.tenants import TenantContext

_ENTRY = table(Entry)
_AWARDS = Fast(
    select(_ENTRY.c.at).where(
        _ENTRY.c.member_id == bindparam("member"),
        _ENTRY.c.kind == "earn",
        _ENTRY.c.cause == bindparam("cause"),
    )
)


def apply_event(
    *,
    session: Session,
    tenant: TenantContext,
    event: EventIn,
    oneid: str | None,
    now: datetime | None = None,
) -> list[OrderOutcome]:
    """Fixed points for an event a program rewards, within the rule's caps, and a tier's
    birthday gift on a `birthday` event; members only, once per event."""
    now = now or utcnow()
    outcomes = []
    for program in programs_for_source(session=session, tenant=tenant, source=event.source):
        outcome = OrderOutcome(program=program.code, member=False)
        outcomes.append(outcome)
        account = None if oneid is None else lock_member(session, program, oneid, now=now)
        if account is None:
            outcome.note = "not a member"
            continue
        outcome.member = True
        rule = event_rule(program.settings, event.type)
        if rule is not None:
            _award(session, account, rule, event, now, outcome)
        elif event.type != "birthday":
            outcome.note = "no rule for this event"
        if event.type == "birthday":
            outcome.coupons = _birthday_gifts(session, account, event, now)
    return outcomes


def _award(
    session: Session,
    account: Account,
    rule: EventRule,
    event: EventIn,
    now: datetime,
    outcome: OrderOutcome,
) -> None:
    key = f"event:{event.source}/{event.event_id}"
    cause = f"event:{event.type}"
    found = journal.find_entry(session, account.program, key)
    if found is not None:
        outcome.replayed, outcome.earned = True, found.points
        return
    days = _award_days(session, account, cause)
    today = event.occurred_at.astimezone(account.program.tenant.zone).date()
    this_year = sum(d.year == today.year for d in days)
    if (
        (rule.max_per_day is not None and days.count(today) >= rule.max_per_day)
        or (rule.max_per_year is not None and this_year >= rule.max_per_year)
        or (rule.max_total is not None and len(days) >= rule.max_total)
    ):
        outcome.note = "capped"
        return
    points, streak = rule.points, 1
    if rule.streak_days:
        seen = set(days)
        while today - timedelta(days=streak) in seen:
            streak += 1
        if streak % rule.streak_days == 0:
            points += rule.streak_bonus
    result = ledger.earn(
        session, account, points=points, key=key, cause=cause, ref=key, at=event.occurred_at,
        now=now, pending=False, detail={"streak": streak}, checked=True,
    )  # fmt: skip
    outcome.earned = result.points
    if tiers.add_growth(
        session, account, points=rule.growth, key=key, cause=cause, at=event.occurred_at
    ):
        outcome.growth = rule.growth
        tiers.check_upgrade(session, account, now=now)


def _award_days(session: Session, account: Account, cause: str) -> list[date]:
    """Local dates of the member's earlier awards for `cause` (one per award)."""
    zone = account.program.tenant.zone
    rows = _AWARDS.rows(session, {"member": account.id, "cause": cause})
    return [row.at.astimezone(zone).date() for row in rows]


def _birthday_gifts(session: Session, account: Account, event: EventIn, now: datetime) -> list[str]:
    """Coupons of the member's tier's birthday-gift benefits, once per member and year."""
    policy = account.program.settings.tiers
    tier = policy.tiers[policy.index(account.tier)]
    year = event.occurred_at.astimezone(account.program.tenant.zone).year
    return [
        coupons.issue(
            session=session,
            tenant=account.program.tenant,
            template=benefit.value,
            oneid=account.oneid,
            now=now,
            via=f"benefit:{benefit.code}",
            key=f"gift:{account.program.code}:{account.id}:{year}:{benefit.code}",
        ).code  # fmt: skip
        for benefit in tier.benefits
        if benefit.kind == "birthday_gift" and benefit.value
    ]
