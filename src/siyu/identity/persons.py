"""Reading persons: OneIDs past and present, records, identifiers, search, explain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from siyu.identity import state
from siyu.identity.identifiers import (
    APPROVED,
    MATCH,
    normalize_identifiers,
)
from siyu.identity.models import (
    BlockedMerge,
    IdentityChange,
    IdentityLink,
    Person,
    StrongIdentifier,
    WeakIdentifier,
)
from siyu.identity.resolver import Key
from siyu.identity.schemas import (
    BlockedView,
    ChangeView,
    IdentifierView,
    MergeView,
    PersonExplanation,
    RecordRef,
)
from siyu.identity.service import IdentityError
from siyu.store.fast import Fast
from siyu.tenants.schemas import TenantContext


def current_oneid(*, session: Session, tenant: TenantContext, oneid: str) -> str | None:
    """The live OneID for any OneID ever issued (retired ones resolve to their successor)."""
    row = session.execute(
        select(Person.oneid, Person.merged_into).where(
            Person.tenant_id == tenant.id, Person.oneid == oneid
        )
    ).one_or_none()
    if row is None:
        return None
    return str(row.merged_into or row.oneid)


# Built once: hot paths (loyalty locks a member per operation) skip statement building.
_FAMILY = Fast(
    select(Person.oneid, Person.merged_into).where(
        Person.tenant_id == bindparam("tenant"),
        or_(Person.oneid == bindparam("oneid"), Person.merged_into == bindparam("oneid")),
    )
)


def oneid_family(
    *, session: Session, tenant: TenantContext, oneid: str
) -> tuple[str, list[str]] | None:
    """The live OneID for `oneid` and the retired OneIDs resolving to it (None: unknown)."""
    rows = _FAMILY.rows(session, {"tenant": tenant.id, "oneid": oneid})
    own = next((r for r in rows if r.oneid == oneid), None)
    if own is None:
        return None
    if own.merged_into is not None:  # retired: ask again about its successor
        rows = _FAMILY.rows(session, {"tenant": tenant.id, "oneid": own.merged_into})
        oneid = own.merged_into
    return oneid, sorted(r.oneid for r in rows if r.merged_into == oneid)


def retired_oneids(*, session: Session, tenant: TenantContext, oneid: str) -> list[str]:
    """The retired OneIDs that now resolve to the live OneID `oneid` (merged into it)."""
    return list(
        session.scalars(
            select(Person.oneid)
            .where(Person.tenant_id == tenant.id, Person.merged_into == oneid)
            .order_by(Person.oneid)
        )
    )


def merges_since(
    *, session: Session, tenant: TenantContext, after: int, limit: int = 1000
) -> list[MergeView]:
    """Merges recorded after change id `after`, oldest first (a feed for other domains)."""
    rows = session.execute(
        select(
            IdentityChange.id,
            IdentityChange.kept_oneid,
            IdentityChange.retired_oneid,
            IdentityChange.at,
        )
        .where(
            IdentityChange.tenant_id == tenant.id,
            IdentityChange.id > after,
            IdentityChange.action == "merge",
        )
        .order_by(IdentityChange.id)
        .limit(limit)
    )
    return [
        MergeView(id=r.id, kept_oneid=r.kept_oneid, retired_oneid=r.retired_oneid, at=r.at)
        for r in rows
        if r.retired_oneid is not None
    ]


def person_records(*, session: Session, tenant: TenantContext, oneid: str) -> list[RecordRef]:
    """The records (customer, order, event) that resolve to a live OneID, oldest first."""
    rows = session.execute(
        select(IdentityLink.kind, IdentityLink.source, IdentityLink.record_id, IdentityLink.seq)
        .where(IdentityLink.tenant_id == tenant.id, IdentityLink.oneid == oneid)
        .order_by(IdentityLink.seq)
    )
    return [RecordRef(kind=r.kind, source=r.source, record_id=r.record_id, seq=r.seq) for r in rows]


def records_of_persons(
    *,
    session: Session,
    tenant: TenantContext,
    oneids: Sequence[str],
    kind: str | None = None,
) -> dict[str, list[tuple[str, str, str]]]:
    """(kind, source, record_id) of the records (of one kind, if given) of many live
    OneIDs, in arrival order."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for part in state.chunks(sorted(set(oneids))):
        query = select(
            IdentityLink.oneid, IdentityLink.kind, IdentityLink.source, IdentityLink.record_id
        ).where(IdentityLink.tenant_id == tenant.id, IdentityLink.oneid.in_(part))
        if kind is not None:
            query = query.where(IdentityLink.kind == kind)
        rows = session.execute(query.order_by(IdentityLink.seq))
        for oneid, kind, source, record_id in rows:
            found.setdefault(oneid, []).append((kind, source, record_id))
    return found


