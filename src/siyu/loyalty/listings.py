"""Reads for the console and reports: members of a program (search), a member's lots and
growth value, coupon templates, the points mall's orders. Nothing here writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from siyu import identity
from siyu.loyalty import balances, mall
from siyu.loyalty.errors import NotMemberError
from siyu.loyalty.members import lock_member
from siyu.loyalty.models import CouponTemplate, Growth, Lot, Member, RewardOrder
from siyu.loyalty.programs import load_program
from siyu.loyalty.views import (
    CouponTemplateView,
    GrowthView,
    LotView,
    MemberSummary,
    RewardOrderView,
)
from siyu.store.base import utcnow
from siyu.tenants import TenantContext


def list_members(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    query: str = "",
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> list[MemberSummary]:
    """Active members, newest first; `query` matches a card number, a OneID or any
    identifier the person holds (phone, e-mail, member number...)."""
    ref = load_program(session=session, tenant=tenant, code=program)
    now = now or utcnow()
    select_members = select(Member).where(
        Member.tenant_id == tenant.id, Member.program_id == ref.id, Member.status == "active"
    )
    text = query.strip()
    if text:
        persons = identity.find_persons(session=session, tenant=tenant, query=text)
        select_members = select_members.where(
            or_(Member.card_no == text, Member.oneid == text, Member.oneid.in_(persons))
        )
    rows = session.scalars(
        select_members.order_by(Member.enrolled_at.desc(), Member.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        MemberSummary(
            oneid=row.oneid,
            card_no=row.card_no,
            tier=row.tier,
            enrolled_at=row.enrolled_at,
            enrolled_via=row.enrolled_via,
            spendable=balances.balance(session, row.id, now).spendable,
        )
        for row in rows
    ]


def _member_id(session: Session, tenant: TenantContext, program: str, oneid: str) -> int:
    ref = load_program(session=session, tenant=tenant, code=program)
    account = lock_member(session, ref, oneid, now=utcnow())
    if account is None:
        raise NotMemberError(f"{oneid} is not a member of {program!r}")
    return account.id


def member_lots(
    *, session: Session, tenant: TenantContext, program: str, oneid: str, limit: int = 200
) -> list[LotView]:
    """A member's lots (each earn's points: what remains, status, activation, expiry),
    newest first."""
    member_id = _member_id(session, tenant, program, oneid)
    rows = session.scalars(
        select(Lot).where(Lot.member_id == member_id).order_by(Lot.id.desc()).limit(limit)
    )
    return [LotView.model_validate(r, from_attributes=True) for r in rows]


def member_growth(
    *, session: Session, tenant: TenantContext, program: str, oneid: str, limit: int = 200
) -> list[GrowthView]:
    """A member's growth value entries (成长值), newest first."""
    member_id = _member_id(session, tenant, program, oneid)
    rows = session.scalars(
        select(Growth).where(Growth.member_id == member_id).order_by(Growth.id.desc()).limit(limit)
    )
    return [GrowthView.model_validate(r, from_attributes=True) for r in rows]


def list_coupon_templates(*, session: Session, tenant: TenantContext) -> list[CouponTemplateView]:
    """The tenant's coupon templates with their rules, stock and issue counter."""
    rows = session.scalars(
        select(CouponTemplate)
        .where(CouponTemplate.tenant_id == tenant.id)
        .order_by(CouponTemplate.code)
    )
    # `rules` is stored as JSON: validation turns it into CouponRules.
    return [CouponTemplateView.model_validate(r, from_attributes=True) for r in rows]


def reward_orders(
    *, session: Session, tenant: TenantContext, program: str, limit: int = 100
) -> list[RewardOrderView]:
    """The program's points-mall orders (redemptions), newest first."""
    ref = load_program(session=session, tenant=tenant, code=program)
    rows = session.scalars(
        select(RewardOrder)
        .where(RewardOrder.program_id == ref.id)
        .order_by(RewardOrder.id.desc())
        .limit(limit)
    )
    return [mall.order_view(session, r) for r in rows]
