"""Moving identity state between the store and the in-memory Resolver."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    Row,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from siyu.identity.models import (
    BlockedMerge,
    CannotLink,
    IdentityChange,
    IdentityLink,
    Person,
    StrongIdentifier,
    WeakIdentifier,
)
from siyu.identity.resolver import Key, PersonState, Resolver
from siyu.store.base import table, utcnow
from siyu.store.bulk import insert_many

T = TypeVar("T")
CHUNK = 2000  # bound on bind parameters per statement (SQLite and PostgreSQL both fine)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def allocate_seqs(session: Session, count: int) -> list[int]:
    """Reserve `count` arrival positions for new links (the caller holds the write lock)."""
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            select(func.nextval("identity_links_seq_seq")).select_from(
                func.generate_series(1, count)
            )
        )
        return [int(row[0]) for row in rows]
    start = (session.scalar(select(func.max(IdentityLink.seq))) or 0) + 1
    return list(range(start, start + count))


def lock_tenant(session: Session, tenant_id: int) -> None:
    """Serialise identity writers of one tenant (SQLite already has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(7270000 + tenant_id)))


def load_links(
    session: Session, tenant_id: int, refs: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Row[Any]]:
    """Existing links by (kind, source, record_id)."""
    found: dict[tuple[str, str, str], Row[Any]] = {}
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for kind, source, record_id in refs:
        grouped[(kind, source)].add(record_id)
    for (kind, source), ids in grouped.items():
        for part in chunks(sorted(ids)):
            rows = session.execute(
                _LINKS, {"tenant": tenant_id, "kind": kind, "source": source, "ids": part}
            )
            for row in rows:
                found[(row.kind, row.source, row.record_id)] = row
    return found


# The loaders' statements are built once (the IN lists bind as expanding parameters):
# building a statement and its cache key cost more than running it, batch after batch.
_LINKS = select(
    IdentityLink.kind,
    IdentityLink.source,
    IdentityLink.record_id,
    IdentityLink.seq,
    IdentityLink.oneid,
    IdentityLink.keys,
).where(
    IdentityLink.tenant_id == bindparam("tenant"),
    IdentityLink.kind == bindparam("kind"),
    IdentityLink.source == bindparam("source"),
    IdentityLink.record_id.in_(bindparam("ids", expanding=True)),
)
_OWNERS = {
    model: select(model.id_type, model.value, model.oneid).where(
        model.tenant_id == bindparam("tenant"),
        model.id_type == bindparam("type"),
        model.value.in_(bindparam("values", expanding=True)),
    )
    for model in (StrongIdentifier, WeakIdentifier)
}
_STATS = (
    select(
        IdentityLink.oneid,
        func.min(IdentityLink.seq),
        func.sum(case((IdentityLink.kind == "customer", 1), else_=0)),
    )
    .where(
        IdentityLink.tenant_id == bindparam("tenant"),
        IdentityLink.oneid.in_(bindparam("oneids", expanding=True)),
    )
    .group_by(IdentityLink.oneid)
)
_STRONG_OF = select(StrongIdentifier.id_type, StrongIdentifier.value, StrongIdentifier.oneid).where(
    StrongIdentifier.tenant_id == bindparam("tenant"),
    StrongIdentifier.oneid.in_(bindparam("oneids", expanding=True)),
)


def load_into(
    resolver: Resolver,
    session: Session,
    tenant_id: int,
    keys: Iterable[Key],
    *,
    extra_persons: Iterable[str] = (),
) -> None:
    """Load owners of `keys`, holders of weak keys and the guard state of those persons."""
    keys = set(keys)  # read twice below: a generator would leave the weak keys empty
    strong = sorted({k for k in keys if k[0] not in resolver.weak_types})
    weak = sorted({k for k in keys if k[0] in resolver.weak_types})
    oneids: set[str] = set(extra_persons)
    for _type, _value, oneid in _lookup(session, StrongIdentifier, tenant_id, strong):
        oneids.add(oneid)
    for id_type, value, oneid in _lookup(session, WeakIdentifier, tenant_id, weak):
        resolver.load_weak((id_type, value), oneid)
        oneids.add(oneid)
    for state in person_states(session, tenant_id, sorted(oneids)):
        resolver.load_person(state)


