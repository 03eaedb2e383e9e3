"""Identity contracts: what resolution takes and reports, explanations, the identity map."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from siyu.identity.resolver import Key


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordIdentity:
    """A record to resolve: which record it is and its normalised matching keys.

    A plain dataclass, not a pydantic model: the importer makes one per record and the
    keys are already normalised and validated by then.
    """

    kind: str
    source: str
    record_id: str
    keys: tuple[Key, ...]


class ResolveReport(BaseModel):
    oneids: list[str] = Field(default_factory=list)  # one per input record, in order
    new_persons: int = 0
    merges: int = 0
    blocked: int = 0
    relinked: int = 0  # existing records whose identifiers changed


class RecordRef(BaseModel):
    kind: str
    source: str
    record_id: str
    seq: int


class IdentifierView(BaseModel):
    id_type: str
    value: str
    strength: str  # strong | weak


class ChangeView(BaseModel):
    action: str
    kept_oneid: str
    retired_oneid: str | None
    identifier: str | None
    record: str | None
    actor: str
    at: datetime
    detail: dict[str, object] = Field(default_factory=dict)


class MergeView(BaseModel):
    """One merge: `retired_oneid` now resolves to `kept_oneid` (or its own successor)."""

    id: int
    kept_oneid: str
    retired_oneid: str
    at: datetime


class BlockedView(BaseModel):
    id: int
    record: str | None
    oneid: str
    other_oneid: str
    identifier: str
    guard: str
    status: str  # open | approved | dismissed
    at: datetime
    other_record: str | None = None  # the other person's record a decision is about
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class BlockedDecision(BaseModel):
    """A reviewer's decision on a blocked merge and where the two records now are."""

    id: int
    status: str  # approved | dismissed
    oneid: str  # the record's person now
    other_oneid: str  # the other record's person now (the same OneID when approved)
    retired_oneids: list[str] = Field(default_factory=list)  # merged away by the approval


class PersonExplanation(BaseModel):
    oneid: str
    requested: str  # the OneID asked about (may be retired)
    retired_oneids: list[str]
    records: list[RecordRef]
    identifiers: list[IdentifierView]
    changes: list[ChangeView]
    blocked: list[BlockedView]
    why: list[str]  # plain sentences: which identifier joined which records


class DetachResult(BaseModel):
    record: RecordRef
    old_oneid: str
    new_oneid: str
    persons: dict[str, int]  # resulting persons in the affected area -> record counts


class RebuildReport(BaseModel):
    """What a batch rebuild found and changed (`siyu identity rebuild`)."""

    run_id: int | None  # None for a dry run (nothing written)
    engine: str
    method: str  # fast (DuckDB + scipy) | portable (Ibis label propagation)
    dry_run: bool
    records: int
    persons: int
    strong_components: int
    full_components: int
    replayed_components: int  # where a guard, cannot-link or weak identifier could bite
    replayed_records: int
    created: int  # persons with a OneID issued by this run
    merged: int  # OneIDs retired into another person
    split: int  # old persons whose records now belong to several persons
    unchanged: int  # persons with exactly the records they had
    moved_records: int  # records whose OneID changed
    blocked: int  # merges a guard refused (listed for review)
    seconds: float
    export_seconds: float
    components_seconds: float
    replay_seconds: float
    naming_seconds: float
    write_seconds: float
