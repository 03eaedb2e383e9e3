"""Experiment use cases: import a per-unit CSV, report arms against the control, list, delete."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from siyu.experiments.funnel import JOURNEY_METRICS, summarise_journey
from siyu.experiments.models import (
    Experiment,
    ExperimentArm,
    ExperimentOutcome,
    ExperimentReject,
)
from siyu.experiments.readers import BadRow, read_units
from siyu.experiments.report import ArmData, ExperimentError, build_report
from siyu.experiments.schemas import (
    ExperimentReport,
    ExperimentSummary,
    ImportResult,
    JourneyReport,
    MetricKind,
    MetricSpec,
    PersonOutcome,
    RejectedRow,
    ReportOptions,
)
from siyu.experiments.stats import Sample
from siyu.store.base import table
from siyu.store.bulk import insert_many
from siyu.tenants import TenantContext

MAX_ARMS = 50  # more distinct values than this means the arm column is not an arm column
SHOWN_REJECTS = 20


def import_csv(
    *,
    session: Session,
    tenant: TenantContext,
    path: Path,
    name: str,
    arm_column: str,
    control: str,
    metrics: Sequence[MetricSpec],
    replace: bool = False,
    batch_size: int = 10_000,
) -> ImportResult:
    """Import one row per randomised unit as experiment `name`; the caller commits."""
    started = time.perf_counter()
    if not metrics:
        raise ExperimentError("name at least one metric column")
    # A savepoint: an import that fails half-way leaves nothing in the caller's transaction.
    with session.begin_nested():
        load, decided = _import(
            session, tenant, path, name, arm_column, control, metrics, replace, batch_size
        )
    return ImportResult(
        experiment=name,
        units=sum(load.units.values()),
        arms=dict(sorted(load.units.items())),
        metrics=decided,
        rejected=load.rejected,
        first_rejects=load.shown,
        seconds=round(time.perf_counter() - started, 3),
    )


def experiment_report(
    *, session: Session, tenant: TenantContext, name: str, options: ReportOptions
) -> ExperimentReport:
    """Each arm of a stored experiment against its control, per metric."""
    experiment = _find(session, tenant, name)
    if experiment is None:
        raise ExperimentError(f"no experiment {name!r}")
    metrics = [MetricSpec.model_validate(m) for m in experiment.metrics]
    arms = session.scalars(
        select(ExperimentArm).where(
            ExperimentArm.tenant_id == tenant.id, ExperimentArm.experiment_id == experiment.id
        )
    ).all()
    samples = _aggregate(session, tenant, experiment.id)
    return build_report(
        experiment=experiment.name,
        control=experiment.control_arm,
        metrics=metrics,
        arms=[
            ArmData(
                name=arm.name,
                units=arm.units,
                samples={
                    m.name: samples[(i, arm.id)]
                    for i, m in enumerate(metrics)
                    if (i, arm.id) in samples
                },
            )
            for arm in arms
        ],
        options=options,
    )


def journey_report(
    *,
    journey: str,
    persons: Iterable[PersonOutcome],
    steps: Sequence[str] = (),
    control: str = "holdout",
    options: ReportOptions | None = None,
) -> JourneyReport:
    """A journey's per-step funnel and its arms' conversion and revenue against the control."""
    # `persons` is consumed once, as a stream: journeys can feed it from a query over its
    # enrolments without holding them all.
    arms, funnel = summarise_journey(persons=persons, steps=steps, control=control)
    results = build_report(
        experiment=journey,
        control=control,
        metrics=JOURNEY_METRICS,
        arms=arms,
        options=options or ReportOptions(),
    )
    return JourneyReport(journey=journey, funnel=funnel, results=results)


def list_experiments(*, session: Session, tenant: TenantContext) -> list[ExperimentSummary]:
    """The tenant's experiments, newest first."""
    found = session.scalars(
        select(Experiment)
        .where(Experiment.tenant_id == tenant.id)
        .order_by(Experiment.created_at.desc(), Experiment.id.desc())
    )
    return [
        ExperimentSummary(
            name=e.name,
            control=e.control_arm,
            metrics=[MetricSpec.model_validate(m) for m in e.metrics],
            units=e.units,
            rejected=e.rejected,
            origin=e.origin,
            created_at=e.created_at,
        )
        for e in found
    ]


def list_rejects(*, session: Session, tenant: TenantContext, name: str) -> list[RejectedRow]:
    """The rows of an experiment's import that could not be used, by line."""
    experiment = _find(session, tenant, name)
    if experiment is None:
        raise ExperimentError(f"no experiment {name!r}")
    found = session.scalars(
        select(ExperimentReject)
        .where(
            ExperimentReject.tenant_id == tenant.id,
            ExperimentReject.experiment_id == experiment.id,
        )
        .order_by(ExperimentReject.line)
    )
    return [RejectedRow(line=r.line, field=r.field, reason=r.reason, raw=r.raw) for r in found]


def delete_experiment(*, session: Session, tenant: TenantContext, name: str) -> None:
    """Remove an experiment with its arms, outcomes and rejected rows; the caller commits."""
    experiment = _find(session, tenant, name)
    if experiment is None:
        raise ExperimentError(f"no experiment {name!r}")
    _delete(session, tenant, experiment.id)


