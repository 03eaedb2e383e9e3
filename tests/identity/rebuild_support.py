"""Helpers for the rebuild tests: the store's identity state and the reference resolution."""

from __future__ import annotations

from itertools import count
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.identity import RebuildReport, rebuild_identity
from siyu.identity.models import (
    BlockedMerge,
    CannotLink,
    IdentityLink,
    Person,
    StrongIdentifier,
    WeakIdentifier,
)
from siyu.identity.resolver import Incoming, Resolver
from siyu.tenants import TenantContext


def identity_state(session: Session, tenant: TenantContext) -> dict[str, Any]:
    """Everything identity keeps about a tenant, in comparable form."""
    tid = tenant.id
    return {
        "links": dict(
            session.execute(
                select(IdentityLink.seq, IdentityLink.oneid).where(IdentityLink.tenant_id == tid)
            ).all()
        ),
        "owners": set(
            session.execute(
                select(
                    StrongIdentifier.id_type, StrongIdentifier.value, StrongIdentifier.oneid
                ).where(StrongIdentifier.tenant_id == tid)
            ).all()
        ),
        "holders": set(
            session.execute(
                select(WeakIdentifier.id_type, WeakIdentifier.value, WeakIdentifier.oneid).where(
                    WeakIdentifier.tenant_id == tid
                )
            ).all()
        ),
        "persons": set(
            session.execute(
                select(Person.oneid, Person.merged_into).where(Person.tenant_id == tid)
            ).all()
        ),
        "blocked": set(
            session.execute(
                select(
                    BlockedMerge.link_seq,
                    BlockedMerge.oneid,
                    BlockedMerge.other_oneid,
                    BlockedMerge.id_type,
                    BlockedMerge.id_value,
                    BlockedMerge.guard,
                ).where(BlockedMerge.tenant_id == tid, BlockedMerge.status == "open")
            ).all()
        ),
    }


def groups_of(links: dict[int, str]) -> set[frozenset[int]]:
    """The partition of records (seqs) by OneID."""
    found: dict[str, set[int]] = {}
    for seq, oneid in links.items():
        found.setdefault(oneid, set()).add(seq)
    return {frozenset(group) for group in found.values()}


def reference_partition(session: Session, tenant: TenantContext) -> set[frozenset[int]]:
    """The definition: every stored link through the Resolver in arrival order."""
    counter = count(1)
    resolver = Resolver(
        rules=tenant.settings.identity,
        new_oneid=lambda: f"~{next(counter)}",
        constraints=[
            (int(a), int(b))
            for a, b in session.execute(
                select(CannotLink.seq_a, CannotLink.seq_b).where(CannotLink.tenant_id == tenant.id)
            )
        ],
    )
    rows = session.execute(
        select(IdentityLink.seq, IdentityLink.kind, IdentityLink.keys)
        .where(IdentityLink.tenant_id == tenant.id)
        .order_by(IdentityLink.seq)
    )
    temp = {
        seq: resolver.add(Incoming(seq, kind, tuple((t, v) for t, v in keys)))
        for seq, kind, keys in rows
    }
    return groups_of({seq: resolver.current(t) for seq, t in temp.items()})


def rebuild(
    session: Session, tenant: TenantContext, engine_dir: Path, **options: Any
) -> RebuildReport:
    return rebuild_identity(session=session, tenant=tenant, engine_dir=engine_dir, **options)