def _lookup(
    session: Session,
    model: type[StrongIdentifier] | type[WeakIdentifier],
    tenant_id: int,
    keys: Iterable[Key],
) -> Iterator[tuple[str, str, str]]:
    """(type, value, oneid) rows of identifier `keys`.

    Queried as `type = ? AND value IN (...)` per type: SQLite plans a row-value IN
    `(type, value) IN (...)` as a scan of the tenant's whole index, which made every
    import batch slower than the last.
    """
    grouped: dict[str, list[str]] = defaultdict(list)
    for id_type, value in keys:
        grouped[id_type].append(value)
    for id_type, values in sorted(grouped.items()):
        for part in chunks(sorted(set(values))):
            for row in session.execute(
                _OWNERS[model], {"tenant": tenant_id, "type": id_type, "values": part}
            ):
                yield row[0], row[1], row[2]


def person_states(session: Session, tenant_id: int, oneids: Sequence[str]) -> list[PersonState]:
    """Guard state (strong identifiers, age, customer-record count, splits) of persons."""
    states: dict[str, PersonState] = {}
    for part in chunks(oneids):
        stats = session.execute(_STATS, {"tenant": tenant_id, "oneids": part})
        for oneid, first_seq, customers in stats:
            states[oneid] = PersonState(oneid, int(first_seq), customer_records=int(customers))
        for id_type, value, oneid in session.execute(
            _STRONG_OF, {"tenant": tenant_id, "oneids": part}
        ):
            states[oneid].strong[id_type].add(value)
    if states and session.scalar(select(CannotLink.seq_a).limit(1)) is not None:
        _load_constraints(session, tenant_id, states)
    return list(states.values())


def _load_constraints(session: Session, tenant_id: int, states: dict[str, PersonState]) -> None:
    side_a = IdentityLink.__table__.alias("a")
    side_b = IdentityLink.__table__.alias("b")
    rows = session.execute(
        select(CannotLink.seq_a, CannotLink.seq_b, side_a.c.oneid, side_b.c.oneid)
        .join(side_a, side_a.c.seq == CannotLink.seq_a)
        .join(side_b, side_b.c.seq == CannotLink.seq_b)
        .where(CannotLink.tenant_id == tenant_id)
    )
    for seq_a, seq_b, oneid_a, oneid_b in rows:
        for seq, other, oneid in ((seq_a, seq_b, oneid_a), (seq_b, seq_a, oneid_b)):
            if oneid in states:
                states[oneid].constrained.add(seq)
                states[oneid].forbidden.add(other)


def all_constraints(session: Session, tenant_id: int) -> list[tuple[int, int]]:
    rows = session.execute(
        select(CannotLink.seq_a, CannotLink.seq_b).where(CannotLink.tenant_id == tenant_id)
    )
    return [(int(a), int(b)) for a, b in rows]


def write_new_links(
    session: Session,
    tenant_id: int,
    resolver: Resolver,
    links: Sequence[tuple[int, str, str, str, str, list[list[str]]]],
) -> None:
    """Persist what resolving new records changed: persons, merges, owners, links."""
    now = utcnow()
    current = resolver.current
    if resolver.created:
        insert_many(
            session,
            Person,
            [{"oneid": o, "tenant_id": tenant_id, "created_at": now} for o in resolver.created],
        )
    _retire(session, tenant_id, resolver, now)
    if resolver.new_strong:
        insert_many(
            session,
            StrongIdentifier,
            [
                {"tenant_id": tenant_id, "id_type": k[0], "value": k[1], "oneid": current(o)}
                for k, o in resolver.new_strong.items()
            ],
        )
    weak_rows = {(k, current(o)) for k, o in resolver.new_weak}
    if weak_rows:
        _insert_weak(session, tenant_id, weak_rows)
    if links:
        insert_many(
            session,
            IdentityLink,
            [
                {
                    "seq": seq,
                    "tenant_id": tenant_id,
                    "kind": kind,
                    "source": source,
                    "record_id": record_id,
                    "oneid": current(oneid),
                    "keys": keys,
                    "linked_at": now,
                }
                for seq, kind, source, record_id, oneid, keys in links
            ],
        )
    write_blocked(session, tenant_id, resolver, {seq: current(o) for seq, *_, o, _k in links})


