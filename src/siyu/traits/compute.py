"""Traits written once in Ibis: the same expressions run on DuckDB and on Spark.

Two steps. `aggregates` scans the facts (orders, refunds, items, customers) per person:
the expensive part, restricted to the changed persons in an incremental run. `score` adds
what depends on everyone or on the day (RFM, lifecycle stage): one row per person, cheap,
always over all persons.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from siyu.engine import Engine
from siyu.engine.portable import (
    days_between,
    fixed_score,
    local_day,
    quantile_score,
    round_div,
    top_per_group,
)
from siyu.profiles import UNPAID
from siyu.store.base import to_fen
from siyu.tenants import TraitRules

# The traits table as the engine sees it (money in fen, times UTC, days tenant-local).
TRAITS_SCHEMA = pa.schema(
    [
        ("oneid", pa.string()),
        ("first_order_at", pa.timestamp("us", tz="UTC")),
        ("last_order_at", pa.timestamp("us", tz="UTC")),
        ("first_order_day", pa.date32()),
        ("last_order_day", pa.date32()),
        ("order_count", pa.int64()),
        ("net_fen", pa.int64()),
        ("aov_fen", pa.int64()),
        ("avg_interval_days", pa.int64()),
        ("favourite_source", pa.string()),
        ("favourite_category", pa.string()),
        ("favourite_store", pa.string()),
        ("is_member", pa.bool_()),
        ("rfm_r", pa.int64()),
        ("rfm_f", pa.int64()),
        ("rfm_m", pa.int64()),
        ("lifecycle_stage", pa.string()),
    ]
)
SCORE_COLUMNS = ("rfm_r", "rfm_f", "rfm_m", "lifecycle_stage")
AGGREGATE_COLUMNS = tuple(n for n in TRAITS_SCHEMA.names if n not in SCORE_COLUMNS)
PREVIOUS = "previous_traits"  # the store's traits before this run, added to the snapshot


def persons(engine: Engine) -> ir.Table:
    """Every live OneID: persons with a customer record, an order or an event."""
    return engine.fact("identity").select("oneid").distinct()


def sales(engine: Engine) -> ir.Table:
    """Orders that became sales, with their person, purchase time/day and net amount."""
    ids = engine.fact("identity")
    owners = ids.filter(ids.kind == "order").select("source", "oneid", order_id=ids.record_id)
    orders = engine.fact("orders")
    paid = orders.filter(~orders.status.isin(sorted(UNPAID)))
    refunds = engine.fact("refunds")
    refunded = refunds.group_by(["source", "order_id"]).aggregate(
        refund_fen=refunds.amount_fen.sum()
    )
    owned = paid.join(owners, ["source", "order_id"]).select(
        "oneid",
        "source",
        "order_id",
        "store_id",
        "paid_fen",
        at=ibis.coalesce(paid.paid_at, paid.created_at),
        day=local_day(ibis.coalesce(paid.paid_at_local, paid.created_at_local)),
    )
    with_refunds = owned.left_join(refunded, ["source", "order_id"])
    return with_refunds.select(
        "oneid",
        "source",
        "order_id",
        "store_id",
        "at",
        "day",
        net_fen=owned.paid_fen - refunded.refund_fen.fill_null(0),
    )


def aggregates(engine: Engine, only: ir.Table | None = None) -> ir.Table:
    """Per-person purchase traits, favourites and membership (for `only` OneIDs if given)."""
    people = persons(engine)
    sold = sales(engine)
    if only is not None:
        people = people.semi_join(only, "oneid")
        sold = sold.semi_join(only, "oneid")
    per = sold.group_by("oneid").aggregate(
        first_order_at=sold.at.min(),
        last_order_at=sold.at.max(),
        first_order_day=sold.day.min(),
        last_order_day=sold.day.max(),
        order_count=sold.count(),
        net_fen=sold.net_fen.sum(),
    )
    span = days_between(per.last_order_day, per.first_order_day)
    per = per.mutate(
        aov_fen=round_div(per.net_fen, per.order_count),
        avg_interval_days=ibis.ifelse(
            per.order_count > 1, round_div(span, per.order_count - 1), ibis.null("int64")
        ),
    )
    result = people
    for part in (
        per,
        _favourite_source(sold),
        _favourite_store(sold),
        _favourite_category(engine, sold),
        _membership(engine, only),
    ):
        result = result.left_join(part, "oneid").select(
            result, *(c for c in part.columns if c != "oneid")
        )
    return result.mutate(
        order_count=result.order_count.fill_null(0),
        net_fen=result.net_fen.fill_null(0),
        is_member=result.is_member.fill_null(False),
    )


def _favourite_source(sold: ir.Table) -> ir.Table:
    """The channel with most sales; ties go to more spend, then the name."""
    by = sold.group_by(["oneid", "source"]).aggregate(n=sold.count(), spend=sold.net_fen.sum())
    top = top_per_group(by, group="oneid", value="source", order_by=[by.n.desc(), by.spend.desc()])
    return top.rename(favourite_source="source")


def _favourite_store(sold: ir.Table) -> ir.Table:
    """The store with most sales (offline orders carry a store); ties as for channels."""
    in_store = sold.filter(sold.store_id.notnull())
    by = in_store.group_by(["oneid", "store_id"]).aggregate(
        n=in_store.count(), spend=in_store.net_fen.sum()
    )
    top = top_per_group(
        by, group="oneid", value="store_id", order_by=[by.n.desc(), by.spend.desc()]
    )
    return top.rename(favourite_store="store_id")


def _favourite_category(engine: Engine, sold: ir.Table) -> ir.Table:
    """The category with most units bought in sales; ties go to more spend, then the name."""
    items = engine.fact("order_items")
    lines = items.filter(items.category.notnull()).join(
        sold.select("oneid", "source", "order_id"), ["source", "order_id"]
    )
    by = lines.group_by(["oneid", "category"]).aggregate(
        units=lines.quantity.sum(), spend=lines.amount_fen.sum().fill_null(0)
    )
    top = top_per_group(
        by, group="oneid", value="category", order_by=[by.units.desc(), by.spend.desc()]
    )
    return top.rename(favourite_category="category")


def _membership(engine: Engine, only: ir.Table | None) -> ir.Table:
    """Member when any of the person's customer records carries a member card number."""
    ids = engine.fact("identity")
    owners = ids.filter(ids.kind == "customer").select("source", "oneid", external_id=ids.record_id)
    if only is not None:
        owners = owners.semi_join(only, "oneid")
    customers = engine.fact("customers")
    joined = customers.join(owners, ["source", "external_id"])
    return joined.group_by("oneid").aggregate(is_member=joined.is_member.any())


