"""Consumer-asset reports, each one Ibis expression over the snapshot (DuckDB or Spark).

Money columns end in `_fen` here; the service turns them into yuan. Every report reads the
stored traits (fact `traits`, exported with the snapshot) and/or the sales of `siyu.traits`.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from siyu.engine import Engine
from siyu.engine.portable import round_div
from siyu.traits import sales

Report = Callable[[Engine], ir.Table]


def _month_index(day: ir.Value) -> ir.Value:
    """Months since year 0: integer arithmetic, identical on every engine."""
    return day.year() * 12 + day.month() - 1


def assets(engine: Engine) -> ir.Table:
    """Persons by channel (each channel they are known on) × lifecycle stage, with members."""
    ids = engine.fact("identity")
    known = ids.select("oneid", channel=ids.source).distinct()
    traits = engine.fact("traits")
    joined = known.join(traits, "oneid")
    return (
        joined.group_by(["channel", "lifecycle_stage"])
        .aggregate(persons=joined.count(), members=joined.is_member.sum().cast("int64"))
        .order_by(["channel", "lifecycle_stage"])
    )


def member_gmv(engine: Engine) -> ir.Table:
    """Net GMV of members vs non-members and their share."""
    sold = sales(engine).join(engine.fact("traits").select("oneid", "is_member"), "oneid")
    by = sold.group_by("is_member").aggregate(
        buyers=sold.oneid.nunique(), orders=sold.count(), gmv_fen=sold.net_fen.sum()
    )
    total = by.gmv_fen.sum().over(ibis.window())
    return by.mutate(share_permille=round_div(by.gmv_fen * 1000, total)).order_by("is_member")


def repurchase(engine: Engine) -> ir.Table:
    """Buyers by number of purchases: 1, 2, 3, 4+."""
    traits = engine.fact("traits")
    buyers = traits.filter(traits.order_count > 0)
    bucket = ibis.ifelse(buyers.order_count >= 4, "4+", buyers.order_count.cast("string"))
    counted = buyers.mutate(orders=bucket)
    return (
        counted.group_by("orders")
        .aggregate(buyers=counted.count(), net_fen=counted.net_fen.sum())
        .order_by("orders")
    )


def cohorts(engine: Engine) -> ir.Table:
    """Buyers of each first-purchase month who buy again N months later (N = offset)."""
    sold = sales(engine)
    sold = sold.mutate(month=_month_index(sold.day))
    first = sold.group_by("oneid").aggregate(cohort=sold.month.min())
    size = first.group_by("cohort").aggregate(cohort_buyers=first.count())
    active = sold.select("oneid", "month").distinct().join(first, "oneid")
    active = active.mutate(offset=active.month - active.cohort)
    cells = active.group_by(["cohort", "offset"]).aggregate(buyers=active.count())
    joined = cells.join(size, "cohort")
    month = joined.cohort % 12 + 1
    labelled = joined.mutate(
        cohort_month=(joined.cohort // 12).cast("string")
        + ibis.ifelse(month < 10, "-0", "-")
        + month.cast("string"),
        retention_permille=round_div(joined.buyers * 1000, joined.cohort_buyers),
    )
    return labelled.select(
        "cohort_month", "offset", "cohort_buyers", "buyers", "retention_permille"
    ).order_by(["cohort_month", "offset"])


def rfm_grid(engine: Engine) -> ir.Table:
    """Buyers and net spend per recency × frequency score cell."""
    traits = engine.fact("traits")
    buyers = traits.filter(traits.rfm_r.notnull())
    return (
        buyers.group_by(["rfm_r", "rfm_f"])
        .aggregate(buyers=buyers.count(), net_fen=buyers.net_fen.sum())
        .order_by(["rfm_r", "rfm_f"])
    )


def channel_overlap(engine: Engine) -> ir.Table:
    """Buyers who bought on both channels of each pair (a channel with itself: its buyers)."""
    sold = sales(engine)
    pairs = sold.select("oneid", "source").distinct()
    other = pairs.select("oneid", other=pairs.source)
    both = pairs.join(other, "oneid")
    both = both.filter(both.source <= both.other)
    return (
        both.group_by(["source", "other"])
        .aggregate(buyers=both.count())
        .rename(channel_a="source", channel_b="other")
        .order_by(["channel_a", "channel_b"])
    )


def monthly(engine: Engine) -> ir.Table:
    """Orders, buyers, net GMV, AOV and purchase frequency per month."""
    sold = sales(engine)
    sold = sold.mutate(month=sold.day.truncate("M"))
    by = sold.group_by("month").aggregate(
        orders=sold.count(), buyers=sold.oneid.nunique(), gmv_fen=sold.net_fen.sum()
    )
    return by.mutate(
        aov_fen=round_div(by.gmv_fen, by.orders),
        orders_per_buyer_x100=round_div(by.orders * 100, by.buyers),
    ).order_by("month")


REPORTS: dict[str, tuple[Report, str]] = {
    "assets": (assets, "persons by channel x lifecycle stage, with members"),
    "member-gmv": (member_gmv, "members' share of net GMV"),
    "repurchase": (repurchase, "buyers by number of purchases (1, 2, 3, 4+)"),
    "cohorts": (cohorts, "retention by first-purchase month"),
    "rfm-grid": (rfm_grid, "buyers and spend per recency x frequency cell"),
    "channel-overlap": (channel_overlap, "buyers on both channels of each pair"),
    "monthly": (monthly, "orders, buyers, GMV, AOV and frequency by month"),
}
