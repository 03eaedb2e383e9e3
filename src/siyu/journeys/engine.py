"""The durable engine: claim due enrolments with a lease, run their steps, write their
new state, trace and messages in one transaction.

Claiming is one UPDATE ... RETURNING over due rows whose lease is free (PostgreSQL adds
FOR UPDATE SKIP LOCKED, so workers never wait on each other; SQLite's BEGIN IMMEDIATE
serialises claims). The claimed rows are then re-read under lock and run: whatever an
event changed meanwhile (a wait ended, a goal reached) is what runs. A worker killed at
any point loses nothing: uncommitted work is rolled back and the lease expires.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from siyu import channels, profiles
from siyu.journeys import steps
from siyu.journeys.models import DeadLetter, Enrolment, Journey, JourneyVersion, TraceRow
from siyu.journeys.ports import Ports
from siyu.journeys.schemas import GrantStep, JourneyDefinition, RunReport, TagStep
from siyu.journeys.state import Effects, State
from siyu.store.base import table, utcnow
from siyu.store.bulk import gc_paused, insert_many, update_many
from siyu.tenants import TenantContext, get_tenant_by_id

log = logging.getLogger(__name__)
_E = table(Enrolment)
MAX_ATTEMPTS = 5


def backoff(attempts: int) -> timedelta:
    """Exponential retry delay: 10 s, 20 s, 40 s, ... at most an hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


@dataclass(frozen=True)
class Loaded:
    key: str
    definition: JourneyDefinition


def definitions(session: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Loaded]:
    """Journey versions by (journey id, version): immutable, read once per batch."""
    found: dict[tuple[int, int], Loaded] = {}
    ids = sorted({journey for journey, _v in pairs})
    if not ids:
        return found
    keys = dict(
        session.execute(select(Journey.id, Journey.key).where(Journey.id.in_(ids))).tuples().all()
    )
    rows = session.execute(
        select(JourneyVersion.journey_id, JourneyVersion.version, JourneyVersion.definition).where(
            JourneyVersion.journey_id.in_(ids)
        )
    )
    for journey_id, version, definition in rows:
        if (journey_id, version) in pairs:
            found[(journey_id, version)] = Loaded(
                keys[journey_id], JourneyDefinition.model_validate(definition)
            )
    return found


def run_due(
    *,
    session: Session,
    ports: Ports,
    worker: str,
    now: datetime | None = None,
    limit: int = 1000,
    lease: timedelta = timedelta(seconds=60),
    max_attempts: int = MAX_ATTEMPTS,
) -> RunReport:
    """Run the enrolments whose time has come (every tenant); one batch."""
    now = now or utcnow()
    held = list(session.scalars(select(Journey.id).where(Journey.status == "paused")))
    report = RunReport()
    with gc_paused():
        if session.get_bind().dialect.name == "sqlite":
            # BEGIN IMMEDIATE (the session's first statement) already holds SQLite's one
            # write lock: nobody can change these rows until we commit, so the due rows
            # are read and run in the same transaction, with no lease to write and re-read.
            rows = _due_rows(session, now, limit, held)
        else:
            ids = _claim(session, worker, now, limit, lease, held)
            session.commit()
            # Re-read under lock: an event changing one of them meanwhile waits for us.
            query = _columns(select(_E).where(_E.c.id.in_(ids), _E.c.lease_owner == worker))
            locked = query.order_by(_E.c.id).with_for_update()
            rows = list(session.execute(locked).all()) if ids else []
        _run_rows(session, ports, rows, now, max_attempts, report)
    session.commit()
    return report


def _run_rows(
    session: Session,
    ports: Ports,
    rows: Sequence[Row[Any]],
    now: datetime,
    max_attempts: int,
    report: RunReport,
) -> None:
    if not rows:
        return
    # By position (attribute access by name costs more): id, tenant, journey, version.
    loaded = definitions(session, {(r[2], r[3]) for r in rows})
    by_tenant: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in rows:
        by_tenant[row[1]].append(row)
    for tenant_id, tenant_rows in by_tenant.items():
        tenant = get_tenant_by_id(session=session, tenant_id=tenant_id)
        _Batch(session, tenant, ports, loaded, now, max_attempts, report).run(tenant_rows)


