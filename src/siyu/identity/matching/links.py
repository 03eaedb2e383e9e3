"""Accepted matches in the identity graph: the ("match", id) key both records carry.

The resolver treats the key like any strong identifier the two records share, so online
resolution, replays (detach, relink) and a batch rebuild all reproduce the merge from the
links' keys alone, with the merge guards applied as for any other key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from siyu.identity.identifiers import MATCH
from siyu.identity.matching.models import MatchLink
from siyu.identity.state import chunks, rewrite_keys
from siyu.store.base import utcnow


def add_match_keys(session: Session, tenant_id: int, pairs: Iterable[tuple[int, int, int]]) -> None:
    """Give both records of each accepted match (link id, seq_a, seq_b) its key."""
    wanted: dict[int, list[list[str]]] = defaultdict(list)
    for link_id, seq_a, seq_b in pairs:
        for seq in (seq_a, seq_b):
            wanted[seq].append([MATCH, str(link_id)])

    def add(seq: int, keys: list[list[str]]) -> list[list[str]]:
        return keys + [k for k in wanted[seq] if k not in keys]

    rewrite_keys(session, tenant_id, wanted.keys(), add)


def remove_match_keys(session: Session, tenant_id: int, link_ids: Collection[int]) -> None:
    """Take the keys of these matches off the records that carry them."""
    gone = {str(i) for i in link_ids}
    seqs: set[int] = set()
    for part in chunks(sorted(link_ids)):
        for seq_a, seq_b in session.execute(
            select(MatchLink.seq_a, MatchLink.seq_b).where(
                MatchLink.tenant_id == tenant_id, MatchLink.id.in_(part)
            )
        ):
            seqs.update((int(seq_a), int(seq_b)))
    rewrite_keys(
        session,
        tenant_id,
        seqs,
        lambda _seq, keys: [k for k in keys if not (k[0] == MATCH and k[1] in gone)],
    )


def reject_matches_of(
    session: Session, tenant_id: int, seq: int, partners: Collection[int], *, actor: str
) -> list[int]:
    """Undo accepted matches joining record `seq` to any of `partners` (a detach): their
    keys go and they count as rejected. Returns their ids."""
    ids: list[int] = []
    for part in chunks(sorted(partners)):
        ids.extend(
            session.scalars(
                select(MatchLink.id).where(
                    MatchLink.tenant_id == tenant_id,
                    MatchLink.status == "accepted",
                    or_(
                        and_(MatchLink.seq_a == seq, MatchLink.seq_b.in_(part)),
                        and_(MatchLink.seq_b == seq, MatchLink.seq_a.in_(part)),
                    ),
                )
            )
        )
    if ids:
        remove_match_keys(session, tenant_id, ids)
        session.execute(
            update(MatchLink)
            .where(MatchLink.tenant_id == tenant_id, MatchLink.id.in_(ids))
            .values(status="rejected", decided_at=utcnow(), decided_by=actor, reason="detached")
        )
    return ids
