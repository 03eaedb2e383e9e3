"""Every report gives the same rows on Spark as on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from siyu import analytics
from siyu.tenants import TenantContext
from siyu.traits import run_compute
from support import ingest
from traits.test_compute import AS_OF, BASE, CHANGES


@pytest.mark.spark
@pytest.mark.usefixtures("spark_ready")
def test_reports_agree_across_engines(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    ingest(session, tenant, *BASE, *CHANGES)
    run_compute(session=session, tenant=tenant, engine_dir=tmp_path, as_of=AS_OF)
    for info in analytics.list_reports():
        results = [
            analytics.run_report(
                session=session, tenant=tenant, name=info.name, engine_dir=tmp_path, engine=e
            ).rows
            for e in ("duckdb", "spark")
        ]
        assert results[0], info.name  # the fixture is rich enough for every report
        assert results[0] == results[1], info.name
