"""Exporting the store's facts to a Parquet snapshot: exact money, local times, unnested items."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from siyu.engine import current_snapshot, export_snapshot
from siyu.tenants import TenantContext
from support import customer, identity_map, ingest, order


def test_export_snapshot(session: Session, tenant: TenantContext, tmp_path: Path) -> None:
    ingest(
        session,
        tenant,
        customer("pos", "c1", {"phone": "13900000001", "member_no": "m1"}, store_id="S9"),
        order(
            "pos",
            "o1",
            customer_id="c1",
            total="0.30",
            created_at="2024-05-01T23:30:00+08:00",
            items=[
                {"sku": "A", "category": "护肤", "quantity": 3, "unit_price": "0.10"},
                {"sku": "B", "category": "彩妆", "amount": "0.00"},
            ],
        ),
        {
            "kind": "refund",
            "source": "pos",
            "refund_id": "r1",
            "order_id": "o1",
            "amount": "0.10",
            "created_at": "2024-05-02T10:00:00+08:00",
        },
    )
    first = export_snapshot(session=session, tenant=tenant, engine_dir=tmp_path)
    second = export_snapshot(session=session, tenant=tenant, engine_dir=tmp_path)
    third = export_snapshot(session=session, tenant=tenant, engine_dir=tmp_path)
    assert current_snapshot(engine_dir=tmp_path, tenant=tenant) == third
    assert not first.root.exists() and second.root.exists()  # the previous one is kept

    def read(fact: str) -> dict[str, list[object]]:
        return pq.read_table(third.path(fact)).to_pydict()

    orders = read("orders")
    assert orders["paid_fen"] == [30] and orders["total_fen"] == [30]
    assert orders["created_at"] == [datetime(2024, 5, 1, 15, 30, tzinfo=UTC)]
    assert orders["created_at_local"] == [datetime(2024, 5, 1, 23, 30)]
    items = read("order_items")
    assert (items["line"], items["category"], items["quantity"], items["amount_fen"]) == (
        [0, 1],
        ["护肤", "彩妆"],
        [3, 1],
        [30, 0],
    )
    assert read("refunds")["amount_fen"] == [10]
    customers = read("customers")
    assert (customers["is_member"], customers["store_id"]) == ([True], ["S9"])
    ids = read("identity")
    mapped = {f"{k}:{s}/{r}": o for k, s, r, o in zip(*ids.values(), strict=True)}
    assert mapped == identity_map(session, tenant)
    assert set(third.facts()) == {
        "identity",
        "customers",
        "orders",
        "order_items",
        "refunds",
        "events",
    }
