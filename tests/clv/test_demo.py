"""Fit and predict end to end on the demo brand (several channels, refunds, merged persons)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from siyu import clv
from siyu.demo import generate_demo
from siyu.ingest import ingest_files
from siyu.tenants import TenantContext

NOW = date(2026, 11, 1)  # the demo generator's default "now"


def test_demo_fit_predict_end_to_end(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    files = generate_demo(out_dir=tmp_path / "demo", persons=400, seed=11)
    ingest_files(
        session=session, tenant=tenant, paths=[files.customers, files.orders, files.refunds]
    )
    summary = clv.purchase_summary(session=session, tenant=tenant, until=NOW, unit="week")
    assert len(summary) > 100 and (summary.frequency > 0).sum() > 20

    # No stored fit yet: predict fits both models as of NOW, then reuses them.
    report = clv.predict(session=session, tenant=tenant, model="pareto-nbd", as_of=NOW)
    assert report.persons == len(summary)
    assert report.fit.model == "pareto-nbd" and report.fit.until == NOW
    # Gamma-Gamma's maximum on the demo can lie on the boundary (p -> inf: the generator's
    # order values vary little within a person); the fit says so rather than pretending.
    assert report.spend_fit.model == "gamma-gamma"
    assert all(np.isfinite(v) and v > 0 for v in report.spend_fit.params.values())
    # Pareto/NBD's too (s, beta -> inf: almost nobody in the demo drops out for good).
    assert all(np.isfinite(v) and v > 0 for v in report.fit.params.values())
    again = clv.predict(session=session, tenant=tenant, model="pareto-nbd", horizon=24)
    assert again.fit.id == report.fit.id and again.spend_fit.id == report.spend_fit.id
    # Twice the horizon: more purchases expected, each person's value does not shrink.
    assert again.expected_purchases > report.expected_purchases
    assert again.total_clv > report.total_clv

    out = tmp_path / "clv.csv"
    count = clv.export_predictions(
        session=session, tenant=tenant, model="pareto-nbd", horizon=12, out=out
    )
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert count == len(rows) == len(summary)
    assert {r["oneid"] for r in rows} == set(summary.oneids)
    alive = np.array([float(r["p_alive"]) for r in rows])
    value = np.array([float(r["clv"]) for r in rows])
    spend = np.array([float(r["expected_spend"]) for r in rows])
    assert ((alive >= 0) & (alive <= 1)).all() and (value >= 0).all() and (spend > 0).all()
    # The model must tell people apart: some look gone, some active.
    assert alive.min() < 0.5 < alive.max()
    top = report.top[0]
    assert top.clv == max(r.clv for r in report.top)
    assert abs(float(top.clv) - value.max()) < 0.01

    bgnbd = clv.fit_model(session=session, tenant=tenant, model="bgnbd", until=NOW)
    assert bgnbd.converged and bgnbd.persons == len(summary)
