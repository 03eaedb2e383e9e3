"""Import history and fixing one quarantined record by hand (the console's imports page)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from siyu import ingest
from siyu.tenants import TenantContext

BAD = {"kind": "customer", "source": "pos", "external_id": "q1", "identifiers": {"phone": "12"}}


def test_a_fixed_record_is_accepted_and_leaves_the_quarantine(
    session: Session, tenant: TenantContext
) -> None:
    report, results = ingest.ingest_records(session=session, tenant=tenant, items=[BAD], origin="t")
    assert results[0].status == "quarantined"
    (entry,) = ingest.list_quarantine(session=session, tenant=tenant)
    assert ingest.get_quarantined(session=session, tenant=tenant, entry_id=entry.id) == entry

    still_bad = {**BAD, "identifiers": {"phone": "34"}}
    _report, result = ingest.fix_quarantined(
        session=session, tenant=tenant, entry_id=entry.id, record=still_bad
    )
    assert result.status == "quarantined" and result.field
    (again,) = ingest.list_quarantine(session=session, tenant=tenant)
    assert again.id != entry.id and '"34"' in again.raw
    superseded = ingest.list_quarantine(session=session, tenant=tenant, status="superseded")
    assert [e.id for e in superseded] == [entry.id]

    fixed = {**BAD, "identifiers": {"phone": "13900000001"}}
    fix_report, result = ingest.fix_quarantined(
        session=session, tenant=tenant, entry_id=again.id, record=fixed
    )
    assert result.status == "accepted" and result.oneid
    assert fix_report.accepted == 1
    assert ingest.list_quarantine(session=session, tenant=tenant) == []
    with pytest.raises(LookupError):
        ingest.fix_quarantined(session=session, tenant=tenant, entry_id=again.id, record=fixed)
    with pytest.raises(LookupError):
        ingest.get_quarantined(session=session, tenant=tenant, entry_id=10**9)

    runs = ingest.list_import_runs(session=session, tenant=tenant)
    assert runs[0].id == fix_report.import_run_id
    assert runs[0].origin == f"quarantine fix #{again.id}" and runs[0].status == "done"
    assert runs[0].counts["accepted"] == 1
