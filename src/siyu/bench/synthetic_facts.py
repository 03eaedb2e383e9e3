"""Synthetic facts for the audience benchmark, written straight into a snapshot's layout.

Persons are generated in chunks from a seed per chunk, so each fact's writer can rebuild
exactly the chunk it needs (the orders behind `identity` are the orders in `orders`).
Everything is vectorised (numpy, pyarrow); no store is involved.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu import engine as eng
from siyu import rules, traits
from siyu.rules import facts as rule_facts

CHUNK = 1_000_000
SOURCES = np.array(["tmall", "jd", "pos", "wechat_mp", "douyin"])
CATEGORIES = np.array(["护肤", "彩妆", "香水", "个护", "母婴", "食品", "家居", "服饰"])
CATEGORY_P = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05])
EVENT_TYPES = np.array(["message_clicked", "page_view", "member_joined"])
STAGES = np.array(["prospect", "new", "active", "silent", "churned"])
CITIES = np.array(["上海", "北京", "杭州", "广州", "深圳", "成都", None], dtype=object)


@dataclass(frozen=True)
class Orders:
    owner: np.ndarray  # person index within the chunk
    order_id: pa.Array
    source: np.ndarray
    status: np.ndarray
    created: np.ndarray  # microseconds since epoch (UTC)
    paid_fen: np.ndarray
    lines: np.ndarray  # order lines per order


def oneids(start: int, stop: int) -> pa.Array:
    """ULID-length OneIDs for persons start..stop-1."""
    numbers = pc.cast(pa.array(np.arange(start, stop)), pa.string())
    return pc.binary_join_element_wise("01", pc.utf8_lpad(numbers, 24, "0"), "")


def chunk_orders(seed: int, chunk: int, persons: int, now: datetime) -> Orders:
    """The chunk's orders: ~2 per person (Poisson), over the two years before `now`."""
    rng = np.random.default_rng([seed, chunk, 1])
    per_person = np.minimum(rng.poisson(2.0, persons), 8)
    owner = np.repeat(np.arange(persons), per_person)
    n = len(owner)
    ids = pc.cast(pa.array(np.arange(n) + chunk * CHUNK * 10), pa.string())
    end = int(now.timestamp() * 1_000_000)
    created = end - rng.integers(0, 730 * 86_400 * 1_000_000, n)
    status = np.where(rng.random(n) < 0.05, "closed", "completed")
    return Orders(
        owner=owner,
        order_id=pc.binary_join_element_wise("o", ids, ""),
        source=SOURCES[rng.integers(0, len(SOURCES), n)],
        status=status,
        created=created,
        paid_fen=np.where(status == "closed", 0, rng.integers(1_000, 100_000, n)),
        lines=rng.integers(1, 3, n),
    )


def chunk_events(seed: int, chunk: int, persons: int, now: datetime) -> tuple[np.ndarray, ...]:
    """(owner, type, occurred µs): ~1 event per person over the last 60 days."""
    rng = np.random.default_rng([seed, chunk, 2])
    owner = np.repeat(np.arange(persons), rng.poisson(1.0, persons))
    n = len(owner)
    end = int(now.timestamp() * 1_000_000)
    occurred = end - rng.integers(0, 60 * 86_400 * 1_000_000, n)
    return owner, EVENT_TYPES[rng.integers(0, len(EVENT_TYPES), n)], occurred


def _times(micros: np.ndarray) -> pa.Array:
    return pa.array(micros, pa.timestamp("us", tz="UTC"))


