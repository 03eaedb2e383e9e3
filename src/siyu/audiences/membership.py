"""Keeping membership: batch refresh (all persons, in the engine) and online updates
(the persons whose records just arrived, in Python). Both write the same intervals.

A refresh diffs the rule's result against the members exported with its snapshot, so
only entries and exits come back. It closes exactly the intervals that were open in the
snapshot and opens intervals only for persons without one now, so online updates written
meanwhile are never duplicated or lost (the next refresh or record settles a person
whose data changed after the snapshot).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Collection, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.orm import Session

from siyu import identity, rules, tags
from siyu.audiences.models import Audience, AudienceMembership, AudienceRun
from siyu.audiences.schemas import AudienceRefreshed, OnlineReport, RefreshReport
from siyu.audiences.service import open_count
from siyu.rules import intervals
from siyu.store.base import table, utcnow
from siyu.tenants import TenantContext

_CHUNK = 1000
_M = AudienceMembership
# Built once: the online path runs these on every request.
_ONLINE_AUDIENCES = select(Audience).where(
    Audience.tenant_id == bindparam("tenant"), Audience.online.is_(True)
)
_OPEN_OF_PERSONS = select(_M.audience_id, _M.oneid, _M.id).where(
    _M.tenant_id == bindparam("tenant"),
    _M.audience_id.in_(bindparam("audiences", expanding=True)),
    _M.oneid.in_(bindparam("oneids", expanding=True)),
    _M.exited_at.is_(None),
)


def refresh_audiences(
    *,
    session: Session,
    tenant: TenantContext,
    engine_dir: Path,
    names: Sequence[str] | None = None,
    due_only: bool = False,
    engine: str = "duckdb",
    as_of: date | None = None,
    spark_master: str = "local[2]",
) -> RefreshReport:
    """Re-evaluate audiences over everyone (all, the named ones, or those due) and write
    the entries and exits."""
    started = utcnow()
    clock = time.perf_counter()
    day = as_of or started.astimezone(tenant.zone).date()
    chosen = _chosen(session, tenant, names, due_only, started)
    report = RefreshReport(engine=engine, as_of=day, audiences=[], seconds=0.0)
    if not chosen:
        return report
    ids = [a.id for a in chosen]
    results: dict[int, tuple[list[str], list[int], float]] = {}
    with rules.prepared_facts(
        session=session,
        tenant=tenant,
        engine_dir=engine_dir,
        tags=tags.tag_fact(session=session, tenant=tenant),
        extra={intervals.OPEN: intervals.open_intervals(session, _open_members(tenant, ids))},
        engine=engine,
        spark_master=spark_master,
    ) as facts:
        for audience in chosen:
            tick = time.perf_counter()
            # Computed once: both sides of the diff read it.
            selected = facts.engine.scratch(
                rules.matching(rules.parse_rule(audience.rule), facts, as_of=day)
            )
            entered, exited = intervals.diff(facts.engine, selected, audience.id)
            results[audience.id] = (entered, exited, time.perf_counter() - tick)
    for audience in chosen:
        entered_ids, exited_ids, seconds = results[audience.id]
        exits = _exit(session, exited_ids, started, "refresh")
        entries = _enter(session, tenant, audience.id, entered_ids, started, "refresh")
        audience.refreshed_at = started
        size = open_count(session, tenant.id, audience.id)
        session.add(
            AudienceRun(
                tenant_id=tenant.id,
                audience_id=audience.id,
                at=started,
                as_of=day,
                engine=engine,
                size=size,
                entered=entries,
                exited=exits,
                seconds=round(seconds, 3),
            )
        )
        report.audiences.append(
            AudienceRefreshed(name=audience.name, size=size, entered=entries, exited=exits)
        )
    report.seconds = round(time.perf_counter() - clock, 3)
    session.commit()
    return report


def on_records(
    *,
    session: Session,
    tenant: TenantContext,
    oneids: Sequence[str],
    kinds: Collection[str] | None = None,
    live: bool = False,
    as_of: date | None = None,
) -> OnlineReport:
    """Re-evaluate these persons (whose records just arrived) for the online audiences
    whose rules the arriving record `kinds` can change (None: every online audience), and
    write their entries and exits; the caller commits. Persons merged away leave their
    audiences (their surviving OneID is evaluated instead); `live` says all `oneids` are
    known to be live (nothing was merged), which saves looking them up."""
    if not oneids:
        return OnlineReport(persons=0, entered=0, exited=0)
    audiences = [
        a
        for a in session.scalars(_ONLINE_AUDIENCES, {"tenant": tenant.id})
        if kinds is None or not _rule_kinds(a.rule).isdisjoint(kinds)
    ]
    if not audiences:
        return OnlineReport(persons=0, entered=0, exited=0)
    now = utcnow()
    day = as_of or now.astimezone(tenant.zone).date()
    current_of = (
        {o: o for o in oneids}
        if live
        else identity.current_oneids(session=session, tenant=tenant, oneids=oneids)
    )
    retired = sorted(o for o, current in current_of.items() if o != current)
    persons = sorted(set(current_of.values()))
    report = OnlineReport(persons=len(persons), entered=0, exited=0)
    # Read only what the rules being evaluated test (an event rule needs no orders).
    parts: frozenset[str] = frozenset().union(
        *(rules.facts_needed(_parsed(a.rule)) for a in audiences)
    )
    held = (
        tags.tag_keys_of_persons(session=session, tenant=tenant, oneids=persons)
        if "tags" in parts
        else {}
    )
    facts = rules.load_person_facts(
        session=session, tenant=tenant, oneids=persons, tags=held, parts=parts
    )
    opened = _open_by_audience(session, tenant, [a.id for a in audiences], [*persons, *retired])
    for audience in audiences:
        rule = _parsed(audience.rule)
        inside = {o for o in persons if o in facts and rules.evaluate(rule, facts[o], as_of=day)}
        current = opened.get(audience.id, {})
        merged = [current[o] for o in retired if o in current]
        leaving = [i for o, i in current.items() if o not in inside and o not in retired]
        report.exited += _exit(session, merged, now, "merge") + _exit(
            session, leaving, now, "online"
        )
        report.entered += _enter(
            session, tenant, audience.id, sorted(inside - set(current)), now, "online",
            checked=True,
        )  # fmt: skip
    session.flush()
    return report


def _parsed(data: dict[str, Any]) -> rules.Rule:
    """The parsed rule, cached by its stored JSON: the online path evaluates the same few
    rules on every request."""
    return _parse_cached(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))


@functools.lru_cache(maxsize=256)
def _parse_cached(text: bytes) -> rules.Rule:
    return rules.parse_rule(orjson.loads(text))


def _rule_kinds(data: dict[str, Any]) -> frozenset[str]:
    return rules.record_kinds(_parsed(data))


def _chosen(
    session: Session,
    tenant: TenantContext,
    names: Sequence[str] | None,
    due_only: bool,
    now: datetime,
) -> list[Audience]:
    query = select(Audience).where(Audience.tenant_id == tenant.id).order_by(Audience.name)
    everyone = list(session.scalars(query))
    if names is not None:
        by_name = {a.name: a for a in everyone}
        unknown = sorted(set(names) - set(by_name))
        if unknown:
            raise LookupError(f"no audience {', '.join(map(repr, unknown))}")
        return [by_name[n] for n in dict.fromkeys(names)]
    if due_only:
        return [a for a in everyone if intervals.due(a.refreshed_at, a.refresh_minutes, now)]
    return everyone


def _open_members(tenant: TenantContext, audience_ids: list[int]) -> Select[Any]:
    m = AudienceMembership
    return select(m.id, m.audience_id, m.oneid).where(
        m.tenant_id == tenant.id, m.audience_id.in_(audience_ids), m.exited_at.is_(None)
    )


def _open_by_audience(
    session: Session, tenant: TenantContext, audience_ids: list[int], oneids: Sequence[str]
) -> dict[int, dict[str, int]]:
    """Open interval id per audience and person, for these audiences and persons (one
    prepared statement: the online path runs it on every request)."""
    found: dict[int, dict[str, int]] = {}
    for start in range(0, len(oneids), _CHUNK):
        rows = session.execute(
            _OPEN_OF_PERSONS,
            {
                "tenant": tenant.id,
                "audiences": audience_ids,
                "oneids": list(oneids[start : start + _CHUNK]),
            },
        )
        for audience_id, oneid, interval_id in rows:
            found.setdefault(audience_id, {})[oneid] = interval_id
    return found


def _open_of(
    session: Session, tenant: TenantContext, audience_id: int, oneids: Sequence[str]
) -> dict[str, int]:
    """Open interval id per person, for these persons."""
    m = AudienceMembership
    found: dict[str, int] = {}
    for start in range(0, len(oneids), _CHUNK):
        rows = session.execute(
            select(m.oneid, m.id).where(
                m.tenant_id == tenant.id,
                m.audience_id == audience_id,
                m.oneid.in_(oneids[start : start + _CHUNK]),
                m.exited_at.is_(None),
            )
        )
        found.update((o, i) for o, i in rows)
    return found


def _exit(session: Session, interval_ids: Sequence[int], now: datetime, by: str) -> int:
    """Close these intervals (those still open); returns how many closed."""
    core = table(AudienceMembership)
    closed = 0
    for start in range(0, len(interval_ids), _CHUNK):
        result = session.execute(
            update(core)
            .where(
                core.c.id.in_(list(interval_ids[start : start + _CHUNK])),
                core.c.exited_at.is_(None),
            )
            .values(exited_at=now, exited_by=by)
        )
        closed += result.rowcount  # type: ignore[attr-defined]
    return closed


def _enter(
    session: Session,
    tenant: TenantContext,
    audience_id: int,
    oneids: Sequence[str],
    now: datetime,
    by: str,
    *,
    checked: bool = False,
) -> int:
    """Open intervals for these persons (skipping any already inside, unless the caller
    `checked` that in this transaction); returns how many."""
    core = table(AudienceMembership)
    opened = 0
    for start in range(0, len(oneids), _CHUNK):
        part = oneids[start : start + _CHUNK]
        inside = {} if checked else _open_of(session, tenant, audience_id, part)
        rows = [
            {
                "tenant_id": tenant.id,
                "audience_id": audience_id,
                "oneid": oneid,
                "entered_at": now,
                "entered_by": by,
            }
            for oneid in part
            if oneid not in inside
        ]
        if rows:
            session.execute(insert(core), rows)
            opened += len(rows)
    return opened