def score(table: ir.Table, *, rules: TraitRules, as_of: date) -> ir.Table:
    """RFM scores among buyers and the lifecycle stage on day `as_of` (tenant-local)."""
    buyer = table.order_count > 0
    recency = days_between(as_of, table.last_order_day)
    tenure = days_between(as_of, table.first_order_day)
    rfm = rules.rfm
    if rfm.mode == "quantile":
        r = quantile_score(table.last_order_day, buckets=5, partition=buyer, eligible=buyer)
        f = quantile_score(table.order_count, buckets=5, partition=buyer, eligible=buyer)
        m = quantile_score(table.net_fen, buckets=5, partition=buyer, eligible=buyer)
    else:
        none = ibis.null("int64")
        r = fixed_score(recency, rfm.recency_days, descending=True)
        f = ibis.ifelse(buyer, fixed_score(table.order_count, rfm.frequency), none)
        m = ibis.ifelse(
            buyer, fixed_score(table.net_fen, [to_fen(v) for v in rfm.monetary_yuan]), none
        )
    windows = rules.lifecycle
    stage = ibis.cases(
        (~buyer, "prospect"),
        (tenure <= windows.new_days, "new"),
        (recency <= windows.active_days, "active"),
        (recency <= windows.churn_days, "silent"),
        else_="churned",
    )
    return table.mutate(rfm_r=r, rfm_f=f, rfm_m=m, lifecycle_stage=stage)


def conform(table: ir.Table, names: tuple[str, ...] = TRAITS_SCHEMA.names) -> ir.Table:
    """Columns `names`, in order, with the types of TRAITS_SCHEMA (for unions and diffs)."""
    target = ibis.schema(TRAITS_SCHEMA)
    return table.select(*(table[name].cast(target[name]).name(name) for name in names))


def dirty_persons(engine: Engine, *, records: pa.Table, oneids: pa.Table) -> ir.Table:
    """OneIDs to recompute: owners of changed records (kind, source, record_id), plus
    `oneids` named by identity changes (retired ones simply match no live person)."""
    ids = engine.fact("identity")
    changed = engine.memtable("changed_records", records)
    owners = ids.semi_join(changed, ["kind", "source", "record_id"]).select("oneid")
    return owners.union(engine.memtable("changed_persons", oneids).select("oneid")).distinct()


def compute(engine: Engine, *, rules: TraitRules, as_of: date, dirty: ir.Table | None) -> ir.Table:
    """All persons' traits: everything recomputed (`dirty` None), or only `dirty` OneIDs'
    aggregates recomputed and the other persons' taken from the previous traits."""
    if dirty is None:
        merged = conform(aggregates(engine), AGGREGATE_COLUMNS)
    else:
        only = dirty
        previous = engine.fact(PREVIOUS)
        kept = previous.anti_join(only, "oneid").semi_join(persons(engine), "oneid")
        fresh = conform(aggregates(engine, only), AGGREGATE_COLUMNS)
        merged = fresh.union(conform(kept, AGGREGATE_COLUMNS))
    return conform(score(merged, rules=rules, as_of=as_of))


def changes(engine: Engine, traits: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Rows that differ from the previous traits, and OneIDs whose rows must go."""
    previous = conform(engine.fact(PREVIOUS))
    same = [traits[c].identical_to(previous[c]) for c in TRAITS_SCHEMA.names]
    changed = traits.anti_join(previous, same)
    gone = previous.select("oneid").anti_join(traits, "oneid")
    return changed, gone
