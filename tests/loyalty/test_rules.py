"""Earning rules as data: rates by channel/store/category/SKU, multipliers, caps, events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from loyalty_support import an_event, at, enrolled, make_program, paid
from siyu import loyalty
from siyu.loyalty.rules import order_earning, proportional
from siyu.loyalty.schemas import ProgramSettings, TierDef
from siyu.tenants import TenantContext

BASE = TierDef(code="base", name="Member", threshold=0)
WEDNESDAY = date(2024, 5, 1)

RATES = ProgramSettings.model_validate(
    {
        "earn_rates": [
            {"points_per_yuan": "1"},
            {"points_per_yuan": "2", "channels": ["tmall"]},
            {"points_per_yuan": "3", "stores": ["S1"]},
            {"points_per_yuan": "5", "categories": ["skincare"]},
            {"points_per_yuan": "10", "skus": ["HERO"]},
            {"points_per_yuan": "0", "categories": ["gift_card"]},
        ]
    }
)


def _items(*rows: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"sku": sku, "category": cat, "amount": amount} for sku, cat, amount in rows]


def test_the_most_specific_rate_applies_per_item_on_its_share_of_what_was_paid() -> None:
    order = paid(
        "o1", "150.00", total="200.00", shipping_amount="0",
        items=_items(("HERO", "skincare", "100.00"), ("X", "skincare", "60.00"),
                     ("Y", "other", "20.00"), ("GC", "gift_card", "20.00")),
    )  # fmt: skip
    earning = order_earning(RATES, order, BASE, WEDNESDAY)
    # paid 150 of 200 listed: each item's share is 75% of its amount
    assert earning.points == 750 + 225 + 15 + 0
    tmall = paid("o2", "100.00", source="tmall")
    store = paid("o3", "100.00", store_id="S1")
    assert order_earning(RATES, tmall, BASE, WEDNESDAY).points == 200
    assert order_earning(RATES, store, BASE, WEDNESDAY).points == 300


def test_shipping_is_excluded_and_points_round_down() -> None:
    order = paid("o1", "99.99", shipping_amount="10.00")
    earning = order_earning(ProgramSettings(), order, BASE, WEDNESDAY)
    assert (earning.eligible, earning.points, earning.growth) == (Decimal("89.99"), 89, 89)
    keep = ProgramSettings(exclude_shipping=False)
    assert order_earning(keep, order, BASE, WEDNESDAY).points == 99


def test_tier_and_member_day_multipliers_and_the_per_order_cap() -> None:
    settings = ProgramSettings.model_validate(
        {
            "member_days": [
                {"multiplier": "2", "weekdays": [3]},
                {"multiplier": "3", "days_of_month": [8]},
            ],
            "max_points_per_order": 500,
        }
    )  # fmt: skip
    gold = TierDef(code="gold", name="Gold", threshold=1, points_multiplier=Decimal("1.5"))
    order = paid("o1", "100.00")
    assert order_earning(settings, order, BASE, date(2024, 5, 2)).points == 100  # Thursday
    assert order_earning(settings, order, BASE, WEDNESDAY).points == 200
    assert order_earning(settings, order, gold, WEDNESDAY).points == 300
    assert order_earning(settings, order, gold, date(2024, 5, 8)).points == 450  # Wed the 8th: x3
    big = paid("o2", "1000.00")
    capped = order_earning(settings, big, gold, WEDNESDAY)
    assert (capped.points, capped.base, capped.growth) == (500, 1000, 1000)  # growth uncapped


def test_proportional_reversal_never_exceeds_what_was_earned() -> None:
    assert proportional(100, Decimal("50"), Decimal("200")) == 25
    assert proportional(7, Decimal("1"), Decimal("3")) == 2
    assert proportional(100, Decimal("250"), Decimal("200")) == 100
    assert proportional(0, Decimal("10"), Decimal("0")) == 0


def test_the_daily_cap_counts_the_members_order_points_of_that_local_day(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant, max_order_points_per_day=150)
    member = enrolled(session, tenant)
    assert member.order(paid("o1", "100.00", when=at(0, 1))).earned == 100
    assert member.order(paid("o2", "100.00", when=at(0, 2))).earned == 50
    assert member.order(paid("o3", "100.00", when=at(0, 3))).earned == 0
    assert member.order(paid("o4", "100.00", when=at(1))).earned == 100  # the next day


def test_event_rules_with_streaks_and_caps(session: Session, tenant: TenantContext) -> None:
    make_program(
        session, tenant,
        events=[
            {"event": "sign_in", "points": 5, "max_per_day": 1,
             "streak_days": 3, "streak_bonus": 20},
            {"event": "follow", "points": 50, "growth": 10, "max_total": 1},
            {"event": "birthday", "points": 100, "max_per_year": 1},
        ],
    )  # fmt: skip
    member = enrolled(session, tenant)

    def award(event_id: str, type_: str, day: float) -> loyalty.OrderOutcome:
        outcomes = loyalty.apply_event(
            session=session, tenant=tenant, event=an_event(event_id, type_, at(day)),
            oneid=member.oneid, now=at(day),
        )  # fmt: skip
        return outcomes[0]

    signed = [award(f"s{d}", "sign_in", d).earned for d in (0, 1, 2, 3, 4, 5)]
    assert signed == [5, 5, 25, 5, 5, 25]
    assert award("s5b", "sign_in", 5.1).note == "capped"  # second sign-in the same day
    assert award("s5b", "sign_in", 5.1).note == "capped"
    assert award("s7", "sign_in", 7).earned == 5  # day 6 missed: the streak restarts
    assert award("s5", "sign_in", 5).replayed  # the same event again earns nothing more
    followed = award("f1", "follow", 1)
    assert (followed.earned, followed.growth) == (50, 10)
    assert award("f2", "follow", 2).note == "capped"
    assert award("b1", "birthday", 0).earned == 100
    assert award("b2", "birthday", 200).note == "capped"  # same year
    assert award("b3", "birthday", 365).earned == 100
    assert award("x1", "review", 1).note == "no rule for this event"
    # event points are active at once (no return window)
    assert member.view(at(365)).balance.available == 75 + 50 + 200
