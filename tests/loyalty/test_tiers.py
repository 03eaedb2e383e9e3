"""Tiers and growth value: real-time upgrade, retention (保级), grace, downgrade by one tier
or recalculation, manual lock, calendar-year windows, and the events journeys use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from loyalty_support import SHANGHAI, Member, at, enrolled, make_program, paid, refund
from siyu import loyalty
from siyu.tenants import TenantContext

TIERS = [
    {"code": "base", "name": "Member", "threshold": 0},
    {"code": "silver", "name": "Silver", "threshold": 1000},
    {"code": "gold", "name": "Gold", "threshold": 5000, "retain": 3000},
]


def _program(session: Session, tenant: TenantContext, **policy: Any) -> Member:
    make_program(session, tenant, pending_days=0, tiers={"tiers": TIERS, **policy})
    return enrolled(session, tenant)


def _due(session: Session, tenant: TenantContext, when: datetime) -> loyalty.DueReport:
    return loyalty.run_due(session=session, tenant=tenant, now=when)


def _events(session: Session, tenant: TenantContext) -> list[tuple[str, Any, Any]]:
    return [
        (e.type, e.payload.get("from"), e.payload.get("to"))
        for e in loyalty.events_since(session=session, tenant=tenant)
        if e.type.startswith("tier_")
    ]


def test_real_time_upgrade_with_its_period_and_what_is_needed_next(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant)
    member.order(paid("o1", "800.00"))
    standing = member.view().tier
    assert (standing.tier, standing.growth, standing.next_tier, standing.to_next) == (
        "base", 800, "silver", 200,
    )  # fmt: skip
    member.order(paid("o2", "4500.00", when=at(10)), now=at(10))
    standing = member.view(at(10)).tier
    assert (standing.tier, standing.since, standing.expires_at) == ("gold", at(10), at(375))
    assert (standing.to_keep, standing.to_next, standing.next_tier) == (3000, None, None)
    assert _events(session, tenant) == [("tier_upgraded", "base", "gold")]


def test_retention_at_period_end_then_downgrade_by_one_tier(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant)
    member.order(paid("o1", "5000.00"))  # gold at T0, up for retention at T0 + 12 months
    member.order(paid("o2", "3000.00", when=at(100)), now=at(100))
    assert member.view(at(100)).tier.to_keep == 0
    report = _due(session, tenant, at(366))
    assert report.tier_changes == {"retain": 1}
    assert member.view(at(366)).tier.expires_at == at(365 + 365)  # 12 months on
    report = _due(session, tenant, at(731))  # nothing in the second year
    assert report.tier_changes == {"downgrade": 1}
    standing = member.view(at(731)).tier
    assert (standing.tier, standing.expires_at) == ("silver", at(730 + 365))
    assert _events(session, tenant) == [
        ("tier_upgraded", "base", "gold"),
        ("tier_retained", "gold", "gold"),
        ("tier_downgraded", "gold", "silver"),
    ]
    history = loyalty.tier_history(
        session=session, tenant=tenant, program="main", oneid=member.oneid
    )
    assert [(h.action, h.to_tier, h.growth) for h in history] == [
        ("upgrade", "gold", 5000), ("retain", "gold", 3000), ("downgrade", "silver", 0),
    ]  # fmt: skip


def test_recalculation_downgrades_to_what_the_growth_keeps(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant, downgrade="recalculate")
    member.order(paid("o1", "5000.00"))
    member.order(paid("o2", "1200.00", when=at(200)), now=at(200))
    _due(session, tenant, at(366))
    assert member.view(at(366)).tier.tier == "silver"  # 1,200 keeps silver, not gold
    _due(session, tenant, at(366 + 366))
    standing = member.view(at(732)).tier
    assert (standing.tier, standing.expires_at) == ("base", None)


def test_a_grace_period_lets_the_member_keep_the_tier_by_buying_in_time(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant, grace_days=30)
    member.order(paid("o1", "5000.00"))
    assert _due(session, tenant, at(366)).tier_changes == {"grace": 1}
    standing = member.view(at(366)).tier
    assert (standing.tier, standing.grace_until, standing.to_keep) == ("gold", at(395), 3000)
    member.order(paid("o2", "3000.00", when=at(380)), now=at(380))  # within grace
    standing = member.view(at(380)).tier
    assert (standing.tier, standing.grace_until, standing.expires_at) == ("gold", None, at(730))
    assert _due(session, tenant, at(400)).tier_changes == {}
    types = [t for t, _f, _to in _events(session, tenant)]
    assert types == ["tier_upgraded", "tier_grace_started", "tier_retained"]


def test_after_grace_without_enough_growth_the_tier_goes_down(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant, grace_days=30)
    member.order(paid("o1", "5000.00"))
    _due(session, tenant, at(366))
    assert _due(session, tenant, at(396)).tier_changes == {"downgrade": 1}
    assert member.view(at(396)).tier.tier == "silver"


def test_a_locked_tier_is_kept_and_a_manual_change_needs_a_reason(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant)
    view = loyalty.set_member_tier(
        session=session, tenant=tenant, program="main", oneid=member.oneid, tier="gold",
        reason="key account", actor="ops", locked_until=at(800), now=at(0),
    )  # fmt: skip
    assert (view.tier.tier, view.tier.locked_until) == ("gold", at(800))
    assert _due(session, tenant, at(366)).tier_changes == {"retain": 1}
    assert member.view(at(366)).tier.tier == "gold"
    assert _due(session, tenant, at(731)).tier_changes == {"retain": 1}  # locked until 800
    assert _due(session, tenant, at(1097)).tier_changes == {"downgrade": 1}
    try:
        loyalty.set_member_tier(
            session=session, tenant=tenant, program="main", oneid=member.oneid, tier="platinum",
            reason="x", actor="ops",
        )  # fmt: skip
    except loyalty.LoyaltyError as error:
        assert "no tier 'platinum'" in str(error)
    else:
        raise AssertionError("an unknown tier was accepted")


def test_a_calendar_year_window(session: Session, tenant: TenantContext) -> None:
    member = _program(session, tenant, window="calendar_year")
    member.order(paid("o1", "5000.00"))  # 2024-05-01
    standing = member.view().tier
    assert standing.expires_at == datetime(2026, 1, 1, tzinfo=SHANGHAI)  # end of next year
    member.order(paid("o2", "2000.00", when=at(300)), now=at(300))  # 2025-02-25
    member.order(paid("o3", "999.00", when=at(590)), now=at(590))  # 2025-12-12
    assert member.view(at(590)).tier.growth == 2999  # 2025 only
    assert member.view(at(590)).tier.to_keep == 1
    _due(session, tenant, datetime(2026, 1, 1, 0, 1, tzinfo=SHANGHAI))
    assert member.view(at(611)).tier.tier == "silver"


def test_a_refund_takes_growth_back_but_never_downgrades_on_the_spot(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant)
    member.order(paid("o1", "1000.00", when=at(-1)), now=at(-1))
    member.order(paid("o2", "4000.00"))
    member.order(paid("o3", "2000.00", when=at(5)), now=at(5))
    member.refund(refund("r1", "o3", "1000.00"), now=at(20))
    standing = member.view(at(20)).tier
    # the refund's growth is dated with its order, inside the period counted for retention
    assert (standing.tier, standing.growth, standing.to_keep) == ("gold", 6000, 2000)


def test_periods_missed_while_the_scheduler_was_down_are_caught_up(
    session: Session, tenant: TenantContext
) -> None:
    member = _program(session, tenant)
    member.order(paid("o1", "5000.00"))
    report = _due(session, tenant, at(365 * 3 + 2))
    assert report.tier_changes == {"downgrade": 2}  # gold -> silver -> base
    assert member.view(at(365 * 3 + 2)).tier.tier == "base"


def test_reaching_a_tier_issues_its_upgrade_gift_once(
    session: Session, tenant: TenantContext
) -> None:
    loyalty.create_coupon_template(
        session=session, tenant=tenant, code="GOLD", name="Gold welcome",
        rules=loyalty.CouponRules.model_validate(
            {"kind": "fixed", "amount": "30.00", "valid_days": 30}
        ),
    )  # fmt: skip
    gifted = [
        *TIERS[:2],
        {**TIERS[2], "benefits": [{"code": "welcome", "name": "Welcome gift",
                                   "kind": "upgrade_gift", "value": "GOLD"}]},
    ]  # fmt: skip
    make_program(session, tenant, pending_days=0, tiers={"tiers": gifted})
    member = enrolled(session, tenant)
    member.order(paid("o1", "3000.00"))
    member.order(paid("o2", "3000.00", when=at(1)), now=at(1))
    member.order(paid("o3", "100.00", when=at(2)), now=at(2))  # already gold: no second gift
    held = loyalty.person_coupons(session=session, tenant=tenant, oneid=member.oneid)
    assert [(c.template, c.issued_via, c.issued_at) for c in held] == [
        ("GOLD", "benefit:welcome", at(1))
    ]
