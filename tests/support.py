"""Plain helpers shared by the tests: canonical record builders, files, rollback sessions."""

from __future__ import annotations

import csv
import gzip
import io
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from siyu.identity import iter_identity_map
from siyu.ingest import RecordResult
from siyu.online import accept_records
from siyu.store import Store
from siyu.tenants import (
    IdentityRules,
    TenantContext,
    create_tenant,
    get_tenant,
    update_settings,
)

Record = dict[str, Any]
# `make_tenant(IdentityRules(...), timezone=..., name=...)`, the conftest fixture's type.
MakeTenant = Callable[..., TenantContext]


def customer(
    source: str, external_id: str, ids: Mapping[str, str] | None = None, **fields: Any
) -> Record:
    """A canonical customer record."""
    record: Record = {"kind": "customer", "source": source, "external_id": external_id}
    if ids:
        record["identifiers"] = dict(ids)
    record.update(fields)
    return record


def _ref(external_id: str | None, ids: Mapping[str, str] | None) -> dict[str, Any]:
    ref: dict[str, Any] = {}
    if external_id is not None:
        ref["external_id"] = external_id
    if ids:
        ref["identifiers"] = dict(ids)
    return ref


def order(
    source: str,
    order_id: str,
    *,
    customer_id: str | None = None,
    ids: Mapping[str, str] | None = None,
    status: str = "paid",
    total: str = "100.00",
    paid: str | None = None,
    created_at: str = "2024-05-01T10:00:00+08:00",
    **fields: Any,
) -> Record:
    """A canonical order; `customer_id` is the customer record's external_id (same source)."""
    record: Record = {
        "kind": "order",
        "source": source,
        "order_id": order_id,
        "customer_ref": _ref(customer_id, ids),
        "status": status,
        "created_at": created_at,
        "total_amount": total,
        "paid_amount": total if paid is None else paid,
    }
    record.update(fields)
    return record


def event(
    source: str,
    event_id: str,
    *,
    customer_id: str | None = None,
    ids: Mapping[str, str] | None = None,
    type: str = "page_view",  # noqa: A002 - the contract's field name
    occurred_at: str = "2024-05-01T10:00:00+08:00",
    **fields: Any,
) -> Record:
    """A canonical event."""
    record: Record = {
        "kind": "event",
        "source": source,
        "event_id": event_id,
        "customer_ref": _ref(customer_id, ids),
        "type": type,
        "occurred_at": occurred_at,
    }
    record.update(fields)
    return record


@contextmanager
def rollback_session(store: Store) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back at the end.

    Service code calling `session.commit()` only releases a savepoint, so nothing a test
    writes survives it.
    """
    connection = store.engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        connection.close()


class Files:
    """Writes canonical input files (JSONL, CSV, optionally gzipped) into a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _write(self, name: str, payload: bytes) -> Path:
        path = self.directory / name
        if name.endswith(".gz"):
            payload = gzip.compress(payload)
        path.write_bytes(payload)
        return path

    def jsonl(self, name: str, records: Sequence[Record | str]) -> Path:
        """One line per record; a `str` item is written verbatim (for broken lines)."""
        lines = [r if isinstance(r, str) else orjson.dumps(r).decode() for r in records]
        return self._write(name, ("\n".join(lines) + "\n").encode())

    def csv(
        self,
        name: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        header: Sequence[str] | None = None,
        bom: bool = False,
    ) -> Path:
        """A CSV with `header` (default: every column used, in first-seen order)."""
        columns = (
            list(header) if header is not None else list(dict.fromkeys(c for r in rows for c in r))
        )
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        text = buffer.getvalue()
        return self._write(name, (("\ufeff" if bom else "") + text).encode())

    def text(self, name: str, content: str) -> Path:
        return self._write(name, content.encode())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


# -- identity helpers ---------------------------------------------------------------------


def ingest(session: Session, tenant: TenantContext, *items: Record) -> list[RecordResult]:
    """Import records through the API path; fail loudly if any was quarantined."""
    _report, results = accept_records(
        session=session, tenant=tenant, items=list(items), origin="test"
    )
    rejected = [r for r in results if r.status != "accepted"]
    assert not rejected, f"unexpectedly quarantined: {rejected}"
    return results


def label(kind: str, source: str, record_id: str) -> str:
    return f"{kind}:{source}/{record_id}"


def identity_map(session: Session, tenant: TenantContext) -> dict[str, str]:
    """`kind:source/record_id` -> OneID for every ingested record."""
    return {
        label(kind, source, record_id): oneid
        for kind, source, record_id, oneid in iter_identity_map(session=session, tenant=tenant)
    }


def partition(session: Session, tenant: TenantContext) -> set[frozenset[str]]:
    """The records grouped by person, as a set of groups of record labels."""
    groups: dict[str, set[str]] = {}
    for record, oneid in identity_map(session, tenant).items():
        groups.setdefault(oneid, set()).add(record)
    return {frozenset(group) for group in groups.values()}


def tenant_with(
    session: Session,
    identity: IdentityRules | None = None,
    *,
    timezone: str | None = None,
    name: str | None = None,
) -> TenantContext:
    """A fresh tenant with the given identity rules / time zone, re-read from the store."""
    name = name or f"t_{secrets.token_hex(4)}"
    created = create_tenant(session=session, name=name)
    changes: dict[str, object] = {}
    if identity is not None:
        changes["identity"] = identity
    if timezone is not None:
        changes["timezone"] = timezone
    update_settings(
        session=session, tenant_id=created.id, settings=created.settings.model_copy(update=changes)
    )
    session.flush()
    return get_tenant(session=session, name=name)
