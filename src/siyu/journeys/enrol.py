"""Putting people into a journey: re-entry policy, one enrolment per trigger record."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.journeys.models import Enrolment, Journey
from siyu.journeys.schemas import JourneyDefinition
from siyu.journeys.state import IN_FLIGHT
from siyu.store.bulk import gc_paused, insert_many
from siyu.tenants import TenantContext


def dedupe_key(*parts: str) -> str:
    """What enrolled someone, as a key (long ones hashed to fit)."""
    text = ":".join(parts)
    if len(text) <= 160:
        return text
    return text[:100] + "#" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def enrol_many(
    session: Session,
    tenant: TenantContext,
    journey: Journey,
    definition: JourneyDefinition,
    items: Sequence[tuple[str, str, dict[str, Any]]],
    now: datetime,
) -> tuple[int, int]:
    """Enrol (oneid, dedupe key, context) items into the journey's live version.
    Returns (enrolled, skipped): the re-entry policy and the dedupe key decide."""
    with gc_paused():
        return _enrol_many(session, tenant, journey, definition, items, now)


def _enrol_many(
    session: Session,
    tenant: TenantContext,
    journey: Journey,
    definition: JourneyDefinition,
    items: Sequence[tuple[str, str, dict[str, Any]]],
    now: datetime,
) -> tuple[int, int]:
    policy = definition.reentry
    history: dict[str, list[tuple[str, datetime]]] = {}
    if policy.policy != "concurrent":  # concurrent entries ignore earlier ones
        history = _history(session, tenant, journey.id, [oneid for oneid, _k, _c in items])
    taken: set[str] = set()
    rows: list[dict[str, Any]] = []
    skipped = 0
    first = definition.steps[0].id
    for oneid, key, context in items:
        if policy.policy != "concurrent":
            earlier = history.get(oneid, [])
            if oneid in taken or not _may_enter(policy.policy, policy.days, earlier, now):
                skipped += 1
                continue
            taken.add(oneid)
        rows.append(
            {
                "tenant_id": tenant.id,
                "journey_id": journey.id,
                "version": journey.live_version,
                "oneid": oneid,
                "status": "active",
                "step": first,
                "due_at": now,
                "attempts": 0,
                "step_count": 0,
                "dedupe_key": key,
                "context": context,
                "entered_at": now,
            }
        )
    if not rows:
        return 0, skipped
    # The same trigger twice enrols once: rows whose dedupe key exists are skipped.
    if session.get_bind().dialect.name == "sqlite":  # the driver counts what went in
        enrolled = insert_many(session, Enrolment, rows, ignore_conflicts=True) or 0
    else:
        keys = [r["dedupe_key"] for r in rows]
        before = _count(session, tenant, journey.id, keys)
        insert_many(session, Enrolment, rows, ignore_conflicts=True)
        enrolled = _count(session, tenant, journey.id, keys) - before
    return enrolled, skipped + len(rows) - enrolled


def _history(
    session: Session, tenant: TenantContext, journey_id: int, oneids: Sequence[str]
) -> dict[str, list[tuple[str, datetime]]]:
    """Earlier enrolments of these people in this journey: (status, entered_at)."""
    found: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    unique = sorted(set(oneids))
    for start in range(0, len(unique), 2000):
        rows = session.execute(
            select(Enrolment.oneid, Enrolment.status, Enrolment.entered_at).where(
                Enrolment.tenant_id == tenant.id,
                Enrolment.journey_id == journey_id,
                Enrolment.oneid.in_(unique[start : start + 2000]),
            )
        )
        for oneid, status, entered in rows:
            found[oneid].append((status, entered))
    return found


def _may_enter(
    policy: str, days: int | None, history: list[tuple[str, datetime]], now: datetime
) -> bool:
    if not history:
        return True
    if policy == "once":
        return False
    if any(status in IN_FLIGHT for status, _at in history):
        return False
    if policy == "after_days" and days is not None:
        return max(at for _s, at in history) <= now - timedelta(days=days)
    return True


def _count(session: Session, tenant: TenantContext, journey_id: int, keys: Sequence[str]) -> int:
    total = 0
    unique = sorted(set(keys))
    for start in range(0, len(unique), 2000):
        total += len(
            session.scalars(
                select(Enrolment.id).where(
                    Enrolment.tenant_id == tenant.id,
                    Enrolment.journey_id == journey_id,
                    Enrolment.dedupe_key.in_(unique[start : start + 2000]),
                )
            ).all()
        )
    return total
