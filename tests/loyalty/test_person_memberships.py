"""A person's memberships across programs (the 360° view): tier and points balance."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty_support import T0, enrolled, make_program, person
from siyu import loyalty
from siyu.tenants import TenantContext


def test_memberships_of_a_person_list_each_joined_program(
    session: Session, tenant: TenantContext
) -> None:
    first = make_program(session, tenant, code="beauty")
    make_program(session, tenant, code="kids")
    member = enrolled(session, tenant, "c1", first)
    member.adjust(120, now=T0)
    found = loyalty.memberships_of_person(
        session=session, tenant=tenant, oneid=member.oneid, now=T0
    )
    assert [(m.program, m.balance.spendable) for m in found] == [("beauty", 120)]
    assert found[0].tier.tier
    stranger = person(session, tenant, "c2", phone="13900000002")
    assert loyalty.memberships_of_person(session=session, tenant=tenant, oneid=stranger) == []
