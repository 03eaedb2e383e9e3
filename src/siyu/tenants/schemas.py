"""Tenant-level contracts: settings, identity rules, the tenant context services receive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, model_validator


class MatchRules(BaseModel):
    """Probabilistic matching: which scored pairs merge and which wait for a person."""

    # A pair of persons whose best record pair reaches this match probability merges.
    accept_probability: float = Field(default=0.9, gt=0, le=1)
    # From here up to `accept_probability` the pair goes to the review queue.
    review_probability: float = Field(default=0.5, gt=0, le=1)
    # Blocks (records sharing a blocking key) larger than this are not compared.
    max_block: int = Field(default=300, ge=2)


class IdentityRules(BaseModel):
    """Merge guards: a merge that would break one is recorded for review, not applied."""

    # Distinct values of one identifier type a single person may hold. Phones are counted
    # by their SHA-256, so raw and hashed sources count the same phone once.
    max_per_type: dict[str, int] = Field(
        default_factory=lambda: {
            "phone_sha256": 3,
            "email": 5,
            "wechat_unionid": 1,
            "member_no": 2,
        }
    )
    # Component-size cap, counted in customer records (source profiles), not orders/events.
    max_customer_records: int = 50
    # Identifier types that never join two otherwise-identified persons.
    weak_types: list[str] = Field(default_factory=lambda: ["device_id"])
    # Tenant-defined identifier types: name -> normalisation ("as_is", "lower", "upper").
    custom_types: dict[str, str] = Field(default_factory=dict)
    # Score arriving customer records against their block (after `siyu identity match`
    # trained a model): pairs no strong identifier links merge or go to review.
    probabilistic: bool = False
    matching: MatchRules = Field(default_factory=MatchRules)


class FieldRule(BaseModel):
    """How a person's merged attribute is chosen from their customer records."""

    strategy: str = "priority"  # "priority": first source in `sources` that has it; else newest
    sources: list[str] = Field(default_factory=list)


def _ascending(name: str, values: Sequence[Decimal | int]) -> None:
    if len(values) != 4 or any(a >= b for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{name} needs 4 strictly ascending cut points, got {values}")


class LifecycleWindows(BaseModel):
    """Lifecycle stages from purchase dates, in calendar days before the day computed for.

    prospect: no purchase; new: first purchase within `new_days`; active: last purchase
    within `active_days`; silent: within `churn_days`; churned: longer ago.
    """

    new_days: int = Field(default=90, ge=0)
    active_days: int = Field(default=180, ge=1)
    churn_days: int = Field(default=365, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleWindows:
        if not self.new_days <= self.active_days < self.churn_days:
            raise ValueError("lifecycle windows need new_days <= active_days < churn_days")
        return self


class RfmRules(BaseModel):
    """RFM scores 1-5 among buyers: by exact quantile (rank), or by fixed cut points."""

    mode: Literal["quantile", "fixed"] = "quantile"
    # Fixed mode: recency <= 30 days scores 5, ..., more than 365 days scores 1.
    recency_days: list[int] = Field(default_factory=lambda: [30, 90, 180, 365])
    # Fixed mode: score 1 + the number of cut points the value reaches.
    frequency: list[int] = Field(default_factory=lambda: [2, 3, 5, 8])
    monetary_yuan: list[Decimal] = Field(
        default_factory=lambda: [Decimal(v) for v in ("200", "500", "1000", "3000")]
    )

    @model_validator(mode="after")
    def _cut_points(self) -> RfmRules:
        _ascending("recency_days", self.recency_days)
        _ascending("frequency", self.frequency)
        _ascending("monetary_yuan", self.monetary_yuan)
        return self


class TraitRules(BaseModel):
    lifecycle: LifecycleWindows = Field(default_factory=LifecycleWindows)
    rfm: RfmRules = Field(default_factory=RfmRules)


class TenantSettings(BaseModel):
    timezone: str = "Asia/Shanghai"
    identity: IdentityRules = Field(default_factory=IdentityRules)
    # Default: trust the brand's own member data first, then platforms, then the newest value.
    profile_source_priority: list[str] = Field(
        default_factory=lambda: ["pos", "wechat_mp", "wecom", "tmall", "jd", "douyin"]
    )
    profile_field_rules: dict[str, FieldRule] = Field(default_factory=dict)
    traits: TraitRules = Field(default_factory=TraitRules)


@dataclass(frozen=True)
class TenantContext:
    """Who a service call acts for, with that tenant's settings already loaded."""

    id: int
    name: str
    settings: TenantSettings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)


@dataclass(frozen=True)
class KeyGrant:
    """What a presented API key grants: its tenant and role (no secret kept)."""

    key_id: int
    tenant_id: int
    role: str


class ApiKeyInfo(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    id: int
    name: str
    role: str
    key: str  # shown once; only its hash is stored
