"""Loyalty use cases for interfaces (API, CLI, other domains): keyword-only, by program
code and OneID. None of them commits: the caller's transaction holds the member's lock
until it commits, which is what makes redemptions atomic."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.loyalty import balances, importer, ledger, mall, members, tiers
from siyu.loyalty.errors import LoyaltyError, NotMemberError
from siyu.loyalty.journal import Account
from siyu.loyalty.models import Entry, Member, TierChange
from siyu.loyalty.programs import ProgramRef, list_programs, load_program
from siyu.loyalty.views import (
    EntryView,
    ImportReport,
    MemberView,
    OpResult,
    RewardOrderView,
    RewardView,
    TierChangeView,
)
from siyu.store.base import utcnow
from siyu.tenants import TenantContext


def _account(
    session: Session, tenant: TenantContext, program: str, oneid: str, now: datetime
) -> Account:
    ref = load_program(session=session, tenant=tenant, code=program)
    account = members.lock_member(session, ref, oneid, now=now)
    if account is None:
        raise NotMemberError(f"{oneid} is not a member of {program!r}")
    return account


def enrol_member(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    via: str = "api",
    card_no: str | None = None,
    now: datetime | None = None,
) -> MemberView:
    """Enrol a person (入会); enrolling a member again returns their membership."""
    now = now or utcnow()
    ref = load_program(session=session, tenant=tenant, code=program)
    account, _new = members.enrol(session, ref, oneid, via=via, now=now, card_no=card_no)
    return _view(session, ref, account.id, now)


def get_member(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    now: datetime | None = None,
) -> MemberView:
    """A member's card, balance (from the lots) and tier standing; retired OneIDs resolve."""
    now = now or utcnow()
    account = _account(session, tenant, program, oneid, now)
    return _view(session, account.program, account.id, now)


def memberships_of_person(
    *, session: Session, tenant: TenantContext, oneid: str, now: datetime | None = None
) -> list[MemberView]:
    """The person's membership in each program they joined (tier, balance); retired
    OneIDs resolve."""
    now = now or utcnow()
    found = []
    for program in list_programs(session=session, tenant=tenant):
        account = members.lock_member(session, program, oneid, now=now)
        if account is not None:
            found.append(_view(session, program, account.id, now))
    return found


def _view(session: Session, program: ProgramRef, member_id: int, now: datetime) -> MemberView:
    row = members.member_row(session, member_id)
    return MemberView(
        program=program.code,
        oneid=row.oneid,
        member_id=row.id,
        card_no=row.card_no,
        enrolled_at=row.enrolled_at,
        enrolled_via=row.enrolled_via,
        merged_from=members.merged_oneids(session, row.id),
        balance=balances.balance(session, row.id, now),
        tier=tiers.status(session, program, row, now=now),
    )


def member_history(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    limit: int = 200,
) -> list[EntryView]:
    """A member's journal, newest first, including memberships merged into theirs."""
    account = _account(session, tenant, program, oneid, utcnow())
    ids = [account.id, *_merged_ids(session, account.id)]
    rows = session.scalars(
        select(Entry).where(Entry.member_id.in_(ids)).order_by(Entry.id.desc()).limit(limit)
    )
    return [
        EntryView(
            id=e.id,
            key=e.key,
            kind=e.kind,
            cause=e.cause,
            ref=e.ref,
            points=e.points,
            debt=e.debt,
            reason=e.reason,
            actor=e.actor,
            at=e.at,
            detail=e.detail,
            member_id=e.member_id,
        )  # fmt: skip
        for e in rows
    ]


def _merged_ids(session: Session, member_id: int) -> list[int]:
    """Ids of every membership merged (directly or in a chain) into this one."""
    found: list[int] = []
    frontier = [member_id]
    while frontier:
        frontier = [
            row.id
            for row in session.execute(select(Member.id).where(Member.merged_into.in_(frontier)))
        ]
        found.extend(frontier)
    return found


def tier_history(
    *, session: Session, tenant: TenantContext, program: str, oneid: str
) -> list[TierChangeView]:
    """Every tier change of a member (upgrade, retain, grace, downgrade, set, lock, merge)."""
    account = _account(session, tenant, program, oneid, utcnow())
    rows = session.scalars(
        select(TierChange).where(TierChange.member_id == account.id).order_by(TierChange.id)
    )
    return [TierChangeView.model_validate(r, from_attributes=True) for r in rows]


