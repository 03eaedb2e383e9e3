"""Import contracts: per-record results, run reports, quarantine entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


@dataclass(slots=True, kw_only=True)
class RecordResult:
    """What happened to one submitted record (a plain dataclass: one is made per record)."""

    index: int
    line: int | None = None
    kind: str | None = None
    source: str | None = None
    record_id: str | None = None
    status: Literal["accepted", "quarantined"]
    outcome: Literal["new", "updated", "unchanged"] | None = None
    oneid: str | None = None
    field: str | None = None
    reason: str | None = None
    quarantine_id: int | None = None


class IngestReport(BaseModel):
    import_run_id: int | None = None
    files: list[str] = Field(default_factory=list)
    accepted: int = 0
    quarantined: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    new_persons: int = 0
    merges: int = 0
    blocked_merges: int = 0
    # With the tenant's `identity.probabilistic` on: persons merged by probable matches of
    # arriving customer records, and matches queued for review.
    probable_matches: int = 0
    match_reviews: int = 0
    by_kind: dict[str, int] = Field(default_factory=dict)
    # "online": each batch resolved as it is stored; "bulk": links stored pending, then one
    # batch rebuild (new persons and merges are then the rebuild's: persons that did not
    # exist before the import, and persons that existed before and were merged).
    mode: Literal["online", "bulk"] = "online"
    identity_seconds: float = 0.0  # bulk: the rebuild at the end
    seconds: float = 0.0

    def add(self, results: list[RecordResult], *, persons: int, merges: int, blocked: int) -> None:
        for result in results:
            if result.status == "quarantined":
                self.quarantined += 1
                continue
            self.accepted += 1
            if result.kind:
                self.by_kind[result.kind] = self.by_kind.get(result.kind, 0) + 1
            if result.outcome == "new":
                self.new += 1
            elif result.outcome == "updated":
                self.updated += 1
            else:
                self.unchanged += 1
        self.new_persons += persons
        self.merges += merges
        self.blocked_merges += blocked


class QuarantineEntry(BaseModel):
    id: int
    file: str | None
    line: int | None
    kind: str | None
    source: str | None
    record_id: str | None
    field: str
    reason: str
    raw: str
    status: str
    created_at: datetime


class ImportRunView(BaseModel):
    """One import run: what came in (files, an API batch, a quarantine retry) and counts."""

    id: int
    origin: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: dict[str, Any]