def retired_into(*, session: Session, tenant: TenantContext, oneids: Sequence[str]) -> list[str]:
    """OneIDs that were merged into any of `oneids` (directly or through a chain)."""
    found: list[str] = []
    for part in state.chunks(sorted(set(oneids))):
        found.extend(
            session.scalars(
                select(Person.oneid).where(
                    Person.tenant_id == tenant.id, Person.merged_into.in_(part)
                )
            )
        )
    return found


def person_identifiers(
    *, session: Session, tenant: TenantContext, oneid: str
) -> list[IdentifierView]:
    """The identifiers a person holds (phones appear as their SHA-256 matching key)."""
    views = [
        IdentifierView(id_type=t, value=v, strength="strong")
        for t, v in session.execute(
            select(StrongIdentifier.id_type, StrongIdentifier.value)
            .where(StrongIdentifier.tenant_id == tenant.id, StrongIdentifier.oneid == oneid)
            .order_by(StrongIdentifier.id_type, StrongIdentifier.value)
        )
    ]
    views += [
        IdentifierView(id_type=t, value=v, strength="weak")
        for t, v in session.execute(
            select(WeakIdentifier.id_type, WeakIdentifier.value)
            .where(WeakIdentifier.tenant_id == tenant.id, WeakIdentifier.oneid == oneid)
            .order_by(WeakIdentifier.id_type, WeakIdentifier.value)
        )
    ]
    return views


def find_persons(*, session: Session, tenant: TenantContext, query: str) -> list[str]:
    """Live OneIDs holding an identifier that matches `query` (a phone, e-mail, id...)."""
    text = query.strip()
    if not text:
        return []
    candidates: set[Key] = set()
    for id_type in ("phone", "email", "member_no", "wechat_unionid", "phone_sha256"):
        normalised, errors = normalize_identifiers(
            {id_type: text}, custom_types=tenant.settings.identity.custom_types
        )
        if not errors:
            candidates.update(normalised.keys)
    found = set(
        session.scalars(
            select(StrongIdentifier.oneid).where(
                StrongIdentifier.tenant_id == tenant.id,
                or_(
                    StrongIdentifier.value == text,
                    *(
                        (StrongIdentifier.id_type == t) & (StrongIdentifier.value == v)
                        for t, v in candidates
                    ),
                ),
            )
        )
    )
    found |= set(
        session.scalars(
            select(WeakIdentifier.oneid).where(
                WeakIdentifier.tenant_id == tenant.id, WeakIdentifier.value == text.lower()
            )
        )
    )
    live = current_oneid(session=session, tenant=tenant, oneid=text)
    if live:
        found.add(live)
    return sorted(found)


