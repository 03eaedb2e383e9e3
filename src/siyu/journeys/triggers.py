"""Triggers: records arriving (events, orders) enrol people, end waits and reach goals;
dates, schedules and audience changes enrol people when the worker finds them due."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from siyu import profiles
from siyu.journeys.conditions import Condition, evaluate
from siyu.journeys.engine import definitions
from siyu.journeys.enrol import dedupe_key, enrol_many
from siyu.journeys.models import Enrolment, Journey, TraceRow, TriggerState
from siyu.journeys.ports import Ports
from siyu.journeys.schemas import (
    AudienceTrigger,
    DateTrigger,
    EventTrigger,
    JourneyDefinition,
    OrderTrigger,
    RunReport,
    ScheduleTrigger,
    WaitStep,
)
from siyu.journeys.state import IN_FLIGHT
from siyu.store.base import table, utcnow
from siyu.tenants import TenantContext, get_tenant_by_id

log = logging.getLogger(__name__)
GOAL_HORIZON = timedelta(days=366)  # goals are looked for in enrolments this recent
Incoming = tuple[str, str | None, Any]  # (kind, oneid, canonical record: model or dict)


def live_journeys(
    session: Session, tenant: TenantContext
) -> list[tuple[Journey, JourneyDefinition]]:
    """The tenant's live journeys with their live definitions."""
    rows = session.scalars(
        select(Journey).where(Journey.tenant_id == tenant.id, Journey.status == "live")
    ).all()
    loaded = definitions(session, {(j.id, j.live_version or 0) for j in rows})
    return [
        (j, loaded[(j.id, j.live_version or 0)].definition)
        for j in rows
        if (j.id, j.live_version or 0) in loaded
    ]


def _as_dict(record: Any) -> dict[str, Any]:
    if isinstance(record, BaseModel):
        dumped: dict[str, Any] = record.model_dump(mode="json")
        return dumped
    return dict(record)


def _record_time(data: dict[str, Any]) -> datetime | None:
    text = data.get("occurred_at") or data.get("paid_at") or data.get("created_at")
    if not text:
        return None
    at = datetime.fromisoformat(str(text)) if isinstance(text, str) else text
    return at if isinstance(at, datetime) else None


def _matches(
    kind: str,
    data: dict[str, Any],
    event_type: str,
    statuses: Sequence[str],
    where: Condition | None,
) -> bool:
    """Does this record answer an event/order test (`event_type` "order" means orders)?"""
    if kind == "order":
        if event_type != "order" or data.get("status") not in statuses:
            return False
    elif kind != "event" or data.get("type") != event_type:
        return False
    return evaluate(where, {"record": data})


def on_records(
    *,
    session: Session,
    tenant: TenantContext,
    records: Sequence[Incoming],
    now: datetime | None = None,
) -> int:
    """React to stored, resolved records: event/order triggers enrol people, awaited
    events end waits, goals are reached. Call it after ingest stored and resolved a batch
    (before its commit, so both land together). Returns how many enrolments changed."""
    useful = [(k, o, r) for k, o, r in records if o and k in ("event", "order")]
    if not useful:
        return 0
    journeys = live_journeys(session, tenant)
    oneids = sorted({o for _k, o, _r in useful if o})
    now = now or utcnow()
    changed = _enrol_triggered(session, tenant, journeys, useful, now)
    changed += _advance_enrolments(session, tenant, useful, oneids, now)
    return changed


def _enrol_triggered(
    session: Session,
    tenant: TenantContext,
    journeys: Sequence[tuple[Journey, JourneyDefinition]],
    useful: Sequence[Incoming],
    now: datetime,
) -> int:
    total = 0
    for journey, definition in journeys:
        trigger = definition.trigger
        if not isinstance(trigger, EventTrigger | OrderTrigger):
            continue
        items = []
        for kind, oneid, record in useful:
            data = _as_dict(record)
            if isinstance(trigger, EventTrigger):
                hit = _matches(kind, data, trigger.event_type, (), trigger.where)
                key = dedupe_key("event", str(data.get("source")), str(data.get("event_id")))
            else:
                hit = _matches(kind, data, "order", trigger.statuses, trigger.where)
                key = dedupe_key(
                    "order",
                    str(data.get("source")),
                    str(data.get("order_id")),
                    str(data.get("status")),
                )
            if hit and oneid:
                items.append((oneid, key, {"record": data, "trigger": kind}))
        if items:
            total += enrol_many(session, tenant, journey, definition, items, now)[0]
    return total


