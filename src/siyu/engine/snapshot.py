"""Per-tenant Parquet snapshots of the facts the engine reads, exported from the store.

Layout (the same on a local disk or, later, object storage that Spark reads):

    <engine_dir>/tenant-<id>/snapshots/<version>/<fact>/part-00000.parquet
    <engine_dir>/tenant-<id>/CURRENT          the version readers use

A snapshot is written into a fresh version directory and published by rewriting CURRENT,
so readers never see half a snapshot; older versions are then removed. Every UTC time
column `t` gets a sibling `t_local`: the tenant-local wall time, from which engines derive
dates without time-zone functions (see portable.py).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from siyu.tenants import TenantContext

Columns = dict[str, list[Any]]
UTC_TIME = pa.timestamp("us", tz="UTC")
_STRING = pa.string()

# The facts every computation can rely on, with their columns (times in UTC).
FACT_SCHEMAS: dict[str, pa.Schema] = {
    "identity": pa.schema(
        [("kind", _STRING), ("source", _STRING), ("record_id", _STRING), ("oneid", _STRING)]
    ),
    "customers": pa.schema(
        [
            ("source", _STRING),
            ("external_id", _STRING),
            ("store_id", _STRING),
            ("is_member", pa.bool_()),
            ("registered_at", UTC_TIME),
        ]
    ),
    "orders": pa.schema(
        [
            ("source", _STRING),
            ("order_id", _STRING),
            ("status", _STRING),
            ("created_at", UTC_TIME),
            ("paid_at", UTC_TIME),
            ("paid_fen", pa.int64()),
            ("total_fen", pa.int64()),
            ("store_id", _STRING),
            ("staff_id", _STRING),
        ]
    ),
    "order_items": pa.schema(
        [
            ("source", _STRING),
            ("order_id", _STRING),
            ("line", pa.int32()),
            ("sku", _STRING),
            ("product_id", _STRING),
            ("category", _STRING),
            ("quantity", pa.int64()),
            ("amount_fen", pa.int64()),
        ]
    ),
    "refunds": pa.schema(
        [
            ("source", _STRING),
            ("refund_id", _STRING),
            ("order_id", _STRING),
            ("amount_fen", pa.int64()),
            ("created_at", UTC_TIME),
        ]
    ),
    "events": pa.schema(
        [
            ("source", _STRING),
            ("event_id", _STRING),
            ("type", _STRING),
            ("occurred_at", UTC_TIME),
        ]
    ),
}

Reader = Callable[..., Iterator[Columns]]


def _readers() -> dict[str, Reader]:
    """The domain readers of the standard facts, imported when used: identity's batch
    rebuild runs on this engine, so importing identity here would be circular."""
    from siyu import records

    return {
        "customers": records.iter_customer_facts,
        "orders": records.iter_order_facts,
        "order_items": records.iter_order_item_facts,
        "refunds": records.iter_refund_facts,
        "events": records.iter_event_facts,
    }


@dataclass(frozen=True)
class Snapshot:
    """One published snapshot version: where each fact's Parquet files are."""

    root: Path
    zone: str

    def path(self, fact: str) -> Path:
        return self.root / fact

    def facts(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())


@dataclass(frozen=True)
class ExtraFact:
    """A fact a domain adds to the snapshot (e.g. its own previous results)."""

    schema: pa.Schema
    batches: Iterable[Columns | pa.RecordBatch]  # Arrow batches go in without conversion


def tenant_dir(engine_dir: Path, tenant: TenantContext) -> Path:
    return Path(engine_dir) / f"tenant-{tenant.id}"


