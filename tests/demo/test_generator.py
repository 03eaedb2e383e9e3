"""Tests of the deterministic demo-brand generator."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from siyu.demo import DemoFiles, generate_demo
from siyu.demo.catalog import CITIES, STORES
from siyu.demo.people import guides_of_store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone(timedelta(hours=8)))
MOBILE = re.compile(r"1[3-9]\d{9}")
MASKED = re.compile(r"1\d\d\*\*\*\*\d{4}")
MONEY = re.compile(r"\d+\.\d{2}")
REQUIRED = {
    "customer": ("source", "external_id"),
    "order": (
        "source",
        "order_id",
        "customer_ref",
        "status",
        "created_at",
        "total_amount",
        "paid_amount",
    ),
    "refund": ("source", "refund_id", "order_id", "amount", "created_at"),
    "event": ("source", "event_id", "customer_ref", "type", "occurred_at"),
}
RECORD_ID = {"customer": "external_id", "order": "order_id", "event": "event_id"}
ORDER_STATUSES = {
    "created",
    "paid",
    "shipped",
    "completed",
    "closed",
    "refunded",
    "partially_refunded",
}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as fh:
        return [orjson.loads(line) for line in fh]


def normalise_phone(value: str) -> str:
    """The contract's phone normalisation: strip spaces/dashes and a +86/0086/86 prefix."""
    digits = re.sub(r"[\s-]", "", value)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    return digits


def normalise(id_type: str, value: str) -> str:
    if id_type == "phone":
        return normalise_phone(value)
    if id_type in ("email", "device_id"):
        return value.strip().lower()
    if id_type == "member_no":
        return value.strip().upper()
    return value


@dataclass
class Demo:
    files: DemoFiles
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    events: list[dict[str, Any]]
    truth: dict[tuple[str, str, str], str]

    def person_of(self, kind: str, record: dict[str, Any]) -> str:
        return self.truth[(kind, record["source"], record[RECORD_ID[kind]])]

    def customer_by_ref(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(c["source"], c["external_id"]): c for c in self.customers}


