"""Moving matching state between the store and the scoring core."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from siyu import records
from siyu.identity.matching.decide import Proposal
from siyu.identity.matching.features import records_table
from siyu.identity.matching.model import FSModel
from siyu.identity.matching.models import MatchKey, MatchLink, MatchModel
from siyu.identity.models import CannotLink, IdentityLink
from siyu.identity.state import chunks, load_links
from siyu.store.base import utcnow
from siyu.store.bulk import insert_many
from siyu.tenants import TenantContext

Ref = tuple[str, str]  # (source, external_id) of a customer record


def customer_links(
    session: Session, tenant: TenantContext, *, seqs: Sequence[int] | None = None
) -> dict[Ref, tuple[int, str]]:
    """(seq, OneID) of customer records, all or those with the given link seqs."""
    query = select(
        IdentityLink.source, IdentityLink.record_id, IdentityLink.seq, IdentityLink.oneid
    ).where(IdentityLink.tenant_id == tenant.id, IdentityLink.kind == "customer")
    found: dict[Ref, tuple[int, str]] = {}
    parts: Iterable[Sequence[int] | None] = [None] if seqs is None else chunks(sorted(seqs))
    for part in parts:
        narrowed = query if part is None else query.where(IdentityLink.seq.in_(part))
        for source, record_id, seq, oneid in session.execute(narrowed):
            found[(source, record_id)] = (int(seq), oneid)
    return found


def customer_links_of(
    session: Session, tenant: TenantContext, refs: Sequence[Ref]
) -> dict[Ref, tuple[int, str]]:
    """(seq, OneID) of the customer records with these refs."""
    rows = load_links(session, tenant.id, [("customer", source, rid) for source, rid in refs])
    return {(source, rid): (int(row.seq), row.oneid) for (_k, source, rid), row in rows.items()}


def load_records(
    session: Session, tenant: TenantContext, *, seqs: Sequence[int] | None = None
) -> pa.Table:
    """The matching input (RECORD_SCHEMA): customer records with their seq and OneID."""
    links = customer_links(session, tenant, seqs=seqs)
    refs = None if seqs is None else sorted(links)
    tables = [records_table([])]
    for batch in records.iter_customer_match_fields(session=session, tenant=tenant, refs=refs):
        rows = []
        for fields in batch:
            link = links.get((fields["source"], fields["external_id"]))
            if link is not None:  # a record not resolved yet has no person to match
                rows.append({**fields, "rid": link[0], "oneid": link[1]})
        tables.append(records_table(rows))  # columnar per batch: memory stays Arrow-sized
    return pa.concat_tables(tables)


def current_oneids(session: Session, tenant: TenantContext, seqs: Iterable[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for part in chunks(sorted(set(seqs))):
        for seq, oneid in session.execute(
            select(IdentityLink.seq, IdentityLink.oneid).where(
                IdentityLink.tenant_id == tenant.id, IdentityLink.seq.in_(part)
            )
        ):
            found[int(seq)] = oneid
    return found


def save_model(
    session: Session, tenant: TenantContext, model: FSModel, stats: dict[str, Any]
) -> int:
    row = MatchModel(tenant_id=tenant.id, params=model.to_json(), stats=stats)
    session.add(row)
    session.flush()
    return row.id


def latest_model(session: Session, tenant: TenantContext) -> tuple[int, FSModel] | None:
    row = session.scalar(
        select(MatchModel)
        .where(MatchModel.tenant_id == tenant.id)
        .order_by(MatchModel.id.desc())
        .limit(1)
    )
    return None if row is None else (row.id, FSModel.from_json(row.params))


def replace_keys(
    session: Session,
    tenant: TenantContext,
    keys: Sequence[tuple[int, str]],
    *,
    seqs: Sequence[int] | None = None,
) -> None:
    """Store records' block keys: all of the tenant's (seqs None) or those of `seqs`."""
    if seqs is None:
        session.execute(delete(MatchKey).where(MatchKey.tenant_id == tenant.id))
    else:
        for part in chunks(sorted(set(seqs))):
            session.execute(
                delete(MatchKey).where(MatchKey.tenant_id == tenant.id, MatchKey.seq.in_(part))
            )
    rows = [{"tenant_id": tenant.id, "key": k, "seq": s} for s, k in sorted(set(keys))]
    insert_many(session, MatchKey, rows)


def block_members(
    session: Session, tenant: TenantContext, keys: Iterable[str], *, max_block: int
) -> set[int]:
    """Records sharing any of `keys`, skipping blocks larger than `max_block`."""
    found: set[int] = set()
    for part in chunks(sorted(set(keys))):
        small = (
            select(MatchKey.key)
            .where(MatchKey.tenant_id == tenant.id, MatchKey.key.in_(part))
            .group_by(MatchKey.key)
            .having(func.count() <= max_block)
        )
        found.update(
            int(seq)
            for seq in session.scalars(
                select(MatchKey.seq).where(MatchKey.tenant_id == tenant.id, MatchKey.key.in_(small))
            )
        )
    return found


def decided_pairs(session: Session, tenant: TenantContext) -> dict[tuple[int, int], str]:
    """Record pairs that already have a match link, with its status."""
    rows = session.execute(
        select(MatchLink.seq_a, MatchLink.seq_b, MatchLink.status).where(
            MatchLink.tenant_id == tenant.id
        )
    )
    return {(int(a), int(b)): status for a, b, status in rows}


def cannot_link_pairs(session: Session, tenant: TenantContext) -> list[tuple[int, int]]:
    rows = session.execute(
        select(CannotLink.seq_a, CannotLink.seq_b).where(CannotLink.tenant_id == tenant.id)
    )
    return [(int(a), int(b)) for a, b in rows]


def mark(
    session: Session,
    tenant: TenantContext,
    link_ids: Sequence[int],
    *,
    status: str,
    actor: str,
    reason: str | None = None,
) -> None:
    """Record a decision on match links."""
    now = utcnow()
    for part in chunks(sorted(link_ids)):
        session.execute(
            update(MatchLink)
            .where(MatchLink.tenant_id == tenant.id, MatchLink.id.in_(part))
            .values(status=status, decided_at=now, decided_by=actor, reason=reason)
            .execution_options(synchronize_session=False)
        )


def links_in_status(
    session: Session, tenant: TenantContext, status: str
) -> list[tuple[int, int, int]]:
    """(id, seq_a, seq_b) of the match links in a status."""
    rows = session.execute(
        select(MatchLink.id, MatchLink.seq_a, MatchLink.seq_b).where(
            MatchLink.tenant_id == tenant.id, MatchLink.status == status
        )
    )
    return [(int(i), int(a), int(b)) for i, a, b in rows]


@dataclass(frozen=True)
class Accepted:
    """An accepted match to merge (plain data: batches hold thousands)."""

    id: int
    seq_a: int
    seq_b: int
    probability: float
    weight: float
    rule: str
    comparisons: dict[str, Any]

    @classmethod
    def of(cls, link: MatchLink) -> Accepted:
        return cls(
            link.id, link.seq_a, link.seq_b, link.probability, link.weight, link.rule,
            link.comparisons,
        )  # fmt: skip


def insert_links(
    session: Session,
    tenant: TenantContext,
    proposals: Sequence[Proposal],
    *,
    model_id: int | None,
    actor: str,
) -> list[Accepted]:
    """Store proposals as match links (accepted, or waiting for review; a pair already
    waiting for review is updated); the accepted ones come back with their ids, in the
    proposals' order."""
    now = utcnow()
    waiting = {(a, b): i for i, a, b in links_in_status(session, tenant, "review")}
    for p in proposals:
        if (p.seq_a, p.seq_b) in waiting:
            session.execute(
                update(MatchLink)
                .where(MatchLink.id == waiting[(p.seq_a, p.seq_b)])
                .values(
                    status="accepted" if p.accept else "review",
                    probability=p.probability,
                    weight=p.weight,
                    comparisons=p.comparisons,
                    model_id=model_id,
                    decided_at=now if p.accept else None,
                    decided_by=actor if p.accept else None,
                )
                .execution_options(synchronize_session=False)
            )
    insert_many(
        session,
        MatchLink,
        [
            {
                "tenant_id": tenant.id,
                "seq_a": p.seq_a,
                "seq_b": p.seq_b,
                "status": "accepted" if p.accept else "review",
                "probability": p.probability,
                "weight": p.weight,
                "comparisons": p.comparisons,
                "rule": p.rule,
                "oneid_a": p.oneid_a,
                "oneid_b": p.oneid_b,
                "model_id": model_id,
                "proposed_at": now,
                "decided_at": now if p.accept else None,
                "decided_by": actor if p.accept else None,
                "reason": None,
            }
            for p in proposals
            if (p.seq_a, p.seq_b) not in waiting
        ],
    )
    wanted = [(p.seq_a, p.seq_b) for p in proposals if p.accept]
    ids: dict[tuple[int, int], int] = {}
    for part in chunks(wanted):
        for link_id, a, b in session.execute(
            select(MatchLink.id, MatchLink.seq_a, MatchLink.seq_b).where(
                MatchLink.tenant_id == tenant.id,
                tuple_(MatchLink.seq_a, MatchLink.seq_b).in_(part),
            )
        ):
            ids[(int(a), int(b))] = int(link_id)
    return [
        Accepted(ids[(p.seq_a, p.seq_b)], p.seq_a, p.seq_b, p.probability, p.weight, p.rule,
                 p.comparisons)
        for p in proposals
        if p.accept
    ]  # fmt: skip
