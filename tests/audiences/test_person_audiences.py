"""The audiences one person is in now (the 360° view)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from siyu import audiences
from siyu.audiences import AudienceIn
from siyu.tenants import TenantContext
from support import customer, identity_map, ingest


def test_audiences_of_a_person_follow_merges(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    ingest(session, tenant, customer("pos", "x", {"phone": "13900000001"}, city="上海"))
    ingest(session, tenant, customer("jd", "y", {"email": "y@example.com"}, city="北京"))
    for name, city in (("上海", "上海"), ("北京", "北京")):
        audiences.create_audience(
            session=session,
            tenant=tenant,
            audience=AudienceIn(name=name, rule={"attribute": "city", "value": city}),
            by="ops",
        )
    audiences.refresh_audiences(
        session=session, tenant=tenant, engine_dir=tmp_path, as_of=date(2024, 7, 1)
    )
    shanghai = identity_map(session, tenant)["customer:pos/x"]
    found = audiences.audiences_of_person(session=session, tenant=tenant, oneid=shanghai)
    assert [m.audience for m in found] == ["上海"]
    assert found[0].exited_at is None
    beijing = identity_map(session, tenant)["customer:jd/y"]
    assert audiences.audiences_of_person(session=session, tenant=tenant, oneid="nobody") == []
    assert [
        m.audience
        for m in audiences.audiences_of_person(session=session, tenant=tenant, oneid=beijing)
    ] == ["北京"]
