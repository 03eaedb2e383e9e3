"""Bulk mode (`ingest_files(bulk=True)`): links stored pending, one batch rebuild at the end.

It must give exactly what the online path gives on the same files: the same records, the
same quarantine, the same partition of records into persons; importing again changes
nothing, and links left pending by an interrupted import are resolved by the next one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import siyu.identity
from siyu.demo.generator import generate_demo
from siyu.identity import has_pending_links
from siyu.identity.models import IdentityRebuild
from siyu.ingest import (
    BulkUnavailableError,
    WorkerError,
    ingest_files,
    list_quarantine,
    use_bulk,
)
from siyu.records.models import CustomerRecord, Event, Order, Refund
from siyu.store import Store
from siyu.tenants import IdentityRules, TenantContext
from support import Files, MakeTenant, customer, order, partition, rollback_session, tenant_with

# Tight guards, so that the rebuild has components to replay (blocked merges).
TIGHT = IdentityRules(max_customer_records=2, max_per_type={"phone_sha256": 1, "email": 1})


def demo_files(tmp_path: Path, files: Files) -> list[Path]:
    """Demo customers, orders, refunds and events, then a file of edge cases: bad lines,
    a newer version of an order, an older one, and a customer whose phone changed."""
    demo = generate_demo(out_dir=tmp_path / "demo", persons=120, seed=5, events_per_person=1)
    edge = files.jsonl(
        "edge.jsonl",
        [
            customer("pos", "E1", {"phone": "13900000001"}),
            order("pos", "EO1", customer_id="E1", status="paid"),
            "{not json",
            order("pos", "EO2", customer_id="E1", status="bogus"),
            customer("pos", "E2", {"phone": "13900000001", "email": "e2@example.com"}),
            order("pos", "EO1", customer_id="E1", status="completed"),  # the newer version
            customer("pos", "E1", {"phone": "13900000009"}),  # its phone changed
            {"kind": "customer", "source": "pos"},
            customer("pos", "E3", {"email": "E2@example.com", "device_id": "dev-1"}),
            customer("pos", "E4", {"device_id": "dev-1"}),
        ],
    )
    older = files.jsonl("older.jsonl", [order("pos", "EO1", customer_id="E1", status="paid")])
    return [demo.customers, demo.orders, demo.refunds, demo.events, edge, older]


def stored_records(session: Session, tenant: TenantContext) -> dict[str, Any]:
    """The records as stored, without row ids and times of writing."""

    def rows(model: Any, *columns: Any) -> set[tuple[Any, ...]]:
        query = select(*columns).where(model.tenant_id == tenant.id)
        return {tuple(_hashable(v) for v in row) for row in session.execute(query)}

    return {
        "customers": rows(
            CustomerRecord,
            CustomerRecord.source,
            CustomerRecord.external_id,
            CustomerRecord.identifiers,
            CustomerRecord.hints,
            CustomerRecord.content_hash,
            CustomerRecord.previous_hashes,
        ),
        "orders": rows(
            Order,
            Order.source,
            Order.order_id,
            Order.status,
            Order.paid_amount,
            Order.items,
            Order.customer_identifiers,
            Order.content_hash,
            Order.previous_hashes,
            Order.version,
        ),
        "refunds": rows(Refund, Refund.source, Refund.refund_id, Refund.amount),
    }


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def quarantine(session: Session, tenant: TenantContext) -> set[tuple[Any, ...]]:
    entries = list_quarantine(session=session, tenant=tenant)
    return {(e.file, e.line, e.field, e.reason, e.raw) for e in entries}


def import_all(
    session: Session,
    tenant: TenantContext,
    paths: list[Path],
    *,
    bulk: bool,
    worker: bool = False,
) -> list[Any]:
    """Each file as its own import, as an operator would run them."""
    return [
        ingest_files(
            session=session, tenant=tenant, paths=[path], bulk=bulk, batch_size=97, worker=worker
        )
        for path in paths
    ]


@pytest.mark.parametrize("rules", [None, TIGHT], ids=["default", "tight-guards"])
def test_bulk_import_equals_online_import(
    session: Session,
    make_tenant: MakeTenant,
    tmp_path: Path,
    files: Files,
    rules: IdentityRules | None,
) -> None:
    paths = demo_files(tmp_path, files)
    online, bulk = make_tenant(rules), make_tenant(rules)
    online_reports = import_all(session, online, paths, bulk=False)
    bulk_reports = import_all(session, bulk, paths, bulk=True)
    assert {r.mode for r in bulk_reports} == {"bulk"}
    assert not has_pending_links(session=session, tenant=bulk)
    assert partition(session, bulk) == partition(session, online)
    assert stored_records(session, bulk) == stored_records(session, online)
    assert quarantine(session, bulk) == quarantine(session, online)
    assert quarantine(session, bulk)  # the bad lines are there, with file, line and field
    for report_a, report_b in zip(online_reports, bulk_reports, strict=True):
        counts = ("accepted", "quarantined", "new", "updated", "unchanged", "by_kind")
        assert [getattr(report_a, c) for c in counts] == [getattr(report_b, c) for c in counts]
    # New persons are net of the import: the persons there are now, none existed before.
    persons = len(partition(session, bulk))
    assert sum(r.new_persons for r in bulk_reports) - sum(r.merges for r in bulk_reports) == (
        persons
    )


def test_the_worker_process_judges_as_the_import_itself_does(
    session: Session, make_tenant: MakeTenant, tmp_path: Path, files: Files
) -> None:
    """Read and validated by a worker process, as large imports are: the same outcome."""
    paths = demo_files(tmp_path, files)
    here, worker = make_tenant(TIGHT), make_tenant(TIGHT)
    options: dict[str, Any] = {"paths": paths, "bulk": True, "batch_size": 97}
    report = ingest_files(session=session, tenant=here, worker=False, **options)
    other = ingest_files(session=session, tenant=worker, worker=True, **options)
    counts = ("accepted", "quarantined", "new", "updated", "unchanged", "new_persons", "merges")
    assert [getattr(report, c) for c in counts] == [getattr(other, c) for c in counts]
    assert partition(session, worker) == partition(session, here)
    assert stored_records(session, worker) == stored_records(session, here)
    assert quarantine(session, worker) == quarantine(session, here)


def raw_rows(session: Session, tenant: TenantContext) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored record row as the database holds it (JSON text, time strings, fen),
    without row ids and times of writing."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for model in (CustomerRecord, Order, Refund, Event):
        name = model.__tablename__
        result = session.connection().exec_driver_sql(
            f"SELECT * FROM {name} WHERE tenant_id = {int(tenant.id)}"
        )
        keep = [
            i for i, c in enumerate(result.keys()) if c not in ("id", "tenant_id", "updated_at")
        ]
        found[name] = sorted(tuple(row[i] for i in keep) for row in result)
    return found


def test_values_converted_by_the_worker_are_stored_as_converted_here(
    session: Session, make_tenant: MakeTenant, tmp_path: Path, files: Files
) -> None:
    """The worker converts values for a SQLite store (decision 213): the rows stored, new
    and replacing older versions, are the very bytes the main process would store."""
    changed = files.jsonl(
        "changed.jsonl",
        [
            order("pos", "EO1", customer_id="E1", status="refunded"),
            customer("pos", "E2", {"phone": "13900000001"}, name="王芳"),
        ],
    )
    paths = [*demo_files(tmp_path, files), changed]
    here, worker = make_tenant(), make_tenant()
    import_all(session, here, paths, bulk=True, worker=False)
    reports = import_all(session, worker, paths, bulk=True, worker=True)
    assert reports[-1].updated == 2  # the update path ran with converted values
    assert raw_rows(session, worker) == raw_rows(session, here)
    assert raw_rows(session, worker)["orders"]


def test_bulk_reimport_changes_nothing(
    session: Session, make_tenant: MakeTenant, tmp_path: Path, files: Files
) -> None:
    paths = demo_files(tmp_path, files)
    tenant = make_tenant()
    import_all(session, tenant, paths, bulk=True)
    before = (partition(session, tenant), stored_records(session, tenant))
    runs = _rebuild_runs(session, tenant)
    again = import_all(session, tenant, paths, bulk=True)
    assert sum(r.new + r.updated for r in again) == 0
    assert sum(r.new_persons + r.merges for r in again) == 0
    assert (partition(session, tenant), stored_records(session, tenant)) == before
    assert _rebuild_runs(session, tenant) == runs  # nothing to resolve: no rebuild ran


def test_bulk_then_online_then_bulk_agree_with_online(
    session: Session, make_tenant: MakeTenant, tmp_path: Path, files: Files
) -> None:
    """Bulk imports on top of persons resolved online (and the other way round) keep the
    arrival-order partition: the rebuild merges into the existing persons."""
    paths = demo_files(tmp_path, files)
    online, mixed = make_tenant(TIGHT), make_tenant(TIGHT)
    import_all(session, online, paths, bulk=False)
    modes = [False, True, False, True, True, False]
    for path, bulk in zip(paths, modes, strict=True):
        ingest_files(
            session=session, tenant=mixed, paths=[path], bulk=bulk, batch_size=50, worker=False
        )
    assert partition(session, mixed) == partition(session, online)


def test_interrupted_bulk_import_is_resolved_by_the_next(
    session: Session,
    make_tenant: MakeTenant,
    tmp_path: Path,
    files: Files,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = demo_files(tmp_path, files)
    online, tenant = make_tenant(), make_tenant()
    import_all(session, online, paths, bulk=False)

    def crash(**_kwargs: Any) -> None:
        raise RuntimeError("killed before the rebuild")

    with monkeypatch.context() as patch:
        patch.setattr(siyu.identity, "rebuild_identity", crash)
        with pytest.raises(RuntimeError):
            ingest_files(session=session, tenant=tenant, paths=paths[:2], bulk=True, worker=False)
    # The accepted records are stored, their links wait for the rebuild...
    assert has_pending_links(session=session, tenant=tenant)
    # ...which the next import (bulk by default while links are pending) runs.
    modes = [
        ingest_files(session=session, tenant=tenant, paths=[p], worker=False).mode for p in paths
    ]
    assert modes[0] == "bulk"
    assert not has_pending_links(session=session, tenant=tenant)
    assert partition(session, tenant) == partition(session, online)
    assert stored_records(session, tenant) == stored_records(session, online)


def test_bulk_mode_is_chosen_for_large_files_only(
    session: Session, make_tenant: MakeTenant, files: Files
) -> None:
    tenant = make_tenant()
    small = files.jsonl("small.jsonl", [customer("pos", "C1", {"phone": "13900000001"})])
    assert not use_bulk(session=session, tenant=tenant, paths=[small], bulk=None)
    assert use_bulk(session=session, tenant=tenant, paths=[small], bulk=True)
    large = files.text("large.jsonl", " " * 40_000_000)  # ≈ 100,000 records' worth
    assert use_bulk(session=session, tenant=tenant, paths=[large], bulk=None)
    assert not use_bulk(session=session, tenant=tenant, paths=[large], bulk=False)


def test_bulk_mode_refuses_probabilistic_matching(
    session: Session, make_tenant: MakeTenant, files: Files
) -> None:
    tenant = make_tenant(IdentityRules(probabilistic=True))
    path = files.jsonl("c.jsonl", [customer("pos", "C1", {"phone": "13900000001"})])
    with pytest.raises(BulkUnavailableError):
        ingest_files(session=session, tenant=tenant, paths=[path], bulk=True)
    assert ingest_files(session=session, tenant=tenant, paths=[path]).mode == "online"


def test_a_failing_worker_fails_the_import(
    session: Session, make_tenant: MakeTenant, files: Files
) -> None:
    tenant = make_tenant()
    with pytest.raises(WorkerError, match="no-such-file"):
        ingest_files(
            session=session,
            tenant=tenant,
            paths=[files.directory / "no-such-file.jsonl"],
            bulk=True,
            worker=True,
        )


def _rebuild_runs(session: Session, tenant: TenantContext) -> int:
    return len(
        session.scalars(
            select(IdentityRebuild.id).where(IdentityRebuild.tenant_id == tenant.id)
        ).all()
    )


@pytest.mark.postgres
def test_a_bulk_import_into_postgresql_leaves_planner_statistics(
    postgres_store: Store, tmp_path: Path, files: Files
) -> None:
    paths = demo_files(tmp_path, files)

    def rows_known_to_planner(session: Session) -> float:
        found = session.scalar(
            text(
                "SELECT reltuples FROM pg_class WHERE relname = 'orders'"
                " AND relnamespace = current_schema()::regnamespace"
            )
        )
        return float(found)

    with rollback_session(postgres_store) as session:
        tenant = tenant_with(session, name="statistics")
        session.execute(text("ANALYZE orders"))  # what the planner knew: no orders yet
        assert rows_known_to_planner(session) == 0
        import_all(session, tenant, paths, bulk=True)
        stored = session.scalar(select(func.count()).select_from(Order))
        assert stored and rows_known_to_planner(session) == stored
