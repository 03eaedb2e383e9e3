"""The facts a rebuild reads: every link with its matching keys, and who holds what now.

Written into an engine snapshot (Parquet, the same layout Spark reads) by streaming the
identity tables; the benchmark writes the same two link facts directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.engine import ExtraFact
from siyu.identity.models import IdentityLink, StrongIdentifier, WeakIdentifier
from siyu.identity.oneid import PENDING
from siyu.identity.resolver import Key
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


class StagedLinks:
    """The pending links a bulk import wrote, kept as rebuild facts while it writes them.

    Reading a million links back from the store (their keys are JSON) would cost the
    rebuild more than everything else it does; the importer has them in hand anyway. Two
    Parquet files in `folder` grow batch by batch (memory stays flat). A pending record
    whose identifiers change again within the import gets its new keys in `overrides`.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.count = 0
        self.overrides: dict[int, list[Key]] = {}
        self._links = pq.ParquetWriter(folder / "links.parquet", LINK_SCHEMA)
        self._keys = pq.ParquetWriter(folder / "keys.parquet", KEY_SCHEMA)

    def add(self, links: Sequence[tuple[int, str, Sequence[Key]]]) -> None:
        """Pending links (seq, kind, keys), in arrival order."""
        if not links:
            return
        keys = key_columns((seq, record_keys) for seq, _kind, record_keys in links)
        seqs = [seq for seq, _k, _keys in links]
        columns = {
            "seq": seqs,
            "kind": [k for _s, k, _keys in links],
            "oneid": [PENDING] * len(links),
        }
        self._links.write_batch(pa.RecordBatch.from_pydict(columns, schema=LINK_SCHEMA))
        self._keys.write_batch(pa.RecordBatch.from_pydict(keys, schema=KEY_SCHEMA))
        self.count += len(links)

    def override(self, seq: int, keys: Sequence[Key]) -> None:
        """A staged record's keys changed (a later version in the same import)."""
        self.overrides[seq] = list(keys)

    def close(self) -> None:
        self._links.close()
        self._keys.close()

    def link_batches(self) -> Iterator[pa.RecordBatch]:
        yield from pq.ParquetFile(self.folder / "links.parquet").iter_batches(BATCH)

    def key_batches(self) -> Iterator[pa.RecordBatch | Columns]:
        stale = pa.array(sorted(self.overrides), pa.int64())
        for batch in pq.ParquetFile(self.folder / "keys.parquet").iter_batches(BATCH):
            yield batch.filter(pc.invert(pc.is_in(batch.column("seq"), stale)))
        yield key_columns(sorted(self.overrides.items()))


def key_columns(records: Iterable[tuple[int, Sequence[Sequence[str]]]]) -> Columns:
    """The KEYS fact's columns of (seq, keys) pairs: one row per key."""
    out: Columns = {"seq": [], "pos": [], "id_type": [], "value": []}
    for seq, keys in records:
        # `pos` keeps each record's key order: it decides which key a replayed merge
        # or blocked merge is recorded under, exactly as the online path records it.
        for pos, (id_type, value) in enumerate(keys):
            out["seq"].append(seq)
            out["pos"].append(pos)
            out["id_type"].append(id_type)
            out["value"].append(value)
    return out


def rebuild_facts(
    *, session: Session, tenant: TenantContext, staged: StagedLinks | None = None
) -> dict[str, ExtraFact]:
    """The four facts of a rebuild, streamed from the store when the snapshot is written;
    with `staged`, pending links come from there (it holds every one: see `open_staging`)."""
    skip_pending = staged is not None
    links: Iterable[Columns | pa.RecordBatch] = _links(session, tenant.id, skip_pending)
    keys: Iterable[Columns | pa.RecordBatch] = _keys(session, tenant.id, skip_pending)
    if staged is not None:
        links, keys = chain(links, staged.link_batches()), chain(keys, staged.key_batches())
    return {
        LINKS: ExtraFact(LINK_SCHEMA, links),
        KEYS: ExtraFact(KEY_SCHEMA, keys),
        OWNERS: ExtraFact(HOLDING_SCHEMA, _holding(session, tenant.id, StrongIdentifier)),
        HOLDERS: ExtraFact(HOLDING_SCHEMA, _holding(session, tenant.id, WeakIdentifier)),
    }


# Core tables, not ORM columns: the ORM's row loading cost more than reading the rows.
_LINK = table(IdentityLink)


def _which(tenant_id: int, skip_pending: bool) -> Any:
    where = _LINK.c.tenant_id == tenant_id
    return (where & (_LINK.c.oneid != PENDING)) if skip_pending else where


def _links(session: Session, tenant_id: int, skip_pending: bool) -> Iterator[Columns]:
    rows = session.execute(
        select(_LINK.c.seq, _LINK.c.kind, _LINK.c.oneid)
        .where(_which(tenant_id, skip_pending))
        .order_by(_LINK.c.seq)
        .execution_options(yield_per=BATCH)
    )
    for part in rows.partitions():
        yield {
            "seq": [r[0] for r in part],
            "kind": [r[1] for r in part],
            "oneid": [r[2] for r in part],
        }


def _keys(session: Session, tenant_id: int, skip_pending: bool) -> Iterator[Columns]:
    rows = session.execute(
        select(_LINK.c.seq, _LINK.c["keys"])
        .where(_which(tenant_id, skip_pending))
        .order_by(_LINK.c.seq)
        .execution_options(yield_per=BATCH)
    )
    for part in rows.partitions():
        yield key_columns((seq, keys) for seq, keys in part)


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