def oneids_of_records(
    *, session: Session, tenant: TenantContext, kind: str, refs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """OneIDs of records of one kind, by (source, record_id)."""
    rows = state.load_links(session, tenant.id, [(kind, s, r) for s, r in refs])
    return {(src, rid): row.oneid for (_k, src, rid), row in rows.items()}


def iter_identity_map(
    *, session: Session, tenant: TenantContext
) -> Iterator[tuple[str, str, str, str]]:
    """(kind, source, record_id, oneid) for every ingested record, in arrival order."""
    rows = session.execute(
        select(IdentityLink.kind, IdentityLink.source, IdentityLink.record_id, IdentityLink.oneid)
        .where(IdentityLink.tenant_id == tenant.id)
        .order_by(IdentityLink.seq)
        .execution_options(yield_per=10_000)
    )
    for row in rows:
        yield row.kind, row.source, row.record_id, row.oneid


def persons_changed_since(*, session: Session, tenant: TenantContext, since: datetime) -> set[str]:
    """OneIDs kept or retired by merges, splits and detaches after `since`."""
    rows = session.execute(
        select(IdentityChange.kept_oneid, IdentityChange.retired_oneid).where(
            IdentityChange.tenant_id == tenant.id, IdentityChange.at > since
        )
    )
    return {oneid for row in rows for oneid in row if oneid is not None}


def explain_person(*, session: Session, tenant: TenantContext, oneid: str) -> PersonExplanation:
    """A person's records, identifiers and merge history, and why they were joined."""
    live = current_oneid(session=session, tenant=tenant, oneid=oneid)
    if live is None:
        raise IdentityError(f"no person with OneID {oneid}")
    retired = retired_oneids(session=session, tenant=tenant, oneid=live)
    records = person_records(session=session, tenant=tenant, oneid=live)
    label = {r.seq: f"{r.kind}:{r.source}/{r.record_id}" for r in records}
    names = [live, *retired]
    changes = session.execute(
        select(IdentityChange, IdentityLink.kind, IdentityLink.source, IdentityLink.record_id)
        .outerjoin(IdentityLink, IdentityLink.seq == IdentityChange.link_seq)
        .where(
            IdentityChange.tenant_id == tenant.id,
            or_(IdentityChange.kept_oneid.in_(names), IdentityChange.retired_oneid.in_(names)),
        )
        .order_by(IdentityChange.id)
    )
    change_views = [
        ChangeView(
            action=c.action,
            kept_oneid=c.kept_oneid,
            retired_oneid=c.retired_oneid,
            identifier=f"{c.id_type}={c.id_value}" if c.id_type else None,
            record=f"{kind}:{source}/{rid}" if kind else None,
            actor=c.actor,
            at=c.at,
            detail=c.detail or {},
        )
        for c, kind, source, rid in changes
    ]
    blocked = [
        blocked_view(b, kind, source, rid)
        for b, kind, source, rid in session.execute(
            select(BlockedMerge, IdentityLink.kind, IdentityLink.source, IdentityLink.record_id)
            .outerjoin(IdentityLink, IdentityLink.seq == BlockedMerge.link_seq)
            .where(
                BlockedMerge.tenant_id == tenant.id,
                or_(BlockedMerge.oneid == live, BlockedMerge.other_oneid == live),
            )
            .order_by(BlockedMerge.id)
        )
    ]
    return PersonExplanation(
        oneid=live,
        requested=oneid,
        retired_oneids=retired,
        records=records,
        identifiers=person_identifiers(session=session, tenant=tenant, oneid=live),
        changes=change_views,
        blocked=blocked,
        why=_why(session, tenant, live, label),
    )


def _why(session: Session, tenant: TenantContext, oneid: str, label: dict[int, str]) -> list[str]:
    """Sentences naming each identifier shared by more than one of the person's records."""
    sharing: dict[Key, list[int]] = defaultdict(list)
    for row in state.links_of_persons(session, tenant.id, [oneid]):
        for id_type, value in row.keys:
            sharing[(id_type, value)].append(row.seq)
    lines = []
    for (id_type, value), seqs in sorted(sharing.items()):
        if len(seqs) > 1:
            shown = ", ".join(label[s] for s in seqs[:5])
            more = f" and {len(seqs) - 5} more" if len(seqs) > 5 else ""
            if id_type == MATCH:
                what = f"probabilistic match #{value} (accepted; see history)"
            elif id_type == APPROVED:
                what = f"approved override of blocked merge #{value} (see history)"
            else:
                what = f"{id_type}={value}"
            lines.append(f"{what} joins {len(seqs)} records: {shown}{more}")
    return lines


def blocked_view(
    b: BlockedMerge,
    kind: str | None,
    source: str | None,
    rid: str | None,
    other_record: str | None = None,
) -> BlockedView:
    """A refused merge as the review list and `explain` show it."""
    return BlockedView(
        id=b.id,
        record=f"{kind}:{source}/{rid}" if kind else None,
        oneid=b.oneid,
        other_oneid=b.other_oneid,
        identifier=f"{b.id_type}={b.id_value}",
        guard=b.guard,
        status=b.status,
        at=b.at,
        other_record=other_record,
        decided_by=b.decided_by,
        decided_at=b.decided_at,
        reason=b.reason,
    )