def load(files: DemoFiles) -> Demo:
    with files.truth.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["kind", "source", "record_id", "person"]
        rows = [tuple(row) for row in reader]
    truth = {(k, s, r): p for k, s, r, p in rows}
    assert len(truth) == len(rows), "truth rows must be unique per (kind, source, record_id)"
    return Demo(
        files=files,
        customers=read_jsonl(files.customers),
        orders=read_jsonl(files.orders),
        refunds=read_jsonl(files.refunds),
        events=read_jsonl(files.events),
        truth=truth,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return load(generate_demo(out_dir=tmp_path_factory.mktemp("demo"), persons=500, seed=11))


def all_files(files: DemoFiles) -> Iterator[Path]:
    yield from (files.customers, files.orders, files.refunds, files.events, files.truth)


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    a = generate_demo(out_dir=tmp_path / "a", persons=300, seed=3)
    b = generate_demo(out_dir=tmp_path / "b", persons=300, seed=3)
    c = generate_demo(out_dir=tmp_path / "c", persons=300, seed=4)
    assert a.counts == b.counts
    for left, right in zip(all_files(a), all_files(b), strict=True):
        assert left.read_bytes() == right.read_bytes(), left.name
    for left, other in zip(all_files(a), all_files(c), strict=True):
        assert left.read_bytes() != other.read_bytes(), left.name


def test_default_now_is_fixed_not_the_wall_clock(tmp_path: Path) -> None:
    implicit = generate_demo(out_dir=tmp_path / "a", persons=50)
    explicit = generate_demo(out_dir=tmp_path / "b", persons=50, now=NOW)
    assert implicit.orders.read_bytes() == explicit.orders.read_bytes()


def test_public_api_is_keyword_only(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        generate_demo(tmp_path)  # type: ignore[misc]


def test_counts_match_files(demo: Demo) -> None:
    files = demo.files
    assert files.customers.name == "customers.jsonl"
    assert files.truth.name == "truth.csv"
    assert files.counts == {
        "customer": len(demo.customers),
        "order": len(demo.orders),
        "refund": len(demo.refunds),
        "event": len(demo.events),
    }
    assert all(n > 0 for n in files.counts.values())


def test_every_line_has_kind_and_required_fields(demo: Demo) -> None:
    for kind, records in (
        ("customer", demo.customers),
        ("order", demo.orders),
        ("refund", demo.refunds),
        ("event", demo.events),
    ):
        for rec in records:
            assert rec["kind"] == kind
            for field in REQUIRED[kind]:
                assert rec.get(field) not in (None, ""), (kind, field, rec)


def test_record_ids_unique_within_kind_and_source(demo: Demo) -> None:
    for kind, records, id_field in (
        ("customer", demo.customers, "external_id"),
        ("order", demo.orders, "order_id"),
        ("refund", demo.refunds, "refund_id"),
        ("event", demo.events, "event_id"),
    ):
        keys = Counter((r["source"], r[id_field]) for r in records)
        assert max(keys.values()) == 1, kind


def test_times_are_iso_with_shanghai_offset_and_not_in_the_future(demo: Demo) -> None:
    fields = {
        "customer": ("registered_at",),
        "order": ("created_at", "paid_at"),
        "refund": ("created_at",),
        "event": ("occurred_at",),
    }
    for kind, records in (
        ("customer", demo.customers),
        ("order", demo.orders),
        ("refund", demo.refunds),
        ("event", demo.events),
    ):
        for rec in records:
            for field in fields[kind]:
                if field in rec:
                    parsed = datetime.fromisoformat(rec[field])
                    assert parsed.utcoffset() == timedelta(hours=8)
                    assert NOW - timedelta(days=6 * 365) < parsed <= NOW


def test_truth_covers_exactly_every_customer_order_and_event(demo: Demo) -> None:
    written = {("customer", c["source"], c["external_id"]) for c in demo.customers}
    written |= {("order", o["source"], o["order_id"]) for o in demo.orders}
    written |= {("event", e["source"], e["event_id"]) for e in demo.events}
    assert set(demo.truth) == written
    assert all(re.fullmatch(r"T\d{6}", p) for p in demo.truth.values())
    persons = {p for (kind, _, _), p in demo.truth.items() if kind == "customer"}
    assert len(persons) == 500


def test_about_three_customer_records_per_person_in_one_to_four_sources(demo: Demo) -> None:
    per_person = Counter(demo.person_of("customer", c) for c in demo.customers)
    assert set(per_person.values()) <= {1, 2, 3, 4}
    assert 2.7 <= len(demo.customers) / 500 <= 3.3
    sources_of = defaultdict(list)
    for c in demo.customers:
        sources_of[demo.person_of("customer", c)].append(c["source"])
    assert all(len(s) == len(set(s)) for s in sources_of.values()), "one record per source"
    assert {c["source"] for c in demo.customers} == {
        "tmall",
        "jd",
        "douyin",
        "wechat_mp",
        "pos",
        "wecom",
    }


def test_orders_and_events_per_person_follow_the_arguments(tmp_path: Path) -> None:
    files = generate_demo(
        out_dir=tmp_path, persons=400, orders_per_person=8.0, events_per_person=2.0
    )
    assert 6.0 <= files.counts["order"] / 400 <= 10.0
    assert 1.5 <= files.counts["event"] / 400 <= 2.5
    none = generate_demo(
        out_dir=tmp_path / "none", persons=100, orders_per_person=0.0, events_per_person=0.0
    )
    assert none.counts["order"] == none.counts["event"] == none.counts["refund"] == 0
    assert none.counts["customer"] > 0


def test_strong_identifiers_never_span_two_true_persons(demo: Demo) -> None:
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in demo.customers:
        person = demo.person_of("customer", c)
        for id_type, value in c.get("identifiers", {}).items():
            if not MASKED.fullmatch(value):  # a masked phone is a hint, not an identifier
                owners[(id_type, normalise(id_type, value))].add(person)
    shared = [key for key, persons in owners.items() if len(persons) > 1]
    assert all(id_type == "device_id" for id_type, _ in shared), shared


def test_raw_phones_are_valid_mainland_mobiles_and_some_are_noisy(
    demo: Demo, tmp_path: Path
) -> None:
    raw = [
        c["identifiers"]["phone"]
        for c in demo.customers
        if "phone" in c["identifiers"] and not MASKED.fullmatch(c["identifiers"]["phone"])
    ]
    assert raw
    assert all(MOBILE.fullmatch(normalise_phone(v)) for v in raw)
    assert all(
        v[:3] in {f"1{d}{e}" for d in "35789" for e in "0123456789"}
        for v in map(normalise_phone, raw)
    )
    bigger = generate_demo(out_dir=tmp_path, persons=3000, seed=2)
    noisy = [c["identifiers"].get("phone") for c in read_jsonl(bigger.customers)]
    formatted = [
        v for v in noisy if v is not None and not MOBILE.fullmatch(v) and not MASKED.fullmatch(v)
    ]
    assert formatted, "about 1% of raw phones carry +86, spaces or dashes"
    assert all(MOBILE.fullmatch(normalise_phone(v)) for v in formatted)


def test_phone_sha256_is_the_hash_of_the_persons_valid_phone(demo: Demo) -> None:
    phones: dict[str, set[str]] = defaultdict(set)
    for c in demo.customers:
        phone = c["identifiers"].get("phone")
        if phone is not None and not MASKED.fullmatch(phone):
            phones[demo.person_of("customer", c)].add(normalise_phone(phone))
    for o in demo.orders:
        ship_phone = o.get("ship_to", {}).get("phone", "")
        if MOBILE.fullmatch(ship_phone):
            phones[demo.person_of("order", o)].add(ship_phone)
    checked = matched = 0
    for c in demo.customers:
        digest = c["identifiers"].get("phone_sha256")
        if digest is None:
            continue
        assert c["source"] == "tmall"
        assert re.fullmatch(r"[0-9a-f]{64}", digest)
        known = phones.get(demo.person_of("customer", c))
        if known:
            checked += 1
            matched += digest in {hashlib.sha256(p.encode()).hexdigest() for p in known}
    assert checked > 50
    # A person may have a second phone on one source, so allow a rare miss.
    assert matched >= 0.97 * checked


def test_platforms_only_show_masked_phones(demo: Demo) -> None:
    raw: dict[str, set[str]] = defaultdict(set)
    for c in demo.customers:
        phone = c["identifiers"].get("phone")
        if phone is not None and not MASKED.fullmatch(phone):
            raw[demo.person_of("customer", c)].add(normalise_phone(phone))
    masked_by_source: Counter[str] = Counter()
    checked = matched = 0
    for c in demo.customers:
        phone = c["identifiers"].get("phone")
        if c["source"] in ("tmall", "douyin"):
            assert phone is None or MASKED.fullmatch(phone)
        if phone is None or not MASKED.fullmatch(phone):
            continue
        masked_by_source[c["source"]] += 1
        known = raw.get(demo.person_of("customer", c))
        if known:  # the mask hides the middle digits of the person's own phone
            checked += 1
            matched += phone in {f"{p[:3]}****{p[7:]}" for p in known}
    assert set(masked_by_source) == {"tmall", "jd", "douyin"}
    assert checked > 50 and matched >= 0.97 * checked  # a rare second phone may differ
    douyin_ship = [o["ship_to"]["phone"] for o in demo.orders if o["source"] == "douyin"]
    assert douyin_ship
    assert all(MASKED.fullmatch(p) for p in douyin_ship)


def test_scoped_ids_have_their_scope(demo: Demo) -> None:
    for c in demo.customers:
        ids = c["identifiers"]
        if "wechat_openid" in ids:
            assert re.fullmatch(r"wx[0-9a-f]{16}/o[\w-]{27}", ids["wechat_openid"])
        if "wecom_external_userid" in ids:
            corp, external = ids["wecom_external_userid"].split("/")
            assert corp.startswith("ww") and external == c["external_id"]
        expected = {
            "tmall": "tmall_ouid",
            "jd": "jd_pin",
            "douyin": "douyin_openid",
            "wechat_mp": "wechat_openid",
            "wecom": "wecom_external_userid",
        }
        if c["source"] in expected:
            assert expected[c["source"]] in ids


def test_shared_devices_exist_and_link_different_persons(demo: Demo) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for c in demo.customers:
        device = c["identifiers"].get("device_id")
        if device:
            owners[device.lower()].add(demo.person_of("customer", c))
    shared = [d for d, persons in owners.items() if len(persons) > 1]
    assert shared
    assert all(len(owners[d]) == 2 for d in shared)
    assert len(shared) < 0.05 * len(owners)


def test_customer_refs_point_to_the_same_persons_record(demo: Demo) -> None:
    by_ref = demo.customer_by_ref()
    phone_only = device_only = 0
    for kind, records in (("order", demo.orders), ("event", demo.events)):
        for rec in records:
            ref = rec["customer_ref"]
            person = demo.person_of(kind, rec)
            if "external_id" in ref:
                customer = by_ref[(rec["source"], ref["external_id"])]
                assert demo.person_of("customer", customer) == person
            else:
                ((id_type, value),) = ref["identifiers"].items()
                if kind == "order":
                    assert (rec["source"], id_type) == ("pos", "phone")
                    assert MOBILE.fullmatch(normalise_phone(value))
                    phone_only += 1
                else:
                    assert (rec["source"], id_type) == ("wechat_mp", "device_id")
                    device_only += 1
    assert phone_only > 0 and device_only > 0


def test_registration_precedes_what_the_source_saw(demo: Demo) -> None:
    registered = {(c["source"], c["external_id"]): c["registered_at"] for c in demo.customers}
    for rec, field in [(o, "created_at") for o in demo.orders] + [
        (e, "occurred_at") for e in demo.events
    ]:
        ext = rec["customer_ref"].get("external_id")
        if ext is not None:
            reg = datetime.fromisoformat(registered[(rec["source"], ext)])
            assert reg < datetime.fromisoformat(rec[field])


def test_order_money_adds_up(demo: Demo) -> None:
    statuses = Counter(o["status"] for o in demo.orders)
    assert set(statuses) <= ORDER_STATUSES
    assert statuses["completed"] > 0.8 * len(demo.orders)
    assert statuses["closed"] > 0 and statuses["refunded"] + statuses["partially_refunded"] > 0
    for o in demo.orders:
        money = [o["total_amount"], o["paid_amount"], o["discount_amount"]]
        money += [i[f] for i in o["items"] for f in ("unit_price", "amount")]
        assert all(MONEY.fullmatch(m) for m in money)
        for item in o["items"]:
            assert Decimal(item["amount"]) == Decimal(item["unit_price"]) * item["quantity"]
            assert item["product_name"] and item["sku"].startswith(item["product_id"])
        total = Decimal(o["total_amount"])
        assert total == sum(Decimal(i["amount"]) for i in o["items"])
        expected = total - Decimal(o["discount_amount"]) + Decimal(o.get("shipping_amount", "0"))
        if o["status"] == "closed":
            assert o["paid_amount"] == "0.00" and "paid_at" not in o
        else:
            assert Decimal(o["paid_amount"]) == expected > 0
            assert o["paid_at"] >= o["created_at"]
        if o["source"] == "pos":
            assert re.fullmatch(r"S0\d\d", o["store_id"]) and re.fullmatch(r"G\d{3}", o["staff_id"])
            assert "ship_to" not in o
        else:
            assert set(o["ship_to"]) >= {"name", "phone", "province", "city", "address"}


def test_refunds_reference_existing_refunded_orders(demo: Demo) -> None:
    orders = {(o["source"], o["order_id"]): o for o in demo.orders}
    refunded = {k for k, o in orders.items() if o["status"] in ("refunded", "partially_refunded")}
    seen = Counter((r["source"], r["order_id"]) for r in demo.refunds)
    assert set(seen) == refunded and set(seen.values()) == {1}
    for r in demo.refunds:
        order = orders[(r["source"], r["order_id"])]
        assert MONEY.fullmatch(r["amount"])
        assert Decimal("0") < Decimal(r["amount"]) <= Decimal(order["paid_amount"])
        if order["status"] == "refunded":
            assert r["amount"] == order["paid_amount"]
        else:
            assert Decimal(r["amount"]) < Decimal(order["paid_amount"])
        assert datetime.fromisoformat(r["created_at"]) > datetime.fromisoformat(order["paid_at"])


def test_events_come_from_interaction_sources(demo: Demo) -> None:
    assert {e["source"] for e in demo.events} == {"wechat_mp", "douyin", "wecom"}
    types = Counter(e["type"] for e in demo.events)
    assert {"page_view", "product_view", "add_to_cart", "message_clicked"} <= set(types)
    assert all(isinstance(e.get("properties", {}), dict) for e in demo.events)


def test_customer_places_are_consistent(demo: Demo) -> None:
    places = {c.city: (c.province, set(c.districts)) for c in CITIES}
    for rec in demo.customers:
        if "city" in rec:
            province, districts = places[rec["city"]]
            assert rec["province"] == province
            assert rec.get("district", next(iter(districts))) in districts
        if "gender" in rec:
            assert rec["gender"] in ("m", "f", "u")
        if "birthday" in rec:
            datetime.strptime(rec["birthday"], "%Y-%m-%d")
        if "name" in rec:
            # as written, masked by Douyin (张**) or in pinyin (Lina Zhang / Zhang Lina)
            assert re.fullmatch(
                r"[\u4e00-\u9fff]{2,4}|[\u4e00-\u9fff]\*{1,2}|[A-Z][a-z]+ [A-Z][a-z]+", rec["name"]
            ), rec["name"]


def test_catalog_stores_and_guides_are_consistent() -> None:
    assert [s.store_id for s in STORES] == [f"S{i:03d}" for i in range(1, 31)]
    for store in STORES:
        assert store.district in CITIES[store.city_index].districts
    guides = [g for i in range(len(STORES)) for g in guides_of_store(i)]
    assert sorted(guides) == [f"G{i:03d}" for i in range(1, 101)]
