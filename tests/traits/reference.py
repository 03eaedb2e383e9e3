"""An independent, plain-Python statement of the trait definitions, over canonical records.

It shares no code with siyu.traits: expected values in the tests come from here (and from
a few literal answers), so a wrong engine expression cannot agree with itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from siyu.tenants import TraitRules

SALE_EXCLUDED = {"created", "closed"}


def _time(text: str, zone: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def expected_traits(
    records: Iterable[dict[str, Any]],
    oneid_of: dict[tuple[str, str, str], str],
    *,
    zone: str,
    as_of: date,
    rules: TraitRules,
) -> dict[str, dict[str, Any]]:
    """Traits per OneID, as the documentation defines them."""
    tz = ZoneInfo(zone)
    items = list(records)
    orders = {(r["source"], r["order_id"]): r for r in items if r["kind"] == "order"}
    refunded: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in items:
        if r["kind"] == "refund":
            refunded[(r["source"], r["order_id"])] += Decimal(str(r["amount"]))
    persons = set(oneid_of.values())
    sales: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (source, order_id), o in orders.items():
        if o["status"] in SALE_EXCLUDED:
            continue
        moment = _time(o.get("paid_at") or o["created_at"], tz)
        sales[oneid_of[("order", source, order_id)]].append(
            {
                "at": moment,
                "day": moment.astimezone(tz).date(),
                "net": Decimal(str(o["paid_amount"])) - refunded[(source, order_id)],
                "source": source,
                "store": o.get("store_id") or None,
                "items": o.get("items") or [],
            }
        )
    member = {
        oneid_of[("customer", r["source"], r["external_id"])]
        for r in items
        if r["kind"] == "customer" and (r.get("identifiers") or {}).get("member_no")
    }
    result = {p: _aggregate(sales.get(p, []), p in member) for p in persons}
    _score(result, as_of=as_of, rules=rules)
    return result


def _aggregate(sales: list[dict[str, Any]], is_member: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"order_count": len(sales), "is_member": is_member}
    if not sales:
        row.update(net_spend=Decimal("0.00"), aov=None, first_order_day=None, last_order_day=None)
        row.update(avg_interval_days=None, favourite_source=None)
        row.update(favourite_category=None, favourite_store=None)
        return row
    net = sum((s["net"] for s in sales), Decimal("0.00"))
    first, last = min(s["day"] for s in sales), max(s["day"] for s in sales)
    row.update(
        net_spend=net,
        aov=(net / len(sales)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        first_order_at=min(s["at"] for s in sales),
        last_order_at=max(s["at"] for s in sales),
        first_order_day=first,
        last_order_day=last,
        avg_interval_days=(
            _half_up(Decimal((last - first).days) / (len(sales) - 1)) if len(sales) > 1 else None
        ),
        favourite_source=_favourite([(s["source"], 1, s["net"]) for s in sales]),
        favourite_store=_favourite([(s["store"], 1, s["net"]) for s in sales if s["store"]]),
        favourite_category=_favourite(
            [
                (i["category"], int(i.get("quantity", 1)), Decimal(str(i.get("amount") or 0)))
                for s in sales
                for i in s["items"]
                if i.get("category")
            ]
        ),
    )
    return row


def _favourite(entries: list[tuple[str, int, Decimal]]) -> str | None:
    """Most weight, then most spend, then the smallest name."""
    weight: Counter[str] = Counter()
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for name, w, amount in entries:
        weight[name] += w
        spend[name] += amount
    if not weight:
        return None
    return min(weight, key=lambda n: (-weight[n], -spend[n], n))


def _quantile_scores(values: dict[str, Any]) -> dict[str, int]:
    ordered = sorted(values.values())
    n = len(ordered)
    return {p: 1 + (sum(1 for x in ordered if x < v) * 5) // n for p, v in values.items()}


def _score(result: dict[str, dict[str, Any]], *, as_of: date, rules: TraitRules) -> None:
    buyers = {p: r for p, r in result.items() if r["order_count"] > 0}
    if rules.rfm.mode == "quantile":
        r_scores = _quantile_scores({p: r["last_order_day"] for p, r in buyers.items()})
        f_scores = _quantile_scores({p: r["order_count"] for p, r in buyers.items()})
        m_scores = _quantile_scores({p: r["net_spend"] for p, r in buyers.items()})
    else:
        rfm = rules.rfm
        r_scores = {
            p: 5 - sum(1 for c in rfm.recency_days if (as_of - r["last_order_day"]).days > c)
            for p, r in buyers.items()
        }
        f_scores = {
            p: 1 + sum(1 for c in rfm.frequency if r["order_count"] >= c) for p, r in buyers.items()
        }
        m_scores = {
            p: 1 + sum(1 for c in rfm.monetary_yuan if r["net_spend"] >= c)
            for p, r in buyers.items()
        }
    windows = rules.lifecycle
    for p, r in result.items():
        r["rfm_r"], r["rfm_f"], r["rfm_m"] = r_scores.get(p), f_scores.get(p), m_scores.get(p)
        if p not in buyers:
            r["lifecycle_stage"] = "prospect"
            continue
        recency = (as_of - r["last_order_day"]).days
        if (as_of - r["first_order_day"]).days <= windows.new_days:
            r["lifecycle_stage"] = "new"
        elif recency <= windows.active_days:
            r["lifecycle_stage"] = "active"
        elif recency <= windows.churn_days:
            r["lifecycle_stage"] = "silent"
        else:
            r["lifecycle_stage"] = "churned"
