"""OneID use cases that write: resolve arriving records, stage them for the rebuild, detach
(unmerge), replay persons after a manual decision."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from pathlib import Path

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.identity import state
from siyu.identity.batch.facts import StagedLinks
from siyu.identity.identifiers import (
    APPROVED,
    DECISION_TYPES,
    SOURCE_CUSTOMER,
)
from siyu.identity.matching.links import reject_matches_of
from siyu.identity.models import (
    BlockedMerge,
    CannotLink,
    IdentityChange,
    IdentityLink,
    Person,
    StrongIdentifier,
    WeakIdentifier,
)
from siyu.identity.oneid import PENDING, new_oneid
from siyu.identity.resolver import Incoming, Key, Resolver
from siyu.identity.schemas import (
    DetachResult,
    RecordIdentity,
    RecordRef,
    ResolveReport,
)
from siyu.store.base import utcnow
from siyu.store.bulk import insert_many, update_many
from siyu.tenants.schemas import TenantContext

REPLAY_LIMIT = 50_000  # links; beyond this an online replay is a batch job (identity rebuild)


class IdentityError(LookupError):
    """An identity operation that cannot be done; the message says why."""


def resolve_records(
    *, session: Session, tenant: TenantContext, records: Sequence[RecordIdentity]
) -> ResolveReport:
    """Link arriving records to persons (OneIDs), merging persons they connect."""
    state.lock_tenant(session, tenant.id)
    refs = [(r.kind, r.source, r.record_id) for r in records]
    existing = state.load_links(session, tenant.id, refs)
    report = ResolveReport()
    fresh: dict[tuple[str, str, str], RecordIdentity] = {}
    changed: dict[tuple[str, str, str], RecordIdentity] = {}
    # The same record twice in one batch: its latest version is the one that counts.
    latest = dict(zip(refs, records, strict=True))
    for ref, record in latest.items():
        row = existing.get(ref)
        if row is None:
            fresh[ref] = record
        elif {tuple(k) for k in row.keys if k[0] not in DECISION_TYPES} != set(record.keys):
            changed[ref] = record
    resolver = Resolver(rules=tenant.settings.identity, new_oneid=new_oneid)
    state.load_into(resolver, session, tenant.id, (k for r in fresh.values() for k in r.keys))
    seqs = state.allocate_seqs(session, len(fresh))
    links = []
    for seq, (ref, record) in zip(seqs, fresh.items(), strict=True):
        oneid = resolver.add(Incoming(seq, record.kind, record.keys))
        links.append((seq, *ref, oneid, [list(k) for k in record.keys]))
    state.write_new_links(session, tenant.id, resolver, links)
    oneid_of = {(kind, source, rid): resolver.current(o) for _s, kind, source, rid, o, _ in links}
    for ref, record in changed.items():
        oneid_of[ref] = _relink(session, tenant, ref, record.keys)
    if changed:  # a replay may move records resolved before it: read the final links back
        oneid_of = {
            ref: row.oneid for ref, row in state.load_links(session, tenant.id, refs).items()
        }
    report.relinked = len(changed)
    report.new_persons = sum(1 for o in resolver.created if o not in resolver.retired)
    report.merges = len(resolver.merges)
    report.blocked = len(resolver.blocked)
    # Known records keep their person, which a merge in this batch may have retired.
    report.oneids = [
        oneid_of[ref] if ref in oneid_of else resolver.current(existing[ref].oneid) for ref in refs
    ]
    return report


def open_staging(*, session: Session, tenant: TenantContext, folder: Path) -> StagedLinks:
    """Where a bulk import keeps its pending links as rebuild facts; links an interrupted
    bulk import left pending are put there first, so that it holds every pending link."""
    staged = StagedLinks(folder)
    rows = session.execute(
        select(IdentityLink.seq, IdentityLink.kind, IdentityLink.keys)
        .where(IdentityLink.tenant_id == tenant.id, IdentityLink.oneid == PENDING)
        .order_by(IdentityLink.seq)
        .execution_options(yield_per=50_000)
    )
    for part in rows.partitions():
        staged.add([(seq, kind, [(t, v) for t, v in keys]) for seq, kind, keys in part])
    return staged


def stage_links(
    *,
    session: Session,
    tenant: TenantContext,
    records: Sequence[RecordIdentity],
    known: Collection[tuple[str, str, str]],
    staged: StagedLinks,
) -> int:
    """Record arriving records' links without resolving them (`known`: those stored
    before, which may have one); returns how many links were added or changed.

    The bulk import's identity step: a new record gets its arrival position (`seq`), its
    keys and the pending OneID (in the store and in `staged`); a known record whose
    identifiers changed gets its new keys. `rebuild_identity(staged=...)` then resolves
    every link at once, in arrival order, exactly as the online path would have.
    """
    state.lock_tenant(session, tenant.id)
    # The same record twice in one batch: its latest version is the one that counts.
    latest = {(r.kind, r.source, r.record_id): r for r in records}
    # Only records stored before (`known`: updated ones) can have a link: a record and its
    # link are written in one transaction, so a new record has none to look up.
    existing = state.load_links(session, tenant.id, [ref for ref in latest if ref in known])
    fresh = [(ref, record) for ref, record in latest.items() if ref not in existing]
    changed = []
    for ref, row in existing.items():
        keys = latest[ref].keys
        if {tuple(k) for k in row.keys if k[0] not in DECISION_TYPES} != set(keys):
            # Accepted matches and approved overrides are decisions about the record, not
            # part of what was sent.
            kept = [list(k) for k in row.keys if k[0] in DECISION_TYPES]
            changed.append({"seq": row.seq, "keys": [*(list(k) for k in keys), *kept]})
            if row.oneid == PENDING:  # staged earlier in this import: its facts change too
                staged.override(row.seq, keys)
    now = utcnow()
    seqs = state.allocate_seqs(session, len(fresh))
    insert_many(
        session,
        IdentityLink,
        [
            {
                "seq": seq,
                "tenant_id": tenant.id,
                "kind": kind,
                "source": source,
                "record_id": record_id,
                "oneid": PENDING,
                "keys": [list(k) for k in record.keys],
                "linked_at": now,
            }
            for seq, ((kind, source, record_id), record) in zip(seqs, fresh, strict=True)
        ],
    )
    update_many(session, IdentityLink, changed, key="seq")
    staged.add([(seq, ref[0], record.keys) for seq, (ref, record) in zip(seqs, fresh, strict=True)])
    return len(fresh) + len(changed)


def has_pending_links(*, session: Session, tenant: TenantContext) -> bool:
    """Whether some records await the rebuild (a bulk import stopped before resolving)."""
    found = session.scalar(
        select(IdentityLink.seq)
        .where(IdentityLink.tenant_id == tenant.id, IdentityLink.oneid == PENDING)
        .limit(1)
    )
    return found is not None


def count_links(*, session: Session, tenant: TenantContext) -> int:
    """How many records identity knows for the tenant."""
    return int(session.scalar(select(func.count()).where(IdentityLink.tenant_id == tenant.id)) or 0)


def _relink(
    session: Session, tenant: TenantContext, ref: tuple[str, str, str], keys: tuple[Key, ...]
) -> str:
    """A known record's identifiers changed: update it and replay its neighbourhood."""
    kind, source, record_id = ref
    link = session.execute(
        select(IdentityLink.seq, IdentityLink.oneid, IdentityLink.keys).where(
            IdentityLink.tenant_id == tenant.id,
            IdentityLink.kind == kind,
            IdentityLink.source == source,
            IdentityLink.record_id == record_id,
        )
    ).one()
    # Accepted matches and approvals are decisions about the record, not what a source sent.
    keys = (*keys, *(tuple(k) for k in link.keys if k[0] in DECISION_TYPES))
    session.execute(
        update(IdentityLink)
        .where(IdentityLink.seq == link.seq)
        .values(keys=[list(k) for k in keys])
    )
    seeds = {link.oneid} | _holders(session, tenant, keys)
    return _replay(session, tenant, seeds, actor="import")[link.seq]


