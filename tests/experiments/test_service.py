"""Importing per-unit CSVs into the store and reporting them, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp
from sqlalchemy.orm import Session
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from siyu import experiments
from siyu.experiments import ExperimentError, MetricKind, MetricSpec, ReportOptions
from siyu.tenants import TenantContext
from support import Files, MakeTenant


def specs(*names: str) -> list[MetricSpec]:
    return experiments.parse_metrics(",".join(names))


def synthetic(seed: int = 1, n: int = 3000) -> list[dict[str, object]]:
    """Three arms with different true rates and spend; one row per unit."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        arm = str(rng.choice(["control", "A", "B"]))
        rate = {"control": 0.10, "A": 0.14, "B": 0.11}[arm]
        bought = int(rng.random() < rate)
        spend = round(float(rng.gamma(2.0, 40.0)), 2) if bought else 0.0
        rows.append({"id": len(rows), "group": arm, "bought": bought, "spend": spend})
    return rows


def load(
    session: Session,
    tenant: TenantContext,
    files: Files,
    rows: list[dict[str, object]],
    **kw: object,
) -> experiments.ImportResult:
    arguments: dict[str, object] = {
        "name": "test",
        "arm_column": "group",
        "control": "control",
        "metrics": specs("bought", "spend"),
    }
    arguments.update(kw)
    return experiments.import_csv(
        session=session,
        tenant=tenant,
        path=files.csv("units.csv", rows),
        **arguments,  # type: ignore[arg-type]
    )


