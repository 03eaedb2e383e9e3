"""Journey use cases: define (versioned), start, pause, enrol, inspect, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu import channels
from siyu.journeys.engine import definitions
from siyu.journeys.enrol import dedupe_key, enrol_many
from siyu.journeys.models import (
    DeadLetter,
    Enrolment,
    Journey,
    JourneyVersion,
    TraceRow,
    TriggerState,
)
from siyu.journeys.schemas import (
    EnrolmentView,
    EnrolResult,
    JourneyDefinition,
    JourneyDetail,
    JourneyView,
    TraceEntry,
)
from siyu.journeys.state import IN_FLIGHT
from siyu.journeys.triggers import next_run
from siyu.store.base import utcnow
from siyu.store.bulk import gc_paused
from siyu.tenants import TenantContext


class JourneyError(ValueError):
    """A request the journey's state does not allow (unknown key, not live, ...)."""


def load_definition(path: Path) -> JourneyDefinition:
    """A journey definition from a JSON or YAML file."""
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else orjson.loads(text)
    return JourneyDefinition.model_validate(data)


def _journey(session: Session, tenant: TenantContext, key: str) -> Journey:
    journey = session.scalar(
        select(Journey).where(Journey.tenant_id == tenant.id, Journey.key == key)
    )
    if journey is None:
        raise JourneyError(f"no journey {key!r}")
    return journey


def _view(journey: Journey) -> JourneyView:
    return JourneyView.model_validate(journey, from_attributes=True)


def create_journey(
    *, session: Session, tenant: TenantContext, definition: JourneyDefinition
) -> JourneyView:
    """A new journey, as a draft at version 1."""
    exists = session.scalar(
        select(Journey.id).where(Journey.tenant_id == tenant.id, Journey.key == definition.key)
    )
    if exists is not None:
        raise JourneyError(f"journey {definition.key!r} exists; update it to make a new version")
    journey = Journey(
        tenant_id=tenant.id, key=definition.key, name=definition.name, latest_version=1
    )
    session.add(journey)
    session.flush()
    session.add(_version(tenant, journey.id, 1, definition))
    session.flush()
    return _view(journey)


