"""Importing manual tags from CSV: by OneID or identifier; bad rows reported, good ones kept."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from siyu import tags
from siyu.tags import TagIn
from siyu.tenants import TenantContext
from support import customer, identity_map, ingest


def test_import_reports_bad_rows(session: Session, tenant: TenantContext) -> None:
    ingest(
        session,
        tenant,
        customer("pos", "a", {"phone": "13900000001", "member_no": "M1"}),
        customer("pos", "b", {"email": "b@example.com"}),
        # Two identified persons sharing a device: the device names no one person.
        customer("app", "x1", {"phone": "13900000008", "device_id": "dev-shared"}),
        customer("app", "x2", {"phone": "13900000009", "device_id": "dev-shared"}),
    )
    ids = identity_map(session, tenant)
    a, b = ids["customer:pos/a"], ids["customer:pos/b"]
    for key in ("VIP", "肤质=干", "肤质=油"):
        tags.create_tag(session=session, tenant=tenant, tag=TagIn(key=key), by="ops")
    tags.create_tag(
        session=session, tenant=tenant, tag=TagIn(key="规则", rule={"tag": "VIP"}), by="ops"
    )
    text = "\n".join(
        [
            "\ufeffoneid,identifier,tag",
            f"{a},,VIP",  # 2
            ",+86 139-0000-0001,肤质=干",  # 3: a raw phone, normalised like person search
            ",b@example.com,VIP",  # 4
            ",m1,VIP",  # 5: member number, case-normalised → a again: already
            ",13900000077,VIP",  # 6: nobody has it
            "NOSUCH,,VIP",  # 7
            ",b@example.com,金卡",  # 8: no such tag
            ",b@example.com,规则",  # 9: a rule tag
            ",,VIP",  # 10
            ",b@example.com,",  # 11
            ",dev-shared,VIP",  # 12: ambiguous
            ",b@example.com,肤质=油",  # 13
            ",b@example.com,a=b=c",  # 14
        ]
    )
    report = tags.import_tags(session=session, tenant=tenant, text=text, origin="crm.csv")
    assert (report.rows, report.given, report.already) == (13, 4, 1)
    assert [(r.line, r.reason) for r in report.bad] == [
        (6, "no person holds '13900000077'"),
        (7, "no person 'NOSUCH'"),
        (8, "no tag '金卡' (create it first)"),
        (9, "tag '规则' is a rule tag: its rule decides who holds it"),
        (10, "no oneid or identifier"),
        (11, "no tag"),
        (12, "'dev-shared' matches 2 persons"),
        (14, "'a=b=c' is not a tag key"),
    ]
    assert report.bad[0].row == {"oneid": "", "identifier": "13900000077", "tag": "VIP"}
    held = {t.key: t for t in tags.tags_of_person(session=session, tenant=tenant, oneid=a)}
    assert sorted(held) == ["VIP", "肤质=干"]
    assert (held["VIP"].given_by_kind, held["VIP"].given_by) == ("import", "crm.csv")
    held_b = tags.tags_of_person(session=session, tenant=tenant, oneid=b)
    assert sorted(t.key for t in held_b) == ["VIP", "肤质=油"]


def test_one_tag_for_the_file(session: Session, tenant: TenantContext) -> None:
    ingest(session, tenant, customer("pos", "a", {"phone": "13900000001"}))
    a = identity_map(session, tenant)["customer:pos/a"]
    tags.create_tag(session=session, tenant=tenant, tag=TagIn(key="活动A"), by="ops")
    report = tags.import_tags(
        session=session, tenant=tenant, text="oneid\n" + a + "\n", origin="x.csv", tag="活动A"
    )
    assert (report.rows, report.given, report.bad) == (1, 1, [])
    with pytest.raises(ValueError, match="'oneid' or 'identifier'"):
        tags.import_tags(session=session, tenant=tenant, text="phone\n1\n", origin="x", tag="活动A")
    with pytest.raises(ValueError, match="column 'tag'"):
        tags.import_tags(session=session, tenant=tenant, text="oneid\nx\n", origin="x")
