"""Writing a rebuild's result into the store: only the rows that differ."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from siyu.identity.batch.naming import Naming
from siyu.identity.models import (
    BlockedMerge,
    IdentityChange,
    IdentityLink,
    Person,
    StrongIdentifier,
    WeakIdentifier,
)
from siyu.identity.state import chunks
from siyu.store.base import table
from siyu.store.bulk import insert_many, update_many

_BLOCKED_FIELDS = ("link_seq", "oneid", "other_oneid", "id_type", "id_value", "guard")


def write_naming(
    session: Session, *, tenant_id: int, naming: Naming, run_id: int, now: datetime
) -> None:
    """Persons, links, identifier owners and holders, changes and blocked merges."""
    if naming.fresh:
        insert_many(
            session,
            Person,
            [{"oneid": o, "tenant_id": tenant_id, "created_at": now} for o in naming.fresh],
        )
    if naming.retired:
        gone, final = bindparam("gone", type_=String), bindparam("final", type_=String)
        session.execute(
            update(table(Person))
            .where(
                Person.tenant_id == tenant_id,
                or_(Person.oneid == gone, Person.merged_into == gone),
            )
            .values(merged_into=final, retired_at=func.coalesce(Person.retired_at, now)),
            [{"gone": old, "final": new} for old, new in naming.retired.items()],
        )
    if naming.link_moves is not None and naming.link_moves.num_rows:
        # One executemany by primary key (seq) for all moved links: after a bulk import
        # that is every record it brought, so the driver-level path matters.
        update_many(session, IdentityLink, naming.link_moves.to_pylist(), key="seq")
    _write_owners(session, tenant_id, naming)
    _write_holders(session, tenant_id, naming)
    if naming.changes:
        insert_many(
            session,
            IdentityChange,
            [
                {
                    "tenant_id": tenant_id,
                    **change,
                    "actor": "rebuild",
                    "detail": {**change["detail"], "run": run_id},
                    "at": now,
                }
                for change in naming.changes
            ],
        )
    _write_blocked(session, tenant_id, naming, now)


def _write_owners(session: Session, tenant_id: int, naming: Naming) -> None:
    core = table(StrongIdentifier)
    stale = [
        *(naming.owner_removals.to_pylist() if naming.owner_removals is not None else []),
        *(naming.owner_upserts.to_pylist() if naming.owner_upserts is not None else []),
    ]
    by_type: dict[str, set[str]] = defaultdict(set)
    for row in stale:
        by_type[row["id_type"]].add(row["value"])
    for id_type, values in sorted(by_type.items()):  # per type: see state._lookup
        for part in chunks(sorted(values)):
            session.execute(
                delete(core).where(
                    core.c.tenant_id == tenant_id,
                    core.c.id_type == id_type,
                    core.c.value.in_(part),
                )
            )
    if naming.owner_upserts is not None and naming.owner_upserts.num_rows:
        insert_many(
            session,
            StrongIdentifier,
            [{"tenant_id": tenant_id, **row} for row in naming.owner_upserts.to_pylist()],
        )


def _write_holders(session: Session, tenant_id: int, naming: Naming) -> None:
    core = table(WeakIdentifier)
    dropped = naming.weak_dropped.to_pylist() if naming.weak_dropped is not None else []
    if dropped:
        session.execute(
            delete(core).where(
                and_(
                    core.c.tenant_id == tenant_id,
                    core.c.id_type == bindparam("t"),
                    core.c.value == bindparam("v"),
                    core.c.oneid == bindparam("o"),
                )
            ),
            [{"t": r["id_type"], "v": r["value"], "o": r["oneid"]} for r in dropped],
        )
    if naming.weak_added is not None and naming.weak_added.num_rows:
        insert_many(
            session,
            WeakIdentifier,
            [{"tenant_id": tenant_id, **row} for row in naming.weak_added.to_pylist()],
        )


def _write_blocked(session: Session, tenant_id: int, naming: Naming, now: datetime) -> None:
    """Open blocked merges become the rebuild's list: new ones are added, gone ones removed,
    the rest (and every reviewed one) stay as they are. A refusal a reviewer decided (the
    same record and identifier) is not listed again."""
    wanted = {_blocked_key(row) for row in naming.blocked}
    seen: set[tuple[object, ...]] = set()
    reviewed: set[tuple[object, ...]] = set()
    stale = []
    for row in session.execute(
        select(
            BlockedMerge.id,
            BlockedMerge.link_seq,
            BlockedMerge.oneid,
            BlockedMerge.other_oneid,
            BlockedMerge.id_type,
            BlockedMerge.id_value,
            BlockedMerge.guard,
            BlockedMerge.status,
        ).where(BlockedMerge.tenant_id == tenant_id)
    ):
        key = _blocked_key(row._asdict())
        seen.add(key)
        if row.status == "open" and key not in wanted:
            stale.append(row.id)
        elif row.status != "open":
            reviewed.add((row.link_seq, row.id_type, row.id_value))
    for part in chunks(stale):
        session.execute(delete(BlockedMerge).where(BlockedMerge.id.in_(part)))
    rows = [
        {"tenant_id": tenant_id, **row, "status": "open", "at": now}
        for row in naming.blocked
        if _blocked_key(row) not in seen
        and (row["link_seq"], row["id_type"], row["id_value"]) not in reviewed
    ]
    if rows:
        insert_many(session, BlockedMerge, rows)


def _blocked_key(row: Mapping[str, Any]) -> tuple[object, ...]:
    return tuple(row[name] for name in _BLOCKED_FIELDS)
