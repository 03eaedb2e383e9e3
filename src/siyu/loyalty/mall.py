"""The points mall (积分商城): rewards priced in points or points + cash, with stock and
per-person limits; a redemption is a reversible order whose points come from the ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.loyalty import coupons, ledger
from siyu.loyalty.errors import LimitError, LoyaltyError, NotFoundError, NotMemberError
from siyu.loyalty.members import lock_member, lock_member_id
from siyu.loyalty.models import Coupon, Member, Reward, RewardOrder
from siyu.loyalty.programs import ProgramRef
from siyu.loyalty.views import RewardOrderView, RewardView


def create_reward(
    session: Session,
    program: ProgramRef,
    *,
    code: str,
    name: str,
    points: int,
    cash: Decimal = Decimal(0),
    stock: int | None = None,
    per_person_limit: int | None = None,
    coupon_template: str | None = None,
) -> RewardView:
    """Put a reward in the mall (a coupon template makes it issue that coupon)."""
    if points <= 0 and cash <= 0:
        raise LoyaltyError("a reward costs points, cash or both")
    if session.scalar(
        select(Reward.id).where(Reward.program_id == program.id, Reward.code == code)
    ):
        raise LoyaltyError(f"reward {code!r} already exists")
    reward = Reward(
        tenant_id=program.tenant.id, program_id=program.id, code=code, name=name,
        points=points, cash=cash, stock=stock, taken=0, per_person_limit=per_person_limit,
        coupon_template=coupon_template, active=True,
    )  # fmt: skip
    session.add(reward)
    session.flush()
    return _reward_view(reward)


def list_rewards(session: Session, program: ProgramRef) -> list[RewardView]:
    rows = session.scalars(
        select(Reward).where(Reward.program_id == program.id).order_by(Reward.id)
    )
    return [_reward_view(r) for r in rows]


def redeem(
    session: Session,
    program: ProgramRef,
    *,
    oneid: str,
    reward: str,
    key: str,
    now: datetime,
    quantity: int = 1,
) -> RewardOrderView:
    """Exchange points (and cash, paid elsewhere) for a reward; once per key."""
    if quantity < 1:
        raise LoyaltyError("quantity must be at least 1")
    account = lock_member(session, program, oneid, now=now)
    if account is None:
        raise NotMemberError(f"{oneid} is not a member of {program.code!r}")
    found = session.scalar(
        select(RewardOrder).where(
            RewardOrder.tenant_id == program.tenant.id, RewardOrder.key == key
        )
    )
    if found is not None:
        return order_view(session, found)
    item = session.scalar(
        select(Reward)
        .where(Reward.program_id == program.id, Reward.code == reward)
        .with_for_update()  # stock is counted under the reward's row lock
    )
    if item is None or not item.active:
        raise NotFoundError(f"no active reward {reward!r}")
    if item.stock is not None and item.taken + quantity > item.stock:
        raise LimitError(f"reward {reward!r}: {item.stock - item.taken} left, {quantity} asked")
    if item.per_person_limit is not None:
        had = session.scalar(
            select(func.coalesce(func.sum(RewardOrder.quantity), 0)).where(
                RewardOrder.member_id == account.id,
                RewardOrder.reward_id == item.id,
                RewardOrder.status == "placed",
            )
        )
        if int(had or 0) + quantity > item.per_person_limit:
            raise LimitError(
                f"reward {reward!r}: limit {item.per_person_limit} per person, {had} taken"
            )
    points = item.points * quantity
    if points:
        ledger.spend(
            session, account, points=points, key=f"mall:{key}", cause="mall",
            ref=f"reward:{reward}", now=now, detail={"reward": reward, "quantity": quantity},
        )  # fmt: skip
    item.taken += quantity
    codes = []
    if item.coupon_template:
        for number in range(quantity):
            codes.append(
                coupons.issue(
                    session=session, tenant=program.tenant, template=item.coupon_template,
                    oneid=account.oneid, key=f"mall:{key}:{number}", via=f"mall:{reward}", now=now,
                ).code
            )  # fmt: skip
    order = RewardOrder(
        tenant_id=program.tenant.id, program_id=program.id, member_id=account.id,
        reward_id=item.id, key=key, quantity=quantity, points=points,
        cash=item.cash * quantity, status="placed", coupon_codes=codes or None, placed_at=now,
    )  # fmt: skip
    session.add(order)
    session.flush()
    return order_view(session, order)


def cancel(
    session: Session, program: ProgramRef, *, key: str, reason: str, actor: str, now: datetime
) -> RewardOrderView:
    """Cancel a mall order: points go back to their lots, stock is released, unused coupons
    are withdrawn (an order whose coupon was used cannot be cancelled)."""
    order = session.scalar(
        select(RewardOrder).where(
            RewardOrder.tenant_id == program.tenant.id, RewardOrder.key == key
        )
    )
    if order is None:
        raise NotFoundError(f"no mall order {key!r}")
    account = lock_member_id(session, program, order.member_id, now=now)
    session.refresh(order)
    if order.status == "cancelled" or account is None:
        return order_view(session, order)
    used = session.scalars(
        select(Coupon.code).where(
            Coupon.tenant_id == program.tenant.id,
            Coupon.code.in_(order.coupon_codes or []),
            Coupon.status != "issued",
        )
    ).all()
    if used:
        raise LimitError(f"mall order {key!r}: coupon {used[0]} was already used")
    for code in order.coupon_codes or []:
        coupons.void(session=session, tenant=program.tenant, code=code, reason=reason, actor=actor)
    if order.points:
        ledger.give_back(
            session, account, spend_key=f"mall:{key}", key=f"mall:{key}:cancel", cause="mall",
            now=now, reason=reason, actor=actor,
        )  # fmt: skip
    item = session.get_one(Reward, order.reward_id, with_for_update=True)
    item.taken -= order.quantity
    order.status = "cancelled"
    order.cancelled_at = now
    return order_view(session, order)


def member_orders(session: Session, program: ProgramRef, member_id: int) -> list[RewardOrderView]:
    rows = session.scalars(
        select(RewardOrder)
        .where(RewardOrder.program_id == program.id, RewardOrder.member_id == member_id)
        .order_by(RewardOrder.id.desc())
    )
    return [order_view(session, r) for r in rows]


def _reward_view(reward: Reward) -> RewardView:
    return RewardView(
        code=reward.code, name=reward.name, points=reward.points, cash=reward.cash,
        stock=reward.stock, taken=reward.taken, per_person_limit=reward.per_person_limit,
        coupon_template=reward.coupon_template, active=reward.active,
    )  # fmt: skip


def order_view(session: Session, order: RewardOrder) -> RewardOrderView:
    reward = session.get_one(Reward, order.reward_id)
    oneid = session.scalar(select(Member.oneid).where(Member.id == order.member_id))
    return RewardOrderView(
        id=order.id, key=order.key, reward=reward.code, oneid=str(oneid),
        quantity=order.quantity, points=order.points, cash=order.cash, status=order.status,
        coupon_codes=order.coupon_codes or [], placed_at=order.placed_at,
        cancelled_at=order.cancelled_at,
    )  # fmt: skip
