"""The CDNOW sample, imported through siyu, reproduces the published fits (each to ±0.01).

BG/NBD: Fader, Hardie & Lee (2005); Pareto/NBD and Gamma-Gamma: Fader & Hardie's notes
(2005, 2013). Published log-likelihoods are given to one decimal, so they are checked to
that precision.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cdnow import SOURCE, UNTIL, Cdnow, assert_published
from siyu import clv
from siyu.identity import iter_identity_map
from siyu.ingest import ingest_files
from siyu.tenants import TenantContext


def test_summary_from_imported_orders_matches_the_published_summary(
    session: Session, tenant: TenantContext, cdnow_file: Path, cdnow_data: Cdnow
) -> None:
    report = ingest_files(session=session, tenant=tenant, paths=[cdnow_file])
    assert report.quarantined == 0
    summary = clv.purchase_summary(session=session, tenant=tenant, until=UNTIL, unit="week")
    person = {
        oneid: record_id
        for kind, source, record_id, oneid in iter_identity_map(session=session, tenant=tenant)
        if kind == "customer" and source == SOURCE
    }
    assert len(summary) == len(cdnow_data.summary) == 2357
    for index, oneid in enumerate(summary.oneids):
        frequency, recency, age = cdnow_data.summary[person[oneid]]
        assert summary.frequency[index] == frequency
        assert round(float(summary.recency[index]), 2) == pytest.approx(recency, abs=1e-9)
        assert round(float(summary.age[index]), 2) == pytest.approx(age, abs=1e-9)
    assert summary.frequency.sum() == 2457  # repeat purchase days, same-day orders collapsed


def test_fits_through_the_service_match_the_published_ones(
    session: Session, tenant: TenantContext, cdnow_file: Path
) -> None:
    ingest_files(session=session, tenant=tenant, paths=[cdnow_file])
    for model in clv.MODEL_NAMES:
        fit = clv.fit_model(session=session, tenant=tenant, model=model, until=UNTIL, unit="week")
        assert fit.converged
        assert_published(model, fit.params, fit.log_likelihood)
        assert fit.persons == (946 if model == "gamma-gamma" else 2357)
        latest = clv.latest_fit(session=session, tenant=tenant, model=model)
        assert latest is not None and latest.id == fit.id and latest.params == fit.params