def _holders(session: Session, tenant: TenantContext, keys: Sequence[Key]) -> set[str]:
    probe = Resolver(rules=tenant.settings.identity, new_oneid=new_oneid)
    state.load_into(probe, session, tenant.id, keys)
    return set(probe.persons)


def detach_record(
    *,
    session: Session,
    tenant: TenantContext,
    kind: str,
    source: str,
    record_id: str,
    actor: str,
    reason: str,
) -> DetachResult:
    """Split a record off its person for good (an unmerge); the split is recorded."""
    state.lock_tenant(session, tenant.id)
    link = session.execute(
        select(IdentityLink.seq, IdentityLink.oneid).where(
            IdentityLink.tenant_id == tenant.id,
            IdentityLink.kind == kind,
            IdentityLink.source == source,
            IdentityLink.record_id == record_id,
        )
    ).one_or_none()
    if link is None:
        raise IdentityError(f"no {kind} record {source}/{record_id}")
    others = session.execute(
        select(IdentityLink.seq, IdentityLink.keys).where(
            IdentityLink.tenant_id == tenant.id,
            IdentityLink.oneid == link.oneid,
            IdentityLink.seq != link.seq,
        )
    ).all()
    if not others:
        raise IdentityError(f"{kind} {source}/{record_id} is already a person of its own")
    # Cannot-link pairs with every other record of the person. One pair with the oldest
    # other record is not enough: when the detached record is the oldest, it claims the
    # identifiers it shares and takes the rest of the person along. A customer record's
    # own orders and events (they carry its source_customer key) go with it.
    own = [SOURCE_CUSTOMER, f"{source}/{record_id}"] if kind == "customer" else None
    partners = {seq for seq, keys in others if own is None or own not in keys}
    partners = partners or {seq for seq, _keys in others}
    # A probabilistic match or an approved override that joined the record to the person
    # is undone with it.
    reject_matches_of(session, tenant.id, link.seq, partners, actor=actor)
    _revoke_approvals(session, tenant, link.seq, partners, actor=actor)
    pairs = {(min(link.seq, seq), max(link.seq, seq)) for seq in partners}
    pairs -= {
        (int(a), int(b))
        for a, b in session.execute(
            select(CannotLink.seq_a, CannotLink.seq_b).where(
                CannotLink.tenant_id == tenant.id,
                or_(CannotLink.seq_a == link.seq, CannotLink.seq_b == link.seq),
            )
        )
    }
    if pairs:
        session.execute(
            insert(CannotLink),
            [{"tenant_id": tenant.id, "seq_a": a, "seq_b": b} for a, b in sorted(pairs)],
        )
    mapping = _replay(session, tenant, {link.oneid}, actor=actor, leaving=link.seq)
    new_oneid_ = mapping[link.seq]
    session.execute(
        insert(IdentityChange).values(
            tenant_id=tenant.id,
            action="detach",
            kept_oneid=new_oneid_,
            retired_oneid=link.oneid,
            link_seq=link.seq,
            actor=actor,
            detail={"reason": reason, "record": f"{kind}:{source}/{record_id}"},
            at=utcnow(),
        )
    )
    return DetachResult(
        record=RecordRef(kind=kind, source=source, record_id=record_id, seq=link.seq),
        old_oneid=link.oneid,
        new_oneid=new_oneid_,
        persons=dict(Counter(mapping.values())),
    )


