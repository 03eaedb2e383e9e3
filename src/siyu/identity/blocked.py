"""Reviewing merges a guard refused: the review list, approve (merge anyway), dismiss."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from siyu.identity import state
from siyu.identity.identifiers import (
    APPROVED,
)
from siyu.identity.models import (
    BlockedMerge,
    CannotLink,
    IdentityChange,
    IdentityLink,
)
from siyu.identity.persons import blocked_view, current_oneid
from siyu.identity.schemas import (
    BlockedDecision,
    BlockedView,
)
from siyu.identity.service import IdentityError, _replay
from siyu.store.base import utcnow
from siyu.tenants.schemas import TenantContext

BLOCKED_STATUSES = ("open", "approved", "dismissed", "revoked")
REVIEWED = "reviewed"  # every status but open, for `list_blocked`


def list_blocked(
    *, session: Session, tenant: TenantContext, status: str = "open", limit: int = 200
) -> list[BlockedView]:
    """Merges the guards refused, newest first: the review list (`status`: open by
    default, one decision, or "reviewed" for every decided one, latest decision first)."""
    if status not in (*BLOCKED_STATUSES, REVIEWED):
        raise IdentityError(f"unknown status {status!r}: {', '.join(BLOCKED_STATUSES)}, reviewed")
    query = (
        select(BlockedMerge, IdentityLink.kind, IdentityLink.source, IdentityLink.record_id)
        .outerjoin(IdentityLink, IdentityLink.seq == BlockedMerge.link_seq)
        .where(BlockedMerge.tenant_id == tenant.id)
    )
    if status == REVIEWED:
        query = query.where(BlockedMerge.status != "open").order_by(
            BlockedMerge.decided_at.desc(), BlockedMerge.id.desc()
        )
    else:
        query = query.where(BlockedMerge.status == status).order_by(BlockedMerge.id.desc())
    rows = session.execute(query.limit(limit)).all()
    others = _labels(session, tenant, [b.other_seq for b, *_ in rows if b.other_seq is not None])
    return [
        blocked_view(b, kind, source, rid, others.get(b.other_seq or 0))
        for b, kind, source, rid in rows
    ]


def _labels(session: Session, tenant: TenantContext, seqs: Sequence[int]) -> dict[int, str]:
    """`kind:source/record_id` of records by seq."""
    found: dict[int, str] = {}
    for part in state.chunks(sorted(set(seqs))):
        for seq, kind, source, rid in session.execute(
            select(
                IdentityLink.seq, IdentityLink.kind, IdentityLink.source, IdentityLink.record_id
            ).where(IdentityLink.tenant_id == tenant.id, IdentityLink.seq.in_(part))
        ):
            found[int(seq)] = f"{kind}:{source}/{rid}"
    return found


def approve_blocked(
    *, session: Session, tenant: TenantContext, blocked_id: int, actor: str, reason: str
) -> BlockedDecision:
    """Merge two persons a guard kept apart (an operator's override), as an online merge
    does: the older OneID is kept and the approval is recorded with the identifier."""
    state.lock_tenant(session, tenant.id)
    item, seq, oneid, other = _open_blocked(session, tenant, blocked_id, verb="approve")
    partner = _carrier(session, tenant, item, other, verb="approve")
    if other in state.constraint_partners(session, tenant.id, _seqs_of(session, tenant, oneid)):
        raise IdentityError(
            f"blocked merge #{blocked_id}: records of {oneid} and {other} were split apart by"
            " hand (a detach or a rejected match); approving would undo that"
        )
    # The decision is the pair's shared key: every replay and rebuild merges them again.
    key = [APPROVED, str(item.id)]
    state.rewrite_keys(
        session, tenant.id, (seq, partner), lambda _s, keys: keys if key in keys else [*keys, key]
    )
    _decide(session, item, "approved", partner, actor=actor, reason=reason)
    mapping = _replay(session, tenant, {oneid, other}, actor=actor, keep_oldest=True)
    kept = mapping[seq]
    if mapping[partner] != kept:  # the guards cannot refuse it; a split was checked above
        raise IdentityError(f"blocked merge #{blocked_id} could not be merged")
    retired = sorted({oneid, other} - {kept})
    labels = _labels(session, tenant, [seq, partner])
    session.execute(
        insert(IdentityChange).values(
            tenant_id=tenant.id,
            action="approve",
            kept_oneid=kept,
            retired_oneid=retired[0] if retired else None,
            id_type=item.id_type,
            id_value=item.id_value,
            link_seq=seq,
            actor=actor,
            detail={
                "blocked": item.id,
                "guard": item.guard,
                "reason": reason,
                "records": [labels[seq], labels[partner]],
            },
            at=utcnow(),
        )
    )
    return BlockedDecision(
        id=item.id, status=item.status, oneid=kept, other_oneid=kept, retired_oneids=retired
    )


def dismiss_blocked(
    *, session: Session, tenant: TenantContext, blocked_id: int, actor: str, reason: str
) -> BlockedDecision:
    """Keep two persons a guard kept apart apart for good (a cannot-link between the two
    records); the item leaves the open list and stays for audit."""
    state.lock_tenant(session, tenant.id)
    item, seq, oneid, other = _open_blocked(session, tenant, blocked_id, verb="dismiss")
    partner = _carrier(session, tenant, item, other, verb="dismiss")
    # Like a rejected match: should a guard be relaxed later, the two still stay apart.
    pair = (min(seq, partner), max(seq, partner))
    exists = session.scalar(
        select(CannotLink.seq_a).where(
            CannotLink.tenant_id == tenant.id,
            CannotLink.seq_a == pair[0],
            CannotLink.seq_b == pair[1],
        )
    )
    if exists is None:
        session.execute(
            insert(CannotLink).values(tenant_id=tenant.id, seq_a=pair[0], seq_b=pair[1])
        )
    _decide(session, item, "dismissed", partner, actor=actor, reason=reason)
    return BlockedDecision(id=item.id, status=item.status, oneid=oneid, other_oneid=other)


def _open_blocked(
    session: Session, tenant: TenantContext, blocked_id: int, *, verb: str
) -> tuple[BlockedMerge, int, str, str]:
    """An open blocked merge whose two persons are still apart: the item, its record's seq
    and person, and the other person now."""
    item = session.scalar(
        select(BlockedMerge).where(
            BlockedMerge.tenant_id == tenant.id, BlockedMerge.id == blocked_id
        )
    )
    if item is None:
        # A replay (a later import, detach, match or approval touching either person)
        # lists its persons' refusals afresh: the old item is then gone.
        raise IdentityError(
            f"no open blocked merge #{blocked_id}: unknown, or resolved or replaced by a later"
            " identity change (list the blocked merges again)"
        )
    if item.status != "open":
        raise IdentityError(
            f"blocked merge #{blocked_id} is already {item.status}"
            f" (by {item.decided_by}): nothing to {verb}"
        )
    oneid = session.scalar(
        select(IdentityLink.oneid).where(
            IdentityLink.tenant_id == tenant.id, IdentityLink.seq == item.link_seq
        )
    )
    if oneid is None:
        raise IdentityError(f"blocked merge #{blocked_id}: its record is gone; nothing to {verb}")
    other = current_oneid(session=session, tenant=tenant, oneid=item.other_oneid)
    if other is None or other == oneid:
        raise IdentityError(
            f"blocked merge #{blocked_id} is stale: its record already belongs to {oneid}, the"
            f" person it was kept from (merged since); nothing to {verb}"
        )
    return item, int(item.link_seq), str(oneid), other


def _carrier(
    session: Session, tenant: TenantContext, item: BlockedMerge, other: str, *, verb: str
) -> int:
    """The other person's oldest record carrying the identifier the merge was refused on."""
    key = [item.id_type, item.id_value]
    found = [
        int(row.seq)
        for row in state.links_of_persons(session, tenant.id, [other])
        if key in row.keys
    ]
    if not found:
        raise IdentityError(
            f"blocked merge #{item.id} is stale: {other} no longer has a record with"
            f" {item.id_type}={item.id_value} (detached or changed since); nothing to {verb}"
        )
    return min(found)


def _seqs_of(session: Session, tenant: TenantContext, oneid: str) -> list[int]:
    return [int(row.seq) for row in state.links_of_persons(session, tenant.id, [oneid])]


def _decide(
    session: Session, item: BlockedMerge, status: str, partner: int, *, actor: str, reason: str
) -> None:
    """Record a reviewer's decision on the item (flushed: a replay must see it decided)."""
    item.status, item.other_seq = status, partner
    item.decided_by, item.decided_at, item.reason = actor, utcnow(), reason
    session.flush()
