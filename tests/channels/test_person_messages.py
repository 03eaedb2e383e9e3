"""Messages one person received, under any OneID merged into them (the 360° view)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from siyu import channels
from siyu.tenants import TenantContext
from support import customer, identity_map, ingest


def _queue(session: Session, tenant: TenantContext, oneid: str, key: str) -> None:
    channels.enqueue_messages(
        session=session,
        tenant=tenant,
        messages=[
            channels.NewMessage(
                key=key, oneid=oneid, channel="sms", content={"zh-CN": {"text": "hi"}}
            )
        ],
    )


def test_messages_of_a_person_include_merged_oneids(
    session: Session, tenant: TenantContext
) -> None:
    ingest(session, tenant, customer("pos", "x", {"phone": "13900000001"}))
    ingest(session, tenant, customer("jd", "y", {"email": "y@example.com"}))
    first = identity_map(session, tenant)["customer:pos/x"]
    second = identity_map(session, tenant)["customer:jd/y"]
    _queue(session, tenant, first, "m1")
    _queue(session, tenant, second, "m2")
    assert [
        m.key for m in channels.messages_of_person(session=session, tenant=tenant, oneid=first)
    ] == ["m1"]
    ingest(
        session, tenant, customer("tmall", "z", {"phone": "13900000001", "email": "y@example.com"})
    )
    live = identity_map(session, tenant)["customer:pos/x"]
    keys = [m.key for m in channels.messages_of_person(session=session, tenant=tenant, oneid=live)]
    assert keys == ["m2", "m1"]  # newest first, both OneIDs
    assert channels.messages_of_person(session=session, tenant=tenant, oneid="nobody") == []