def _retire(session: Session, tenant_id: int, resolver: Resolver, now: Any) -> None:
    """Point every merged-away OneID (and what it owned) at the person it now belongs to."""
    if not resolver.merges:
        return
    # One statement per table for the whole batch (executemany), not five per merge.
    moves = [
        {"gone": merge.retired, "final": resolver.current(merge.kept)} for merge in resolver.merges
    ]
    gone, final = bindparam("gone", type_=String), bindparam("final", type_=String)
    session.execute(
        update(table(Person))
        .where(
            Person.tenant_id == tenant_id,
            or_(Person.oneid == gone, Person.merged_into == gone),
        )
        .values(merged_into=final, retired_at=func.coalesce(Person.retired_at, now)),
        moves,
    )
    for model in (StrongIdentifier, IdentityLink):
        core = table(model)
        session.execute(
            update(core)
            .where(core.c.tenant_id == tenant_id, core.c.oneid == gone)
            .values(oneid=final),
            moves,
        )
    _move_weak(session, tenant_id, moves)
    insert_many(
        session,
        IdentityChange,
        [
            {
                "tenant_id": tenant_id,
                "action": "merge",
                "kept_oneid": merge.kept,
                "retired_oneid": merge.retired,
                "id_type": merge.key[0],
                "id_value": merge.key[1],
                "link_seq": merge.seq,
                "at": now,
            }
            for merge in resolver.merges
        ],
    )


def _move_weak(session: Session, tenant_id: int, moves: list[dict[str, str]]) -> None:
    weak = table(WeakIdentifier)
    holding: set[str] = set()
    for part in chunks(sorted({move["gone"] for move in moves})):
        holding.update(
            session.scalars(
                select(weak.c.oneid).where(weak.c.tenant_id == tenant_id, weak.c.oneid.in_(part))
            )
        )
    # In merge order, one move at a time: a device both persons held is kept once, by the
    # surviving person (a chain A→B→C must see B's devices after A's have moved).
    for move in moves:
        if move["gone"] not in holding:
            continue
        held = select(weak.c.id_type, weak.c.value).where(
            weak.c.tenant_id == tenant_id, weak.c.oneid == move["final"]
        )
        session.execute(
            delete(weak).where(
                weak.c.tenant_id == tenant_id,
                weak.c.oneid == move["gone"],
                tuple_(weak.c.id_type, weak.c.value).in_(held),
            )
        )
        session.execute(
            update(weak)
            .where(weak.c.tenant_id == tenant_id, weak.c.oneid == move["gone"])
            .values(oneid=move["final"])
        )


def _insert_weak(session: Session, tenant_id: int, rows: set[tuple[Key, str]]) -> None:
    ordered = sorted(rows)
    existing = {
        ((id_type, value), oneid)
        for id_type, value, oneid in _lookup(
            session, WeakIdentifier, tenant_id, {key for key, _oneid in ordered}
        )
    }
    fresh = [row for row in ordered if row not in existing]
    if fresh:
        insert_many(
            session,
            WeakIdentifier,
            [
                {"tenant_id": tenant_id, "id_type": k[0], "value": k[1], "oneid": o}
                for k, o in fresh
            ],
        )


def write_blocked(
    session: Session, tenant_id: int, resolver: Resolver, oneid_of_seq: dict[int, str]
) -> None:
    rows = []
    reviewed = reviewed_blocked(session, tenant_id, sorted({b.seq for b in resolver.blocked}))
    for blocked in resolver.blocked:
        oneid = oneid_of_seq.get(blocked.seq)
        other = resolver.current(blocked.other)
        if oneid is None or oneid == other or (blocked.seq, *blocked.key) in reviewed:
            continue
        rows.append(
            {
                "tenant_id": tenant_id,
                "link_seq": blocked.seq,
                "oneid": oneid,
                "other_oneid": other,
                "id_type": blocked.key[0],
                "id_value": blocked.key[1],
                "guard": blocked.guard,
                "status": "open",
            }
        )
    if rows:
        insert_many(session, BlockedMerge, rows)


