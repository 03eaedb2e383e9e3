"""Reading journeys for people: definitions from text, counts, versions and their
differences, and the per-step funnel with A/B/holdout results (through experiments)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu import channels, experiments, records
from siyu.journeys.engine import definitions
from siyu.journeys.models import Enrolment, Journey, JourneyVersion, TraceRow
from siyu.journeys.schemas import JourneyDefinition, JourneyView
from siyu.journeys.service import JourneyError, _journey, in_flight_by_version
from siyu.journeys.state import IN_FLIGHT
from siyu.tenants import TenantContext

# Message statuses that mean the provider took the message (`unknown`: in doubt, counted
# as sent because the provider may well have sent it).
_HANDED_OVER = frozenset({"sent", "delivered", "undelivered", "unknown"})
_CLICK_SOURCE, _CLICK_TYPE = "siyu", "message_clicked"  # channels' own outcome events
NO_SPLIT_ARM = "all"  # the arm of people who met no split


class DefinitionError(JourneyError):
    """A definition that does not parse or validate; `problems` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class JourneySummary(JourneyView):
    enrolled: int  # enrolments ever
    in_flight: int  # still active, waiting or in the holdout window


class VersionView(BaseModel):
    version: int
    created_at: datetime
    steps: int
    in_flight: int
    live: bool


def parse_definition(*, text: str) -> JourneyDefinition:
    """A journey definition from JSON or YAML text; a DefinitionError lists every problem."""
    stripped = text.strip()
    if not stripped:
        raise DefinitionError(["the definition is empty"])
    data: Any
    if stripped.startswith("{"):
        try:
            data = orjson.loads(stripped)
        except orjson.JSONDecodeError as error:
            raise DefinitionError(
                [f"JSON: {error.msg} (line {error.lineno}, column {error.colno})"]
            ) from error
    else:
        try:
            data = yaml.safe_load(stripped)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise DefinitionError([f"YAML: {getattr(error, 'problem', error)}{where}"]) from error
    if not isinstance(data, dict):
        raise DefinitionError(["the definition must be an object with key, name, trigger, steps"])
    try:
        return JourneyDefinition.model_validate(data)
    except ValidationError as error:
        raise DefinitionError([_problem(e, data) for e in error.errors()]) from error


def _problem(error: Any, data: dict[str, Any]) -> str:
    """`steps[2] (sms) → channel: Input should be …`: the path, with the step's id."""
    loc = list(error["loc"])
    parts: list[str] = []
    for position, part in enumerate(loc):
        # Unions carry their tag (the step's or trigger's type) in the path: known already.
        tag = (position == 1 and loc[0] == "trigger") or (
            position == 2 and loc[0] == "steps" and isinstance(loc[1], int)
        )
        if tag:
            continue
        if isinstance(part, int) and parts:
            parts[-1] += f"[{part}]"
            steps = data.get("steps")
            if position == 1 and loc[0] == "steps" and isinstance(steps, list):
                step = steps[part] if part < len(steps) else None
                if isinstance(step, dict) and step.get("id"):
                    parts[-1] += f" ({step['id']})"
        else:
            parts.append(str(part))
    where = " → ".join(parts) or "definition"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def definition_text(definition: JourneyDefinition) -> str:
    """The definition as the store keeps it, as indented JSON for people to edit."""
    data = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(data, ensure_ascii=False, indent=2)


def journey_summaries(*, session: Session, tenant: TenantContext) -> list[JourneySummary]:
    """Every journey with how many people it enrolled and how many are still in it."""
    counts = {
        journey_id: (int(total), int(flying or 0))
        for journey_id, total, flying in session.execute(
            select(
                Enrolment.journey_id,
                func.count(),
                func.sum(case((Enrolment.status.in_(IN_FLIGHT), 1), else_=0)),
            )
            .where(Enrolment.tenant_id == tenant.id)
            .group_by(Enrolment.journey_id)
        ).tuples()
    }
    rows = session.scalars(
        select(Journey).where(Journey.tenant_id == tenant.id).order_by(Journey.key)
    )
    return [
        JourneySummary(
            **JourneyView.model_validate(row, from_attributes=True).model_dump(),
            enrolled=counts.get(row.id, (0, 0))[0],
            in_flight=counts.get(row.id, (0, 0))[1],
        )
        for row in rows
    ]


def list_versions(*, session: Session, tenant: TenantContext, key: str) -> list[VersionView]:
    """A journey's versions, newest first, with who is still in each."""
    journey = _journey(session, tenant, key)
    in_flight = in_flight_by_version(session, journey.id)
    rows = session.scalars(
        select(JourneyVersion)
        .where(JourneyVersion.journey_id == journey.id)
        .order_by(JourneyVersion.version.desc())
    )
    return [
        VersionView(
            version=row.version,
            created_at=row.created_at,
            steps=len(row.definition.get("steps", [])),
            in_flight=int(in_flight.get(row.version, 0)),
            live=journey.status != "draft" and journey.live_version == row.version,
        )
        for row in rows
    ]