def adjust_points(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    points: int,
    reason: str,
    actor: str,
    key: str | None = None,
    now: datetime | None = None,
) -> OpResult:
    """A manual adjustment (+ adds an active lot, - takes from lots); reason required, and
    the entry records who did it and why (the audit trail)."""
    if not reason.strip():
        raise LoyaltyError("a manual adjustment needs a reason")
    if points == 0:
        raise LoyaltyError("an adjustment of 0 points changes nothing")
    now = now or utcnow()
    account = _account(session, tenant, program, oneid, now)
    # Without a key from the caller, each call is its own adjustment.
    key = key or f"adjust:{uuid.uuid4().hex}"
    if points > 0:
        return ledger.earn(
            session, account, points=points, key=key, cause="adjust", at=now, now=now,
            pending=False, reason=reason, actor=actor,
        )  # fmt: skip
    return ledger.spend(
        session, account, points=-points, key=key, cause="adjust", kind="adjust", now=now,
        reason=reason, actor=actor,
    )  # fmt: skip


def redeem_points(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    points: int,
    key: str,
    reason: str | None = None,
    actor: str = "api",
    now: datetime | None = None,
) -> OpResult:
    """Spend points atomically (earliest-expiring lots first); once per key."""
    now = now or utcnow()
    account = _account(session, tenant, program, oneid, now)
    return ledger.spend(
        session, account, points=points, key=key, cause="redeem", now=now, reason=reason,
        actor=actor,
    )  # fmt: skip


def cancel_redemption(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    key: str,
    reason: str,
    actor: str = "api",
    now: datetime | None = None,
) -> OpResult:
    """Give back the points of redemption `key` to their lots (expired ones are not)."""
    now = now or utcnow()
    account = _account(session, tenant, program, oneid, now)
    return ledger.give_back(
        session, account, spend_key=key, key=f"{key}:cancel", cause="redeem", now=now,
        reason=reason, actor=actor,
    )  # fmt: skip


def set_member_tier(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    tier: str,
    reason: str,
    actor: str,
    locked_until: datetime | None = None,
    now: datetime | None = None,
) -> MemberView:
    """Set a member's tier by hand, optionally locked (not downgraded) until a date."""
    if not reason.strip():
        raise LoyaltyError("a manual tier change needs a reason")
    now = now or utcnow()
    account = _account(session, tenant, program, oneid, now)
    try:
        tiers.set_tier(
            session, account, tier=tier, reason=reason, actor=actor, now=now,
            locked_until=locked_until,
        )  # fmt: skip
    except ValueError as error:
        raise LoyaltyError(str(error)) from None
    return _view(session, account.program, account.id, now)


def verify_member(
    *, session: Session, tenant: TenantContext, program: str, oneid: str
) -> list[str]:
    """Check a member's ledger invariants; an empty list means the ledger is sound."""
    account = _account(session, tenant, program, oneid, utcnow())
    return balances.verify(session, account.id)


def import_members(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    path: Path,
    now: datetime | None = None,
) -> ImportReport:
    """Migrate existing members from a CSV (历史会员迁移); bad rows are reported, not lost."""
    ref = load_program(session=session, tenant=tenant, code=program)
    return importer.import_members_csv(session, ref, path, now=now or utcnow())


def create_reward(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    code: str,
    name: str,
    points: int,
    cash: Decimal = Decimal(0),
    stock: int | None = None,
    per_person_limit: int | None = None,
    coupon_template: str | None = None,
) -> RewardView:
    """Add a reward to a program's points mall."""
    ref = load_program(session=session, tenant=tenant, code=program)
    return mall.create_reward(
        session, ref, code=code, name=name, points=points, cash=cash, stock=stock,
        per_person_limit=per_person_limit, coupon_template=coupon_template,
    )  # fmt: skip


def list_rewards(*, session: Session, tenant: TenantContext, program: str) -> list[RewardView]:
    """The program's rewards with their stock."""
    return mall.list_rewards(session, load_program(session=session, tenant=tenant, code=program))


def redeem_reward(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    reward: str,
    key: str,
    quantity: int = 1,
    now: datetime | None = None,
) -> RewardOrderView:
    """Exchange points for a reward (stock, per-person limit); once per key."""
    ref = load_program(session=session, tenant=tenant, code=program)
    return mall.redeem(
        session, ref, oneid=oneid, reward=reward, key=key, quantity=quantity,
        now=now or utcnow(),
    )  # fmt: skip


def cancel_reward_order(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    key: str,
    reason: str,
    actor: str = "api",
    now: datetime | None = None,
) -> RewardOrderView:
    """Cancel a mall order: points back, stock released, unused coupons withdrawn."""
    ref = load_program(session=session, tenant=tenant, code=program)
    return mall.cancel(session, ref, key=key, reason=reason, actor=actor, now=now or utcnow())


def member_reward_orders(
    *, session: Session, tenant: TenantContext, program: str, oneid: str
) -> list[RewardOrderView]:
    """A member's mall orders, newest first."""
    account = _account(session, tenant, program, oneid, utcnow())
    return mall.member_orders(session, account.program, account.id)