def write_facts(
    snapshot: eng.Snapshot, *, persons: int, seed: int, now: datetime
) -> dict[str, int]:
    """Write every fact the rules snapshot needs for `persons` persons; rows per fact."""
    chunks = [(c, c * CHUNK, min(persons, (c + 1) * CHUNK)) for c in range(-(-persons // CHUNK))]
    writers = {
        "identity": (eng.FACT_SCHEMAS["identity"], _identity),
        "customers": (eng.FACT_SCHEMAS["customers"], _customers),
        "orders": (eng.FACT_SCHEMAS["orders"], _orders),
        "order_items": (eng.FACT_SCHEMAS["order_items"], _items),
        "refunds": (eng.FACT_SCHEMAS["refunds"], None),
        "events": (eng.FACT_SCHEMAS["events"], _events),
        rule_facts.TRAITS: (traits.TRAITS_SCHEMA, _traits),
        rule_facts.CUSTOMER_PROFILES: (rule_facts.CUSTOMER_PROFILES_SCHEMA, _profiles),
        rule_facts.IDENTIFIER_TYPES: (rule_facts.IDENTIFIER_TYPES_SCHEMA, _identifiers),
        rule_facts.TAGS: (rules.TAGS_SCHEMA, _tags),
    }
    rows: dict[str, int] = {}
    for name, (schema, make) in writers.items():
        batches: Iterator[dict[str, object]] = (
            iter([])
            if make is None
            else (_whole(make(seed, c, start, stop, now)) for c, start, stop in chunks)
        )
        rows[name] = eng.write_fact(snapshot, name, schema, batches)
    return rows


def _whole(columns: dict[str, object]) -> dict[str, object]:
    """Large string arrays can come back in chunks; a record batch needs whole arrays."""
    return {
        k: v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v for k, v in columns.items()
    }


def _identity(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    ids = oneids(start, stop)
    orders = chunk_orders(seed, chunk, stop - start, now)
    owner, _, _ = chunk_events(seed, chunk, stop - start, now)
    events = len(owner)
    customers = pc.binary_join_element_wise(
        "c", pc.cast(pa.array(np.arange(start, stop)), pa.string()), ""
    )
    event_ids = pc.binary_join_element_wise(
        "e", pc.cast(pa.array(np.arange(events) + chunk * CHUNK * 10), pa.string()), ""
    )
    return {
        "kind": pa.concat_arrays(
            [
                pa.array(["customer"] * (stop - start)),
                pa.array(["order"] * len(orders.owner)),
                pa.array(["event"] * events),
            ]
        ),
        "source": pa.concat_arrays(
            [
                pa.array(["pos"] * (stop - start)),
                pa.array(orders.source),
                pa.array(["wechat_mp"] * events),
            ]
        ),
        "record_id": pa.concat_arrays([customers, orders.order_id, event_ids]),
        "oneid": pa.concat_arrays([ids, ids.take(orders.owner), ids.take(owner)]),
    }


def _customers(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    n = stop - start
    return {
        "source": pa.array(["pos"] * n),
        "external_id": pc.binary_join_element_wise(
            "c", pc.cast(pa.array(np.arange(start, stop)), pa.string()), ""
        ),
        "store_id": pa.nulls(n, pa.string()),
        "is_member": pa.array(np.random.default_rng([seed, chunk, 3]).random(n) < 0.4),
        "registered_at": pa.nulls(n, pa.timestamp("us", tz="UTC")),
    }


def _orders(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    o = chunk_orders(seed, chunk, stop - start, now)
    n = len(o.owner)
    paid = np.where(o.status == "closed", np.iinfo(np.int64).min, o.created + 60_000_000)
    return {
        "source": pa.array(o.source),
        "order_id": o.order_id,
        "status": pa.array(o.status),
        "created_at": _times(o.created),
        "paid_at": pa.array(paid, pa.timestamp("us", tz="UTC"), mask=o.status == "closed"),
        "paid_fen": pa.array(o.paid_fen),
        "total_fen": pa.array(o.paid_fen),
        "store_id": pa.array(np.full(n, "S1"), mask=o.source != "pos"),
        "staff_id": pa.nulls(n, pa.string()),
    }


def _items(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    o = chunk_orders(seed, chunk, stop - start, now)
    rng = np.random.default_rng([seed, chunk, 4])
    which = np.repeat(np.arange(len(o.owner)), o.lines)
    starts = np.cumsum(o.lines) - o.lines
    line = np.arange(len(which)) - np.repeat(starts, o.lines)
    category = CATEGORIES[rng.choice(len(CATEGORIES), len(which), p=CATEGORY_P)]
    return {
        "source": pa.array(o.source[which]),
        "order_id": o.order_id.take(which),
        "line": pa.array(line, pa.int32()),
        "sku": pa.array(np.char.add("SKU-", category.astype(str))),
        "product_id": pa.nulls(len(which), pa.string()),
        "category": pa.array(category),
        "quantity": pa.array(np.ones(len(which), dtype=np.int64)),
        "amount_fen": pa.array(rng.integers(100, 50_000, len(which))),
    }


def _events(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    owner, kind, occurred = chunk_events(seed, chunk, stop - start, now)
    ids = pc.cast(pa.array(np.arange(len(owner)) + chunk * CHUNK * 10), pa.string())
    return {
        "source": pa.array(["wechat_mp"] * len(owner)),
        "event_id": pc.binary_join_element_wise("e", ids, ""),
        "type": pa.array(kind),
        "occurred_at": _times(occurred),
    }


def _traits(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    """Stored traits (independent of the orders: the count reads them as stored)."""
    n = stop - start
    rng = np.random.default_rng([seed, chunk, 5])
    count = rng.poisson(2.0, n)
    net = np.where(count > 0, rng.integers(0, 300_000, n), 0)
    buyer = count > 0
    last_days = rng.integers(0, 730, n)
    day0 = np.datetime64(now.date(), "D")
    last_day = (day0 - last_days.astype("timedelta64[D]")).astype("datetime64[D]")
    none64 = np.iinfo(np.int64).min
    last_at = np.where(buyer, last_day.astype("datetime64[us]").astype(np.int64), none64)
    stage = np.where(buyer, STAGES[rng.integers(1, 5, n)], "prospect")
    scores = [pa.array(np.where(buyer, rng.integers(1, 6, n), 0), mask=~buyer) for _ in range(3)]
    return {
        "oneid": oneids(start, stop),
        "first_order_at": pa.array(last_at, pa.timestamp("us", tz="UTC"), mask=~buyer),
        "last_order_at": pa.array(last_at, pa.timestamp("us", tz="UTC"), mask=~buyer),
        "first_order_day": pa.array(last_day, pa.date32(), mask=~buyer),
        "last_order_day": pa.array(last_day, pa.date32(), mask=~buyer),
        "order_count": pa.array(count),
        "net_fen": pa.array(net),
        "aov_fen": pa.array(np.where(buyer, net // np.maximum(count, 1), 0), mask=~buyer),
        "avg_interval_days": pa.nulls(n, pa.int64()),
        "favourite_source": pa.array(SOURCES[rng.integers(0, len(SOURCES), n)]),
        "favourite_category": pa.array(CATEGORIES[rng.integers(0, len(CATEGORIES), n)]),
        "favourite_store": pa.nulls(n, pa.string()),
        "is_member": pa.array(rng.random(n) < 0.4),
        "rfm_r": scores[0],
        "rfm_f": scores[1],
        "rfm_m": scores[2],
        "lifecycle_stage": pa.array(stage),
    }


def _profiles(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    n = stop - start
    rng = np.random.default_rng([seed, chunk, 6])
    birthday = np.datetime64("1960-01-01") + rng.integers(0, 45 * 365, n).astype("timedelta64[D]")
    return {
        "source": pa.array(["pos"] * n),
        "external_id": pc.binary_join_element_wise(
            "c", pc.cast(pa.array(np.arange(start, stop)), pa.string()), ""
        ),
        "gender": pa.array(np.array(["f", "m", "u"])[rng.choice(3, n, p=[0.6, 0.35, 0.05])]),
        "birthday": pa.array(birthday, pa.date32()),
        "province": pa.nulls(n, pa.string()),
        "city": pa.array(CITIES[rng.integers(0, len(CITIES), n)], pa.string()),
        "district": pa.nulls(n, pa.string()),
        "store_id": pa.nulls(n, pa.string()),
        "staff_id": pa.nulls(n, pa.string()),
        "updated_at": _times(np.full(n, int(now.timestamp() * 1_000_000))),
    }


def _identifiers(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    rng = np.random.default_rng([seed, chunk, 7])
    ids = oneids(start, stop)
    phone = np.flatnonzero(rng.random(stop - start) < 0.7)
    union = np.flatnonzero(rng.random(stop - start) < 0.4)
    return {
        "oneid": pa.concat_arrays([ids.take(phone), ids.take(union)]),
        "id_type": pa.array(["phone_sha256"] * len(phone) + ["wechat_unionid"] * len(union)),
    }


def _tags(seed: int, chunk: int, start: int, stop: int, now: datetime) -> dict[str, object]:
    rng = np.random.default_rng([seed, chunk, 8])
    vip = np.flatnonzero(rng.random(stop - start) < 0.05)
    return {
        "oneid": oneids(start, stop).take(vip),
        "tag_group": pa.nulls(len(vip), pa.string()),
        "tag": pa.array(["VIP"] * len(vip)),
    }


def default_now() -> datetime:
    """The benchmark's 'today' (fixed, so runs are comparable)."""
    return datetime(2024, 6, 30, 12, tzinfo=UTC)


def as_of(now: datetime) -> date:
    return (now + timedelta(hours=8)).date()
