"""The online path (REST API, channel outcomes) fires journey triggers; file imports don't."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from journey_support import journey, person
from siyu.ingest import ingest_files
from siyu.journeys import list_enrolments
from siyu.online import accept_records
from siyu.tenants import TenantContext
from support import Files, event


def enrolled(session: Session, tenant: TenantContext) -> list[str]:
    return sorted(e.oneid for e in list_enrolments(session=session, tenant=tenant, key="j1"))


def test_an_event_through_the_online_path_enrols_its_person(
    session: Session, tenant: TenantContext
) -> None:
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={"type": "event", "event_type": "add_to_cart"},
    )
    someone = person(session, tenant, "c1")
    _report, results = accept_records(
        session=session,
        tenant=tenant,
        items=[event("pos", "e1", customer_id="c1", type="add_to_cart")],
        origin="test",
    )
    assert results[0].oneid == someone
    assert enrolled(session, tenant) == [someone]


def test_a_file_import_is_history_and_enrols_nobody(
    session: Session, tenant: TenantContext, files: Files, tmp_path: Path
) -> None:
    journey(
        session,
        tenant,
        [{"id": "t", "type": "tag", "add": ["x"]}],
        trigger={"type": "event", "event_type": "add_to_cart"},
    )
    person(session, tenant, "c1")
    path = files.jsonl("events.jsonl", [event("pos", "e1", customer_id="c1", type="add_to_cart")])
    report = ingest_files(session=session, tenant=tenant, paths=[path])
    assert report.accepted == 1
    assert enrolled(session, tenant) == []