def version_diff(
    *, session: Session, tenant: TenantContext, key: str, old: int, new: int
) -> list[str]:
    """A unified diff between two versions' definitions (indented JSON)."""
    journey = _journey(session, tenant, key)
    loaded = definitions(session, {(journey.id, old), (journey.id, new)})
    missing = [v for v in (old, new) if (journey.id, v) not in loaded]
    if missing:
        raise JourneyError(f"journey {key!r} has no version {missing[0]}")
    before = definition_text(loaded[(journey.id, old)].definition).splitlines()
    after = definition_text(loaded[(journey.id, new)].definition).splitlines()
    return list(difflib.unified_diff(before, after, f"v{old}", f"v{new}", lineterm="", n=2))


def journey_results(
    *,
    session: Session,
    tenant: TenantContext,
    key: str,
    version: int | None = None,
    options: experiments.ReportOptions | None = None,
) -> experiments.JourneyReport | None:
    """Per-step funnel (entered, sent, delivered, clicked, converted, revenue) and each
    arm's conversion and revenue against the control (the holdout when there is one);
    None while nobody has enrolled."""
    journey = _journey(session, tenant, key)
    wanted = version or journey.live_version or journey.latest_version
    loaded = definitions(session, {(journey.id, wanted)})
    if (journey.id, wanted) not in loaded:
        raise JourneyError(f"journey {key!r} has no version {wanted}")
    arms = _arms(session, journey, version)
    if not arms:
        return None
    control = "holdout" if "holdout" in arms else sorted(arms)[0]
    return experiments.journey_report(
        journey=key,
        persons=_outcomes(session, tenant, journey, version),
        steps=[step.id for step in loaded[(journey.id, wanted)].definition.steps],
        control=control,
        options=options,
    )


def _arms(session: Session, journey: Journey, version: int | None) -> set[str]:
    query = select(func.coalesce(Enrolment.arm, NO_SPLIT_ARM)).where(
        Enrolment.journey_id == journey.id
    )
    if version is not None:
        query = query.where(Enrolment.version == version)
    return set(session.scalars(query.distinct()))


def _outcomes(
    session: Session,
    tenant: TenantContext,
    journey: Journey,
    version: int | None,
    batch_size: int = 2000,
) -> Iterator[experiments.PersonOutcome]:
    """Each enrolment as the experiments code reads a person: arm, furthest stage per step,
    goal reached and its value. Read in pages: a big journey is never held whole."""
    # Clicks are events of the person (the tracking link records them); all of the
    # tenant's are read, since their times come from outside and the journey's own
    # clock cannot bound them.
    clicked = {
        str(p.get("message_key"))
        for p in records.event_properties(
            session=session, tenant=tenant, source=_CLICK_SOURCE, type_=_CLICK_TYPE
        )
        if str(p.get("origin") or "").startswith(f"journey:{journey.id}:")
    }
    query = select(Enrolment).where(Enrolment.journey_id == journey.id)
    if version is not None:
        query = query.where(Enrolment.version == version)
    last = 0
    while True:
        page = session.scalars(
            query.where(Enrolment.id > last).order_by(Enrolment.id).limit(batch_size)
        ).all()
        if not page:
            return
        last = page[-1].id
        visits: dict[int, list[tuple[str, str | None]]] = {}
        for trace in session.scalars(
            select(TraceRow).where(TraceRow.enrolment_id.in_([e.id for e in page]))
        ):
            for entry in trace.entries:
                if entry.get("step"):
                    message = (entry.get("detail") or {}).get("message")
                    visits.setdefault(trace.enrolment_id, []).append((entry["step"], message))
        keys = [m for found in visits.values() for _s, m in found if m]
        sent = channels.messages_by_key(session=session, tenant=tenant, keys=keys)
        for row in page:
            steps: dict[str, experiments.Stage] = {}
            for step, message in visits.get(row.id, []):
                stage = _stage(message, sent, clicked)
                if _DEPTH[stage] >= _DEPTH[steps.get(step, experiments.Stage.ENTERED)]:
                    steps[step] = stage
            yield experiments.PersonOutcome(
                arm=row.arm or NO_SPLIT_ARM,
                steps=steps,
                converted=row.goal_at is not None,
                revenue=row.goal_value or 0,
            )


_DEPTH = {stage: depth for depth, stage in enumerate(experiments.Stage)}


def _stage(
    key: str | None, sent: dict[str, channels.MessageView], clicked: set[str]
) -> experiments.Stage:
    message = sent.get(key) if key else None
    if message is None or message.status not in _HANDED_OVER:
        return experiments.Stage.ENTERED
    if key in clicked:
        return experiments.Stage.CLICKED
    if message.status == "delivered":
        return experiments.Stage.DELIVERED
    return experiments.Stage.SENT
