"""`siyu clv ...`: fit the CLV models, predict each person's value."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from siyu import clv
from siyu.cli.common import console, fail, options, print_json, runtime

clv_app = typer.Typer(
    help="Predicted customer value: fit models, predict CLV.", no_args_is_help=True
)


class ModelOption(StrEnum):
    bgnbd = "bgnbd"
    pareto_nbd = "pareto-nbd"
    gamma_gamma = "gamma-gamma"


class PurchaseModelOption(StrEnum):
    bgnbd = "bgnbd"
    pareto_nbd = "pareto-nbd"


class UnitOption(StrEnum):
    day = "day"
    week = "week"
    month = "month"


Day = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="last day of purchases used (tenant zone)"),
]


@clv_app.command("fit")
def fit(
    model: Annotated[ModelOption, typer.Option()] = ModelOption.bgnbd,
    until: Day = None,
    unit: Annotated[UnitOption, typer.Option(help="time unit of the model")] = UnitOption.week,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fit a model to the tenant's paid orders by maximum likelihood and store the fit."""
    rt = runtime()
    with rt.session() as session:
        try:
            result = clv.fit_model(
                session=session,
                tenant=rt.tenant(session, options.tenant),
                model=model.value,
                until=until.date() if until else None,
                unit=unit.value,
            )
        except clv.ClvError as error:
            fail(str(error))
            return
        session.commit()
    if as_json:
        print_json({"params": result.params, "log_likelihood": result.log_likelihood})
        return
    table = Table("parameter", "estimate", title=f"{result.model} fit #{result.id}")
    for name, value in result.params.items():
        table.add_row(name, f"{value:.4f}")
    table.add_row("log-likelihood", f"{result.log_likelihood:.2f}")
    table.add_row("persons", str(result.persons))
    table.add_row("purchases up to", f"{result.until} (unit: {result.unit})")
    table.add_row("converged", "yes" if result.converged else "[red]no[/red]")
    console.print(table)


@clv_app.command("predict")
def predict(
    model: Annotated[
        PurchaseModelOption, typer.Option(help="purchase model (spend: Gamma-Gamma)")
    ] = PurchaseModelOption.bgnbd,
    horizon: Annotated[int, typer.Option(help="months ahead")] = 12,
    discount_rate: Annotated[float, typer.Option(help="per month")] = 0.01,
    until: Day = None,
    out: Annotated[Path | None, typer.Option(help="also write the predictions to CSV")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Predict purchases, P(alive) and CLV per person from the latest fits; store them."""
    rt = runtime()
    with rt.session() as session:
        tenant = rt.tenant(session, options.tenant)
        try:
            report = clv.predict(
                session=session,
                tenant=tenant,
                model=model.value,
                horizon=horizon,
                discount_rate=discount_rate,
                as_of=until.date() if until else None,
            )
        except clv.ClvError as error:
            fail(str(error))
            return
        session.commit()
        if out is not None:
            clv.export_predictions(
                session=session, tenant=tenant, model=report.model, horizon=horizon, out=out
            )
    if as_json:
        print_json(report)
        return
    console.print(
        f"{report.persons} persons, as of {report.as_of}, {horizon} months at "
        f"{discount_rate:.2%}/month: expected purchases {report.expected_purchases:.1f}, "
        f"mean P(alive) {report.mean_p_alive:.3f}, total CLV {report.total_clv}"
    )
    table = Table("expected purchases", "P(alive)", "spend/purchase", "CLV", title="top")
    table.columns.insert(0, Column("OneID", no_wrap=True, min_width=26))
    for p in report.top:
        table.add_row(
            p.oneid,
            f"{p.expected_purchases:.2f}",
            f"{p.p_alive:.3f}",
            str(p.expected_spend),
            str(p.clv),
        )
    console.print(table)
    if out is not None:
        console.print(f"wrote {report.persons} rows to {out}")
