"""`siyu experiment ...`: import a randomised test, report each arm's lift over control."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from siyu import experiments
from siyu.cli.common import console, fail, options, print_json, runtime
from siyu.tenants import TenantContext

experiment_app = typer.Typer(
    help="Experiments: lift over control with confidence intervals and p-values.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@experiment_app.command("import-csv")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="one row per unit")],
    arm_column: Annotated[str, typer.Option(help="the column naming each unit's arm")],
    control: Annotated[str, typer.Option(help="the control arm's value in that column")],
    metrics: Annotated[
        str, typer.Option(help="columns, e.g. visit,conversion,spend (kind: spend:continuous)")
    ],
    name: Annotated[str | None, typer.Option(help="experiment name (default: file name)")] = None,
    replace: Annotated[bool, typer.Option(help="replace an experiment of that name")] = False,
    as_json: JsonOption = False,
) -> None:
    """Import per-unit outcomes (CSV, optionally .gz); bad rows are kept apart and counted."""
    try:
        specs = experiments.parse_metrics(metrics)
    except ValueError as error:
        fail(str(error))
        return
    with _service() as (session, tenant):
        result = experiments.import_csv(
            session=session,
            tenant=tenant,
            path=file,
            name=name or file.name.split(".")[0],
            arm_column=arm_column,
            control=control,
            metrics=specs,
            replace=replace,
        )
        session.commit()
    if as_json:
        print_json(result)
        return
    arms = ", ".join(f"{arm} {units:,}" for arm, units in result.arms.items())
    kinds = ", ".join(f"{m.name} ({m.kind})" for m in result.metrics)
    console.print(f"experiment [bold]{result.experiment}[/bold]: {result.units:,} units ({arms})")
    console.print(f"metrics: {kinds} · {result.seconds:.2f} s")
    if result.rejected:
        console.print(
            f"[yellow]{result.rejected:,} rows rejected[/yellow] (siyu experiment rejects)"
        )
        for bad in result.first_rejects:
            console.print(f"  line {bad.line} · {bad.field}: {bad.reason}")


@experiment_app.command("report")
def report(
    name: str,
    confidence: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.95,
    interval: Annotated[str, typer.Option(help="proportions CI: newcombe or wald")] = "newcombe",
    binary_test: Annotated[str, typer.Option(help="proportions: z, chi2 or fisher")] = "z",
    holm: Annotated[bool, typer.Option(help="Holm-adjust p-values across arms")] = False,
    as_json: JsonOption = False,
) -> None:
    """Each arm against the control: difference, relative lift, CIs and p-values."""
    try:
        chosen = experiments.ReportOptions.model_validate(
            {
                "confidence": confidence,
                "interval": interval,
                "binary_test": binary_test,
                "correction": "holm" if holm else "none",
            }
        )
    except ValueError as error:
        fail(str(error))
        return
    with _service() as (session, tenant):
        found = experiments.experiment_report(
            session=session, tenant=tenant, name=name, options=chosen
        )
    if as_json:
        print_json(found)
        return
    _print_report(found)


@experiment_app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """The experiments of the tenant."""
    with _service() as (session, tenant):
        found = experiments.list_experiments(session=session, tenant=tenant)
    if as_json:
        print_json(found)
        return
    table = Table("name", "control", "units", "rejected", "metrics", "imported from")
    for e in found:
        metrics = ", ".join(m.name for m in e.metrics)
        table.add_row(e.name, e.control, f"{e.units:,}", str(e.rejected), metrics, e.origin)
    console.print(table)


@experiment_app.command("rejects")
def rejects(name: str, as_json: JsonOption = False) -> None:
    """Rows of an experiment's import that could not be used, with field and reason."""
    with _service() as (session, tenant):
        found = experiments.list_rejects(session=session, tenant=tenant, name=name)
    if as_json:
        print_json(found)
        return
    table = Table("line", "field", "reason", "row")
    for bad in found:
        table.add_row(str(bad.line), bad.field, bad.reason, bad.raw)
    console.print(table)


@experiment_app.command("delete")
def delete(name: str) -> None:
    """Remove an experiment and everything imported for it."""
    with _service() as (session, tenant):
        experiments.delete_experiment(session=session, tenant=tenant, name=name)
        session.commit()
    console.print(f"deleted experiment {name}")


@contextmanager
def _service() -> Iterator[tuple[Session, TenantContext]]:
    """A session and the tenant; an ExperimentError ends the command with its message."""
    rt = runtime()
    with rt.session() as session:
        try:
            yield session, rt.tenant(session, options.tenant)
        except experiments.ExperimentError as error:
            fail(str(error))


def _print_report(found: experiments.ExperimentReport) -> None:
    o = found.options
    console.print(
        f"[bold]{found.experiment}[/bold] · control {found.control} · "
        f"{o.confidence:.0%} CI · proportions: {o.interval} CI, {o.binary_test} test · "
        f"correction: {o.correction}"
    )
    for metric in found.metrics:
        table = Table(
            "arm",
            "n",
            "mean",
            "difference [CI]",
            "lift [CI]",
            "p",
            "p adj.",
            title=f"{metric.name} ({metric.kind})",
        )
        for arm in found.arms:
            summary = arm.metrics[metric.name]
            lift = arm.vs_control.get(metric.name)
            table.add_row(
                arm.arm + (" (control)" if arm.is_control else ""),
                f"{summary.n:,}",
                _num(summary.mean, metric.kind),
                "" if lift is None else _ci(lift.difference, lift.difference_ci, metric.kind),
                "" if lift is None else _ci(lift.relative_lift, lift.relative_lift_ci, "lift"),
                "" if lift is None else _p(lift.p_value),
                "" if lift is None else _p(lift.p_value_adjusted),
            )
        console.print(table)


def _num(value: float | None, kind: str | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if kind in ("binary", "lift") else f"{value:,.4f}"


def _ci(value: float | None, bounds: tuple[float, float] | None, kind: str | None) -> str:
    if value is None or bounds is None:
        return "-"
    return f"{_num(value, kind)} [{_num(bounds[0], kind)}, {_num(bounds[1], kind)}]"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
