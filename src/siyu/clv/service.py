"""CLV use cases: fit the models to a tenant's purchases, predict and store each person's value.

What counts as a purchase (see decisions): an order that was paid — status `paid`,
`shipped`, `completed` or `partially_refunded`; `created` (unpaid), `closed` (cancelled
before payment) and `refunded` orders are not purchases — at its payment time (creation
time when the source gives none), valued at what was paid minus its refunds. An order
whose refunds cover all of a non-zero payment is not a purchase either.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.clv import gamma_gamma
from siyu.clv.models import ClvFit, ClvPrediction
from siyu.clv.registry import (
    PURCHASE_MODELS,
    SPEND_MODEL,
    ClvError,
    ModelName,
    PurchaseModelName,
    estimate,
    fitted_persons,
)
from siyu.clv.schemas import FitResult, PersonPrediction, PredictionReport
from siyu.clv.summary import RfmSummary, Unit, rfm_summary
from siyu.clv.value import predict_values
from siyu.store.base import table, utcnow
from siyu.tenants.schemas import TenantContext

PURCHASE_STATUSES = ("paid", "shipped", "completed", "partially_refunded")
_WRITE_CHUNK = 5000
_CENT = Decimal("0.01")


def purchase_summary(
    *, session: Session, tenant: TenantContext, until: date, unit: Unit
) -> RfmSummary:
    """The RFM summary of every person with a purchase on or before `until` (tenant zone)."""
    return rfm_summary(_purchases(session, tenant, until), until=until, unit=unit, zone=tenant.zone)


def _purchases(
    session: Session, tenant: TenantContext, until: date
) -> Iterator[tuple[str, datetime, Decimal]]:
    """(oneid, time, net value) of each purchase, read in batches from records + identity."""
    before = datetime.combine(until + timedelta(days=1), time(), tenant.zone)
    for batch in records.iter_order_values(
        session=session, tenant=tenant, statuses=PURCHASE_STATUSES, before=before
    ):
        oneids = identity.oneids_of_records(
            session=session,
            tenant=tenant,
            kind="order",
            refs=[(o.source, o.order_id) for o in batch],
        )
        for order in batch:
            net = order.paid_amount - order.refunded
            if order.paid_amount > 0 and net <= 0:
                continue  # refunded in full: returned, not bought
            oneid = oneids.get((order.source, order.order_id))
            if oneid is not None:
                yield oneid, order.at, max(net, Decimal(0))


def fit_model(
    *,
    session: Session,
    tenant: TenantContext,
    model: ModelName,
    until: date | None = None,
    unit: Unit = "week",
) -> FitResult:
    """Fit `model` to purchases up to `until` (default today), store it; commits after reading."""
    until = until or datetime.now(tenant.zone).date()
    summary = purchase_summary(session=session, tenant=tenant, until=until, unit=unit)
    if len(summary) == 0:
        raise ClvError(f"no purchases on or before {until.isoformat()}")
    session.commit()  # end the read: SQLite's write lock is not held through the search
    found = estimate(model, summary)
    row = ClvFit(
        tenant_id=tenant.id,
        model=model,
        params=found.params,
        log_likelihood=found.log_likelihood,
        until=until,
        unit=unit,
        persons=fitted_persons(model, summary),
        converged=found.converged,
        fitted_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return _fit_result(row)


def latest_fit(*, session: Session, tenant: TenantContext, model: ModelName) -> FitResult | None:
    """The most recent stored fit of `model`, if any."""
    row = session.scalars(
        select(ClvFit)
        .where(ClvFit.tenant_id == tenant.id, ClvFit.model == model)
        .order_by(ClvFit.fitted_at.desc(), ClvFit.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _fit_result(row)


def _fit_result(row: ClvFit) -> FitResult:
    return FitResult(
        id=row.id,
        model=row.model,
        params=row.params,
        log_likelihood=row.log_likelihood,
        until=row.until,
        unit=row.unit,
        persons=row.persons,
        converged=row.converged,
        fitted_at=row.fitted_at,
    )


def predict(
    *,
    session: Session,
    tenant: TenantContext,
    model: PurchaseModelName = "bgnbd",
    horizon: int = 12,
    discount_rate: float = 0.01,
    as_of: date | None = None,
    top: int = 10,
) -> PredictionReport:
    """Predict each person's purchases, P(alive) and CLV over `horizon` months; store them."""
    # The latest stored fits are used (fitted now, up to `as_of`, when there is none); the
    # persons' own histories are read up to `as_of` (default: the purchase model's `until`).
    if horizon < 1:
        raise ClvError("the horizon is at least 1 month")
    fit = latest_fit(session=session, tenant=tenant, model=model) or fit_model(
        session=session, tenant=tenant, model=model, until=as_of
    )
    spend_fit = latest_fit(session=session, tenant=tenant, model=SPEND_MODEL) or fit_model(
        session=session, tenant=tenant, model=SPEND_MODEL, until=fit.until, unit=_unit(fit)
    )
    as_of = as_of or fit.until
    summary = purchase_summary(session=session, tenant=tenant, until=as_of, unit=_unit(fit))
    session.commit()  # stored fits are kept; no lock held while computing
    spend_params = np.array([spend_fit.params[n] for n in gamma_gamma.NAMES])
    if spend_params[1] <= 1:
        # With q ≤ 1 the population's mean spend is infinite: nothing sensible to predict.
        raise ClvError(f"Gamma-Gamma fit {spend_fit.id} has q ≤ 1: mean spend is undefined")
    found = PURCHASE_MODELS[model]
    values = predict_values(
        model=found,
        params=np.array([fit.params[n] for n in found.names]),
        spend_params=spend_params,
        summary=summary,
        horizon_months=horizon,
        discount_rate=discount_rate,
    )
    rows = [
        PersonPrediction(
            oneid=oneid,
            expected_purchases=float(values.expected_purchases[i]),
            p_alive=float(values.p_alive[i]),
            expected_spend=_money(values.expected_spend[i]),
            clv=_money(values.clv[i]),
        )
        for i, oneid in enumerate(summary.oneids)
    ]
    _write(session, tenant, model, horizon, discount_rate, as_of, fit, spend_fit, rows)
    return PredictionReport(
        model=model,
        horizon=horizon,
        discount_rate=discount_rate,
        as_of=as_of,
        persons=len(rows),
        expected_purchases=float(values.expected_purchases.sum()),
        mean_p_alive=float(values.p_alive.mean()) if rows else 0.0,
        total_clv=sum((r.clv for r in rows), Decimal(0)),
        fit=fit,
        spend_fit=spend_fit,
        top=sorted(rows, key=lambda r: r.clv, reverse=True)[:top],
    )