def replay_persons(
    *, session: Session, tenant: TenantContext, seeds: set[str], actor: str
) -> dict[int, str]:
    """Re-resolve the persons around `seeds` from their links' keys (after keys changed,
    e.g. an accepted match); returns the new OneID of every replayed link by seq."""
    state.lock_tenant(session, tenant.id)
    return _replay(session, tenant, seeds, actor=actor)


def _closure(session: Session, tenant: TenantContext, seeds: set[str]) -> list[str]:
    """All persons whose resolution can depend on the seeds' records."""
    persons = set(seeds)
    frontier = set(seeds)
    total = 0
    while frontier:
        rows = state.links_of_persons(session, tenant.id, sorted(frontier))
        total += len(rows)
        if total > REPLAY_LIMIT:
            raise IdentityError("too many records to replay online; run `siyu identity rebuild`")
        keys = {k for ks in state.group_keys(rows).values() for k in ks}
        found = _holders(session, tenant, sorted(keys))
        found |= state.blocked_partners(session, tenant.id, sorted(frontier))
        found |= state.constraint_partners(session, tenant.id, [r.seq for r in rows])
        frontier = found - persons
        persons |= frontier
    return sorted(persons)


def _replay(
    session: Session,
    tenant: TenantContext,
    seeds: set[str],
    *,
    actor: str,
    leaving: int | None = None,
    keep_oldest: bool = False,
) -> dict[int, str]:
    """Re-resolve the persons around `seeds` from their records; returns seq -> OneID.

    `leaving` is a record being detached: its new group keeps an old OneID only if no other
    group can (the OneID stays with the rest of the person). `keep_oldest`: a merged group
    keeps its oldest OneID, as an online merge does (else the one it overlaps most)."""
    persons = _closure(session, tenant, seeds)
    rows = sorted(state.links_of_persons(session, tenant.id, persons), key=lambda r: r.seq)
    counter = iter(range(1, 1 << 62))
    resolver = Resolver(
        rules=tenant.settings.identity,
        new_oneid=lambda: f"~{next(counter):012d}",
        constraints=state.all_constraints(session, tenant.id),
    )
    temp_of = {
        row.seq: resolver.add(Incoming(row.seq, row.kind, tuple(tuple(k) for k in row.keys)))
        for row in rows
    }
    temp_of = {seq: resolver.current(t) for seq, t in temp_of.items()}
    old_of = {row.seq: row.oneid for row in rows}
    naming = _reconcile(
        old_of, temp_of, last=temp_of.get(leaving) if leaving else None, keep_oldest=keep_oldest
    )
    mapping = {seq: naming[t] for seq, t in temp_of.items()}
    _write_replay(session, tenant, resolver, persons, old_of, mapping, naming, actor)
    return mapping