def export_snapshot(
    *,
    session: Session,
    tenant: TenantContext,
    engine_dir: Path,
    extra: Mapping[str, ExtraFact] | None = None,
    facts: Collection[str] | None = None,
    publish: bool = True,
    private: bool = False,
) -> Snapshot:
    """Stream the tenant's facts from the store into a new snapshot and publish it.

    With `publish=False` the caller adds derived facts first and then calls
    `publish_snapshot`, so readers never see the snapshot without them.
    `facts` picks the standard facts to export (default: all of FACT_SCHEMAS); a run that
    needs only its own facts (the identity rebuild) exports those into a `private` snapshot
    that is never published and that the run removes when done (`discard_snapshot`).
    """
    base = tenant_dir(engine_dir, tenant)
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"
    # Unpublished snapshots live apart: publishing prunes old versions under snapshots/.
    folder = "private" if private else "snapshots"
    snapshot = Snapshot(root=base / folder / version, zone=tenant.settings.timezone)
    wanted = FACT_SCHEMAS.keys() if facts is None else facts
    if "identity" in wanted:
        write_fact(
            snapshot, "identity", FACT_SCHEMAS["identity"], _identity_batches(session, tenant)
        )
    for name, reader in _readers().items():
        if name in wanted:
            write_fact(snapshot, name, FACT_SCHEMAS[name], reader(session=session, tenant=tenant))
    for name, fact in (extra or {}).items():
        write_fact(snapshot, name, fact.schema, fact.batches)
    if publish and not private:
        _publish(base, snapshot)
    return snapshot


def publish_snapshot(*, engine_dir: Path, tenant: TenantContext, snapshot: Snapshot) -> None:
    """Make `snapshot` (exported with `publish=False`) the tenant's current one."""
    _publish(tenant_dir(engine_dir, tenant), snapshot)


def discard_snapshot(snapshot: Snapshot) -> None:
    """Remove a private snapshot (no reader can be on it)."""
    shutil.rmtree(snapshot.root, ignore_errors=True)


def current_snapshot(*, engine_dir: Path, tenant: TenantContext) -> Snapshot | None:
    """The last published snapshot of the tenant, if any."""
    base = tenant_dir(engine_dir, tenant)
    pointer = base / "CURRENT"
    if not pointer.exists():
        return None
    version = pointer.read_text().strip()
    return Snapshot(root=base / "snapshots" / version, zone=tenant.settings.timezone)


def write_fact(
    snapshot: Snapshot,
    name: str,
    schema: pa.Schema,
    batches: Iterable[Columns | pa.RecordBatch],
) -> int:
    """Write one fact (adding `_local` times); an empty fact still gets a file with columns."""
    target = snapshot.path(name)
    target.mkdir(parents=True, exist_ok=True)
    full = with_local_times(schema)
    rows = 0
    with pq.ParquetWriter(target / "part-00000.parquet", full) as writer:
        for columns in batches:
            batch = (
                columns
                if isinstance(columns, pa.RecordBatch)
                else pa.RecordBatch.from_pydict(columns, schema=schema)
            )
            writer.write_batch(_add_local_times(batch, full, snapshot.zone))
            rows += batch.num_rows
    return rows


def with_local_times(schema: pa.Schema) -> pa.Schema:
    """`schema` plus a naive `<name>_local` column after each UTC time column."""
    fields: list[pa.Field] = []
    for field in schema:
        fields.append(field)
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            fields.append(pa.field(f"{field.name}_local", pa.timestamp("us")))
    return pa.schema(fields)


def _add_local_times(batch: pa.RecordBatch, full: pa.Schema, zone: str) -> pa.RecordBatch:
    arrays = []
    for field in full:
        if field.name in batch.schema.names:
            arrays.append(batch.column(field.name))
        else:
            utc = batch.column(field.name.removesuffix("_local"))
            arrays.append(pc.local_timestamp(utc.cast(pa.timestamp("us", tz=zone))))
    return pa.RecordBatch.from_arrays(arrays, schema=full)


def _identity_batches(session: Session, tenant: TenantContext) -> Iterator[Columns]:
    from siyu import identity  # see _readers

    rows = identity.iter_identity_map(session=session, tenant=tenant)
    names = ("kind", "source", "record_id", "oneid")
    while chunk := list(islice(rows, 50_000)):
        yield {name: [row[i] for row in chunk] for i, name in enumerate(names)}


def _publish(base: Path, snapshot: Snapshot) -> None:
    pointer = base / "CURRENT"
    staged = base / f"CURRENT.{secrets.token_hex(3)}"
    staged.write_text(snapshot.root.name)
    staged.replace(pointer)  # atomic on one file system: readers see old or new
    # Keep the previous version too: a run that started on it may still be reading it.
    versions = sorted(p.name for p in (base / "snapshots").iterdir())
    for old in versions[:-2]:
        shutil.rmtree(base / "snapshots" / old, ignore_errors=True)