def _unit(fit: FitResult) -> Unit:
    unit = fit.unit
    if unit not in ("day", "week", "month"):
        raise ClvError(f"fit {fit.id} has an unknown time unit {unit!r}")
    return unit  # type: ignore[return-value]


def _money(value: float) -> Decimal:
    """A predicted amount as money: rounded to the fen (it is an estimate, not a ledger)."""
    return Decimal(repr(float(value))).quantize(_CENT) if np.isfinite(value) else Decimal(0)


def _write(
    session: Session,
    tenant: TenantContext,
    model: str,
    horizon: int,
    discount_rate: float,
    as_of: date,
    fit: FitResult,
    spend_fit: FitResult,
    rows: list[PersonPrediction],
) -> None:
    """Replace the stored predictions of (model, horizon) with this run's."""
    session.execute(
        delete(ClvPrediction).where(
            ClvPrediction.tenant_id == tenant.id,
            ClvPrediction.model == model,
            ClvPrediction.horizon == horizon,
        )
    )
    common = {
        "tenant_id": tenant.id,
        "model": model,
        "horizon": horizon,
        "discount_rate": discount_rate,
        "as_of": as_of,
        "fit_id": fit.id,
        "spend_fit_id": spend_fit.id,
        "fitted_at": fit.fitted_at,
    }
    for start in range(0, len(rows), _WRITE_CHUNK):
        session.execute(
            insert(table(ClvPrediction)),
            [{**common, **r.model_dump()} for r in rows[start : start + _WRITE_CHUNK]],
        )


CSV_HEADER = (
    "oneid",
    "model",
    "horizon",
    "expected_purchases",
    "p_alive",
    "expected_spend",
    "clv",
    "fitted_at",
)


def export_predictions(
    *, session: Session, tenant: TenantContext, model: str, horizon: int, out: Path
) -> int:
    """Write the stored predictions of (model, horizon) to a CSV file; returns the row count."""
    query = (
        select(
            ClvPrediction.oneid,
            ClvPrediction.expected_purchases,
            ClvPrediction.p_alive,
            ClvPrediction.expected_spend,
            ClvPrediction.clv,
            ClvPrediction.fitted_at,
        )
        .where(
            ClvPrediction.tenant_id == tenant.id,
            ClvPrediction.model == model,
            ClvPrediction.horizon == horizon,
        )
        .order_by(ClvPrediction.oneid)
        .execution_options(yield_per=10_000)
    )
    count = 0
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for oneid, purchases, alive, spend, clv, fitted in session.execute(query):
            values = [f"{purchases:.6f}", f"{alive:.6f}", spend, clv, fitted.isoformat()]
            writer.writerow([oneid, model, horizon, *values])
            count += 1
    return count