def _reconcile(
    old_of: dict[int, str],
    temp_of: dict[int, str],
    *,
    last: str | None = None,
    keep_oldest: bool = False,
) -> dict[str, str]:
    """Name each new group: the old OneID it overlaps most keeps going; others are new.

    The group `last` (a detached record's) is named after every other group."""
    overlap = Counter((old_of[seq], temp_of[seq]) for seq in old_of)
    first_seq: dict[str, int] = {}
    for seq, old in sorted(old_of.items()):
        first_seq.setdefault(old, seq)
    naming: dict[str, str] = {}
    used: set[str] = set()
    for (old, temp), _count in sorted(
        overlap.items(),
        key=lambda item: (
            item[0][1] == last,
            first_seq[item[0][0]] if keep_oldest else -item[1],
            -item[1] if keep_oldest else first_seq[item[0][0]],
            item[0][1],
        ),
    ):
        if temp not in naming and old not in used:
            naming[temp] = old
            used.add(old)
    for temp in sorted(set(temp_of.values()) - set(naming)):
        naming[temp] = new_oneid()
    return naming


def _write_replay(
    session: Session,
    tenant: TenantContext,
    resolver: Resolver,
    persons: list[str],
    old_of: dict[int, str],
    mapping: dict[int, str],
    naming: dict[str, str],
    actor: str,
) -> None:
    now = utcnow()
    tid = tenant.id
    # ORM bulk UPDATE by primary key (rows carry `seq`): an UPDATE with WHERE criteria and
    # many parameter sets is refused by the ORM (InvalidRequestError).
    moved = [{"seq": seq, "oneid": oneid} for seq, oneid in mapping.items() if old_of[seq] != oneid]
    if moved:
        session.execute(update(IdentityLink), moved)
    for part in state.chunks(persons):
        for model in (StrongIdentifier, WeakIdentifier):
            session.execute(delete(model).where(model.tenant_id == tid, model.oneid.in_(part)))
    strong = [
        {"tenant_id": tid, "id_type": k[0], "value": k[1], "oneid": naming[resolver.current(o)]}
        for k, o in resolver.owners.items()
    ]
    if strong:
        insert_many(session, StrongIdentifier, strong)
    weak = {
        (k, naming[resolver.current(o)])
        for k, holders in resolver.weak_holders.items()
        for o in holders
    }
    if weak:
        insert_many(
            session,
            WeakIdentifier,
            [{"tenant_id": tid, "id_type": k[0], "value": k[1], "oneid": o} for k, o in weak],
        )
    fresh = [o for o in naming.values() if o not in persons]
    if fresh:
        insert_many(session, Person, [{"oneid": o, "tenant_id": tid} for o in fresh])
    successor = _successors(old_of, mapping)
    for old in persons:
        if old in naming.values() or old not in successor:
            continue
        session.execute(
            update(Person)
            .where(Person.tenant_id == tid, or_(Person.oneid == old, Person.merged_into == old))
            .values(merged_into=successor[old], retired_at=now)
        )
        if successor[old] not in fresh:  # joined an existing person (a relink): record it
            session.execute(
                insert(IdentityChange).values(
                    tenant_id=tid,
                    action="merge",
                    kept_oneid=successor[old],
                    retired_oneid=old,
                    actor=actor,
                    detail={"replay": True},
                    at=now,
                )
            )
    for new in fresh:
        sources = Counter(old_of[s] for s, o in mapping.items() if o == new)
        session.execute(
            insert(IdentityChange).values(
                tenant_id=tid,
                action="split",
                kept_oneid=new,
                retired_oneid=sources.most_common(1)[0][0],
                actor=actor,
                detail={"records_from": dict(sources)},
                at=now,
            )
        )
    for seq_part in state.chunks(list(mapping)):
        session.execute(
            delete(BlockedMerge).where(
                BlockedMerge.tenant_id == tid,
                BlockedMerge.status == "open",
                BlockedMerge.link_seq.in_(seq_part),
            )
        )
    state.write_blocked(session, tid, _renamed(resolver, naming), dict(mapping.items()))


