"""Batch traits on both engines: hand-built persons with known answers, incremental = full."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu.ingest import ingest_files
from siyu.tenants import RfmRules, TenantContext, TraitRules, get_tenant, update_settings
from siyu.traits import list_traits, run_compute
from support import Files, customer, event, identity_map, ingest, order
from traits.reference import expected_traits

AS_OF = date(2024, 6, 30)
COMPARED = (
    "order_count",
    "net_spend",
    "aov",
    "first_order_day",
    "last_order_day",
    "avg_interval_days",
    "favourite_source",
    "favourite_category",
    "favourite_store",
    "is_member",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "lifecycle_stage",
)


def refund(source: str, refund_id: str, order_id: str, amount: str, at: str) -> dict[str, Any]:
    return {
        "kind": "refund",
        "source": source,
        "refund_id": refund_id,
        "order_id": order_id,
        "amount": amount,
        "created_at": at,
    }


def item(category: str, quantity: int, amount: str) -> dict[str, Any]:
    return {"sku": f"SKU-{category}", "category": category, "quantity": quantity, "amount": amount}


BASE: list[dict[str, Any]] = [
    # A: Tmall + POS member, three sales (one paid just after local midnight), a closed order.
    customer("tmall", "a1", {"phone": "13800000001"}),
    customer("pos", "a2", {"phone": "13800000001", "member_no": "m001"}),
    order(
        "tmall",
        "o1",
        customer_id="a1",
        total="100.00",
        created_at="2024-01-10T10:00:00+08:00",
        items=[item("护肤", 2, "80.00"), item("彩妆", 1, "20.00")],
    ),
    order(
        "tmall",
        "o2",
        customer_id="a1",
        total="50.00",
        created_at="2024-03-10T23:30:00+08:00",
        paid_at="2024-03-11T00:10:00+08:00",
        items=[item("彩妆", 3, "50.00")],
    ),
    order(
        "pos",
        "o3",
        customer_id="a2",
        total="200.00",
        created_at="2024-06-01T15:00:00+08:00",
        store_id="S1",
        items=[item("护肤", 1, "200.00")],
    ),
    order(
        "tmall",
        "o4",
        customer_id="a1",
        status="closed",
        total="999.00",
        paid="0.00",
        created_at="2024-06-25T10:00:00+08:00",
    ),
    refund("pos", "r1", "o3", "60.00", "2024-06-03T10:00:00+08:00"),
    # B: one JD order, fully refunded, three weeks ago.
    customer("jd", "b1", {"phone": "13800000002"}),
    order("jd", "o5", customer_id="b1", total="30.00", created_at="2024-06-20T09:00:00+08:00"),
    refund("jd", "r2", "o5", "30.00", "2024-06-21T09:00:00+08:00"),
    # C: two orders long ago (churned).
    customer("wechat_mp", "c1", {"phone": "13800000003"}),
    order(
        "wechat_mp", "o6", customer_id="c1", total="80.00", created_at="2023-01-05T12:00:00+08:00"
    ),
    order(
        "wechat_mp", "o7", customer_id="c1", total="120.00", created_at="2023-02-01T12:00:00+08:00"
    ),
    # D: only browsed (prospect).
    customer("douyin", "d1", {"douyin_openid": "dy-d"}),
    event("douyin", "e1", customer_id="d1", occurred_at="2024-06-01T10:00:00+08:00"),
    # E: one purchase 136 days ago (active); F: last purchase 303 days ago (silent).
    customer("tmall", "e1", {"phone": "13800000005"}),
    order("tmall", "o8", customer_id="e1", total="300.00", created_at="2024-02-15T10:00:00+08:00"),
    customer("jd", "f1", {"member_no": "m009"}),
    order(
        "jd",
        "o9",
        customer_id="f1",
        total="60.00",
        created_at="2023-09-01T10:00:00+08:00",
        store_id="S2",
    ),
]


def _stored(session: Session, tenant: TenantContext) -> dict[str, dict[str, Any]]:
    return {
        t.oneid: {c: getattr(t, c) for c in COMPARED}
        for t in list_traits(session=session, tenant=tenant)
    }


def _expected(
    session: Session, tenant: TenantContext, records: list[dict[str, Any]], rules: TraitRules
) -> dict[str, dict[str, Any]]:
    labels = identity_map(session, tenant)
    oneid_of = {tuple(k.replace(":", "/", 1).split("/", 2)): v for k, v in labels.items()}
    found = expected_traits(
        records, oneid_of, zone=tenant.settings.timezone, as_of=AS_OF, rules=rules
    )
    return {p: {c: row.get(c) for c in COMPARED} for p, row in found.items()}


def _oneid(session: Session, tenant: TenantContext, source: str, external_id: str) -> str:
    return identity_map(session, tenant)[f"customer:{source}/{external_id}"]


def test_known_answers(
    session: Session, tenant: TenantContext, engine_name: str, tmp_path: Path
) -> None:
    ingest(session, tenant, *BASE)
    report = run_compute(
        session=session, tenant=tenant, engine_dir=tmp_path, engine=engine_name, as_of=AS_OF
    )
    stored = _stored(session, tenant)
    assert report.mode == "full" and report.persons == 6 == len(stored)
    assert stored == _expected(session, tenant, BASE, tenant.settings.traits)
    a = stored[_oneid(session, tenant, "tmall", "a1")]
    # Literal answers for A, worked by hand: 100 + 50 + 200 - 60 refunded over 3 sales.
    assert (a["order_count"], a["net_spend"], a["aov"]) == (3, Decimal("290.00"), Decimal("96.67"))
    assert a["last_order_day"] == date(2024, 6, 1) and a["avg_interval_days"] == 72  # 143 / 2
    assert (a["favourite_source"], a["favourite_category"], a["favourite_store"]) == (
        "tmall",
        "彩妆",
        "S1",
    )
    assert a["is_member"] and a["lifecycle_stage"] == "active"
    stages = {
        key: stored[_oneid(session, tenant, *key)]["lifecycle_stage"]
        for key in [
            ("jd", "b1"),
            ("wechat_mp", "c1"),
            ("douyin", "d1"),
            ("tmall", "e1"),
            ("jd", "f1"),
        ]
    }
    assert stages == {
        ("jd", "b1"): "new",
        ("wechat_mp", "c1"): "churned",
        ("douyin", "d1"): "prospect",
        ("tmall", "e1"): "active",
        ("jd", "f1"): "silent",
    }
    # Recency ranks C < F < E < A < B among five buyers: scores 1..5 in that order.
    recency = [
        stored[_oneid(session, tenant, *k)]["rfm_r"]
        for k in [("wechat_mp", "c1"), ("jd", "f1"), ("tmall", "e1"), ("tmall", "a1"), ("jd", "b1")]
    ]
    assert recency == [1, 2, 3, 4, 5]


def test_fixed_cut_points_and_windows(
    session: Session, make_tenant: Any, engine_name: str, tmp_path: Path
) -> None:
    tenant = make_tenant()
    rules = TraitRules.model_validate(
        {
            "lifecycle": {"new_days": 7, "active_days": 100, "churn_days": 500},
            "rfm": RfmRules(
                mode="fixed",
                frequency=[2, 3, 4, 5],
                monetary_yuan=[Decimal("50"), Decimal("100"), Decimal("250"), Decimal("280")],
            ).model_dump(),
        }
    )
    update_settings(
        session=session,
        tenant_id=tenant.id,
        settings=tenant.settings.model_copy(update={"traits": rules}),
    )
    session.flush()
    tenant = get_tenant(session=session, name=tenant.name)
    ingest(session, tenant, *BASE)
    run_compute(
        session=session, tenant=tenant, engine_dir=tmp_path, engine=engine_name, as_of=AS_OF
    )
    stored = _stored(session, tenant)
    assert stored == _expected(session, tenant, BASE, rules)
    a = stored[_oneid(session, tenant, "tmall", "a1")]
    assert (a["rfm_r"], a["rfm_f"], a["rfm_m"]) == (5, 3, 5)  # 29 days, 3 orders, 290 yuan
    # 136 days since E's only purchase: past the 100-day active window, inside churn.
    assert stored[_oneid(session, tenant, "tmall", "e1")]["lifecycle_stage"] == "silent"


CHANGES: list[dict[str, Any]] = [
    # C comes back; A gets a second refund; a new buyer G; E and F turn out to be one person.
    order(
        "wechat_mp", "o10", customer_id="c1", total="40.00", created_at="2024-06-28T10:00:00+08:00"
    ),
    refund("tmall", "r3", "o1", "10.00", "2024-06-29T10:00:00+08:00"),
    customer("youzan", "g1", {"phone": "13800000007"}),
    order("youzan", "o11", customer_id="g1", total="75.50", created_at="2024-06-29T10:00:00+08:00"),
    customer("pos", "ef", {"phone": "13800000005", "member_no": "m009"}),
]


def test_incremental_equals_full(
    session: Session, tenant: TenantContext, engine_name: str, tmp_path: Path, files: Files
) -> None:
    ingest(session, tenant, *BASE)
    first = run_compute(
        session=session, tenant=tenant, engine_dir=tmp_path, engine=engine_name, as_of=AS_OF
    )
    # A bulk file import: no online refresh, so the batch run must catch everything itself.
    changes = files.jsonl("changes.jsonl", CHANGES)
    assert ingest_files(session=session, tenant=tenant, paths=[changes]).quarantined == 0
    incremental = run_compute(
        session=session,
        tenant=tenant,
        engine_dir=tmp_path,
        engine=engine_name,
        as_of=AS_OF,
        overlap=timedelta(0),
    )
    after_incremental = _stored(session, tenant)
    # Only A, C, G and the merged E+F were recomputed; F's or E's old row was deleted.
    assert (first.mode, incremental.mode) == ("full", "incremental")
    assert incremental.recomputed == 4 and incremental.deleted == 1
    assert incremental.persons == 6 == len(after_incremental)
    full = run_compute(
        session=session,
        tenant=tenant,
        engine_dir=tmp_path,
        engine=engine_name,
        as_of=AS_OF,
        full=True,
    )
    assert full.mode == "full" and full.written == 0  # nothing left to correct
    assert _stored(session, tenant) == after_incremental
    assert after_incremental == _expected(session, tenant, BASE + CHANGES, tenant.settings.traits)
    assert after_incremental[_oneid(session, tenant, "wechat_mp", "c1")]["lifecycle_stage"] == (
        "active"
    )