def _due(now: datetime, limit: int, held: Sequence[int]) -> Any:
    due = select(_E.c.id).where(
        _E.c.due_at <= now, or_(_E.c.lease_until.is_(None), _E.c.lease_until < now)
    )
    if held:
        due = due.where(_E.c.journey_id.not_in(held))
    return due.order_by(_E.c.due_at).limit(limit)


def _due_rows(session: Session, now: datetime, limit: int, held: Sequence[int]) -> list[Row[Any]]:
    """SQLite: the due rows themselves, read inside the write transaction."""
    query = _columns(_due(now, limit, held))
    return sorted(session.execute(query).all(), key=itemgetter(0))


def _claim(
    session: Session,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    held: Sequence[int],
) -> list[int]:
    """Lease due rows; another worker's rows are skipped (FOR UPDATE SKIP LOCKED)."""
    due = _due(now, limit, held).with_for_update(skip_locked=True)
    statement = (
        update(_E)
        .where(_E.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=worker, lease_until=now + lease)
        .returning(_E.c.id)
    )
    return sorted(session.scalars(statement))


def _columns(query: Any) -> Any:
    """Only what a pass needs, through Core (no ORM objects per row)."""
    return query.with_only_columns(
        _E.c.id,
        _E.c.tenant_id,
        _E.c.journey_id,
        _E.c.version,
        _E.c.oneid,
        _E.c.status,
        _E.c.step,
        _E.c.due_at,
        _E.c.attempts,
        _E.c.step_count,
        _E.c.arm,
        _E.c.wait_event,
        _E.c.context,
        _E.c.entered_at,
    )


