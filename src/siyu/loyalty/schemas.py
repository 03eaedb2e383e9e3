"""Program settings: earning rules, expiry, refunds, tiers and benefits, all as data."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Points = Annotated[int, Field(ge=0)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EarnRate(_Settings):
    """Points per yuan paid on what it matches; the most specific matching rate wins
    (SKU > category > store > channel > none), ties go to the earlier rate."""

    points_per_yuan: Annotated[Decimal, Field(ge=0)]
    channels: list[str] = Field(default_factory=list)  # order sources; empty: any
    stores: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)

    @property
    def specificity(self) -> int:
        return (
            8 * bool(self.skus)
            + 4 * bool(self.categories)
            + 2 * bool(self.stores)
            + bool(self.channels)
        )


class MemberDay(_Settings):
    """A member day (会员日): order points are multiplied on matching local dates."""

    multiplier: Annotated[Decimal, Field(gt=0)]
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(default_factory=list)  # 1=Mon
    days_of_month: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)
    dates: list[date] = Field(default_factory=list)

    def matches(self, day: date) -> bool:
        return (
            day.isoweekday() in self.weekdays or day.day in self.days_of_month or day in self.dates
        )


class EventRule(_Settings):
    """Fixed points (and growth) for an event type: sign_in, review, follow, referral,
    birthday or any type; caps count the event's awards per local day / year / ever."""

    event: Annotated[str, Field(min_length=1, max_length=40)]
    points: Points
    growth: Points = 0
    max_per_day: Points | None = None
    max_per_year: Points | None = None
    max_total: Points | None = None
    # Sign-in streaks (签到): a bonus on every `streak_days`-th consecutive day.
    streak_days: Annotated[int, Field(ge=2)] | None = None
    streak_bonus: Points = 0


ExpiryKind = Literal["never", "rolling_days", "end_of_month", "end_of_year", "annual_reset"]


class ExpiryPolicy(_Settings):
    """When earned points expire (computed per lot when it is earned, in the tenant zone).

    rolling_days: `days` after earning. end_of_month: at the end of the month
    `months_after` months after the month of earning. end_of_year: at the end of the year
    `years_after` years after the year of earning. annual_reset (清零): at the end of the
    first `reset_month`/`reset_day` after earning, plus `years_after` years.
    """

    kind: ExpiryKind = "end_of_year"
    days: Annotated[int, Field(ge=1)] = 365
    months_after: Annotated[int, Field(ge=0)] = 12
    years_after: Annotated[int, Field(ge=0)] = 1
    reset_month: Annotated[int, Field(ge=1, le=12)] = 12
    reset_day: Annotated[int, Field(ge=1, le=31)] = 31
    warn_days: Annotated[int, Field(ge=0)] = 30  # "points expiring in N days" event


class Benefit(_Settings):
    """A tier benefit (权益): discount rate, free shipping, member-day price, or a gift
    coupon (value: a coupon template) on the member's birthday or on reaching the tier."""

    code: str
    name: str
    kind: Literal[
        "discount_rate",
        "free_shipping",
        "birthday_gift",
        "upgrade_gift",
        "member_day_price",
        "other",
    ]
    value: str | None = None  # e.g. "0.95", a coupon template code for a gift


class TierDef(_Settings):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    name: str
    threshold: Points  # growth value in the window to reach it
    retain: Points | None = None  # growth value to keep it at period end (保级); default threshold
    points_multiplier: Annotated[Decimal, Field(gt=0)] = Decimal(1)
    benefits: list[Benefit] = Field(default_factory=list)

    @property
    def keep(self) -> int:
        return self.threshold if self.retain is None else self.retain


class TierPolicy(_Settings):
    """Tiers by growth value; see docs/loyalty.md for the period and retention rules."""

    tiers: list[TierDef] = Field(
        default_factory=lambda: [TierDef(code="base", name="Member", threshold=0)]
    )
    window: Literal["rolling_12_months", "calendar_year"] = "rolling_12_months"
    downgrade: Literal["one_tier", "recalculate"] = "one_tier"
    grace_days: Annotated[int, Field(ge=0)] = 0
    growth_per_yuan: Annotated[Decimal, Field(ge=0)] = Decimal(1)

    @model_validator(mode="after")
    def _ordered(self) -> TierPolicy:
        thresholds = [t.threshold for t in self.tiers]
        if not self.tiers or thresholds[0] != 0:
            raise ValueError("the first tier is the base tier, with threshold 0")
        if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
            raise ValueError("tier thresholds must be strictly increasing")
        if len({t.code for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier codes must be unique")
        return self

    def index(self, code: str) -> int:
        for number, tier in enumerate(self.tiers):
            if tier.code == code:
                return number
        raise ValueError(f"no tier {code!r}")


RefundPolicy = Literal["claw_back", "negative_balance"]


class ProgramSettings(_Settings):
    """Everything a program decides, stored as JSON on the program and edited as a whole."""

    channels: list[str] = Field(default_factory=list)  # order sources it covers; empty: all
    earn_rates: list[EarnRate] = Field(
        default_factory=lambda: [EarnRate(points_per_yuan=Decimal(1))]
    )
    exclude_shipping: bool = True
    member_days: list[MemberDay] = Field(default_factory=list)
    max_points_per_order: Points | None = None
    max_order_points_per_day: Points | None = None
    events: list[EventRule] = Field(default_factory=list)
    pending_days: Annotated[int, Field(ge=0)] = 7  # the return window
    # Points of a refunded order already spent: take them from other lots (claw back; what
    # cannot be covered is written off) or let the balance go negative (debt repaid first).
    refund_policy: RefundPolicy = "claw_back"
    expiry: ExpiryPolicy = Field(default_factory=ExpiryPolicy)
    tiers: TierPolicy = Field(default_factory=TierPolicy)
    auto_enrol_on_paid_order: bool = False


class CouponRules(_Settings):
    """What a coupon template gives and where: fixed amount off, percentage off, threshold
    满减 (amount off above a spend), or product-specific (amount or percentage off matching
    items); valid in a window or for N days after issue; optionally only on some channels."""

    kind: Literal["fixed", "percent", "threshold", "product"]
    amount: Annotated[Decimal, Field(gt=0, decimal_places=2)] | None = None
    percent_off: Annotated[Decimal, Field(gt=0, lt=100)] | None = None
    max_discount: Annotated[Decimal, Field(gt=0, decimal_places=2)] | None = None
    threshold: Annotated[Decimal, Field(ge=0, decimal_places=2)] | None = None
    skus: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)  # order sources; empty: any
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: Annotated[int, Field(ge=1)] | None = None
    return_on_refund: bool = True

    @model_validator(mode="after")
    def _complete(self) -> CouponRules:
        if self.kind in ("fixed", "threshold") and self.amount is None:
            raise ValueError(f"a {self.kind} coupon needs an amount")
        if self.kind == "threshold" and self.threshold is None:
            raise ValueError("a threshold coupon needs a threshold")
        if self.kind == "percent" and self.percent_off is None:
            raise ValueError("a percent coupon needs percent_off")
        if self.kind == "product":
            if not (self.skus or self.categories):
                raise ValueError("a product coupon needs skus or categories")
            if (self.amount is None) == (self.percent_off is None):
                raise ValueError("a product coupon needs either amount or percent_off")
        if self.valid_days is None and self.valid_until is None:
            raise ValueError("give valid_days (after issue) or valid_until")
        for moment in (self.valid_from, self.valid_until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("validity times need a time zone offset")
        return self
