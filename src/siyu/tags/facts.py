"""Who holds which tag, as rules read it: live OneIDs, for the engine and for one person."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu import engine as eng
from siyu import identity, rules
from siyu.tags.models import Tag, TagAssignment
from siyu.tenants import TenantContext

_BATCH = 20_000


def tag_fact(*, session: Session, tenant: TenantContext) -> eng.ExtraFact:
    """Current holders (oneid, tag_group, tag) for a rules snapshot. A tag given to a OneID
    that was merged away counts for the person it was merged into."""
    return eng.ExtraFact(rules.TAGS_SCHEMA, _holder_batches(session, tenant))


def _holder_batches(session: Session, tenant: TenantContext) -> Iterator[dict[str, list[object]]]:
    result = session.execute(
        select(TagAssignment.oneid, Tag.tag_group, Tag.key)
        .join(Tag, Tag.id == TagAssignment.tag_id)
        .where(TagAssignment.tenant_id == tenant.id, TagAssignment.removed_at.is_(None))
        .execution_options(yield_per=_BATCH)
    )
    for rows in result.partitions(_BATCH):
        live = identity.current_oneids(session=session, tenant=tenant, oneids=[r[0] for r in rows])
        held = {(live.get(r[0], r[0]), r[1], r[2]) for r in rows}
        yield {
            "oneid": [h[0] for h in held],
            "tag_group": [h[1] for h in held],
            "tag": [h[2] for h in held],
        }


def tag_keys_of_persons(
    *, session: Session, tenant: TenantContext, oneids: Sequence[str]
) -> dict[str, set[str]]:
    """The tag keys each live OneID holds now (with tags given to OneIDs merged into it)."""
    retired = identity.retired_into(session=session, tenant=tenant, oneids=oneids)
    live = identity.current_oneids(session=session, tenant=tenant, oneids=[*oneids, *retired])
    found: dict[str, set[str]] = {}
    owned = sorted(live)
    for start in range(0, len(owned), 1000):
        rows = session.execute(
            select(TagAssignment.oneid, Tag.key)
            .join(Tag, Tag.id == TagAssignment.tag_id)
            .where(
                TagAssignment.tenant_id == tenant.id,
                TagAssignment.oneid.in_(owned[start : start + 1000]),
                TagAssignment.removed_at.is_(None),
            )
        )
        for oneid, key in rows:
            found.setdefault(live[oneid], set()).add(key)
    return found
