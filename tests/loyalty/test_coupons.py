"""Coupons: discounts by kind, validity, stock and per-person limits, channels, redemption
(核销), attribution of imported orders, reversal on refund, reports, tier benefits."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from loyalty_support import T0, an_event, at, enrolled, make_program, paid, person
from siyu import loyalty
from siyu.loyalty.coupons import discount_for
from siyu.records.schemas import OrderItem
from siyu.store import Store
from siyu.tenants import TenantContext, create_tenant, get_tenant
from support import customer, ingest


def _rules(**fields: Any) -> loyalty.CouponRules:
    return loyalty.CouponRules.model_validate({"valid_days": 30, **fields})


def _template(session: Session, tenant: TenantContext, code: str = "C", **options: Any) -> None:
    rules = options.pop("rules", _rules(kind="fixed", amount="10.00"))
    loyalty.create_coupon_template(
        session=session, tenant=tenant, code=code, name=code, rules=rules, **options
    )


def _issue(session: Session, tenant: TenantContext, oneid: str, key: str, template: str = "C",
           when: Any = T0) -> loyalty.CouponView:  # fmt: skip
    return loyalty.issue_coupon(
        session=session, tenant=tenant, template=template, oneid=oneid, key=key, via="test",
        now=when,
    )  # fmt: skip


ITEMS = [
    OrderItem(sku="SERUM", category="skincare", amount=Decimal("120.00")),
    OrderItem(sku="TEA", category="food", amount=Decimal("30.00")),
]


def test_discounts_of_each_kind() -> None:
    assert discount_for(_rules(kind="fixed", amount="20.00"), Decimal("15.00"), []) == Decimal(
        "15.00"
    )
    percent = _rules(kind="percent", percent_off="15", max_discount="20.00")
    assert discount_for(percent, Decimal("99.99"), []) == Decimal("14.99")
    assert discount_for(percent, Decimal("500.00"), []) == Decimal("20.00")
    threshold = _rules(kind="threshold", amount="30.00", threshold="200.00")
    assert discount_for(threshold, Decimal("200.00"), []) == Decimal("30.00")
    with pytest.raises(loyalty.LimitError, match="below the coupon's threshold"):
        discount_for(threshold, Decimal("199.99"), [])
    product = _rules(kind="product", percent_off="50", categories=["skincare"])
    assert discount_for(product, Decimal("150.00"), ITEMS) == Decimal("60.00")
    only_tea = _rules(kind="product", amount="50.00", skus=["TEA"])
    assert discount_for(only_tea, Decimal("150.00"), ITEMS) == Decimal("30.00")
    with pytest.raises(loyalty.LimitError, match="no item"):
        discount_for(_rules(kind="product", amount="5.00", skus=["X"]), Decimal("10"), ITEMS)


def test_templates_are_validated() -> None:
    with pytest.raises(ValueError, match="needs a threshold"):
        _rules(kind="threshold", amount="5.00")
    with pytest.raises(ValueError, match="valid_days"):
        loyalty.CouponRules.model_validate({"kind": "fixed", "amount": "5.00"})


def test_stock_per_person_limit_and_idempotent_issue(
    session: Session, tenant: TenantContext
) -> None:
    _template(session, tenant, stock=3, per_person_limit=2)
    one, two = person(session, tenant, "c1"), person(session, tenant, "c2")
    first = _issue(session, tenant, one, "k1")
    assert _issue(session, tenant, one, "k1").code == first.code  # same key: same coupon
    _issue(session, tenant, one, "k2")
    with pytest.raises(loyalty.LimitError, match="limit 2"):
        _issue(session, tenant, one, "k3")
    _issue(session, tenant, two, "k4")
    with pytest.raises(loyalty.LimitError, match="out of stock"):
        _issue(session, tenant, two, "k5")
    loyalty.void_coupon(session=session, tenant=tenant, code=first.code, reason="x", actor="t")
    report = loyalty.coupon_report(session=session, tenant=tenant, template="C")
    assert (report.issued, report.void, report.stock) == (3, 1, 3)


def test_validity_channels_and_redemption(session: Session, tenant: TenantContext) -> None:
    window = _rules(kind="fixed", amount="10.00", valid_days=None, channels=["wechat_mp"],
                    valid_from=at(5).isoformat(), valid_until=at(10).isoformat())  # fmt: skip
    _template(session, tenant, "W", rules=window)
    _template(session, tenant, "N", rules=_rules(kind="fixed", amount="5.00", valid_days=7))
    oneid = person(session, tenant, "c1")
    coupon = _issue(session, tenant, oneid, "w1", "W", when=at(1))
    assert (coupon.valid_from, coupon.valid_until) == (at(5), at(10))
    seven = _issue(session, tenant, oneid, "n1", "N", when=at(1))
    assert seven.valid_until == at(8)

    def redeem(code: str, when: Any, source: str = "wechat_mp", order: str = "o1") -> Any:
        return loyalty.redeem_coupon(
            session=session, tenant=tenant, code=code, order_ref=f"order:{source}/{order}",
            amount=Decimal("50.00"), source=source, oneid=oneid, now=when,
        )  # fmt: skip

    with pytest.raises(loyalty.LimitError, match="valid"):
        redeem(coupon.code, at(2))
    with pytest.raises(loyalty.LimitError, match="cannot be used on pos"):
        redeem(coupon.code, at(6), source="pos")
    used = redeem(coupon.code, at(6))
    assert (used.status, used.discount) == ("redeemed", Decimal("10.00"))
    assert redeem(coupon.code.lower(), at(7)).redeemed_at == at(6)  # same order again
    with pytest.raises(loyalty.LimitError, match="is redeemed"):
        redeem(coupon.code, at(7), order="o2")
    other = person(session, tenant, "c2")
    with pytest.raises(loyalty.LimitError, match="another person"):
        loyalty.redeem_coupon(
            session=session, tenant=tenant, code=seven.code, order_ref="order:pos/x",
            amount=Decimal("9.00"), source="pos", oneid=other, now=at(2),
        )  # fmt: skip
    listed = loyalty.person_coupons(session=session, tenant=tenant, oneid=oneid, now=at(9))
    assert {c.code: c.status for c in listed} == {coupon.code: "redeemed", seven.code: "expired"}


def test_imported_orders_redeem_their_coupons_and_refunds_give_them_back(
    session: Session, tenant: TenantContext
) -> None:
    make_program(session, tenant)
    member = enrolled(session, tenant)
    _template(session, tenant, "BACK", rules=_rules(kind="threshold", amount="20.00",
                                                     threshold="100.00"))  # fmt: skip
    _template(session, tenant, "GONE", rules=_rules(kind="fixed", amount="5.00",
                                                     return_on_refund=False))  # fmt: skip
    back = _issue(session, tenant, member.oneid, "b", "BACK").code
    gone = _issue(session, tenant, member.oneid, "g", "GONE").code
    order = paid("o1", "125.00", total="150.00", coupon_codes=[back, gone, "PLATFORM-123"])
    outcome = member.order(order, now=at(1))
    assert outcome.coupons == [back, gone]
    report = loyalty.coupon_report(session=session, tenant=tenant, template="BACK")
    assert (report.redeemed, report.attributed_revenue, report.discount_given) == (
        1, Decimal("125.00"), Decimal("20.00"),
    )  # fmt: skip
    assert member.order(order, now=at(2)).coupons == [back, gone]  # replay: same attribution
    member.order(paid("o1", "125.00", total="150.00", status="refunded"), now=at(3))
    statuses = {
        c.code: c.status
        for c in loyalty.person_coupons(
            session=session, tenant=tenant, oneid=member.oneid, now=at(3)
        )
    }
    assert statuses == {back: "issued", gone: "refunded"}
    assert loyalty.coupon_report(session=session, tenant=tenant, template="BACK").redeemed == 0


def test_a_tier_birthday_gift_is_a_coupon_once_a_year(
    session: Session, tenant: TenantContext
) -> None:
    _template(session, tenant, "BDAY", rules=_rules(kind="fixed", amount="50.00"))
    make_program(
        session, tenant,
        tiers={"tiers": [{"code": "base", "name": "Member", "threshold": 0, "benefits": [
            {"code": "gift", "name": "Birthday gift", "kind": "birthday_gift", "value": "BDAY"},
            {"code": "ship", "name": "Free shipping", "kind": "free_shipping"}]}]},
    )  # fmt: skip
    member = enrolled(session, tenant)

    def birthday(event_id: str, day: float) -> loyalty.OrderOutcome:
        return loyalty.apply_event(
            session=session, tenant=tenant, event=an_event(event_id, "birthday", at(day)),
            oneid=member.oneid, now=at(day),
        )[0]  # fmt: skip

    gift = birthday("b1", 0).coupons
    assert len(gift) == 1 and birthday("b1-again", 1).coupons == gift
    assert birthday("b2", 366).coupons != gift
    assert [b.kind for b in member.view().tier.benefits] == ["birthday_gift", "free_shipping"]


def test_coupons_follow_the_person_when_persons_merge(
    session: Session, tenant: TenantContext
) -> None:
    _template(session, tenant, per_person_limit=1)
    kept = person(session, tenant, "a", phone="13800000001")
    gone = person(session, tenant, "b", member_no="M1")
    coupon = _issue(session, tenant, gone, "k1")
    ingest(session, tenant, customer("web", "w", {"phone": "13800000001", "member_no": "M1"}))
    assert [c.code for c in loyalty.person_coupons(session=session, tenant=tenant, oneid=kept)] == [
        coupon.code
    ]
    with pytest.raises(loyalty.LimitError, match="limit 1"):
        _issue(session, tenant, kept, "k2")
    used = loyalty.redeem_coupon(
        session=session, tenant=tenant, code=coupon.code, order_ref="order:pos/o", oneid=kept,
        amount=Decimal("20.00"), source="pos", now=at(1),
    )  # fmt: skip
    assert used.status == "redeemed" and used.oneid == gone  # issued to that OneID, kept


def test_concurrent_issues_never_exceed_stock(store: Store) -> None:
    name = f"cp_{secrets.token_hex(5)}"
    with store.session() as session:
        tenant = create_tenant(session=session, name=name)
        session.commit()
        _template(session, tenant, stock=5)
        persons = [person(session, tenant, f"c{n}") for n in range(8)]
        session.commit()
    start = threading.Barrier(8)

    def issue(oneid: str) -> bool:
        start.wait()
        with store.session() as session:
            tenant_ = get_tenant(session=session, name=name)
            try:
                _issue(session, tenant_, oneid, f"k-{oneid}")
            except loyalty.LimitError:
                return False
            session.commit()
            return True

    with ThreadPoolExecutor(8) as pool:
        issued = sum(pool.map(issue, persons))
    with store.session() as session:
        tenant = get_tenant(session=session, name=name)
        report = loyalty.coupon_report(session=session, tenant=tenant, template="C")
    assert issued == report.issued == 5
