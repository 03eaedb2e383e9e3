"""Audience use cases: definitions, count previews, members, entry/exit changes, overlap."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session, aliased

from siyu import identity, rules, tags
from siyu.audiences.models import Audience, AudienceMembership, AudienceRun
from siyu.audiences.schemas import (
    AudienceIn,
    AudienceSize,
    AudienceUpdate,
    AudienceView,
    MembershipChange,
    MembershipDay,
    MembershipInterval,
    OverlapPair,
    OverlapReport,
    PreviewResult,
)
from siyu.store.base import utcnow
from siyu.tenants import TenantContext


class AudienceError(ValueError):
    """An audience request that cannot be done; the message says why."""


def create_audience(
    *, session: Session, tenant: TenantContext, audience: AudienceIn, by: str
) -> AudienceView:
    """A new audience (empty until refreshed, or until its persons' records arrive)."""
    if find_audience(session, tenant, audience.name) is not None:
        raise AudienceError(f"audience {audience.name!r} exists")
    row = Audience(
        tenant_id=tenant.id,
        name=audience.name,
        description=audience.description,
        rule=checked_rule(session, tenant, audience.rule),
        online=audience.online,
        refresh_minutes=audience.refresh_minutes,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return _view(session, row)


def update_audience(
    *, session: Session, tenant: TenantContext, name: str, changes: AudienceUpdate
) -> AudienceView:
    """Change an audience's rule or settings (members follow at the next refresh)."""
    row = require_audience(session, tenant, name)
    if changes.rule is not None:
        row.rule = checked_rule(session, tenant, changes.rule)
    for field in ("description", "online", "refresh_minutes"):
        if field in changes.model_fields_set:
            setattr(row, field, getattr(changes, field))
    row.updated_at = utcnow()
    session.flush()
    return _view(session, row)


def delete_audience(*, session: Session, tenant: TenantContext, name: str) -> None:
    """Remove an audience with its membership history and runs."""
    row = require_audience(session, tenant, name)
    for model in (AudienceMembership, AudienceRun):
        session.execute(
            delete(model).where(model.tenant_id == tenant.id, model.audience_id == row.id)
        )
    session.delete(row)
    session.flush()


def list_audiences(*, session: Session, tenant: TenantContext) -> list[AudienceView]:
    """The tenant's audiences by name, with their current sizes."""
    rows = session.scalars(
        select(Audience).where(Audience.tenant_id == tenant.id).order_by(Audience.name)
    )
    return [_view(session, row) for row in rows]


def get_audience(*, session: Session, tenant: TenantContext, name: str) -> AudienceView:
    """One audience by name."""
    return _view(session, require_audience(session, tenant, name))


def preview(
    *,
    session: Session,
    tenant: TenantContext,
    rule: dict[str, object],
    engine_dir: Path,
    engine: str = "duckdb",
    fresh: bool = False,
    as_of: date | None = None,
    spark_master: str = "local[2]",
) -> PreviewResult:
    """How many persons the rule selects, over the last rules snapshot (a new one when
    there is none yet or `fresh`): the count while an operator edits a rule."""
    parsed = rules.parse_rule(rule)
    tags.check_rule(session=session, tenant=tenant, rule=parsed)
    day = as_of or utcnow().astimezone(tenant.zone).date()
    clock = time.perf_counter()
    with rules.current_facts(
        tenant=tenant, engine_dir=engine_dir, engine=engine, spark_master=spark_master
    ) as current:
        if current is not None and not fresh:
            return _count(current, parsed, day, engine, clock)
    with rules.prepared_facts(
        session=session,
        tenant=tenant,
        engine_dir=engine_dir,
        tags=tags.tag_fact(session=session, tenant=tenant),
        engine=engine,
        spark_master=spark_master,
    ) as prepared:
        return _count(prepared, parsed, day, engine, clock)


def _count(
    facts: rules.RuleFacts, rule: rules.Rule, day: date, engine: str, clock: float
) -> PreviewResult:
    count = facts.engine.count(rules.matching(rule, facts, as_of=day))
    return PreviewResult(
        count=count,
        engine=engine,
        as_of=day,
        snapshot_at=facts.exported_at,
        seconds=round(time.perf_counter() - clock, 3),
    )


def members(
    *, session: Session, tenant: TenantContext, name: str, limit: int = 1000, offset: int = 0
) -> list[str]:
    """Current members' OneIDs, in OneID order."""
    row = require_audience(session, tenant, name)
    return list(
        session.scalars(
            select(AudienceMembership.oneid)
            .where(*_open(tenant.id, row.id))
            .order_by(AudienceMembership.oneid)
            .limit(limit)
            .offset(offset)
        )
    )


def audiences_of_person(
    *, session: Session, tenant: TenantContext, oneid: str
) -> list[MembershipInterval]:
    """The audiences a person is in now (their open intervals), by audience name."""
    live = identity.current_oneid(session=session, tenant=tenant, oneid=oneid) or oneid
    names = {a.id: a.name for a in _audiences(session, tenant, None)}
    rows = session.scalars(
        select(AudienceMembership).where(
            AudienceMembership.tenant_id == tenant.id,
            AudienceMembership.oneid == live,
            AudienceMembership.exited_at.is_(None),
        )
    )
    found = [
        MembershipInterval(
            audience=names[r.audience_id],
            oneid=r.oneid,
            entered_at=r.entered_at,
            entered_by=r.entered_by,
            exited_at=None,
            exited_by=None,
        )
        for r in rows
        if r.audience_id in names
    ]
    return sorted(found, key=lambda interval: interval.audience)


def changes_since(
    *,
    session: Session,
    tenant: TenantContext,
    since: datetime,
    audiences: Sequence[str] | None = None,
    limit: int = 10_000,
) -> list[MembershipChange]:
    """Entries and exits after `since`, oldest first (journeys trigger on them).

    Times are when the change was written; poll with a little overlap and drop changes
    already seen (audience, oneid, change, at), as a transaction may commit late.
    """
    names = {a.id: a.name for a in _audiences(session, tenant, audiences)}
    found: list[MembershipChange] = []
    m = AudienceMembership
    for change, at, by in (
        ("entered", m.entered_at, m.entered_by),
        ("exited", m.exited_at, m.exited_by),
    ):
        rows = session.execute(
            select(m.audience_id, m.oneid, at, by)
            .where(m.tenant_id == tenant.id, at > since, m.audience_id.in_(list(names)))
            .order_by(at, m.id)
            .limit(limit)
        )
        found.extend(
            MembershipChange(audience=names[a], oneid=o, change=change, at=t, by=b)
            for a, o, t, b in rows
        )
    found.sort(key=lambda c: (c.at, c.change == "entered", c.audience, c.oneid))
    return found[:limit]


def change_feed(
    *,
    session: Session,
    tenant: TenantContext,
    audience: str,
    since: datetime,
    until: datetime | None = None,
    page: int = 5000,
) -> Iterator[MembershipChange]:
    """Every entry and exit of one audience written in (since, until], oldest first, read in
    pages (a refresh may write a million changes at one instant)."""
    row = require_audience(session, tenant, audience)
    m = AudienceMembership
    for change, at, by in (
        ("entered", m.entered_at, m.entered_by),
        ("exited", m.exited_at, m.exited_by),
    ):
        after: tuple[datetime, int] | None = None
        while True:
            query = select(m.id, m.oneid, at, by).where(
                m.tenant_id == tenant.id, m.audience_id == row.id, at > since
            )
            if until is not None:
                query = query.where(at <= until)
            if after is not None:
                query = query.where(or_(at > after[0], and_(at == after[0], m.id > after[1])))
            rows = session.execute(query.order_by(at, m.id).limit(page)).all()
            for interval_id, oneid, when, who in rows:
                yield MembershipChange(
                    audience=audience, oneid=oneid, change=change, at=when, by=who
                )
                after = (when, interval_id)
            if len(rows) < page:
                break


def membership_history(
    *,
    session: Session,
    tenant: TenantContext,
    name: str | None = None,
    oneid: str | None = None,
    limit: int = 1000,
) -> list[MembershipInterval]:
    """Membership intervals, newest entry first (of one audience and/or one person)."""
    names = {a.id: a.name for a in _audiences(session, tenant, [name] if name else None)}
    query = select(AudienceMembership).where(
        AudienceMembership.tenant_id == tenant.id,
        AudienceMembership.audience_id.in_(list(names)),
    )
    if oneid is not None:
        query = query.where(AudienceMembership.oneid == oneid)
    query = query.order_by(AudienceMembership.entered_at.desc(), AudienceMembership.id.desc())
    return [
        MembershipInterval(
            audience=names[r.audience_id],
            oneid=r.oneid,
            entered_at=r.entered_at,
            entered_by=r.entered_by,
            exited_at=r.exited_at,
            exited_by=r.exited_by,
        )
        for r in session.scalars(query.limit(limit))
    ]


def membership_timeline(
    *, session: Session, tenant: TenantContext, name: str, limit: int = 100_000
) -> list[MembershipDay]:
    """Entries and exits per tenant-local day, with the size at each day's end, oldest
    first (the latest `limit` intervals; a day with neither is left out)."""
    row = require_audience(session, tenant, name)
    m = AudienceMembership
    spans = session.execute(
        select(m.entered_at, m.exited_at)
        .where(m.tenant_id == tenant.id, m.audience_id == row.id)
        .order_by(m.entered_at.desc(), m.id.desc())
        .limit(limit)
    ).all()
    entered: dict[date, int] = defaultdict(int)
    exited: dict[date, int] = defaultdict(int)
    for entered_at, exited_at in spans:
        entered[entered_at.astimezone(tenant.zone).date()] += 1
        if exited_at is not None:
            exited[exited_at.astimezone(tenant.zone).date()] += 1
    days: list[MembershipDay] = []
    size = 0
    for day in sorted(entered.keys() | exited.keys()):
        size += entered[day] - exited[day]
        days.append(MembershipDay(day=day, entered=entered[day], exited=exited[day], size=size))
    return days


def overlap(
    *, session: Session, tenant: TenantContext, names: Sequence[str] | None = None
) -> OverlapReport:
    """Current sizes and, for every pair, how many persons are in both, or only one."""
    chosen = _audiences(session, tenant, names)
    ids = [a.id for a in chosen]
    sizes = {a.id: open_count(session, tenant.id, a.id) for a in chosen}
    first, second = aliased(AudienceMembership), aliased(AudienceMembership)
    rows = session.execute(
        select(first.audience_id, second.audience_id, func.count())
        .join(
            second,
            and_(
                second.tenant_id == first.tenant_id,
                second.oneid == first.oneid,
                second.audience_id > first.audience_id,
                second.exited_at.is_(None),
            ),
        )
        .where(
            first.tenant_id == tenant.id,
            first.exited_at.is_(None),
            first.audience_id.in_(ids),
            second.audience_id.in_(ids),
        )
        .group_by(first.audience_id, second.audience_id)
    )
    both = {(a, b): int(n) for a, b, n in rows}
    by_name = sorted(chosen, key=lambda a: a.name)
    pairs = []
    for i, a in enumerate(by_name):
        for b in by_name[i + 1 :]:
            n = both.get((min(a.id, b.id), max(a.id, b.id)), 0)
            pairs.append(
                OverlapPair(
                    a=a.name, b=b.name, both=n, only_a=sizes[a.id] - n, only_b=sizes[b.id] - n
                )
            )
    return OverlapReport(
        audiences=[AudienceSize(name=a.name, size=sizes[a.id]) for a in by_name], pairs=pairs
    )


# -- helpers shared within the domain -------------------------------------------------------


def checked_rule(
    session: Session, tenant: TenantContext, data: dict[str, object]
) -> dict[str, object]:
    """The rule as stored, after checking it names only existing tags and identifiers."""
    parsed = rules.parse_rule(data)
    tags.check_rule(session=session, tenant=tenant, rule=parsed)
    return rules.dump_rule(parsed)


def find_audience(session: Session, tenant: TenantContext, name: str) -> Audience | None:
    return session.scalar(
        select(Audience).where(Audience.tenant_id == tenant.id, Audience.name == name)
    )


def require_audience(session: Session, tenant: TenantContext, name: str) -> Audience:
    row = find_audience(session, tenant, name)
    if row is None:
        raise LookupError(f"no audience {name!r}")
    return row


def _audiences(
    session: Session, tenant: TenantContext, names: Sequence[str] | None
) -> list[Audience]:
    if names is None:
        return list(session.scalars(select(Audience).where(Audience.tenant_id == tenant.id)))
    return [require_audience(session, tenant, n) for n in dict.fromkeys(names)]


def _open(tenant_id: int, audience_id: int) -> tuple[ColumnElement[bool], ...]:
    m = AudienceMembership
    return (m.tenant_id == tenant_id, m.audience_id == audience_id, m.exited_at.is_(None))


def open_count(session: Session, tenant_id: int, audience_id: int) -> int:
    found = session.scalar(select(func.count()).where(*_open(tenant_id, audience_id)))
    return int(found or 0)


def _view(session: Session, row: Audience) -> AudienceView:
    view = AudienceView.model_validate(row)
    view.size = open_count(session, row.tenant_id, row.id)
    return view