def reviewed_blocked(
    session: Session, tenant_id: int, seqs: Sequence[int] | None = None
) -> set[tuple[int, str, str]]:
    """(record seq, id_type, value) of blocked merges a reviewer decided (of these records,
    or all): the same refusal found again by a replay or rebuild is not listed as new."""
    query = select(BlockedMerge.link_seq, BlockedMerge.id_type, BlockedMerge.id_value).where(
        BlockedMerge.tenant_id == tenant_id, BlockedMerge.status != "open"
    )
    if seqs is None:
        return {(int(s), t, v) for s, t, v in session.execute(query)}
    found: set[tuple[int, str, str]] = set()
    for part in chunks(seqs):
        found.update(
            (int(s), t, v)
            for s, t, v in session.execute(query.where(BlockedMerge.link_seq.in_(part)))
        )
    return found


def approved_seqs(session: Session, tenant_id: int) -> set[int]:
    """Records joined by an approved override (their components are always replayed)."""
    rows = session.execute(
        select(BlockedMerge.link_seq, BlockedMerge.other_seq).where(
            BlockedMerge.tenant_id == tenant_id, BlockedMerge.status == "approved"
        )
    )
    return {int(seq) for pair in rows for seq in pair if seq is not None}


Rewrite = Callable[[int, list[list[str]]], list[list[str]]]


def rewrite_keys(session: Session, tenant_id: int, seqs: Iterable[int], change: Rewrite) -> None:
    """Change the stored matching keys of these records (decision keys added or taken off)."""
    updates = []
    for part in chunks(sorted(seqs)):
        for seq, keys in session.execute(
            select(IdentityLink.seq, IdentityLink.keys).where(
                IdentityLink.tenant_id == tenant_id, IdentityLink.seq.in_(part)
            )
        ):
            new = change(int(seq), [list(k) for k in keys])
            if new != keys:
                updates.append({"seq": seq, "keys": new})
    if updates:
        # ORM bulk UPDATE by primary key (one statement, many parameter sets).
        session.execute(update(IdentityLink), updates)


def links_of_persons(session: Session, tenant_id: int, oneids: Sequence[str]) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    for part in chunks(oneids):
        rows.extend(
            session.execute(
                select(
                    IdentityLink.seq, IdentityLink.kind, IdentityLink.oneid, IdentityLink.keys
                ).where(IdentityLink.tenant_id == tenant_id, IdentityLink.oneid.in_(part))
            )
        )
    return rows


def group_keys(rows: Iterable[Row[Any]]) -> dict[str, set[Key]]:
    keys: dict[str, set[Key]] = defaultdict(set)
    for row in rows:
        for id_type, value in row.keys:
            keys[row.oneid].add((id_type, value))
    return keys


def blocked_partners(session: Session, tenant_id: int, oneids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(oneids):
        for a, b in session.execute(
            select(BlockedMerge.oneid, BlockedMerge.other_oneid).where(
                BlockedMerge.tenant_id == tenant_id,
                BlockedMerge.status == "open",
                or_(BlockedMerge.oneid.in_(part), BlockedMerge.other_oneid.in_(part)),
            )
        ):
            found.update((a, b))
    return found


def constraint_partners(session: Session, tenant_id: int, seqs: Sequence[int]) -> set[str]:
    side = IdentityLink.__table__.alias("other")
    found: set[str] = set()
    for part in chunks(seqs):
        for (oneid,) in session.execute(
            select(side.c.oneid)
            .select_from(CannotLink)
            .join(
                side,
                or_(
                    and_(CannotLink.seq_a.in_(part), side.c.seq == CannotLink.seq_b),
                    and_(CannotLink.seq_b.in_(part), side.c.seq == CannotLink.seq_a),
                ),
            )
            .where(CannotLink.tenant_id == tenant_id)
        ):
            found.add(oneid)
    return found
