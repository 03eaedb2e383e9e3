"""Experiment use cases: import a per-unit CSV, report arms against the control, list, delete."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.experiments.funnel import JOURNEY_METRICS, summarise_journey
from siyu.experiments.models import Experiment, ExperimentArm, ExperimentReject
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
from siyu.experiments.storage import UnitWriter, aggregate_units, delete_rows
from siyu.tenants import TenantContext


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
        existing = _find(session, tenant, name)
        if existing is not None:
            if not replace:
                raise ExperimentError(f"experiment {name!r} exists (replace it to import again)")
            delete_rows(session, existing)
        experiment = Experiment(
            tenant_id=tenant.id, name=name, control_arm=control, origin=str(path)
        )
        session.add(experiment)
        session.flush()
        writer = UnitWriter(session, tenant.id, experiment.id, len(metrics), batch_size)
        for row in read_units(path, arm_column=arm_column, metrics=metrics):
            if isinstance(row, BadRow):
                writer.reject(row)
            else:
                writer.add(row.line, row.arm, row.values)
        writer.flush()
        if control not in writer.units:
            known = ", ".join(sorted(writer.units)) or "none"
            raise ExperimentError(f"control arm {control!r} not in column {arm_column!r} ({known})")
        decided = [
            # A metric of unstated kind is binary when every value was 0 or 1.
            spec.model_copy(update={"kind": spec.kind or _kind_of(writer.non_binary[i])})
            for i, spec in enumerate(metrics)
        ]
        experiment.metrics = [m.model_dump(mode="json") for m in decided]
        experiment.centres = writer.centres()
        experiment.units = sum(writer.units.values())
        experiment.rejected = writer.rejected
        for arm in _arms(session, experiment):
            arm.units = writer.units[arm.name]
        session.flush()
    return ImportResult(
        experiment=name,
        units=experiment.units,
        arms=dict(sorted(writer.units.items())),
        metrics=decided,
        rejected=writer.rejected,
        first_rejects=writer.shown,
        seconds=round(time.perf_counter() - started, 3),
    )


def experiment_report(
    *, session: Session, tenant: TenantContext, name: str, options: ReportOptions
) -> ExperimentReport:
    """Each arm of a stored experiment against its control, per metric."""
    experiment = _get(session, tenant, name)
    metrics = [MetricSpec.model_validate(m) for m in experiment.metrics]
    samples = aggregate_units(session, experiment, len(metrics))
    arms = [
        ArmData(
            name=arm.name,
            units=arm.units,
            samples={
                metric.name: samples[(i, arm.id)]
                for i, metric in enumerate(metrics)
                if (i, arm.id) in samples
            },
        )
        for arm in _arms(session, experiment)
    ]
    return build_report(
        experiment=experiment.name,
        control=experiment.control_arm,
        metrics=metrics,
        arms=arms,
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
    experiment = _get(session, tenant, name)
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
    """Remove an experiment with its arms, units and rejected rows; the caller commits."""
    delete_rows(session, _get(session, tenant, name))


def _kind_of(non_binary: bool) -> MetricKind:
    return MetricKind.CONTINUOUS if non_binary else MetricKind.BINARY


def _arms(session: Session, experiment: Experiment) -> Sequence[ExperimentArm]:
    return session.scalars(
        select(ExperimentArm).where(
            ExperimentArm.tenant_id == experiment.tenant_id,
            ExperimentArm.experiment_id == experiment.id,
        )
    ).all()


def _find(session: Session, tenant: TenantContext, name: str) -> Experiment | None:
    return session.scalar(
        select(Experiment).where(Experiment.tenant_id == tenant.id, Experiment.name == name)
    )


def _get(session: Session, tenant: TenantContext, name: str) -> Experiment:
    found = _find(session, tenant, name)
    if found is None:
        raise ExperimentError(f"no experiment {name!r}")
    return found
