"""Journeys: lifecycle automation as data, run by a durable engine (`siyu worker`).

The ingest path calls `on_records(session=..., tenant=..., records=[(kind, oneid,
record), ...])` after a batch is stored and resolved; see docs/journeys.md.
"""

from siyu.journeys.adapters import (
    MemoryAudiences,
    MemoryLoyalty,
    MemoryTags,
    PortNotWiredError,
    memory_ports,
    unwired_ports,
)
from siyu.journeys.conditions import Condition, evaluate
from siyu.journeys.engine import run_due
from siyu.journeys.ports import (
    AudienceChanges,
    AudiencePort,
    Expiring,
    Grant,
    LoyaltyPort,
    Ports,
    TagPort,
)
from siyu.journeys.schemas import (
    EnrolmentView,
    EnrolResult,
    JourneyDefinition,
    JourneyDetail,
    JourneyView,
    RunReport,
    TraceEntry,
)
from siyu.journeys.service import (
    JourneyError,
    create_journey,
    enrol,
    get_enrolment,
    get_journey,
    list_dead_letters,
    list_enrolments,
    list_journeys,
    load_definition,
    pause_journey,
    retry_dead_letter,
    start_journey,
    update_journey,
)
from siyu.journeys.steps import split_point
from siyu.journeys.triggers import on_records, run_triggers
from siyu.journeys.wired import DomainAudiences, DomainLoyalty, DomainTags, wired_ports
from siyu.journeys.worker import WorkerOptions, WorkerTotals, run_worker, worker_id

__all__ = [
    "AudienceChanges",
    "AudiencePort",
    "Condition",
    "DomainAudiences",
    "DomainLoyalty",
    "DomainTags",
    "EnrolResult",
    "EnrolmentView",
    "Expiring",
    "Grant",
    "JourneyDefinition",
    "JourneyDetail",
    "JourneyError",
    "JourneyView",
    "LoyaltyPort",
    "MemoryAudiences",
    "MemoryLoyalty",
    "MemoryTags",
    "PortNotWiredError",
    "Ports",
    "RunReport",
    "TagPort",
    "TraceEntry",
    "WorkerOptions",
    "WorkerTotals",
    "create_journey",
    "enrol",
    "evaluate",
    "get_enrolment",
    "get_journey",
    "list_dead_letters",
    "list_enrolments",
    "list_journeys",
    "load_definition",
    "memory_ports",
    "on_records",
    "pause_journey",
    "retry_dead_letter",
    "run_due",
    "run_triggers",
    "run_worker",
    "split_point",
    "start_journey",
    "unwired_ports",
    "update_journey",
    "wired_ports",
    "worker_id",
]
