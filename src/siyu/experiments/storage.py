"""Writing units in bulk and reading back each arm's sufficient statistics in one scan."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from siyu.experiments.models import (
    METRIC_SLOTS,
    Experiment,
    ExperimentArm,
    ExperimentReject,
    ExperimentUnit,
)
from siyu.experiments.readers import BadRow
from siyu.experiments.report import ExperimentError
from siyu.experiments.schemas import RejectedRow
from siyu.experiments.stats import Sample
from siyu.store.base import table
from siyu.store.bulk import insert_many

MAX_ARMS = 50  # more distinct values than this means the arm column is not an arm column
SHOWN_REJECTS = 20


class UnitWriter:
    """Buffers units and rejected rows of one import, writing them in bulk batches."""

    def __init__(
        self, session: Session, tenant_id: int, experiment_id: int, metrics: int, batch: int
    ) -> None:
        if metrics > METRIC_SLOTS:
            raise ExperimentError(f"at most {METRIC_SLOTS} metrics per experiment")
        self.session, self.batch = session, batch
        self.scope = {"tenant_id": tenant_id, "experiment_id": experiment_id}
        self.columns = [f"m{i}" for i in range(metrics)]
        self.arm_ids: dict[str, int] = {}
        self.units: dict[str, int] = {}
        self.sums = [0.0] * metrics
        self.non_binary = [False] * metrics
        self.rows: list[dict[str, Any]] = []
        self.rejects: list[dict[str, Any]] = []
        self.rejected = 0
        self.shown: list[RejectedRow] = []

    def add(self, line: int, arm: str, values: tuple[float, ...]) -> None:
        arm_id = self.arm_ids.get(arm) or self._new_arm(arm)
        self.units[arm] += 1
        row: dict[str, Any] = {**self.scope, "arm_id": arm_id, "line": line}
        row.update(zip(self.columns, values, strict=True))
        self.rows.append(row)
        for i, value in enumerate(values):
            self.sums[i] += value
            if value != 0.0 and value != 1.0:
                self.non_binary[i] = True
        if len(self.rows) >= self.batch:
            self.flush()

    def reject(self, bad: BadRow) -> None:
        self.rejected += 1
        if len(self.shown) < SHOWN_REJECTS:
            self.shown.append(
                RejectedRow(line=bad.line, field=bad.field, reason=bad.reason, raw=bad.raw)
            )
        self.rejects.append(
            {
                **self.scope,
                "line": bad.line,
                "field": bad.field,
                "reason": bad.reason,
                "raw": bad.raw,
            }
        )
        if len(self.rejects) >= self.batch:
            self.flush()

    def flush(self) -> None:
        insert_many(self.session, ExperimentUnit, self.rows)
        insert_many(self.session, ExperimentReject, self.rejects)
        self.rows.clear()
        self.rejects.clear()

    def centres(self) -> list[float]:
        """Each metric's mean over all units written."""
        total = sum(self.units.values())
        return [s / total if total else 0.0 for s in self.sums]

    def _new_arm(self, name: str) -> int:
        if len(self.arm_ids) >= MAX_ARMS:
            raise ExperimentError(
                f"more than {MAX_ARMS} distinct arms: is the arm column really the arm column?"
            )
        arm = ExperimentArm(**self.scope, name=name)
        self.session.add(arm)
        self.session.flush()
        self.arm_ids[name] = arm.id
        self.units[name] = 0
        return arm.id


def aggregate_units(
    session: Session, experiment: Experiment, metrics: int
) -> dict[tuple[int, int], Sample]:
    """(metric index, arm id) → count, sum and squared deviations, in one scan.

    Squared deviations are summed around each metric's overall mean c (stored at import):
    M2 = Σ(x − c)² − (Σ(x − c))²/n is exact algebra, and with c near the arm's mean it has
    none of the cancellation that Σx² − (Σx)²/n suffers when the mean dwarfs the spread.
    Every unit has every metric (rows missing one are rejected), so one count serves all.
    """
    units = table(ExperimentUnit)
    centres = [float(c) for c in experiment.centres]
    aggregates: list[ColumnElement[Any]] = [func.count()]
    for i in range(metrics):
        deviation = units.c[f"m{i}"] - centres[i]
        aggregates += [func.sum(deviation), func.sum(deviation * deviation)]
    query = (
        select(units.c.arm_id, *aggregates)
        .where(units.c.tenant_id == experiment.tenant_id, units.c.experiment_id == experiment.id)
        .group_by(units.c.arm_id)
    )
    found: dict[tuple[int, int], Sample] = {}
    for arm_id, n, *sums in session.execute(query):
        for i in range(metrics):
            shifted, squares = float(sums[2 * i]), float(sums[2 * i + 1])
            found[(i, arm_id)] = Sample(
                n=n, total=shifted + n * centres[i], m2=max(0.0, squares - shifted**2 / n)
            )
    return found


def delete_rows(session: Session, experiment: Experiment) -> None:
    """Remove an experiment with its arms, units and rejected rows."""
    for model in (ExperimentUnit, ExperimentReject, ExperimentArm):
        rows = table(model)
        session.execute(
            delete(rows).where(
                rows.c.tenant_id == experiment.tenant_id, rows.c.experiment_id == experiment.id
            )
        )
    session.delete(experiment)
    session.flush()
