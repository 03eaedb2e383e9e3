"""Import through files and API batches: formats, quarantine, idempotency, versions, money,
times. Runs on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.ingest import (
    MAX_API_BATCH,
    QuarantineEntry,
    export_quarantine,
    ingest_files,
    ingest_records,
    list_quarantine,
    retry_quarantine,
)
from siyu.ingest.models import QuarantinedRecord
from siyu.records import CustomerRecord, Event, Order, Refund, refunds_of_orders
from siyu.records import customer_records as load_customers
from siyu.records import events as load_events
from siyu.records import orders as load_orders
from siyu.tenants import TenantContext, get_tenant, update_settings
from support import Files, MakeTenant, customer, event, identity_map, ingest, order

P1, P2 = "13800000001", "13800000002"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def count(session: Session, tenant: TenantContext, model: Any) -> int:
    return int(
        session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant.id))
        or 0
    )


def counts(session: Session, tenant: TenantContext) -> dict[str, int]:
    return {
        model.__tablename__: count(session, tenant, model)
        for model in (CustomerRecord, Order, Refund, Event, QuarantinedRecord)
    }


def open_entries(session: Session, tenant: TenantContext) -> list[QuarantineEntry]:
    return list_quarantine(session=session, tenant=tenant)


# -- formats ------------------------------------------------------------------------------


def test_jsonl_with_mixed_kinds(session: Session, tenant: TenantContext, files: Files) -> None:
    path = files.jsonl(
        "mixed.jsonl",
        [
            customer(
                "tmall",
                "A",
                {"phone": "+86 138 0000 0001", "tmall_ouid": "ou1"},
                name="李雷",
                gender="m",
                birthday="1990-02-03",
                consent={"sms": True, "email": False},
                attributes={"vip": True},
            ),
            order("tmall", "o1", customer_id="A", status="paid", total="199.00", paid="189.00"),
            {
                "kind": "refund",
                "source": "tmall",
                "refund_id": "r1",
                "order_id": "o1",
                "amount": "89.50",
                "created_at": "2024-05-03T09:00:00+08:00",
            },
            event("tmall", "e1", customer_id="A", type="product_view", properties={"sku": "S1"}),
        ],
    )
    report = ingest_files(session=session, tenant=tenant, paths=[path])
    assert (report.accepted, report.quarantined, report.new) == (4, 0, 4)
    assert report.by_kind == {"customer": 1, "order": 1, "refund": 1, "event": 1}
    assert report.files == [str(path)]
    (stored,) = load_customers(session=session, tenant=tenant, refs=[("tmall", "A")])
    assert stored.name == "李雷" and stored.gender == "m"
    assert stored.birthday == date(1990, 2, 3)
    assert stored.identifiers == {"phone": P1, "tmall_ouid": "ou1"}
    assert stored.consent == {"sms": True, "email": False}
    assert stored.attributes == {"vip": True}
    (stored_order,) = load_orders(session=session, tenant=tenant, refs=[("tmall", "o1")])
    assert (stored_order.total_amount, stored_order.paid_amount) == (
        Decimal("199.00"),
        Decimal("189.00"),
    )
    assert stored_order.customer_external_id == "A"
    (refund,) = refunds_of_orders(session=session, tenant=tenant, refs=[("tmall", "o1")])
    assert refund.amount == Decimal("89.50")
    (stored_event,) = load_events(session=session, tenant=tenant, refs=[("tmall", "e1")])
    assert stored_event.properties == {"sku": "S1"}
    # Customers, orders and events are resolved; refunds go through their order.
    mapping = identity_map(session, tenant)
    assert set(mapping) == {"customer:tmall/A", "order:tmall/o1", "event:tmall/e1"}
    assert len(set(mapping.values())) == 1


def test_csv_with_identifier_columns_and_json_columns(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    customers = files.csv(
        "customers.csv",
        [
            {
                "kind": "customer",
                "source": "pos",
                "external_id": "M001",
                "name": "韩梅梅",
                "id:phone": "138-0000-0001",
                "id:member_no": "vip001",
                "id:email": "",  # empty means no value
                "consent": {"sms": True},
                "attributes": {"level": "gold"},
            },
            {
                "kind": "customer",
                "source": "pos",
                "external_id": "M002",
                "name": "",
                "id:phone": "",
                "id:member_no": "vip002",
                "id:email": "X@Y.CN",
                "consent": "",
                "attributes": "",
            },
        ],
    )
    orders_csv = files.csv(
        "orders.csv",
        [
            {
                "kind": "order",
                "source": "pos",
                "order_id": "P1",
                "customer_external_id": "M001",
                "id:phone": "",
                "status": "completed",
                "created_at": "2024-06-01 12:30:00",
                "total_amount": "120.00",
                "paid_amount": "100.00",
                "discount_amount": "20.00",
                "items": [{"sku": "S1", "quantity": 2, "unit_price": "60.00", "amount": "120.00"}],
                "coupon_codes": ["C618"],
                "ship_to": {"name": "韩", "phone": "138****0001", "city": "上海"},
                "store_id": "S001",
            },
            {
                "kind": "order",
                "source": "pos",
                "order_id": "P2",
                "customer_external_id": "",
                "id:phone": P2,
                "status": "paid",
                "created_at": "2024-06-02T08:00:00+08:00",
                "total_amount": "10",
                "paid_amount": "10",
                "items": "",
                "coupon_codes": "",
                "ship_to": "",
                "store_id": "",
            },
        ],
    )
    report = ingest_files(session=session, tenant=tenant, paths=[customers, orders_csv])
    assert (report.accepted, report.quarantined) == (4, 0)
    m1, m2 = sorted(
        load_customers(session=session, tenant=tenant, refs=[("pos", "M001"), ("pos", "M002")]),
        key=lambda c: c.external_id,
    )
    assert m1.identifiers == {"phone": P1, "member_no": "VIP001"}
    assert m1.consent == {"sms": True} and m1.attributes == {"level": "gold"}
    assert m2.identifiers == {"member_no": "VIP002", "email": "x@y.cn"}
    assert m2.name is None and m2.consent is None
    p1, p2 = sorted(
        load_orders(session=session, tenant=tenant, refs=[("pos", "P1"), ("pos", "P2")]),
        key=lambda o: o.order_id,
    )
    assert p1.items == [{"sku": "S1", "quantity": 2, "unit_price": "60.00", "amount": "120.00"}]
    assert p1.coupon_codes == ["C618"]
    assert p1.ship_to == {"name": "韩", "phone": "138****0001", "city": "上海"}
    assert p1.discount_amount == Decimal("20.00")
    assert p1.customer_external_id == "M001" and p1.customer_identifiers is None
    assert p2.customer_external_id is None
    assert p2.customer_identifiers == {"phone": P2}
    assert p2.items is None and p2.total_amount == Decimal("10.00")
    mapping = identity_map(session, tenant)
    assert mapping["order:pos/P1"] == mapping["customer:pos/M001"]
    assert mapping["order:pos/P2"] not in (
        mapping["customer:pos/M001"],
        mapping["customer:pos/M002"],
    )


def test_csv_with_a_utf8_bom(session: Session, tenant: TenantContext, files: Files) -> None:
    path = files.csv(
        "bom.csv",
        [
            {
                "kind": "customer",
                "source": "jd",
                "external_id": "J1",
                "name": "张三",
                "id:jd_pin": "p",
            }
        ],
        bom=True,
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = ingest_files(session=session, tenant=tenant, paths=[path])
    assert (report.accepted, report.quarantined) == (1, 0)
    (stored,) = load_customers(session=session, tenant=tenant, refs=[("jd", "J1")])
    assert stored.name == "张三"
    assert stored.identifiers == {"jd_pin": "p"}


def test_gzipped_jsonl_and_csv(session: Session, tenant: TenantContext, files: Files) -> None:
    jsonl = files.jsonl("c.jsonl.gz", [customer("app", "U1", {"email": "u1@x.cn"})])
    csv_gz = files.csv(
        "e.csv.gz",
        [
            {
                "source": "app",
                "event_id": "E1",
                "id:email": "U1@x.cn",
                "type": "sign_in",
                "occurred_at": "2024-06-01T00:00:00",
            }
        ],
    )
    assert jsonl.read_bytes()[:2] == csv_gz.read_bytes()[:2] == b"\x1f\x8b"
    report = ingest_files(session=session, tenant=tenant, paths=[jsonl])
    report_csv = ingest_files(session=session, tenant=tenant, paths=[csv_gz], kind="event")
    assert (report.accepted, report_csv.accepted) == (1, 1)
    mapping = identity_map(session, tenant)
    assert mapping["event:app/E1"] == mapping["customer:app/U1"]


def test_csv_kind_comes_from_the_kind_option(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    row = {
        "source": "jd",
        "order_id": "J100",
        "customer_external_id": "buyer1",
        "status": "paid",
        "created_at": "2024-06-01T10:00:00",
        "total_amount": "5.00",
        "paid_amount": "5.00",
    }
    without = files.csv("no_kind.csv", [row])
    report = ingest_files(session=session, tenant=tenant, paths=[without])
    assert (report.accepted, report.quarantined) == (0, 1)
    assert [(e.field, e.line) for e in open_entries(session, tenant)] == [("kind", 2)]

    report = ingest_files(session=session, tenant=tenant, paths=[without], kind="order")
    assert (report.accepted, report.quarantined) == (1, 0)
    (stored,) = load_orders(session=session, tenant=tenant, refs=[("jd", "J100")])
    assert stored.customer_external_id == "buyer1"
    # A row accepted later closes the entry its earlier rejection opened.
    assert open_entries(session, tenant) == []


# -- bad input ----------------------------------------------------------------------------

GOOD_ORDER = order("web", "good-2", ids={"email": "g@x.cn"})
BAD_LINES: list[tuple[dict[str, Any] | str, str, str]] = [
    ('{"kind": "customer", "source": "web", "external_id": ', "(line)", "not valid JSON"),
    ({"kind": "coupon", "source": "web", "coupon_id": "c1"}, "kind", "kind must be one of"),
    (
        {k: v for k, v in order("web", "no-status", customer_id="c").items() if k != "status"},
        "status",
        "status: Field required",
    ),
    (
        order("web", "3-decimals", customer_id="c", total="19.999", paid="19.99"),
        "total_amount",
        "2 decimal places",
    ),
    (
        order("web", "bad-date", customer_id="c", created_at="2024-13-45T10:00:00"),
        "created_at",
        "created_at:",
    ),
    (
        order("web", "masked-only", ids={"phone": "138****5678"}),
        "customer_ref",
        "no usable identifier",
    ),
    (
        customer("wechat_mp", "unscoped", {"wechat_openid": "o6_bmjrPTlm6"}),
        "identifiers.wechat_openid",
        "appid/openid",
    ),
    ('["a", "list"]', "(line)", "JSON object"),
    (order("web", "bad-items", customer_id="c", items="[{oops"), "items", "not valid JSON"),
    (order("web", "bad-phone", ids={"phone": "12345"}), "customer_ref.identifiers.phone", "12345"),
]


def _bad_file(files: Files) -> Path:
    lines: list[dict[str, Any] | str] = [customer("web", "good-1", {"email": "g@x.cn"})]
    lines += [bad for bad, _field, _reason in BAD_LINES]
    lines.append(GOOD_ORDER)
    return files.jsonl("bad.jsonl", lines)


def test_every_malformed_record_is_quarantined_with_where_and_why(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    path = _bad_file(files)
    report = ingest_files(session=session, tenant=tenant, paths=[path], batch_size=3)
    assert (report.accepted, report.quarantined) == (2, len(BAD_LINES))
    entries = open_entries(session, tenant)
    assert [(e.file, e.line, e.field) for e in entries] == [
        (str(path), line, field) for line, (_bad, field, _reason) in enumerate(BAD_LINES, start=2)
    ]
    for entry, (bad, _field, reason) in zip(entries, BAD_LINES, strict=True):
        assert reason in entry.reason, (entry.reason, reason)
        if isinstance(bad, str):
            assert entry.raw == bad  # kept as received
        else:
            assert orjson.loads(entry.raw) == bad
    assert entries[3].kind == "order" and entries[3].record_id == "3-decimals"
    # The rest of the file went in, around the bad lines.
    mapping = identity_map(session, tenant)
    assert mapping["order:web/good-2"] == mapping["customer:web/good-1"]
    assert count(session, tenant, Order) == 1


def test_api_batch_reports_each_record_in_order(session: Session, tenant: TenantContext) -> None:
    report, results = ingest_records(
        session=session,
        tenant=tenant,
        items=[
            customer("web", "a", {"email": "a@x.cn"}),
            order("web", "bad", customer_id="a", total="1.001"),
            event("web", "ev", ids={"email": "a@x.cn"}),
        ],
        origin="api",
    )
    assert [(r.index, r.status, r.kind, r.record_id) for r in results] == [
        (0, "accepted", "customer", "a"),
        (1, "quarantined", "order", "bad"),
        (2, "accepted", "event", "ev"),
    ]
    assert results[0].oneid is not None and results[0].oneid == results[2].oneid
    assert results[1].oneid is None
    assert results[1].field == "total_amount" and results[1].quarantine_id is not None
    assert (report.accepted, report.quarantined, report.new_persons) == (2, 1, 1)
    (entry,) = open_entries(session, tenant)
    assert (entry.id, entry.file, entry.line) == (results[1].quarantine_id, "api", 2)


def test_api_batch_size_limit(session: Session, tenant: TenantContext) -> None:
    assert MAX_API_BATCH == 1000
    too_many = [event("web", f"e{i}", ids={"device_id": f"d{i}"}) for i in range(1001)]
    with pytest.raises(ValueError, match="at most 1000"):
        ingest_records(session=session, tenant=tenant, items=too_many, origin="api")
    assert count(session, tenant, Event) == 0
    report, results = ingest_records(
        session=session, tenant=tenant, items=too_many[:1000], origin="api"
    )
    assert report.accepted == len(results) == 1000
    assert count(session, tenant, Event) == 1000


# -- idempotency and versions -------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    path = _bad_file(files)
    first = ingest_files(session=session, tenant=tenant, paths=[path])
    before = (counts(session, tenant), identity_map(session, tenant), open_entries(session, tenant))
    second = ingest_files(session=session, tenant=tenant, paths=[path])
    after = (counts(session, tenant), identity_map(session, tenant), open_entries(session, tenant))
    assert after == before
    assert (second.accepted, second.quarantined) == (first.accepted, first.quarantined)
    assert (second.new, second.updated, second.unchanged) == (0, 0, first.accepted)
    assert (second.new_persons, second.merges) == (0, 0)


def test_a_newer_order_version_replaces_the_older_and_old_files_do_not_roll_back(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    ingest(
        session,
        tenant,
        customer("jd", "A", {"phone": P1}),
        customer("jd", "B", {"phone": P2}),
    )
    old = files.jsonl(
        "day1.jsonl", [order("jd", "o1", ids={"phone": P1}, status="created", paid="0.00")]
    )
    new = files.jsonl(
        "day2.jsonl",
        [order("jd", "o1", ids={"phone": P2}, status="paid", paid_at="2024-05-01T10:05:00+08:00")],
    )
    ingest_files(session=session, tenant=tenant, paths=[old])
    assert (
        identity_map(session, tenant)["order:jd/o1"]
        == identity_map(session, tenant)["customer:jd/A"]
    )
    report = ingest_files(session=session, tenant=tenant, paths=[new])
    assert report.updated == 1
    (stored,) = load_orders(session=session, tenant=tenant, refs=[("jd", "o1")])
    assert (stored.status, stored.version, stored.paid_amount) == ("paid", 2, Decimal("100.00"))
    assert stored.customer_identifiers == {"phone": P2}
    mapping = identity_map(session, tenant)
    assert mapping["order:jd/o1"] == mapping["customer:jd/B"]  # the corrected buyer

    again = ingest_files(session=session, tenant=tenant, paths=[old])
    assert (again.unchanged, again.updated, again.new) == (1, 0, 0)
    session.expire_all()
    (stored,) = load_orders(session=session, tenant=tenant, refs=[("jd", "o1")])
    assert (stored.status, stored.version) == ("paid", 2)
    assert identity_map(session, tenant) == mapping  # nor is its person rolled back


def test_versions_within_one_file_keep_the_last_and_remember_the_first(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    v1 = order("tmall", "o9", customer_id="A", status="created", paid="0.00")
    v2 = order("tmall", "o9", customer_id="A", status="shipped")
    both = files.jsonl("both.jsonl", [v1, v2])
    report = ingest_files(session=session, tenant=tenant, paths=[both])
    assert report.accepted == 2
    only_v1 = files.jsonl("v1.jsonl", [v1])
    again = ingest_files(session=session, tenant=tenant, paths=[only_v1])
    assert again.unchanged == 1
    (stored,) = load_orders(session=session, tenant=tenant, refs=[("tmall", "o9")])
    assert stored.status == "shipped"


# -- quarantine round trip ----------------------------------------------------------------


def test_export_fix_and_retry_resolves_quarantined_records(
    session: Session, tenant: TenantContext, files: Files, tmp_path: Path
) -> None:
    path = files.jsonl(
        "in.jsonl",
        [
            order("web", "w1", ids={"email": "w@x.cn"}, total="9.999", paid="9.99"),
            customer("wechat_mp", "m1", {"wechat_openid": "oNoScope"}),
            order("web", "w2", ids={"email": "w@x.cn"}, status="lost"),
        ],
    )
    ingest_files(session=session, tenant=tenant, paths=[path])
    exported = tmp_path / "quarantine.jsonl"
    assert export_quarantine(session=session, tenant=tenant, out=exported) == 3
    fixed = []
    for line in exported.read_bytes().splitlines():
        record = orjson.loads(line)
        assert record["_quarantine_reason"]
        if record.get("order_id") == "w1":
            record["total_amount"] = "9.99"
        elif record.get("external_id") == "m1":
            record["identifiers"]["wechat_openid"] = "wxapp1/oNoScope"
        # w2 is left broken
        fixed.append(record)
    fixes = files.jsonl("fixed.jsonl", fixed)
    report = retry_quarantine(session=session, tenant=tenant, fixes=fixes)
    assert (report.accepted, report.quarantined) == (2, 1)
    still_open = open_entries(session, tenant)
    assert [(e.record_id, e.field) for e in still_open] == [("w2", "status")]
    resolved = list_quarantine(session=session, tenant=tenant, status="resolved")
    assert sorted(e.record_id or "" for e in resolved) == ["m1", "w1"]
    (stored,) = load_orders(session=session, tenant=tenant, refs=[("web", "w1")])
    assert stored.total_amount == Decimal("9.99")
    assert "customer:wechat_mp/m1" in identity_map(session, tenant)


def test_retry_as_stored_after_the_tenant_rules_change(
    session: Session, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant()
    _report, results = ingest_records(
        session=session,
        tenant=tenant,
        items=[customer("pos", "k1", {"loyalty_card": "ab-1"})],
        origin="api",
    )
    assert results[0].status == "quarantined"
    assert results[0].field == "identifiers.loyalty_card"
    assert "unknown identifier type" in (results[0].reason or "")
    nothing_yet = retry_quarantine(session=session, tenant=tenant)
    assert (nothing_yet.accepted, nothing_yet.quarantined) == (0, 1)
    assert len(open_entries(session, tenant)) == 1  # still bad: kept once, not duplicated

    rules = tenant.settings.identity.model_copy(update={"custom_types": {"loyalty_card": "upper"}})
    update_settings(
        session=session,
        tenant_id=tenant.id,
        settings=tenant.settings.model_copy(update={"identity": rules}),
    )
    tenant = get_tenant(session=session, name=tenant.name)
    report = retry_quarantine(session=session, tenant=tenant)
    assert (report.accepted, report.quarantined) == (1, 0)
    assert open_entries(session, tenant) == []
    (stored,) = load_customers(session=session, tenant=tenant, refs=[("pos", "k1")])
    assert stored.identifiers == {"loyalty_card": "AB-1"}
    assert "customer:pos/k1" in identity_map(session, tenant)


# -- money and time -----------------------------------------------------------------------


def test_money_is_exact(session: Session, tenant: TenantContext) -> None:
    ingest(
        session,
        tenant,
        order("web", "m1", ids={"email": "m@x.cn"}, total="0.10"),
        order("web", "m2", ids={"email": "m@x.cn"}, total="0.20"),
        order("web", "m3", ids={"email": "m@x.cn"}, total=19.9),  # type: ignore[arg-type]
        order("web", "m4", ids={"email": "m@x.cn"}, total="99999999.99", paid="0"),
    )
    stored = {
        o.order_id: o
        for o in load_orders(
            session=session, tenant=tenant, refs=[("web", f"m{i}") for i in range(1, 5)]
        )
    }
    a, b = stored["m1"].paid_amount, stored["m2"].paid_amount
    assert isinstance(a, Decimal) and isinstance(b, Decimal)
    assert a + b == Decimal("0.30")
    assert stored["m3"].paid_amount == Decimal("19.90")
    assert stored["m4"].total_amount == Decimal("99999999.99")
    assert stored["m4"].paid_amount == Decimal("0.00")
    total = session.scalar(
        select(func.sum(Order.paid_amount)).where(
            Order.tenant_id == tenant.id, Order.order_id.in_(["m1", "m2"])
        )
    )
    assert total == Decimal("0.30")


@pytest.mark.parametrize("amount", ["1.005", "-1.00", "NaN", "Infinity", "abc", "0.001"])
def test_amounts_that_are_not_yuan_are_quarantined(
    session: Session, tenant: TenantContext, amount: str
) -> None:
    _report, results = ingest_records(
        session=session,
        tenant=tenant,
        items=[order("web", "x", ids={"email": "m@x.cn"}, paid=amount)],
        origin="api",
    )
    assert (results[0].status, results[0].field) == ("quarantined", "paid_amount")


def test_naive_times_are_in_the_tenant_zone(
    session: Session, tenant: TenantContext, make_tenant: MakeTenant
) -> None:
    assert tenant.settings.timezone == "Asia/Shanghai"
    ingest(
        session,
        tenant,
        customer("web", "c", {"email": "t@x.cn"}, registered_at="2024-01-01T00:30:00"),
        order("web", "naive", customer_id="c", created_at="2024-05-01T10:00:00"),
        order("web", "aware", customer_id="c", created_at="2024-05-01T10:00:00+00:00"),
        event("web", "ev", customer_id="c", occurred_at="2024-05-01 23:59:59"),
    )
    by_id = {
        o.order_id: o
        for o in load_orders(
            session=session, tenant=tenant, refs=[("web", "naive"), ("web", "aware")]
        )
    }
    assert by_id["naive"].created_at == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    assert by_id["aware"].created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    (stored_event,) = load_events(session=session, tenant=tenant, refs=[("web", "ev")])
    assert stored_event.occurred_at == datetime(2024, 5, 1, 15, 59, 59, tzinfo=UTC)
    (stored_customer,) = load_customers(session=session, tenant=tenant, refs=[("web", "c")])
    assert stored_customer.registered_at == datetime(2023, 12, 31, 16, 30, tzinfo=UTC)

    london = make_tenant(timezone="Europe/London")
    ingest(session, london, order("web", "uk", ids={"email": "t@x.cn"}))
    ingest(
        session,
        london,
        order("web", "uk2", ids={"email": "t@x.cn"}, created_at="2024-05-01T10:00:00"),
    )
    (uk,) = load_orders(session=session, tenant=london, refs=[("web", "uk2")])
    assert uk.created_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)  # BST is UTC+1


# -- real data ----------------------------------------------------------------------------


def _retail_rows(limit: int) -> list[dict[str, Any]]:
    path = DATA / "online_retail.parquet"
    if not path.exists():
        pytest.skip(f"{path} not present")
    if importlib.util.find_spec("pyarrow") is not None:
        import pyarrow.parquet as pq  # type: ignore[import-not-found]

        table = pq.ParquetFile(path).iter_batches(batch_size=limit)
        return list(next(table).to_pylist())
    if importlib.util.find_spec("duckdb") is not None:
        import duckdb  # type: ignore[import-not-found]

        cursor = duckdb.sql(f"SELECT * FROM read_parquet('{path}') LIMIT {limit}")
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    pytest.skip("neither pyarrow nor duckdb is installed: cannot read online_retail.parquet")


def test_real_online_retail_rows_import(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    rows = _retail_rows(2000)
    invoices: dict[str, dict[str, Any]] = {}
    for row in rows:
        number = str(row["InvoiceNo"])
        quantity, price = int(row["Quantity"]), Decimal(str(row["UnitPrice"]))
        buyer = row["CustomerID"]
        invoice = invoices.setdefault(
            number,
            {
                "kind": "order",
                "source": "web",
                "order_id": number,
                "customer_ref": {"external_id": str(int(buyer))}
                if buyer == buyer and buyer
                else {"identifiers": {"device_id": f"guest-{number}"}},
                "status": "refunded" if number.startswith("C") else "completed",
                "created_at": str(row["InvoiceDate"]).replace(" ", "T"),
                "currency": "GBP",
                "items": [],
            },
        )
        invoice["items"].append(
            {
                "sku": str(row["StockCode"]),
                "product_name": row["Description"],
                "quantity": abs(quantity),
                "unit_price": str(price),
                "amount": str(abs(quantity) * price),
            }
        )
    expected: dict[str, Decimal] = {}
    for number, invoice in invoices.items():
        total = sum((Decimal(i["amount"]) for i in invoice["items"]), Decimal("0"))
        invoice["total_amount"] = invoice["paid_amount"] = str(total)
        expected[number] = total
    path = files.jsonl("retail.jsonl", list(invoices.values()))
    report = ingest_files(session=session, tenant=tenant, paths=[path])
    assert report.quarantined == 0, open_entries(session, tenant)[:3]
    assert report.accepted == len(invoices)
    stored = load_orders(session=session, tenant=tenant, refs=[("web", n) for n in invoices])
    assert {o.order_id: o.total_amount for o in stored} == expected
    by_buyer = {o.customer_external_id for o in stored if o.customer_external_id}
    assert len(set(identity_map(session, tenant).values())) >= len(by_buyer)


def test_a_masked_phone_is_kept_as_a_hint(session: Session, tenant: TenantContext) -> None:
    results = ingest(
        session,
        tenant,
        customer("douyin", "d1", {"phone": "+86 138 **** 5678", "douyin_openid": "dy-1"}),
    )
    assert results[0].oneid is not None
    (stored,) = load_customers(session=session, tenant=tenant, refs=[("douyin", "d1")])
    assert stored.identifiers == {"douyin_openid": "dy-1"}
    assert stored.hints == {"masked_phone": "138****5678"}