def test_report_matches_independent_computations_on_the_raw_rows(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    rows = synthetic()
    result = load(session, tenant, files, rows)
    assert result.units == len(rows) and result.rejected == 0
    assert [m.kind for m in result.metrics] == [MetricKind.BINARY, MetricKind.CONTINUOUS]
    report = experiments.experiment_report(
        session=session, tenant=tenant, name="test", options=ReportOptions(confidence=0.9)
    )
    assert [a.arm for a in report.arms] == ["control", "A", "B"]
    values = {
        arm: {
            m: np.array([float(r[m]) for r in rows if r["group"] == arm])  # type: ignore[arg-type]
            for m in ("bought", "spend")
        }
        for arm in ("control", "A", "B")
    }
    control = values["control"]
    for arm in report.arms[1:]:
        mine = values[arm.arm]
        assert arm.units == len(mine["bought"])
        bought = arm.vs_control["bought"]
        x1, n1 = int(mine["bought"].sum()), len(mine["bought"])
        x0, n0 = int(control["bought"].sum()), len(control["bought"])
        ci = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", alpha=0.1)
        assert bought.difference_ci == pytest.approx(tuple(ci), rel=1e-9)
        assert bought.p_value == pytest.approx(proportions_ztest([x1, x0], [n1, n0])[1], rel=1e-9)
        assert bought.relative_lift == pytest.approx((x1 / n1) / (x0 / n0) - 1)
        spend = arm.vs_control["spend"]
        welch = sp.ttest_ind(mine["spend"], control["spend"], equal_var=False)
        low, high = welch.confidence_interval(confidence_level=0.9)
        assert spend.difference_ci == pytest.approx((low, high), rel=1e-9)
        assert spend.p_value == pytest.approx(welch.pvalue, rel=1e-9)
        assert arm.metrics["spend"].mean == pytest.approx(mine["spend"].mean())
        assert arm.metrics["spend"].std == pytest.approx(mine["spend"].std(ddof=1))
    # The strong arm stands out, the weak one does not (true lifts 40 % and 10 %).
    assert report.arms[1].vs_control["bought"].significant is True


def test_holm_adjusts_across_arms_per_metric(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    load(session, tenant, files, synthetic(seed=3))
    plain = experiments.experiment_report(
        session=session, tenant=tenant, name="test", options=ReportOptions()
    )
    adjusted = experiments.experiment_report(
        session=session, tenant=tenant, name="test", options=ReportOptions(correction="holm")
    )
    for metric in ("bought", "spend"):
        raw = [arm.vs_control[metric].p_value for arm in plain.arms[1:]]
        assert [a.vs_control[metric].p_value_adjusted for a in plain.arms[1:]] == raw
        assert [a.vs_control[metric].p_value_adjusted for a in adjusted.arms[1:]] == (
            pytest.approx(_holm(raw))
        )


def _holm(p: list[float | None]) -> list[float]:
    """Holm for two p-values, by hand: the smaller ×2, the larger ×1, kept monotone."""
    a, b = (float(v) for v in p)  # type: ignore[arg-type]
    low, high = min(a, b), max(a, b)
    adjusted_low, adjusted_high = min(1.0, 2 * low), max(min(1.0, 2 * low), high)
    return [adjusted_low, adjusted_high] if a <= b else [adjusted_high, adjusted_low]


def test_bad_rows_are_kept_with_line_field_and_reason(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    rows: list[dict[str, object]] = [
        {"group": "control", "bought": 0, "spend": 0},
        {"group": "control", "bought": 1, "spend": "12.5"},
        {"group": "A", "bought": "yes", "spend": 3},  # line 4: not a number
        {"group": "", "bought": 1, "spend": 3},  # line 5: no arm
        {"group": "A", "bought": 2, "spend": 3},  # line 6: not 0/1 for an explicit binary
        {"group": "A", "bought": 1, "spend": "nan"},  # line 7
        {"group": "A", "bought": 1, "spend": 9},
        {"group": "A", "bought": 0, "spend": 0},
    ]
    result = load(session, tenant, files, rows, metrics=specs("bought:binary", "spend"))
    assert result.units == 4 and result.arms == {"A": 2, "control": 2}
    assert [(r.line, r.field) for r in result.first_rejects] == [
        (4, "bought"),
        (5, "group"),
        (6, "bought"),
        (7, "spend"),
    ]
    stored = experiments.list_rejects(session=session, tenant=tenant, name="test")
    assert [r.line for r in stored] == [4, 5, 6, 7]
    assert stored[0].raw == "A,yes,3" and "not a number" in stored[0].reason
    summary = experiments.list_experiments(session=session, tenant=tenant)[0]
    assert (summary.units, summary.rejected) == (4, 4)


def test_kinds_are_inferred_unless_given(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    rows: list[dict[str, object]] = [
        {"group": "control", "bought": 0, "spend": 1},
        {"group": "A", "bought": 1, "spend": 0},
        {"group": "A", "bought": 1, "spend": 2.5},
    ]
    inferred = load(session, tenant, files, rows)
    assert [m.kind for m in inferred.metrics] == [MetricKind.BINARY, MetricKind.CONTINUOUS]
    forced = load(
        session, tenant, files, rows, name="forced", metrics=specs("bought:continuous", "spend")
    )
    assert forced.metrics[0].kind is MetricKind.CONTINUOUS


def test_import_errors_leave_nothing_behind(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    rows = synthetic(n=80)  # 80 distinct ids: more than an arm column can hold
    with pytest.raises(ExperimentError, match="control arm 'nobody'"):
        load(session, tenant, files, rows, control="nobody")
    with pytest.raises(ExperimentError, match="no column 'revenue'"):
        load(session, tenant, files, rows, metrics=specs("revenue"))
    with pytest.raises(ExperimentError, match="distinct arms"):
        load(session, tenant, files, rows, arm_column="id", control="0")
    assert experiments.list_experiments(session=session, tenant=tenant) == []


def test_a_name_is_imported_once_unless_replaced(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    load(session, tenant, files, synthetic(n=100))
    with pytest.raises(ExperimentError, match="exists"):
        load(session, tenant, files, synthetic(n=100))
    again = load(session, tenant, files, synthetic(seed=9, n=60), replace=True)
    assert again.units == 60
    report = experiments.experiment_report(
        session=session, tenant=tenant, name="test", options=ReportOptions()
    )
    assert sum(arm.units for arm in report.arms) == 60
    assert sum(arm.metrics["bought"].n for arm in report.arms) == 60
    experiments.delete_experiment(session=session, tenant=tenant, name="test")
    with pytest.raises(ExperimentError, match="no experiment"):
        experiments.experiment_report(
            session=session, tenant=tenant, name="test", options=ReportOptions()
        )


def test_experiments_belong_to_their_tenant(
    session: Session, tenant: TenantContext, make_tenant: MakeTenant, files: Files
) -> None:
    other = make_tenant()
    load(session, tenant, files, synthetic(n=100))
    load(session, other, files, synthetic(seed=2, n=80))
    mine = experiments.experiment_report(
        session=session, tenant=tenant, name="test", options=ReportOptions()
    )
    theirs = experiments.experiment_report(
        session=session, tenant=other, name="test", options=ReportOptions()
    )
    assert sum(a.units for a in mine.arms) == 100
    assert sum(a.metrics["spend"].n for a in theirs.arms) == 80


def test_gzipped_csv_with_bom_and_blank_lines(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    path = files.text("units.csv.gz", "\ufeffgroup,bought\ncontrol,0\n\nA,1\nA,0\n")
    result = experiments.import_csv(
        session=session,
        tenant=tenant,
        path=path,
        name="gz",
        arm_column="group",
        control="control",
        metrics=specs("bought"),
    )
    assert result.arms == {"A": 2, "control": 1} and result.rejected == 0


def test_variances_stay_exact_when_the_mean_dwarfs_the_spread(
    session: Session, tenant: TenantContext, files: Files
) -> None:
    """Σx² − (Σx)²/n would lose every digit here; deviations from the centre do not."""
    rng = np.random.default_rng(5)
    rows: list[dict[str, object]] = [
        {"group": arm, "amount": 1e9 + float(rng.normal(0, 0.01 if arm == "A" else 0.02))}
        for arm in ("control", "A")
        for _ in range(500)
    ]
    load(session, tenant, files, rows, metrics=specs("amount"))
    report = experiments.experiment_report(
        session=session, tenant=tenant, name="test", options=ReportOptions()
    )
    stored = {float(str(r["amount"])) for r in rows}  # the values as the CSV holds them
    assert len(stored) > 900
    for arm in report.arms:
        values = np.array([float(str(r["amount"])) for r in rows if r["group"] == arm.arm])
        assert arm.metrics["amount"].std == pytest.approx(values.std(ddof=1), rel=1e-6)


def test_at_most_eight_metrics(session: Session, tenant: TenantContext, files: Files) -> None:
    row = {"group": "control", **{f"x{i}": 1 for i in range(9)}}
    with pytest.raises(ExperimentError, match="at most 8 metrics"):
        load(session, tenant, files, [row], metrics=specs(*(f"x{i}" for i in range(9))))
