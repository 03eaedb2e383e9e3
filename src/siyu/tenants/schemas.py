"""Tenant-level contracts: settings, identity rules, the tenant context services receive."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field


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


class TenantSettings(BaseModel):
    timezone: str = "Asia/Shanghai"
    identity: IdentityRules = Field(default_factory=IdentityRules)
    # Default: trust the brand's own member data first, then platforms, then the newest value.
    profile_source_priority: list[str] = Field(
        default_factory=lambda: ["pos", "wechat_mp", "wecom", "tmall", "jd", "douyin"]
    )
    profile_field_rules: dict[str, FieldRule] = Field(default_factory=dict)


@dataclass(frozen=True)
class TenantContext:
    """Who a service call acts for, with that tenant's settings already loaded."""

    id: int
    name: str
    settings: TenantSettings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)


class ApiKeyCreated(BaseModel):
    id: int
    name: str
    role: str
    key: str  # shown once; only its hash is stored
