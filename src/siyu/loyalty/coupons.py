"""Coupons (券): templates with stock, per-person limits and channels; issue, redeem (核销),
reversal on refund, and each coupon's outcome attributed to the order it was used on."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu import identity
from siyu.loyalty.errors import LimitError, LoyaltyError, NotFoundError
from siyu.loyalty.models import Coupon, CouponTemplate
from siyu.loyalty.schemas import CouponRules
from siyu.loyalty.views import CouponReport, CouponView
from siyu.records import OrderIn
from siyu.records.schemas import OrderItem
from siyu.store.base import utcnow
from siyu.tenants import TenantContext

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud at a till
_FEN = Decimal("0.01")


def create_template(
    *,
    session: Session,
    tenant: TenantContext,
    code: str,
    name: str,
    rules: CouponRules,
    stock: int | None = None,
    per_person_limit: int | None = None,
) -> None:
    """Define a coupon template (its stock and per-person limit are enforced at issue)."""
    if session.scalar(
        select(CouponTemplate.id).where(
            CouponTemplate.tenant_id == tenant.id, CouponTemplate.code == code
        )
    ):
        raise LoyaltyError(f"coupon template {code!r} already exists")
    session.add(
        CouponTemplate(
            tenant_id=tenant.id,
            code=code,
            name=name,
            rules=rules.model_dump(mode="json"),
            stock=stock,
            issued=0,
            per_person_limit=per_person_limit,
            active=True,
        )
    )
    session.flush()


def _template(session: Session, tenant: TenantContext, code: str, *, lock: bool) -> CouponTemplate:
    query = select(CouponTemplate).where(
        CouponTemplate.tenant_id == tenant.id, CouponTemplate.code == code
    )
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFoundError(f"no coupon template {code!r}")
    return found


def issue(
    *,
    session: Session,
    tenant: TenantContext,
    template: str,
    oneid: str,
    key: str,
    via: str,
    now: datetime | None = None,
) -> CouponView:
    """Issue one coupon to a person, once per key, within stock and the per-person limit."""
    now = now or utcnow()
    live, names = _family(session, tenant, oneid)
    found = session.scalar(
        select(Coupon).where(Coupon.tenant_id == tenant.id, Coupon.issue_key == key)
    )
    if found is not None:
        return _view(found, template)
    # The template row lock serialises issues of one template: stock and limits hold.
    row = _template(session, tenant, template, lock=True)
    if not row.active:
        raise LimitError(f"coupon template {template!r} is not active")
    if row.stock is not None and row.issued >= row.stock:
        raise LimitError(f"coupon template {template!r} is out of stock ({row.stock} issued)")
    if row.per_person_limit is not None:
        held = session.scalar(
            select(func.count()).where(
                Coupon.template_id == row.id,
                Coupon.oneid.in_(names),
                Coupon.status != "void",
            )
        )
        if (held or 0) >= row.per_person_limit:
            raise LimitError(
                f"{live} already holds {held} of {template!r} (limit {row.per_person_limit})"
            )
    rules = CouponRules.model_validate(row.rules)
    valid_from = max(now, rules.valid_from) if rules.valid_from else now
    ends = [rules.valid_until] if rules.valid_until else []
    if rules.valid_days:
        ends.append(now + timedelta(days=rules.valid_days))
    valid_until = min(ends)
    if valid_until <= valid_from:
        raise LimitError(f"coupon template {template!r} is no longer valid")
    session.execute(
        update(CouponTemplate).where(CouponTemplate.id == row.id).values(issued=row.issued + 1)
    )
    coupon = Coupon(
        tenant_id=tenant.id,
        template_id=row.id,
        code="".join(secrets.choice(_ALPHABET) for _ in range(12)),
        oneid=live,
        issue_key=key,
        issued_via=via,
        status="issued",
        valid_from=valid_from,
        valid_until=valid_until,
        issued_at=now,
        history=[{"at": now.isoformat(), "action": "issued", "via": via}],
    )
    session.add(coupon)
    session.flush()
    return _view(coupon, template)


def discount_for(rules: CouponRules, amount: Decimal, items: Sequence[OrderItem]) -> Decimal:
    """The discount a coupon gives on an order of `amount` with `items`; raises LimitError
    when the order does not qualify (threshold, products)."""
    base = amount
    if rules.kind == "product":
        base = sum(
            (
                item.amount or Decimal(0)
                for item in items
                if (item.sku and item.sku in rules.skus)
                or (item.category and item.category in rules.categories)
            ),
            Decimal(0),
        )
        if base <= 0:
            raise LimitError("no item of the order qualifies for this coupon")
    if rules.threshold is not None and base < rules.threshold:
        raise LimitError(f"the order ({base}) is below the coupon's threshold ({rules.threshold})")
    if rules.percent_off is not None:
        off = (base * rules.percent_off / 100).quantize(_FEN, rounding=ROUND_FLOOR)
        if rules.max_discount is not None:
            off = min(off, rules.max_discount)
        return off
    return min(rules.amount or Decimal(0), base)


def redeem(
    *,
    session: Session,
    tenant: TenantContext,
    code: str,
    order_ref: str,
    amount: Decimal,
    source: str,
    items: Sequence[OrderItem] = (),
    oneid: str | None = None,
    now: datetime | None = None,
) -> CouponView:
    """Redeem (核销) a coupon against an order: checks owner, validity, channel and rules;
    redeeming it again for the same order answers the same."""
    now = now or utcnow()
    coupon, template = _coupon(session, tenant, code)
    if coupon.status == "redeemed" and coupon.order_ref == order_ref:
        return _view(coupon, template.code)
    if coupon.status != "issued":
        raise LimitError(f"coupon {code} is {coupon.status}")
    if oneid is not None and coupon.oneid not in _family(session, tenant, oneid)[1]:
        raise LimitError(f"coupon {code} belongs to another person")
    if not coupon.valid_from <= now < coupon.valid_until:
        raise LimitError(f"coupon {code} is valid {coupon.valid_from} to {coupon.valid_until}")
    rules = CouponRules.model_validate(template.rules)
    if rules.channels and source not in rules.channels:
        raise LimitError(f"coupon {code} cannot be used on {source}")
    off = discount_for(rules, amount, items)
    _mark_redeemed(coupon, order_ref, amount, off, now)
    return _view(coupon, template.code)


def _mark_redeemed(
    coupon: Coupon, order_ref: str, amount: Decimal, off: Decimal | None, now: datetime
) -> None:
    coupon.status = "redeemed"
    coupon.redeemed_at = now
    coupon.order_ref = order_ref
    coupon.order_amount = amount
    coupon.discount = off
    coupon.history = [
        *coupon.history,
        {"at": now.isoformat(), "action": "redeemed", "order": order_ref},
    ]


def attribute_order(
    session: Session, tenant: TenantContext, order: OrderIn, oneid: str, *, now: datetime
) -> list[str]:
    """Mark the coupons an imported order used (its `coupon_codes`) as redeemed on it, so
    their outcome counts; the platform already applied them, so rules are not re-checked."""
    if not order.coupon_codes:
        return []
    ref = f"order:{order.source}/{order.order_id}"
    done = []
    for code in order.coupon_codes:
        try:
            coupon, template = _coupon(session, tenant, code)
        except NotFoundError:
            continue  # a platform's own coupon, not one of ours
        if coupon.status == "issued":
            rules = CouponRules.model_validate(template.rules)
            try:
                off: Decimal | None = discount_for(rules, order.total_amount, order.items or [])
            except LimitError:
                off = None
            _mark_redeemed(coupon, ref, order.paid_amount, off, now)
        if coupon.order_ref == ref:
            done.append(code)
    return done


def release_order(session: Session, tenant: TenantContext, ref: str, *, now: datetime) -> int:
    """A fully refunded order gives its coupons back (if still valid and the template says
    so); others stay used, marked refunded. Returns the coupons given back."""
    coupons = session.scalars(
        select(Coupon)
        .where(Coupon.tenant_id == tenant.id, Coupon.order_ref == ref, Coupon.status == "redeemed")
        .with_for_update()
    ).all()
    given = 0
    for coupon in coupons:
        template = session.get_one(CouponTemplate, coupon.template_id)
        back = CouponRules.model_validate(template.rules).return_on_refund
        back = back and coupon.valid_until > now
        coupon.history = [
            *coupon.history,
            {"at": now.isoformat(), "action": "returned" if back else "refunded", "order": ref},
        ]
        if back:
            coupon.status = "issued"
            coupon.redeemed_at = coupon.order_ref = coupon.order_amount = coupon.discount = None
            given += 1
        else:
            coupon.status = "refunded"
    return given


def void(
    *, session: Session, tenant: TenantContext, code: str, reason: str, actor: str
) -> CouponView:
    """Withdraw an unused coupon (it no longer counts against the person's limit)."""
    coupon, template = _coupon(session, tenant, code)
    if coupon.status != "issued":
        raise LimitError(f"coupon {code} is {coupon.status}")
    coupon.status = "void"
    coupon.history = [
        *coupon.history,
        {"at": utcnow().isoformat(), "action": "void", "reason": reason, "actor": actor},
    ]
    return _view(coupon, template.code)


def _family(session: Session, tenant: TenantContext, oneid: str) -> tuple[str, list[str]]:
    """The person's live OneID and every OneID that resolves to it (coupons stay under the
    OneID they were issued to; persons merged later still own them)."""
    family = identity.oneid_family(session=session, tenant=tenant, oneid=oneid)
    if family is None:
        raise NotFoundError(f"no person with OneID {oneid}")
    return family[0], [family[0], *family[1]]


def _coupon(session: Session, tenant: TenantContext, code: str) -> tuple[Coupon, CouponTemplate]:
    coupon = session.scalar(
        select(Coupon)
        .where(Coupon.tenant_id == tenant.id, Coupon.code == code.strip().upper())
        .with_for_update()
    )
    if coupon is None:
        raise NotFoundError(f"no coupon {code}")
    return coupon, session.get_one(CouponTemplate, coupon.template_id)


def person_coupons(
    *, session: Session, tenant: TenantContext, oneid: str, now: datetime | None = None
) -> list[CouponView]:
    """A person's coupons (issued under any OneID that resolves to them), newest first."""
    _live, names = _family(session, tenant, oneid)
    rows = session.execute(
        select(Coupon, CouponTemplate.code)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(Coupon.tenant_id == tenant.id, Coupon.oneid.in_(names))
        .order_by(Coupon.id.desc())
    )
    return [_view(c, t, now=now or utcnow()) for c, t in rows]


def report(*, session: Session, tenant: TenantContext, template: str) -> CouponReport:
    """Issued, redeemed and the revenue of the orders the template's coupons were used on."""
    row = _template(session, tenant, template, lock=False)
    counts: dict[str, int] = {
        str(status): int(count)
        for status, count in session.execute(
            select(Coupon.status, func.count())
            .where(Coupon.template_id == row.id)
            .group_by(Coupon.status)
        )
    }
    used = session.execute(
        select(Coupon.order_amount, Coupon.discount).where(
            Coupon.template_id == row.id, Coupon.status == "redeemed"
        )
    ).all()
    issued = sum(counts.values())
    redeemed = counts.get("redeemed", 0)
    return CouponReport(
        template=template,
        stock=row.stock,
        issued=issued,
        redeemed=redeemed,
        void=counts.get("void", 0),
        redemption_rate=round(redeemed / issued, 4) if issued else 0.0,
        attributed_orders=len(used),
        attributed_revenue=sum((u.order_amount or Decimal(0) for u in used), Decimal(0)),
        discount_given=sum((u.discount or Decimal(0) for u in used), Decimal(0)),
    )


def _view(coupon: Coupon, template: str, *, now: datetime | None = None) -> CouponView:
    status = coupon.status
    if status == "issued" and now is not None and coupon.valid_until <= now:
        status = "expired"
    return CouponView(
        code=coupon.code,
        template=template,
        oneid=coupon.oneid,
        status=status,
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        issued_at=coupon.issued_at,
        issued_via=coupon.issued_via,
        redeemed_at=coupon.redeemed_at,
        order_ref=coupon.order_ref,
        discount=coupon.discount,
    )