class _Load:
    """Buffers outcome rows and rejects, writing them in bulk every `batch_size` units."""

    def __init__(
        self, session: Session, tenant: TenantContext, experiment_id: int, width: int, batch: int
    ) -> None:
        self.session, self.tenant, self.experiment_id = session, tenant, experiment_id
        self.batch = batch
        self.arms: dict[str, ExperimentArm] = {}
        self.units: dict[str, int] = {}
        self.non_binary = [False] * width
        self.rows: list[dict[str, Any]] = []
        self.rejects: list[dict[str, Any]] = []
        self.rejected = 0
        self.shown: list[RejectedRow] = []

    def add(self, line: int, arm_name: str, values: tuple[float, ...]) -> None:
        arm = self.arms.get(arm_name) or self._new_arm(arm_name)
        self.units[arm_name] += 1
        for metric, value in enumerate(values):
            if value != 0.0 and value != 1.0:
                self.non_binary[metric] = True
            self.rows.append(
                {
                    "tenant_id": self.tenant.id,
                    "experiment_id": self.experiment_id,
                    "arm_id": arm.id,
                    "line": line,
                    "metric": metric,
                    "value": value,
                }
            )
        if len(self.rows) >= self.batch * len(values):
            self.flush()

    def reject(self, bad: BadRow) -> None:
        self.rejected += 1
        if len(self.shown) < SHOWN_REJECTS:
            self.shown.append(
                RejectedRow(line=bad.line, field=bad.field, reason=bad.reason, raw=bad.raw)
            )
        self.rejects.append(
            {
                "tenant_id": self.tenant.id,
                "experiment_id": self.experiment_id,
                "line": bad.line,
                "field": bad.field,
                "reason": bad.reason,
                "raw": bad.raw,
            }
        )
        if len(self.rejects) >= self.batch:
            self.flush()

    def flush(self) -> None:
        insert_many(self.session, ExperimentOutcome, self.rows)
        insert_many(self.session, ExperimentReject, self.rejects)
        self.rows.clear()
        self.rejects.clear()

    def _new_arm(self, name: str) -> ExperimentArm:
        if len(self.arms) >= MAX_ARMS:
            raise ExperimentError(
                f"more than {MAX_ARMS} distinct arms: is the arm column really the arm column?"
            )
        arm = ExperimentArm(tenant_id=self.tenant.id, experiment_id=self.experiment_id, name=name)
        self.session.add(arm)
        self.session.flush()
        self.arms[name] = arm
        self.units[name] = 0
        return arm


def _import(
    session: Session,
    tenant: TenantContext,
    path: Path,
    name: str,
    arm_column: str,
    control: str,
    metrics: Sequence[MetricSpec],
    replace: bool,
    batch_size: int,
) -> tuple[_Load, list[MetricSpec]]:
    existing = _find(session, tenant, name)
    if existing is not None:
        if not replace:
            raise ExperimentError(f"experiment {name!r} exists (replace it to import again)")
        _delete(session, tenant, existing.id)
    experiment = Experiment(
        tenant_id=tenant.id, name=name, control_arm=control, metrics=[], origin=str(path)
    )
    session.add(experiment)
    session.flush()
    load = _Load(session, tenant, experiment.id, len(metrics), batch_size)
    for row in read_units(path, arm_column=arm_column, metrics=metrics):
        if isinstance(row, BadRow):
            load.reject(row)
        else:
            load.add(row.line, row.arm, row.values)
    load.flush()
    if control not in load.arms:
        known = ", ".join(sorted(load.arms)) or "none"
        raise ExperimentError(f"control arm {control!r} not in column {arm_column!r} ({known})")
    decided = [
        MetricSpec(
            name=spec.name,
            kind=spec.kind or (MetricKind.CONTINUOUS if load.non_binary[i] else MetricKind.BINARY),
        )
        for i, spec in enumerate(metrics)
    ]
    experiment.metrics = [m.model_dump(mode="json") for m in decided]
    experiment.units = sum(load.units.values())
    experiment.rejected = load.rejected
    for arm_name, arm in load.arms.items():
        arm.units = load.units[arm_name]
    session.flush()
    return load, decided


def _aggregate(
    session: Session, tenant: TenantContext, experiment_id: int
) -> dict[tuple[int, int], Sample]:
    """(metric, arm id) → count, sum and squared deviations, in two passes for accuracy."""
    o = table(ExperimentOutcome)
    scope = and_(o.c.tenant_id == tenant.id, o.c.experiment_id == experiment_id)
    means = (
        select(o.c.metric, o.c.arm_id, func.avg(o.c.value).label("mean"))
        .where(scope)
        .group_by(o.c.metric, o.c.arm_id)
        .subquery()
    )
    deviation = o.c.value - means.c.mean
    query = (
        select(
            o.c.metric,
            o.c.arm_id,
            func.count(),
            func.sum(o.c.value),
            func.sum(deviation * deviation),
        )
        .join(means, and_(o.c.metric == means.c.metric, o.c.arm_id == means.c.arm_id))
        .where(scope)
        .group_by(o.c.metric, o.c.arm_id)
    )
    return {
        (metric, arm_id): Sample(n=int(n), total=float(total), m2=float(m2))
        for metric, arm_id, n, total, m2 in session.execute(query)
    }


def _find(session: Session, tenant: TenantContext, name: str) -> Experiment | None:
    return session.scalar(
        select(Experiment).where(Experiment.tenant_id == tenant.id, Experiment.name == name)
    )


def _delete(session: Session, tenant: TenantContext, experiment_id: int) -> None:
    for model in (ExperimentOutcome, ExperimentReject, ExperimentArm):
        rows = table(model)
        session.execute(
            delete(rows).where(rows.c.tenant_id == tenant.id, rows.c.experiment_id == experiment_id)
        )
    session.execute(
        delete(Experiment).where(Experiment.tenant_id == tenant.id, Experiment.id == experiment_id)
    )