def _successors(old_of: dict[int, str], mapping: dict[int, str]) -> dict[str, str]:
    """Where each old OneID's records mostly went."""
    spread: dict[str, Counter[str]] = defaultdict(Counter)
    for seq, old in old_of.items():
        spread[old][mapping[seq]] += 1
    return {old: counts.most_common(1)[0][0] for old, counts in spread.items()}


def _renamed(resolver: Resolver, naming: dict[str, str]) -> Resolver:
    """The resolver's blocked merges, with temporary group ids replaced by OneIDs."""
    resolver.retired = {**resolver.retired, **{t: o for t, o in naming.items() if t != o}}
    return resolver


# -- reading ---------------------------------------------------------------------------


def _revoke_approvals(
    session: Session, tenant: TenantContext, seq: int, partners: Collection[int], *, actor: str
) -> None:
    """Approved overrides joining record `seq` to any of `partners` (a detach): their keys
    go and they count as revoked."""
    found: list[BlockedMerge] = []
    for part in state.chunks(sorted(partners)):
        found.extend(
            session.scalars(
                select(BlockedMerge).where(
                    BlockedMerge.tenant_id == tenant.id,
                    BlockedMerge.status == "approved",
                    or_(
                        (BlockedMerge.link_seq == seq) & BlockedMerge.other_seq.in_(part),
                        (BlockedMerge.other_seq == seq) & BlockedMerge.link_seq.in_(part),
                    ),
                )
            )
        )
    if not found:
        return
    gone = {str(item.id) for item in found}
    seqs = {s for item in found for s in (item.link_seq, item.other_seq) if s is not None}
    state.rewrite_keys(
        session,
        tenant.id,
        seqs,
        lambda _s, keys: [k for k in keys if not (k[0] == APPROVED and k[1] in gone)],
    )
    for item in found:
        item.status, item.decided_by, item.decided_at = "revoked", actor, utcnow()
        item.reason = f"detached; approved: {item.reason}"[:500]
    session.flush()
