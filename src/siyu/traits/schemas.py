"""Trait contracts: a person's traits and what a compute run did."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

LifecycleStage = Literal["prospect", "new", "active", "silent", "churned"]
LIFECYCLE_STAGES: tuple[LifecycleStage, ...] = ("prospect", "new", "active", "silent", "churned")


class PersonTraitsView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    oneid: str
    first_order_at: datetime | None
    last_order_at: datetime | None
    first_order_day: date | None
    last_order_day: date | None
    order_count: int
    net_spend: Decimal
    aov: Decimal | None
    avg_interval_days: int | None
    favourite_source: str | None
    favourite_category: str | None
    favourite_store: str | None
    is_member: bool
    rfm_r: int | None
    rfm_f: int | None
    rfm_m: int | None
    lifecycle_stage: str
    computed_at: datetime | None
    updated_at: datetime


class ComputeReport(BaseModel):
    run_id: int
    engine: str
    mode: Literal["full", "incremental"]
    as_of: date
    persons: int  # live persons with traits after the run
    recomputed: int  # persons whose aggregates were recomputed from the facts
    written: int  # rows inserted or changed in the store
    deleted: int  # rows of persons that no longer exist (merged away)
    seconds: float
    export_seconds: float
    engine_seconds: float
    write_seconds: float