class _Batch:
    """One tenant's claimed enrolments, run and written back together."""

    def __init__(
        self,
        session: Session,
        tenant: TenantContext,
        ports: Ports,
        loaded: dict[tuple[int, int], Loaded],
        now: datetime,
        max_attempts: int,
        report: RunReport,
    ) -> None:
        self.session, self.tenant, self.ports, self.loaded = session, tenant, ports, loaded
        self.now, self.max_attempts, self.report = now, max_attempts, report
        self.oneids: list[str] = []
        self.read: dict[int, dict[str, Any]] = {}  # each enrolment's context as read
        self._light: dict[str, dict[str, Any]] | None = None
        self._cards: dict[str, profiles.ContactCard] | None = None

    def run(self, rows: Sequence[Row[Any]]) -> None:
        now, loaded = self.now, self.loaded
        states = [_state(row, loaded[(row[2], row[3])].key) for row in rows]
        self.oneids = sorted({state.oneid for state in states})
        effects = Effects(
            zone=self.tenant.zone, person=self.person, apply_tags=self.apply_tags, grant=self.grant
        )
        due: dict[tuple[int, int], list[State]] = defaultdict(list)
        for state in states:
            self.read[state.id] = state.context
            # Not due (changed since the claim): nothing to run, it is just released.
            if state.due_at is not None and state.due_at <= now:
                due[(state.journey_id, state.version)].append(state)
        failures: dict[int, tuple[BaseException, bool]] = {}
        for pair, group in due.items():
            for state in group:
                state.attempts = 0  # unless it fails below
            ran = steps.run_group(group, loaded[pair].definition, effects, now)
            failures.update((state.id, (error, stands)) for state, error, stands in ran)
        dead: list[dict[str, Any]] = []
        for index, row in enumerate(rows) if failures else ():
            if (failure := failures.get(row.id)) is not None:
                error, stands = failure
                # Steps before a failing step stand; a failure outside the steps is as if
                # this pass never ran for the enrolment.
                state = states[index] if stands else _state(row, states[index].journey_key)
                states[index] = self._failed(row, state, error, dead)
        # Steps run: trace entries naming a step. The only entry naming none is the
        # "completed" that ends an enrolment, always its last.
        entries = sum(len(s.trace) for s in states)
        ended = sum(1 for s in states if s.trace and s.trace[-1]["step"] is None)
        self.report.steps += entries - ended
        self.report.enrolments += sum(len(group) for group in due.values())
        self._write(states, dead)

    def _failed(
        self, row: Row[Any], state: State, error: BaseException, dead: list[dict[str, Any]]
    ) -> State:
        """A step raised: retry it later with backoff, or give up after the last try."""
        state.attempts = row.attempts + 1 if state.step == row.step else 1
        state.last_error = f"{type(error).__name__}: {error}"[:2000]
        log.warning("enrolment %s step %s failed: %s", row.id, state.step, state.last_error)
        if state.attempts >= self.max_attempts:
            self.report.failed += 1
            state.log(
                state.step, self.now, "failed", error=state.last_error, attempts=state.attempts
            )
            dead.append(
                {
                    "tenant_id": self.tenant.id,
                    "enrolment_id": row.id,
                    "step": state.step,
                    "error": state.last_error,
                    "attempts": state.attempts,
                    "at": self.now,
                }
            )
            state.finish("failed", self.now)
        else:
            self.report.retried += 1
            state.due_at = self.now + backoff(state.attempts)
            state.log(
                state.step,
                self.now,
                "retry",
                error=state.last_error,
                next_try=state.due_at.isoformat(),
            )
        return state

    def _write(self, states: Sequence[State], dead: Sequence[dict[str, Any]]) -> None:
        session = self.session
        rows = [
            {
                "id": s.id,
                "status": s.status,
                "step": s.step,
                "due_at": s.due_at,
                "attempts": s.attempts,
                "step_count": s.step_count,
                "arm": s.arm,
                "wait_event": s.wait_event,
                "finished_at": s.finished_at,
                "last_error": s.last_error,
                "lease_owner": None,
                "lease_until": None,
            }
            for s in states
        ]
        # Most passes leave the context (trigger record, data) alone: rewriting it would
        # serialise and store the same JSON again for every enrolment.
        same = [row for row, s in zip(rows, states, strict=True) if s.context is self.read[s.id]]
        changed = [
            {**row, "context": s.context}
            for row, s in zip(rows, states, strict=True)
            if s.context is not self.read[s.id]
        ]
        update_many(session, Enrolment, same)
        update_many(session, Enrolment, changed)
        trace = [
            {"tenant_id": self.tenant.id, "enrolment_id": s.id, "at": self.now, "entries": s.trace}
            for s in states
            if s.trace
        ]
        insert_many(session, TraceRow, trace)
        messages = [m for s in states for m in s.messages]
        channels.enqueue_messages(session=session, tenant=self.tenant, messages=messages)
        if dead:
            insert_many(session, DeadLetter, dead)

    # -- what steps reach -----------------------------------------------------------------

    def person(self, oneid: str, with_profile: bool) -> dict[str, Any]:
        """Tier, points and tags (ports); the profile too when conditions read it."""
        if self._light is None:
            session, tenant = self.session, self.tenant
            balances = self.ports.loyalty.balances(
                session=session, tenant=tenant, oneids=self.oneids
            )
            tags = self.ports.tags.tags(session=session, tenant=tenant, oneids=self.oneids)
            self._light = {o: {**balances.get(o, {}), "tags": tags.get(o, [])} for o in self.oneids}
        facts = dict(self._light.get(oneid, {}))
        if with_profile:
            if self._cards is None:
                self._cards = profiles.contact_cards(
                    session=self.session, tenant=self.tenant, oneids=self.oneids
                )
            card = self._cards.get(oneid)
            if card is not None:
                facts = {**card.attributes, "consent": card.consent, "locale": card.locale, **facts}
        return facts

    def apply_tags(self, state: State, step: TagStep, key: str) -> None:
        self.ports.tags.apply(
            session=self.session,
            tenant=self.tenant,
            oneid=state.oneid,
            add=step.add,
            remove=step.remove,
            key=key,
        )

    def grant(self, state: State, step: GrantStep, key: str) -> str | None:
        granted = self.ports.loyalty.grant(
            session=self.session,
            tenant=self.tenant,
            oneid=state.oneid,
            points=step.points,
            coupon=step.coupon,
            reason=step.reason,
            key=key,
        )
        return granted.coupon_code


def _state(row: Row[Any], key: str) -> State:
    # By position: the columns are `_columns`' (attribute access by name costs more).
    (id_, tenant_id, journey_id, version, oneid, status, step, due_at, attempts) = row[:9]
    (step_count, arm, wait_event, context, entered_at) = row[9:]
    return State(
        id_,
        tenant_id,
        journey_id,
        key,
        version,
        oneid,
        status,
        step,
        due_at,
        attempts,
        step_count,
        arm,
        wait_event,
        context or {},  # never changed in place: steps give a state a new dict
        entered_at,
    )
