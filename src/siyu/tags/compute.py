"""Rule tags recomputed in batch: every rule tag's holders become exactly who its rule picks.

All chosen tags run on one rules snapshot, in dependency order: a rule reading another
rule tag computed in the same run sees the fresh holders. In an exclusive rule group a
person gets the first value (by position) whose rule matches. Differences against the
current holders are found in the engine, so only changes come back to be written.
"""

from __future__ import annotations

import graphlib
import time
from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from siyu import rules
from siyu.rules import intervals
from siyu.store.base import table, utcnow
from siyu.tags.facts import tag_fact
from siyu.tags.models import Tag, TagAssignment, TagGroup
from siyu.tags.schemas import TagComputed, TagComputeReport
from siyu.tags.service import dependencies, open_holders
from siyu.tenants import TenantContext

_CHUNK = 1000


def compute_rule_tags(
    *,
    session: Session,
    tenant: TenantContext,
    engine_dir: Path,
    keys: Collection[str] | None = None,
    due_only: bool = False,
    engine: str = "duckdb",
    as_of: date | None = None,
    spark_master: str = "local[2]",
) -> TagComputeReport:
    """Recompute rule tags (all, the named ones, or those due) and write what changed."""
    started = utcnow()
    clock = time.perf_counter()
    day = as_of or started.astimezone(tenant.zone).date()
    chosen = _chosen(session, tenant, keys, due_only, started)
    report = TagComputeReport(engine=engine, as_of=day, tags=[], seconds=0.0)
    if not chosen:
        return report
    ids = [t.id for t in chosen]
    with rules.prepared_facts(
        session=session,
        tenant=tenant,
        engine_dir=engine_dir,
        tags=tag_fact(session=session, tenant=tenant),
        extra={intervals.OPEN: intervals.open_intervals(session, _current(tenant, ids))},
        engine=engine,
        spark_master=spark_master,
    ) as facts:
        changes = _changes(facts, _ordered(session, tenant, chosen), day)
    for tag, (entered, exited, holders) in changes.items():
        given = _write(session, tenant, tag, entered, exited, started)
        tag.computed_at = started
        report.tags.append(
            TagComputed(key=tag.key, holders=holders, given=given, removed=len(exited))
        )
    report.seconds = round(time.perf_counter() - clock, 3)
    session.commit()
    return report


def _chosen(
    session: Session,
    tenant: TenantContext,
    keys: Collection[str] | None,
    due_only: bool,
    now: datetime,
) -> list[Tag]:
    """The rule tags to run; a value of an exclusive group brings its whole group."""
    all_rule_tags = list(
        session.scalars(select(Tag).where(Tag.tenant_id == tenant.id, Tag.kind == "rule"))
    )
    by_key = {t.key: t for t in all_rule_tags}
    if keys is not None:
        unknown = sorted(set(keys) - set(by_key))
        if unknown:
            raise LookupError(f"no rule tag {', '.join(map(repr, unknown))}")
        chosen = [by_key[k] for k in keys]
    elif due_only:
        chosen = [t for t in all_rule_tags if intervals.due(t.computed_at, t.refresh_minutes, now)]
    else:
        chosen = all_rule_tags
    groups = {t.tag_group for t in chosen if t.tag_group is not None}
    exclusive = set(
        session.scalars(
            select(TagGroup.name).where(
                TagGroup.tenant_id == tenant.id,
                TagGroup.name.in_(groups),
                TagGroup.exclusive.is_(True),
            )
        )
    )
    extra = [t for t in all_rule_tags if t.tag_group in exclusive and t not in chosen]
    return sorted([*chosen, *extra], key=lambda t: (t.tag_group or "", t.position, t.key))


def _ordered(
    session: Session, tenant: TenantContext, chosen: list[Tag]
) -> list[tuple[Tag, list[str]]]:
    """Chosen tags in dependency order, each with the earlier values of its exclusive
    group (which it must not overlap)."""
    by_key = {t.key: t for t in chosen}
    graph = {
        k: {d for d in deps if d in by_key}
        for k, deps in dependencies(session, tenant).items()
        if k in by_key
    }
    earlier: dict[str, list[str]] = {}
    exclusive = set(
        session.scalars(
            select(TagGroup.name).where(
                TagGroup.tenant_id == tenant.id, TagGroup.exclusive.is_(True)
            )
        )
    )
    for tag in chosen:
        if tag.tag_group in exclusive:
            before = [
                t.key for t in chosen if t.tag_group == tag.tag_group and t.position < tag.position
            ]
            earlier[tag.key] = before
            graph.setdefault(tag.key, set()).update(before)
    order = graphlib.TopologicalSorter(graph).static_order()
    return [(by_key[k], earlier.get(k, [])) for k in order]


def _changes(
    facts: rules.RuleFacts, ordered: list[tuple[Tag, list[str]]], day: date
) -> dict[Tag, tuple[list[str], list[int], int]]:
    """Per tag: OneIDs entering, assignment ids ending, holders after the run."""
    fresh: dict[str, ir.Table] = {}
    found: dict[Tag, tuple[list[str], list[int], int]] = {}
    for tag, before in ordered:
        assert tag.rule is not None
        chosen = rules.matching(rules.parse_rule(tag.rule), facts, as_of=day, tag_sets=fresh)
        for key in before:
            chosen = chosen.anti_join(fresh[key], "person")
        chosen = facts.engine.scratch(chosen)
        fresh[tag.key] = chosen
        entered, exited = intervals.diff(facts.engine, chosen, tag.id)
        found[tag] = (entered, exited, facts.engine.count(chosen))
    return found


def _current(tenant: TenantContext, tag_ids: list[int]) -> Select[Any]:
    a = TagAssignment
    return select(a.id, a.tag_id, a.oneid).where(
        a.tenant_id == tenant.id, a.tag_id.in_(tag_ids), a.removed_at.is_(None)
    )


def _write(
    session: Session,
    tenant: TenantContext,
    tag: Tag,
    entered: list[str],
    exited: list[int],
    now: datetime,
) -> int:
    """End the exited intervals and open new ones (skipping persons holding it already)."""
    core = table(TagAssignment)
    for start in range(0, len(exited), _CHUNK):
        session.execute(
            update(core)
            .where(core.c.id.in_(exited[start : start + _CHUNK]), core.c.removed_at.is_(None))
            .values(removed_at=now, removed_by_kind="rule", removed_by=tag.key)
        )
    given = 0
    for start in range(0, len(entered), _CHUNK):
        part = entered[start : start + _CHUNK]
        holding = open_holders(session, tenant, tag.id, part)
        rows = [
            {
                "tenant_id": tenant.id,
                "tag_id": tag.id,
                "oneid": oneid,
                "given_at": now,
                "given_by_kind": "rule",
                "given_by": tag.key,
            }
            for oneid in part
            if oneid not in holding
        ]
        if rows:
            session.execute(insert(core), rows)
            given += len(rows)
    return given