def _advance_enrolments(
    session: Session,
    tenant: TenantContext,
    useful: Sequence[Incoming],
    oneids: list[str],
    now: datetime,
) -> int:
    """End waits for awaited events and mark goals reached."""
    query = select(Enrolment).where(
        Enrolment.tenant_id == tenant.id,
        Enrolment.oneid.in_(oneids),
        or_(Enrolment.status.in_(IN_FLIGHT), Enrolment.goal_at.is_(None)),
        Enrolment.entered_at >= now - GOAL_HORIZON,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # a worker running them waits, then sees this
    # Workers write enrolments with Core statements: read the rows as they are now.
    enrolments = session.scalars(query.execution_options(populate_existing=True)).all()
    if not enrolments:
        return 0
    loaded = definitions(session, {(e.journey_id, e.version) for e in enrolments})
    by_person: dict[str, list[Enrolment]] = defaultdict(list)
    for enrolment in enrolments:
        by_person[enrolment.oneid].append(enrolment)
    changed = 0
    traces: list[TraceRow] = []
    for kind, oneid, record in useful:
        data = _as_dict(record)
        at = _record_time(data) or now
        for enrolment in by_person.get(oneid or "", []):
            definition = loaded[(enrolment.journey_id, enrolment.version)].definition
            if _resume(enrolment, definition, kind, data, now, traces):
                changed += 1
            if _goal(enrolment, definition, kind, data, at, now, traces):
                changed += 1
    session.add_all(traces)
    session.flush()
    return changed


def _resume(
    enrolment: Enrolment,
    definition: JourneyDefinition,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    traces: list[TraceRow],
) -> bool:
    if enrolment.status != "waiting" or enrolment.step is None:
        return False
    wait = definition.step(enrolment.step)
    if not isinstance(wait, WaitStep) or wait.until_event is None:
        return False
    awaited = wait.until_event
    if not _matches(kind, data, awaited.event_type, awaited.statuses, awaited.where):
        return False
    enrolment.status, enrolment.wait_event = "active", None
    enrolment.step, enrolment.due_at = definition.following(wait.id), now
    enrolment.context = {**(enrolment.context or {}), "awaited": data}
    traces.append(_trace(enrolment, wait.id, now, "event", {"event_type": awaited.event_type}))
    return True


def _goal(
    enrolment: Enrolment,
    definition: JourneyDefinition,
    kind: str,
    data: dict[str, Any],
    at: datetime,
    now: datetime,
    traces: list[TraceRow],
) -> bool:
    goal = definition.goal
    if goal is None or enrolment.goal_at is not None:
        return False
    if not enrolment.entered_at <= at <= enrolment.entered_at + goal.within:
        return False
    if not _matches(kind, data, goal.event_type, goal.statuses, goal.where):
        return False
    enrolment.goal_at = at
    if kind == "order" and data.get("paid_amount") is not None:
        enrolment.goal_value = Decimal(str(data["paid_amount"]))
    traces.append(_trace(enrolment, None, now, "goal", {"kind": kind}))
    if goal.exit_on_goal and enrolment.status in IN_FLIGHT:
        enrolment.status, enrolment.step, enrolment.due_at = "converted", None, None
        enrolment.wait_event, enrolment.finished_at = None, now
    return True


def _trace(
    enrolment: Enrolment, step: str | None, at: datetime, result: str, detail: dict[str, Any]
) -> TraceRow:
    entry = {"step": step, "at": at.isoformat(), "result": result, "detail": detail}
    return TraceRow(
        tenant_id=enrolment.tenant_id, enrolment_id=enrolment.id, at=at, entries=[entry]
    )


# -- time and poll driven triggers ----------------------------------------------------------


def next_run(definition: JourneyDefinition, zone: Any, after: datetime) -> datetime | None:
    """When a date/schedule trigger next fires after `after` (audience triggers poll
    every minute); None for triggers driven by records or by hand."""
    trigger = definition.trigger
    if isinstance(trigger, AudienceTrigger):
        return after + timedelta(minutes=1)
    if not isinstance(trigger, DateTrigger | ScheduleTrigger):
        return None
    local = after.astimezone(zone)
    day = local.date()
    for _ in range(62):
        candidate = datetime.combine(day, trigger.at, tzinfo=zone)
        if candidate > local and _fires_on(trigger, day):
            return candidate
        day += timedelta(days=1)
    return None


def _fires_on(trigger: DateTrigger | ScheduleTrigger, day: date) -> bool:
    if isinstance(trigger, DateTrigger) or trigger.every == "day":
        return True
    if trigger.every == "week":
        return day.weekday() == (trigger.weekday if trigger.weekday is not None else 0)
    return day.day == (trigger.day or 1)


def run_triggers(
    *,
    session: Session,
    ports: Ports,
    worker: str,
    now: datetime | None = None,
    lease: timedelta = timedelta(minutes=5),
) -> RunReport:
    """Fire the date, schedule and audience triggers that are due (every tenant)."""
    now = now or utcnow()
    states = table(TriggerState)
    claimed = (
        session.execute(
            states.update()
            .where(
                states.c.next_run_at <= now,
                or_(states.c.lease_until.is_(None), states.c.lease_until < now),
            )
            .values(lease_owner=worker, lease_until=now + lease)
            .returning(states.c.id)
        )
        .scalars()
        .all()
    )
    session.commit()
    report = RunReport()
    for state_id in claimed:
        state = session.get_one(TriggerState, state_id, populate_existing=True)
        journey = session.get_one(Journey, state.journey_id, populate_existing=True)
        tenant = get_tenant_by_id(session=session, tenant_id=journey.tenant_id)
        state.lease_owner = state.lease_until = None
        if journey.status != "live" or journey.live_version is None:
            state.next_run_at = None
            session.commit()
            continue
        definition = definitions(session, {(journey.id, journey.live_version)})[
            (journey.id, journey.live_version)
        ].definition
        fired_at = state.next_run_at or now
        try:
            report.triggered += _fire(
                session, tenant, ports, journey, definition, state, fired_at, now
            )
            state.last_error = None
            state.next_run_at = next_run(definition, tenant.zone, max(now, fired_at))
        except Exception as error:  # the port is down: try again in a minute
            log.warning("trigger of journey %s failed: %s", journey.key, error)
            session.rollback()
            state = session.get_one(TriggerState, state_id, populate_existing=True)
            state.lease_owner = state.lease_until = None
            state.last_error = f"{type(error).__name__}: {error}"[:2000]
            state.next_run_at = now + timedelta(minutes=1)
        session.commit()
    return report


def _fire(
    session: Session,
    tenant: TenantContext,
    ports: Ports,
    journey: Journey,
    definition: JourneyDefinition,
    state: TriggerState,
    fired_at: datetime,
    now: datetime,
) -> int:
    trigger = definition.trigger
    items: list[tuple[str, str, dict[str, Any]]] = []
    if isinstance(trigger, DateTrigger):
        day = fired_at.astimezone(tenant.zone).date()
        target = day + timedelta(days=trigger.days_before)
        for oneid, when, detail in _dated(session, tenant, ports, trigger, target):
            key = dedupe_key("date", trigger.attribute, target.isoformat(), oneid)
            items.append(
                (oneid, key, {"data": {"date": when.isoformat(), **detail}, "trigger": "date"})
            )
    elif isinstance(trigger, ScheduleTrigger):
        who = trigger.oneids
        if who is None:
            who = ports.audiences.members(
                session=session, tenant=tenant, audience=trigger.audience or ""
            )
        run = fired_at.astimezone(tenant.zone).isoformat(timespec="minutes")
        items = [(o, dedupe_key("schedule", run, o), {"trigger": "schedule"}) for o in who]
    elif isinstance(trigger, AudienceTrigger):
        changes = ports.audiences.changes(
            session=session, tenant=tenant, audience=trigger.audience, cursor=state.cursor
        )
        entering = trigger.type == "audience_enter"
        people = changes.entered if entering else changes.left
        marks = changes.entered_marks if entering else changes.left_marks
        mark = state.cursor or "start"
        items = [
            (
                o,
                dedupe_key(trigger.type, trigger.audience, marks.get(o, mark), o),
                {"trigger": trigger.type},
            )
            for o in people
        ]
        state.cursor = changes.cursor
    return enrol_many(session, tenant, journey, definition, items, now)[0]


def _dated(
    session: Session, tenant: TenantContext, ports: Ports, trigger: DateTrigger, target: date
) -> list[tuple[str, date, dict[str, Any]]]:
    """People whose birthday / anniversary / coupon or points expiry is on `target`."""
    if trigger.attribute in ("birthday", "anniversary"):
        found = profiles.persons_on_day(
            session=session,
            tenant=tenant,
            field="birthday" if trigger.attribute == "birthday" else "registered_at",
            day=target,
        )
        if trigger.attribute == "anniversary":  # not on the day they joined
            found = {o: d for o, d in found.items() if d.year < target.year}
        return [(o, d, {"years": target.year - d.year}) for o, d in sorted(found.items())]
    kind = "points" if trigger.attribute == "points_expiry" else "coupon"
    return [
        (item.oneid, item.on, dict(item.detail))
        for item in ports.loyalty.expiring(session=session, tenant=tenant, kind=kind, on=target)
    ]
