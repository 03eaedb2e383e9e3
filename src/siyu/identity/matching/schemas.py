"""Matching contracts: run reports, review items and decisions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class MatchRunReport(BaseModel):
    records: int = 0  # customer records compared
    candidates: int = 0  # pairs blocking proposed (including pairs already one person)
    scored: int = 0  # candidate pairs in different persons, scored
    model_id: int | None = None
    accepted: int = 0  # pairs of persons accepted (automatically) this run
    merged: int = 0  # ... that are now one person
    blocked: int = 0  # ... that a merge guard kept apart (listed in `identity blocked`)
    review: int = 0  # new review items
    obsolete: int = 0  # review items whose records became one person
    persons_before: int = 0  # persons holding customer records
    persons_after: int = 0
    skipped: str | None = None  # why nothing was scored (e.g. no model yet)
    seconds: float = 0.0


class ReviewRecord(BaseModel):
    seq: int
    source: str
    record_id: str
    oneid: str  # its person now
    fields: dict[str, str] = Field(default_factory=dict)


class ReviewItem(BaseModel):
    id: int
    status: str
    probability: float
    weight: float
    rule: str
    comparisons: dict[str, dict[str, object]]
    a: ReviewRecord
    b: ReviewRecord
    proposed_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class ReviewDecision(BaseModel):
    id: int
    status: str  # accepted | rejected
    oneid_a: str  # the records' persons after the decision
    oneid_b: str
    merged: bool
