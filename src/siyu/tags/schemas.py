"""Tag contracts: tags and groups, a person's tags with provenance, reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GivenBy = Literal["rule", "user", "import", "journey"]


class TagIn(BaseModel):
    """A new tag: manual without a rule, a rule tag with one (see docs/rules.md)."""

    key: str = Field(description="name, or group=value for a value of a tag group")
    rule: dict[str, Any] | None = None
    description: str | None = Field(default=None, max_length=512)
    refresh_minutes: int | None = Field(
        default=None, ge=1, description="rule tags: recompute when this old (run-due)"
    )


class TagView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    tag_group: str | None
    kind: Literal["rule", "manual"]
    rule: dict[str, Any] | None
    position: int
    refresh_minutes: int | None
    description: str | None
    created_by: str
    created_at: datetime
    computed_at: datetime | None
    holders: int = 0


class TagGroupView(BaseModel):
    name: str
    exclusive: bool
    description: str | None
    values: list[str]


class PersonTag(BaseModel):
    """A tag a person holds now: when it was given and by which rule, user or import."""

    key: str
    tag_group: str | None
    kind: Literal["rule", "manual"]
    given_at: datetime
    given_by_kind: GivenBy
    given_by: str


class TagInterval(BaseModel):
    """One period a person held a tag (open while `removed_at` is None)."""

    key: str
    oneid: str
    given_at: datetime
    given_by_kind: GivenBy
    given_by: str
    removed_at: datetime | None
    removed_by_kind: str | None
    removed_by: str | None


class GiveReport(BaseModel):
    given: int = 0
    already: int = 0  # held already: nothing changed
    replaced: int = 0  # another value of the exclusive group was removed
    unknown: list[str] = Field(default_factory=list)  # OneIDs that are no person


class BadRow(BaseModel):
    line: int
    reason: str
    row: dict[str, str]


class ImportReport(BaseModel):
    rows: int = 0
    given: int = 0
    already: int = 0
    replaced: int = 0
    bad: list[BadRow] = Field(default_factory=list)


class TagComputed(BaseModel):
    key: str
    holders: int
    given: int
    removed: int


class TagComputeReport(BaseModel):
    engine: str
    as_of: date
    tags: list[TagComputed]
    seconds: float
