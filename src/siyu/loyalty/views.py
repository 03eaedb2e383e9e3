"""What loyalty use cases return: members, balances, entries, reports (pydantic)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from siyu.loyalty.schemas import Benefit, CouponRules, ProgramSettings


class ProgramView(BaseModel):
    code: str
    name: str
    version: int
    settings: ProgramSettings


class Balance(BaseModel):
    """Derived from the lots: spendable = available - debt (negative under that policy)."""

    available: int  # active, unexpired lots
    pending: int  # still in their return window
    debt: int  # owed after refunds of spent points (negative balance policy)
    spendable: int
    expiring: list[tuple[datetime, int]] = Field(default_factory=list)  # next expiries


class TierStatus(BaseModel):
    tier: str
    tier_name: str
    since: datetime
    expires_at: datetime | None  # when retention is evaluated (None: base tier)
    grace_until: datetime | None
    locked_until: datetime | None
    growth: int  # growth value in the current window
    growth_for_retention: int  # growth counted towards keeping the tier at `expires_at`
    to_keep: int  # growth still needed to keep the tier
    next_tier: str | None
    to_next: int | None  # growth still needed to reach the next tier
    benefits: list[Benefit] = Field(default_factory=list)


class MemberView(BaseModel):
    program: str
    oneid: str
    member_id: int
    card_no: str | None
    enrolled_at: datetime
    enrolled_via: str
    merged_from: list[str] = Field(default_factory=list)  # OneIDs of merged memberships
    balance: Balance
    tier: TierStatus


class EntryView(BaseModel):
    id: int
    key: str
    kind: str
    cause: str
    ref: str | None
    points: int
    debt: int
    reason: str | None
    actor: str
    at: datetime
    detail: dict[str, Any] | None = None
    member_id: int


class OpResult(BaseModel):
    """The outcome of a ledger operation; `replayed` when its key had been applied before."""

    key: str
    points: int
    replayed: bool = False
    entry_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class OrderOutcome(BaseModel):
    program: str
    member: bool  # whether the person is (or just became) a member
    enrolled: bool = False
    earned: int = 0
    reversed: int = 0
    growth: int = 0
    replayed: bool = False
    coupons: list[str] = Field(default_factory=list)  # coupon codes attributed
    note: str | None = None


class ImportRow(BaseModel):
    line: int
    status: str  # imported | unchanged | rejected
    oneid: str | None = None
    field: str | None = None
    reason: str | None = None
    data: dict[str, str] | None = None  # a rejected row as read, to fix and import again


class ImportReport(BaseModel):
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    rows: list[ImportRow] = Field(default_factory=list)


class FeedReport(BaseModel):
    orders: int = 0
    refunds: int = 0
    earned: int = 0
    reversed: int = 0
    enrolled: int = 0
    merges: int = 0


class DueReport(BaseModel):
    merges: int = 0
    activated: int = 0
    expired_lots: int = 0
    expired_points: int = 0
    expiring_events: int = 0
    tiers_evaluated: int = 0
    tier_changes: dict[str, int] = Field(default_factory=dict)


class EventView(BaseModel):
    id: int
    program: str
    oneid: str
    type: str
    payload: dict[str, Any]
    at: datetime


class TierChangeView(BaseModel):
    action: str
    from_tier: str | None
    to_tier: str
    growth: int
    reason: str | None
    actor: str
    at: datetime


class CouponView(BaseModel):
    code: str
    template: str
    oneid: str
    status: str
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    issued_via: str
    redeemed_at: datetime | None
    order_ref: str | None
    discount: Decimal | None


class CouponReport(BaseModel):
    template: str
    stock: int | None
    issued: int
    redeemed: int
    void: int
    redemption_rate: float
    attributed_orders: int
    attributed_revenue: Decimal
    discount_given: Decimal


class RewardView(BaseModel):
    code: str
    name: str
    points: int
    cash: Decimal
    stock: int | None
    taken: int
    per_person_limit: int | None
    coupon_template: str | None
    active: bool


class RewardOrderView(BaseModel):
    id: int
    key: str
    reward: str
    oneid: str
    quantity: int
    points: int
    cash: Decimal
    status: str
    coupon_codes: list[str] = Field(default_factory=list)
    placed_at: datetime
    cancelled_at: datetime | None


class GrantView(BaseModel):
    """What a gift gave: the coupon's code and the member's points after it."""

    coupon_code: str | None = None
    points_balance: int | None = None  # None: the person is not a member


class MemberStanding(BaseModel):
    """A member's tier and available points (for messages and conditions)."""

    tier: str
    points: int


class MemberSummary(BaseModel):
    """A row of a program's member list."""

    oneid: str
    card_no: str | None
    tier: str
    enrolled_at: datetime
    enrolled_via: str
    spendable: int


class LotView(BaseModel):
    id: int
    entry_id: int
    amount: int
    remaining: int
    status: str
    ref: str | None
    earned_at: datetime
    activates_at: datetime
    expires_at: datetime | None


class GrowthView(BaseModel):
    key: str
    cause: str
    ref: str | None
    points: int
    at: datetime


class CouponTemplateView(BaseModel):
    code: str
    name: str
    rules: CouponRules
    stock: int | None
    issued: int
    per_person_limit: int | None
    active: bool
