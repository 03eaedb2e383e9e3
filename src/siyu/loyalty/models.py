"""Loyalty tables: programs, members, the points ledger (entries, lots, allocations),
growth value, tier history, the event outbox, coupons and the points mall.

The ledger is append-only: entries and allocations are never updated or deleted. A lot's
`remaining` is a cache of `amount - sum(allocations)` kept in the same transaction (and
checked by `verify_ledger`); balances are always summed from lots, never stored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, Money, TenantScoped, UtcDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class Program(TenantScoped, Base):
    """A loyalty program; its rules (earning, expiry, tiers, refunds) are data, as JSON."""

    __tablename__ = "loyalty_programs"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Member(TenantScoped, Base):
    """A person's membership of a program; this row is the account lock (FOR UPDATE)."""

    __tablename__ = "loyalty_members"
    __table_args__ = (
        UniqueConstraint("tenant_id", "program_id", "oneid"),
        UniqueConstraint("tenant_id", "program_id", "card_no"),
        Index("ix_loyalty_members_tier_due", "tenant_id", "program_id", "tier_expires_at"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    # The person's OneID; a membership merged into another keeps its (retired) OneID.
    oneid: Mapped[str] = mapped_column(String(26))
    card_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | merged
    merged_into: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    enrolled_via: Mapped[str] = mapped_column(String(32))  # api | import | rule:... | cli
    tier: Mapped[str] = mapped_column(String(32))
    tier_since: Mapped[datetime] = mapped_column(UtcDateTime)
    # End of the tier's period: retention (保级) is evaluated then; None = base tier.
    tier_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    grace_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    tier_locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Entry(TenantScoped, Base):
    """One journal line, caused by one business event (its idempotency key).

    `points` is the change to the member's position (available + pending - debt); `debt` the
    change to what the member owes (negative balance policy). Never updated.
    """

    __tablename__ = "loyalty_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "program_id", "key"),
        Index("ix_loyalty_entries_member", "member_id", "id"),
        Index("ix_loyalty_entries_ref", "tenant_id", "program_id", "ref"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # earn|spend|reverse|expire|adjust|...
    cause: Mapped[str] = mapped_column(String(48))  # order|refund|event:sign_in|mall|...
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)  # e.g. order:tmall/O1
    points: Mapped[int] = mapped_column(BigInteger)
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Lot(TenantScoped, Base):
    """Points from one earn: pending until its return window ends, then active until expiry."""

    __tablename__ = "loyalty_lots"
    __table_args__ = (
        Index("ix_loyalty_lots_member", "member_id", "status", "expires_at"),
        Index("ix_loyalty_lots_due", "tenant_id", "program_id", "status", "expires_at"),
        Index("ix_loyalty_lots_activation", "tenant_id", "program_id", "status", "activates_at"),
        Index("ix_loyalty_lots_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # pending|active|expired|reversed
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    earned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    activates_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Allocation(TenantScoped, Base):
    """Points a debit entry took from a lot (negative: returned to it). Never updated."""

    __tablename__ = "loyalty_allocations"
    __table_args__ = (
        Index("ix_loyalty_allocations_entry", "entry_id"),
        Index("ix_loyalty_allocations_lot", "lot_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    lot_id: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)


class Growth(TenantScoped, Base):
    """Growth value (成长值): its own append-only ledger; drives tiers, never spendable."""

    __tablename__ = "loyalty_growth"
    __table_args__ = (
        UniqueConstraint("tenant_id", "program_id", "key"),
        Index("ix_loyalty_growth_member", "member_id", "at"),
        Index("ix_loyalty_growth_ref", "tenant_id", "program_id", "ref"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(200))
    cause: Mapped[str] = mapped_column(String(48))
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    points: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class TierChange(TenantScoped, Base):
    """Tier history: every upgrade, retention, grace, downgrade, manual change and lock."""

    __tablename__ = "loyalty_tier_changes"
    __table_args__ = (Index("ix_loyalty_tier_changes_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))  # upgrade|retain|grace|downgrade|set|lock
    from_tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_tier: Mapped[str] = mapped_column(String(32))
    growth: Mapped[int] = mapped_column(BigInteger)  # growth value in the window then
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoyaltyEvent(TenantScoped, Base):
    """Outbox of events journeys can trigger on (tier changes, points expiring, ...)."""

    __tablename__ = "loyalty_events"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    oneid: Mapped[str] = mapped_column(String(26))
    type: Mapped[str] = mapped_column(String(48))
    key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Cursor(TenantScoped, Base):
    """Watermarks of the loyalty feeds (orders, refunds, identity merges) per tenant."""

    __tablename__ = "loyalty_cursors"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


class CouponTemplate(TenantScoped, Base):
    """A kind of coupon: its discount, validity, stock, per-person limit and channels."""

    __tablename__ = "loyalty_coupon_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    # CouponRules as JSON: discount kind and value, threshold, products, validity, channels.
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    stock: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    issued: Mapped[int] = mapped_column(Integer, default=0)  # the stock counter
    per_person_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Coupon(TenantScoped, Base):
    """One issued coupon, owned by a person; redemption attributes it to an order."""

    __tablename__ = "loyalty_coupons"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        UniqueConstraint("tenant_id", "issue_key"),
        Index("ix_loyalty_coupons_person", "tenant_id", "oneid"),
        Index("ix_loyalty_coupons_template", "template_id", "oneid"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    oneid: Mapped[str] = mapped_column(String(26))
    issue_key: Mapped[str] = mapped_column(String(200))
    issued_via: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # issued|redeemed|void
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    order_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    order_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    discount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Reward(TenantScoped, Base):
    """A points-mall reward: priced in points (plus cash), with stock and limits."""

    __tablename__ = "loyalty_rewards"
    __table_args__ = (UniqueConstraint("tenant_id", "program_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    points: Mapped[int] = mapped_column(Integer)
    cash: Mapped[Decimal] = mapped_column(Money)
    stock: Mapped[int | None] = mapped_column(Integer, nullable=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)  # the stock counter
    per_person_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    coupon_template: Mapped[str | None] = mapped_column(String(32), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RewardOrder(TenantScoped, Base):
    """A redemption in the mall: its points spend, cash, status and any coupon issued."""

    __tablename__ = "loyalty_reward_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index("ix_loyalty_reward_orders_member", "member_id", "reward_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    reward_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    cash: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16))  # placed|cancelled
    coupon_codes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
