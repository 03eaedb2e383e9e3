"""Earning rules as data, evaluated: points and growth for an order or an event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from siyu.loyalty.schemas import EarnRate, EventRule, ProgramSettings, TierDef
from siyu.records import OrderIn

_ZERO = Decimal(0)


@dataclass(frozen=True)
class OrderEarning:
    """What an order earns before the daily cap (which needs the member's day so far)."""

    eligible: Decimal  # yuan the rules applied to (paid, less shipping when excluded)
    base: int  # points from the rates
    multiplier: Decimal  # tier x member day
    points: int  # after multiplier and the per-order cap
    growth: int


def floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _matches(
    rate: EarnRate, source: str, store: str | None, category: str | None, sku: str | None
) -> bool:
    return (
        (not rate.channels or source in rate.channels)
        and (not rate.stores or store in rate.stores)
        and (not rate.categories or category in rate.categories)
        and (not rate.skus or sku in rate.skus)
    )


def best_rate(
    settings: ProgramSettings,
    source: str,
    store: str | None,
    category: str | None = None,
    sku: str | None = None,
) -> Decimal:
    """Points per yuan of the most specific matching rate (0 when none matches)."""
    found = [rate for rate in settings.earn_rates if _matches(rate, source, store, category, sku)]
    if not found:
        return _ZERO
    return max(found, key=lambda rate: rate.specificity).points_per_yuan


def order_earning(
    settings: ProgramSettings, order: OrderIn, tier: TierDef, day: date
) -> OrderEarning:
    """Points and growth for a paid order; `day` is its local payment date (member days)."""
    eligible = order.paid_amount
    if settings.exclude_shipping and order.shipping_amount:
        eligible = max(eligible - order.shipping_amount, _ZERO)
    items = order.items or []
    weights = [
        item.amount if item.amount is not None else (item.unit_price or _ZERO) * item.quantity
        for item in items
    ]
    total = sum(weights, _ZERO)
    if total > 0:
        # Each item's share of what was paid (discounts spread pro rata) at its own rate.
        raw = sum(
            (
                eligible
                * weight
                / total
                * best_rate(settings, order.source, order.store_id, item.category, item.sku)
                for item, weight in zip(items, weights, strict=True)
            ),
            _ZERO,
        )
    else:
        raw = eligible * best_rate(settings, order.source, order.store_id)
    base = floor(raw)
    member_day = max(
        (d.multiplier for d in settings.member_days if d.matches(day)), default=Decimal(1)
    )
    multiplier = tier.points_multiplier * member_day
    points = floor(raw * multiplier)
    if settings.max_points_per_order is not None:
        points = min(points, settings.max_points_per_order)
    growth = floor(eligible * settings.tiers.growth_per_yuan)
    return OrderEarning(
        eligible=eligible, base=base, multiplier=multiplier, points=points, growth=growth
    )


def event_rule(settings: ProgramSettings, event_type: str) -> EventRule | None:
    """The fixed-points rule for an event type, if the program has one."""
    return next((rule for rule in settings.events if rule.event == event_type), None)


def proportional(earned: int, refunded: Decimal, paid: Decimal) -> int:
    """Points to have reversed once `refunded` of `paid` is refunded: all of them for a full
    refund, otherwise the refunded share rounded down (never more than was earned)."""
    if paid <= 0 or refunded >= paid:
        return earned
    return min(floor(Decimal(earned) * refunded / paid), earned)
