"""The review queue: proposed matches a person accepts or rejects, and undoing matches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from siyu.identity import service as identity_service
from siyu.identity.matching import store
from siyu.identity.matching.links import remove_match_keys
from siyu.identity.matching.models import MatchLink
from siyu.identity.matching.schemas import ReviewDecision, ReviewItem, ReviewRecord
from siyu.identity.matching.service import close_obsolete_reviews, merge_links
from siyu.identity.models import CannotLink
from siyu.identity.state import lock_tenant
from siyu.store.base import utcnow
from siyu.tenants import TenantContext


class MatchError(LookupError):
    """A matching operation that cannot be done; the message says why."""


def list_review(
    *, session: Session, tenant: TenantContext, status: str = "review", limit: int = 100
) -> list[ReviewItem]:
    """Match links in a status (the review queue by default), most likely first."""
    links = session.scalars(
        select(MatchLink)
        .where(MatchLink.tenant_id == tenant.id, MatchLink.status == status)
        .order_by(MatchLink.weight.desc(), MatchLink.id)
        .limit(limit)
    ).all()
    seqs = [s for link in links for s in (link.seq_a, link.seq_b)]
    shown = _shown_records(session, tenant, seqs)
    return [
        ReviewItem(
            id=link.id,
            status=link.status,
            probability=link.probability,
            weight=link.weight,
            rule=link.rule,
            comparisons=link.comparisons,
            a=shown[link.seq_a],
            b=shown[link.seq_b],
            proposed_at=link.proposed_at,
            decided_by=link.decided_by,
            decided_at=link.decided_at,
            reason=link.reason,
        )
        for link in links
        if link.seq_a in shown and link.seq_b in shown
    ]


def _shown_records(
    session: Session, tenant: TenantContext, seqs: Sequence[int]
) -> dict[int, ReviewRecord]:
    """The compared fields of records, side by side for a reviewer (no phone hashes)."""
    record_id = {seq: rid for (_s, rid), (seq, _o) in store.customer_links(
        session, tenant, seqs=seqs
    ).items()}  # fmt: skip
    hidden = ("rid", "oneid", "source", "phone_sha256")
    return {
        row["rid"]: ReviewRecord(
            seq=row["rid"],
            source=row["source"],
            record_id=record_id[row["rid"]],
            oneid=row["oneid"],
            fields={k: str(v) for k, v in row.items() if v is not None and k not in hidden},
        )
        for row in store.load_records(session, tenant, seqs=seqs).to_pylist()
    }


def decide_review(
    *,
    session: Session,
    tenant: TenantContext,
    link_id: int,
    accept: bool,
    actor: str,
    reason: str | None = None,
) -> ReviewDecision:
    """Accept (merge) or reject (cannot-link) a proposed match; rejecting an accepted
    match undoes its merge. The decision is kept: a rejected pair is never proposed again."""
    lock_tenant(session, tenant.id)
    link = session.scalar(
        select(MatchLink).where(MatchLink.tenant_id == tenant.id, MatchLink.id == link_id)
    )
    if link is None:
        raise MatchError(f"no match #{link_id}")
    allowed = ("review",) if accept else ("review", "accepted")
    if link.status not in allowed:
        raise MatchError(
            f"match #{link_id} is {link.status}: nothing to {'accept' if accept else 'reject'}"
        )
    was_accepted = link.status == "accepted"
    link.status = "accepted" if accept else "rejected"
    link.decided_at, link.decided_by, link.reason = utcnow(), actor, reason
    session.flush()
    if accept:
        merge_links(session, tenant, [store.Accepted.of(link)], actor=actor)
    else:
        _cannot_link(session, tenant, link.seq_a, link.seq_b)
        if was_accepted:
            remove_match_keys(session, tenant.id, [link.id])
            seeds = store.current_oneids(session, tenant, [link.seq_a, link.seq_b])
            identity_service.replay_persons(
                session=session, tenant=tenant, seeds=set(seeds.values()), actor=actor
            )
    after = store.current_oneids(session, tenant, [link.seq_a, link.seq_b])
    close_obsolete_reviews(session, tenant)
    return ReviewDecision(
        id=link.id,
        status=link.status,
        oneid_a=after[link.seq_a],
        oneid_b=after[link.seq_b],
        merged=after[link.seq_a] == after[link.seq_b],
    )


def _cannot_link(session: Session, tenant: TenantContext, seq_a: int, seq_b: int) -> None:
    exists = session.scalar(
        select(CannotLink.seq_a).where(
            CannotLink.tenant_id == tenant.id,
            CannotLink.seq_a == seq_a,
            CannotLink.seq_b == seq_b,
        )
    )
    if exists is None:
        session.execute(insert(CannotLink).values(tenant_id=tenant.id, seq_a=seq_a, seq_b=seq_b))