def _version(
    tenant: TenantContext, journey_id: int, version: int, definition: JourneyDefinition
) -> JourneyVersion:
    return JourneyVersion(
        tenant_id=tenant.id,
        journey_id=journey_id,
        version=version,
        definition=definition.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def update_journey(
    *, session: Session, tenant: TenantContext, definition: JourneyDefinition
) -> JourneyView:
    """Save an edited definition as a new version. A live journey switches new entries to
    it at once; people in flight finish on the version they entered."""
    journey = _journey(session, tenant, definition.key)
    journey.latest_version += 1
    journey.name = definition.name
    journey.updated_at = utcnow()
    session.add(_version(tenant, journey.id, journey.latest_version, definition))
    if journey.status in ("live", "paused"):
        journey.live_version = journey.latest_version
        _schedule(session, tenant, journey, definition)
    session.flush()
    return _view(journey)


def start_journey(*, session: Session, tenant: TenantContext, key: str) -> JourneyView:
    """Make a journey live on its latest version (or resume a paused one)."""
    journey = _journey(session, tenant, key)
    if journey.status == "paused" and journey.live_version is not None:
        journey.status = "live"
    else:
        journey.status, journey.live_version = "live", journey.latest_version
    journey.updated_at = utcnow()
    definition = definitions(session, {(journey.id, journey.live_version)})[
        (journey.id, journey.live_version)
    ].definition
    _schedule(session, tenant, journey, definition)
    session.flush()
    return _view(journey)


def _schedule(
    session: Session, tenant: TenantContext, journey: Journey, definition: JourneyDefinition
) -> None:
    """Keep the trigger's timer in step with the live definition."""
    state = session.scalar(select(TriggerState).where(TriggerState.journey_id == journey.id))
    when = next_run(definition, tenant.zone, utcnow())
    if when is None:
        if state is not None:
            state.next_run_at = None
        return
    if state is None:
        state = TriggerState(tenant_id=tenant.id, journey_id=journey.id)
        session.add(state)
    state.next_run_at = when


def pause_journey(*, session: Session, tenant: TenantContext, key: str) -> JourneyView:
    """Stop new entries and hold everyone in flight where they are until it resumes."""
    journey = _journey(session, tenant, key)
    if journey.status != "live":
        raise JourneyError(f"journey {key!r} is {journey.status}, not live")
    journey.status = "paused"
    journey.updated_at = utcnow()
    session.flush()
    return _view(journey)


def list_journeys(*, session: Session, tenant: TenantContext) -> list[JourneyView]:
    """Every journey of the tenant, by key."""
    rows = session.scalars(
        select(Journey).where(Journey.tenant_id == tenant.id).order_by(Journey.key)
    )
    return [_view(row) for row in rows]


def get_journey(
    *, session: Session, tenant: TenantContext, key: str, version: int | None = None
) -> JourneyDetail:
    """A journey with one version's definition (default: latest) and who is in flight."""
    journey = _journey(session, tenant, key)
    wanted = version or journey.latest_version
    loaded = definitions(session, {(journey.id, wanted)})
    if (journey.id, wanted) not in loaded:
        raise JourneyError(f"journey {key!r} has no version {wanted}")
    return JourneyDetail(
        **_view(journey).model_dump(),
        definition=loaded[(journey.id, wanted)].definition,
        in_flight=in_flight_by_version(session, journey.id),
    )


def in_flight_by_version(session: Session, journey_id: int) -> dict[int, int]:
    """Version -> people still in it (active, waiting, in the holdout window)."""
    return dict(
        session.execute(
            select(Enrolment.version, func.count())
            .where(Enrolment.journey_id == journey_id, Enrolment.status.in_(IN_FLIGHT))
            .group_by(Enrolment.version)
        )
        .tuples()
        .all()
    )


def enrol(
    *,
    session: Session,
    tenant: TenantContext,
    key: str,
    oneids: Sequence[str],
    data: dict[str, Any] | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> EnrolResult:
    """Enrol people by hand or API into a live journey. With `request_id`, repeating the
    same request enrols nobody twice."""
    journey = _journey(session, tenant, key)
    if journey.status != "live" or journey.live_version is None:
        raise JourneyError(f"journey {key!r} is {journey.status}; start it first")
    definition = definitions(session, {(journey.id, journey.live_version)})[
        (journey.id, journey.live_version)
    ].definition
    request = request_id or uuid.uuid4().hex
    # One context object for all: the store serialises it once for the whole batch.
    context = {"data": data or {}, "trigger": "manual"}
    prefix, room = f"manual:{request}:", 160 - len(f"manual:{request}:")
    # `dedupe_key("manual", request, o)`, its text joined here for the usual short case.
    with gc_paused():  # a tuple per person: no collections while they are made
        items = [
            (o, prefix + o if len(o) <= room else dedupe_key("manual", request, o), context)
            for o in oneids
        ]
        enrolled, skipped = enrol_many(session, tenant, journey, definition, items, now or utcnow())
    ids: list[int] = []
    if len(items) <= 1000:
        ids = list(
            session.scalars(
                select(Enrolment.id)
                .where(
                    Enrolment.tenant_id == tenant.id,
                    Enrolment.journey_id == journey.id,
                    Enrolment.dedupe_key.in_([k for _o, k, _c in items]),
                )
                .order_by(Enrolment.id)
            )
        )
    return EnrolResult(count=enrolled, enrolled=ids, skipped=skipped)


def get_enrolment(*, session: Session, tenant: TenantContext, enrolment_id: int) -> EnrolmentView:
    """An enrolment with its trace and the messages it queued."""
    row = session.scalar(
        select(Enrolment)
        .where(Enrolment.tenant_id == tenant.id, Enrolment.id == enrolment_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise JourneyError(f"no enrolment {enrolment_id}")
    return _enrolment_view(session, tenant, row, with_trace=True)


def _enrolment_view(
    session: Session, tenant: TenantContext, row: Enrolment, *, with_trace: bool
) -> EnrolmentView:
    key = session.scalar(select(Journey.key).where(Journey.id == row.journey_id)) or ""
    view = EnrolmentView(
        id=row.id,
        journey_key=key,
        version=row.version,
        oneid=row.oneid,
        status=row.status,
        step=row.step,
        due_at=row.due_at,
        arm=row.arm,
        attempts=row.attempts,
        entered_at=row.entered_at,
        finished_at=row.finished_at,
        goal_at=row.goal_at,
        goal_value=row.goal_value,
        last_error=row.last_error,
    )
    if with_trace:
        traces = session.scalars(
            select(TraceRow).where(TraceRow.enrolment_id == row.id).order_by(TraceRow.id)
        )
        view.trace = [TraceEntry.model_validate(entry) for t in traces for entry in t.entries]
        view.messages = [
            m.model_dump(
                mode="json",
                include={"key", "channel", "status", "reason", "sent_at", "provider_id"},
            )
            for m in channels.list_messages(
                session=session,
                tenant=tenant,
                origin_prefix=f"journey:{row.journey_id}:",
                oneid=row.oneid,
            )
            if m.key.startswith(f"j{row.id}:")
        ]
    return view


def list_enrolments(
    *,
    session: Session,
    tenant: TenantContext,
    key: str | None = None,
    oneid: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[EnrolmentView]:
    """Enrolments, newest first, by journey, person or status."""
    query = select(Enrolment).where(Enrolment.tenant_id == tenant.id)
    if key is not None:
        query = query.where(Enrolment.journey_id == _journey(session, tenant, key).id)
    if oneid is not None:
        query = query.where(Enrolment.oneid == oneid)
    if status is not None:
        query = query.where(Enrolment.status == status)
    rows = session.scalars(
        query.order_by(Enrolment.id.desc()).limit(limit).execution_options(populate_existing=True)
    )
    return [_enrolment_view(session, tenant, row, with_trace=False) for row in rows]


def list_dead_letters(
    *, session: Session, tenant: TenantContext, include_retried: bool = False
) -> list[dict[str, Any]]:
    """Enrolments whose step kept failing, newest first."""
    query = select(DeadLetter).where(DeadLetter.tenant_id == tenant.id)
    if not include_retried:
        query = query.where(DeadLetter.retried_at.is_(None))
    return [
        {
            "id": d.id,
            "enrolment_id": d.enrolment_id,
            "step": d.step,
            "error": d.error,
            "attempts": d.attempts,
            "at": d.at.isoformat(),
            "retried_at": d.retried_at.isoformat() if d.retried_at else None,
        }
        for d in session.scalars(query.order_by(DeadLetter.id.desc()))
    ]


def retry_dead_letter(
    *, session: Session, tenant: TenantContext, dead_letter_id: int, now: datetime | None = None
) -> EnrolmentView:
    """Put a dead-lettered enrolment back on the step that failed, with fresh retries."""
    letter = session.scalar(
        select(DeadLetter).where(DeadLetter.tenant_id == tenant.id, DeadLetter.id == dead_letter_id)
    )
    if letter is None or letter.retried_at is not None:
        raise JourneyError(f"no open dead letter {dead_letter_id}")
    row = session.get_one(Enrolment, letter.enrolment_id, populate_existing=True)
    now = now or utcnow()
    row.status, row.step, row.attempts, row.due_at, row.finished_at = (
        "active",
        letter.step,
        0,
        now,
        None,
    )
    letter.retried_at = now
    entry = {"step": letter.step, "at": now.isoformat(), "result": "retried"}
    session.add(TraceRow(tenant_id=tenant.id, enrolment_id=row.id, at=now, entries=[entry]))
    session.flush()
    return _enrolment_view(session, tenant, row, with_trace=True)
