"""Audience contracts: definitions, previews, refresh and online reports, changes, overlap."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AudienceName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^/\s](.*[^/\s])?$")]


class AudienceIn(BaseModel):
    name: AudienceName
    rule: dict[str, Any]
    description: str | None = Field(default=None, max_length=512)
    online: bool = True
    refresh_minutes: int | None = Field(default=None, ge=1)


class AudienceUpdate(BaseModel):
    """Fields to change (absent: unchanged)."""

    rule: dict[str, Any] | None = None
    description: str | None = Field(default=None, max_length=512)
    online: bool | None = None
    refresh_minutes: int | None = Field(default=None, ge=1)


class AudienceView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str | None
    rule: dict[str, Any]
    online: bool
    refresh_minutes: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    refreshed_at: datetime | None
    size: int = 0  # current members


class PreviewIn(BaseModel):
    rule: dict[str, Any]
    fresh: bool = Field(default=False, description="export a new snapshot first (slower)")
    as_of: date | None = None


class PreviewResult(BaseModel):
    count: int
    engine: str
    as_of: date
    snapshot_at: datetime  # the data the count is over was exported then
    seconds: float


class AudienceRefreshed(BaseModel):
    name: str
    size: int
    entered: int
    exited: int


class RefreshReport(BaseModel):
    engine: str
    as_of: date
    audiences: list[AudienceRefreshed]
    seconds: float


class OnlineReport(BaseModel):
    persons: int  # live persons evaluated
    entered: int
    exited: int


class MembershipChange(BaseModel):
    """A person entering or leaving an audience (what journeys trigger on)."""

    audience: str
    oneid: str
    change: Literal["entered", "exited"]
    at: datetime
    by: str


class MembershipInterval(BaseModel):
    audience: str
    oneid: str
    entered_at: datetime
    entered_by: str
    exited_at: datetime | None
    exited_by: str | None


class MembershipDay(BaseModel):
    """One tenant-local day of an audience's history: who entered, who left, the size after."""

    day: date
    entered: int
    exited: int
    size: int


class AudienceSize(BaseModel):
    name: str
    size: int


class OverlapPair(BaseModel):
    a: str
    b: str
    both: int
    only_a: int
    only_b: int


class OverlapReport(BaseModel):
    audiences: list[AudienceSize]
    pairs: list[OverlapPair]
