"""Guides see their own customers only: search, listing and the 360° view by staff_id."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from siyu import profiles
from siyu.tenants import TenantContext
from support import customer, ingest


def _load(session: Session, tenant: TenantContext) -> dict[str, str]:
    mine, other, shared = ingest(
        session,
        tenant,
        customer("pos", "a", {"phone": "13900000011"}, name="王芳", staff_id="G1"),
        customer("pos", "b", {"phone": "13900000012"}, name="王强", staff_id="G2"),
        customer("tmall", "c", {"phone": "13900000013"}, name="王丽"),
    )
    # The third person also has a POS record carrying G1: a customer of G1 too.
    ingest(session, tenant, customer("pos", "d", {"phone": "13900000013"}, staff_id="G1"))
    return {"mine": str(mine.oneid), "other": str(other.oneid), "shared": str(shared.oneid)}


def test_search_and_listing_keep_to_the_guides_customers(
    session: Session, tenant: TenantContext
) -> None:
    oneids = _load(session, tenant)
    everyone = profiles.search_persons(session=session, tenant=tenant, query="王")
    assert len(everyone) == 3
    found = profiles.search_persons(session=session, tenant=tenant, query="王", staff_id="G1")
    assert {p.oneid for p in found} == {oneids["mine"], oneids["shared"]}
    by_phone = profiles.search_persons(
        session=session, tenant=tenant, query="13900000012", staff_id="G1"
    )
    assert by_phone == []
    listed = profiles.persons_of_staff(session=session, tenant=tenant, staff_id="G2")
    assert [p.oneid for p in listed] == [oneids["other"]]
    assert profiles.persons_of_staff(session=session, tenant=tenant, staff_id="G9") == []


def test_the_360_view_refuses_another_guides_customer(
    session: Session, tenant: TenantContext
) -> None:
    oneids = _load(session, tenant)
    view = profiles.get_person(session=session, tenant=tenant, oneid=oneids["mine"], staff_id="G1")
    assert view.attributes["name"] == "王芳"
    with pytest.raises(profiles.PersonNotFoundError):
        profiles.get_person(session=session, tenant=tenant, oneid=oneids["other"], staff_id="G1")
    assert profiles.is_customer_of(
        session=session, tenant=tenant, oneid=oneids["shared"], staff_id="G1"
    )
    assert not profiles.is_customer_of(
        session=session, tenant=tenant, oneid=oneids["other"], staff_id="G1"
    )
    assert not profiles.is_customer_of(
        session=session, tenant=tenant, oneid="nobody", staff_id="G1"
    )


def test_a_guides_customers_come_in_pages_that_cover_them_all(
    session: Session, tenant: TenantContext
) -> None:
    persons = ingest(
        session,
        tenant,
        *(
            customer("pos", f"p{i}", {"phone": f"139000001{i:02d}"}, staff_id="G7")
            for i in range(7)
        ),
    )
    everyone = sorted(str(p.oneid) for p in persons)
    pages = [
        profiles.persons_of_staff(
            session=session, tenant=tenant, staff_id="G7", offset=start, limit=3
        )
        for start in (0, 3, 6, 9)
    ]
    assert [len(found) for found in pages] == [3, 3, 1, 0]
    assert [p.oneid for found in pages for p in found] == everyone
