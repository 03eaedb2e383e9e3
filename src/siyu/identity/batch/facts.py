"""The facts a rebuild reads: every link with its matching keys, and who holds what now.

Written into an engine snapshot (Parquet, the same layout Spark reads) by streaming the
identity tables; the benchmark writes the same two link facts directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.engine import ExtraFact
from siyu.identity.models import IdentityLink, StrongIdentifier, WeakIdentifier
from siyu.store.base import table
from siyu.tenants import TenantContext

LINKS = "identity_links"  # seq, kind, oneid: one row per record, in arrival order
KEYS = "identity_keys"  # seq, pos, id_type, value: one row per matching key of a record
OWNERS = "strong_owners"  # id_type, value, oneid: the store's strong identifier owners
HOLDERS = "weak_holders"  # id_type, value, oneid: the store's weak identifier holders

LINK_SCHEMA = pa.schema([("seq", pa.int64()), ("kind", pa.string()), ("oneid", pa.string())])
KEY_SCHEMA = pa.schema(
    [("seq", pa.int64()), ("pos", pa.int32()), ("id_type", pa.string()), ("value", pa.string())]
)
HOLDING_SCHEMA = pa.schema(
    [("id_type", pa.string()), ("value", pa.string()), ("oneid", pa.string())]
)

Columns = dict[str, list[Any]]
BATCH = 50_000


def rebuild_facts(*, session: Session, tenant: TenantContext) -> dict[str, ExtraFact]:
    """The four facts of a rebuild, streamed from the store when the snapshot is written."""
    return {
        LINKS: ExtraFact(LINK_SCHEMA, _links(session, tenant.id)),
        KEYS: ExtraFact(KEY_SCHEMA, _keys(session, tenant.id)),
        OWNERS: ExtraFact(HOLDING_SCHEMA, _holding(session, tenant.id, StrongIdentifier)),
        HOLDERS: ExtraFact(HOLDING_SCHEMA, _holding(session, tenant.id, WeakIdentifier)),
    }


# Core tables, not ORM columns: the ORM's row loading cost more than reading the rows.
_LINK = table(IdentityLink)


def _links(session: Session, tenant_id: int) -> Iterator[Columns]:
    rows = session.execute(
        select(_LINK.c.seq, _LINK.c.kind, _LINK.c.oneid)
        .where(_LINK.c.tenant_id == tenant_id)
        .order_by(_LINK.c.seq)
        .execution_options(yield_per=BATCH)
    )
    for part in rows.partitions():
        yield {
            "seq": [r[0] for r in part],
            "kind": [r[1] for r in part],
            "oneid": [r[2] for r in part],
        }


def _keys(session: Session, tenant_id: int) -> Iterator[Columns]:
    rows = session.execute(
        select(_LINK.c.seq, _LINK.c["keys"])
        .where(_LINK.c.tenant_id == tenant_id)
        .order_by(_LINK.c.seq)
        .execution_options(yield_per=BATCH)
    )
    for part in rows.partitions():
        out: Columns = {"seq": [], "pos": [], "id_type": [], "value": []}
        for seq, keys in part:
            # `pos` keeps each record's key order: it decides which key a replayed merge
            # or blocked merge is recorded under, exactly as the online path records it.
            for pos, (id_type, value) in enumerate(keys):
                out["seq"].append(seq)
                out["pos"].append(pos)
                out["id_type"].append(id_type)
                out["value"].append(value)
        yield out


def _holding(
    session: Session, tenant_id: int, model: type[StrongIdentifier] | type[WeakIdentifier]
) -> Iterator[Columns]:
    core = table(model)
    rows = session.execute(
        select(core.c.id_type, core.c.value, core.c.oneid)
        .where(core.c.tenant_id == tenant_id)
        .execution_options(yield_per=BATCH)
    )
    for part in rows.partitions():
        yield {
            "id_type": [r[0] for r in part],
            "value": [r[1] for r in part],
            "oneid": [r[2] for r in part],
        }
