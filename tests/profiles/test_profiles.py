"""Profiles: merged attributes, consent, basic traits and person search, over a real store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from siyu import identity, ingest, profiles
from siyu.tenants import TenantContext
from siyu.tenants.schemas import FieldRule

from .conftest import MakeTenant

PHONE = "13800138000"
Record = dict[str, Any]


def customer(source: str, external_id: str, **fields: Any) -> Record:
    fields.setdefault("identifiers", {"phone": PHONE})
    return {"kind": "customer", "source": source, "external_id": external_id, **fields}


def order(order_id: str, status: str, paid: str, created_at: str, **fields: Any) -> Record:
    record: Record = {
        "kind": "order",
        "source": "tmall",
        "order_id": order_id,
        "customer_ref": {"identifiers": {"phone": PHONE}},
        "status": status,
        "created_at": created_at,
        "total_amount": paid if Decimal(paid) else "10.00",
        "paid_amount": paid,
    }
    record.update(fields)
    return record


def refund(refund_id: str, order_id: str, amount: str, source: str = "tmall") -> Record:
    return {
        "kind": "refund",
        "source": source,
        "refund_id": refund_id,
        "order_id": order_id,
        "amount": amount,
        "created_at": "2024-07-01T10:00:00+08:00",
    }


def load(session: Session, tenant: TenantContext, *records: Record) -> list[str | None]:
    """Import records (one batch, so one `updated_at`); returns their OneIDs."""
    _report, results = ingest.ingest_records(
        session=session, tenant=tenant, items=list(records), origin="test"
    )
    assert [r.status for r in results] == ["accepted"] * len(records), results
    return [r.oneid for r in results]


def person(session: Session, tenant: TenantContext, oneid: str | None) -> profiles.PersonView:
    assert oneid is not None
    return profiles.get_person(session=session, tenant=tenant, oneid=oneid)


@pytest.fixture
def tenant(profiles_tenant: MakeTenant) -> TenantContext:
    """A tenant with default settings (shadows any top-level `tenant` fixture here)."""
    return profiles_tenant()


# -- attributes -------------------------------------------------------------------------


def test_pos_beats_tmall_by_default(profiles_session: Session, tenant: TenantContext) -> None:
    s = profiles_session
    assert tenant.settings.profile_source_priority.index("pos") < (
        tenant.settings.profile_source_priority.index("tmall")
    )
    load(s, tenant, customer("pos", "p-1", name="王明", gender="m"))
    # the tmall record is newer, but pos is trusted more
    [oneid] = load(
        s,
        tenant,
        customer("tmall", "t-1", name="王小明", gender="f", city="杭州", birthday="1990-05-01"),
    )
    view = person(s, tenant, oneid)
    assert view.attributes["name"] == "王明"
    assert view.attributes["gender"] == "m"
    assert view.attribute_sources["name"] == view.attribute_sources["gender"] == "pos"
    # a field only tmall has still comes from tmall
    assert view.attributes["city"] == "杭州"
    assert view.attribute_sources["city"] == "tmall"
    assert str(view.attributes["birthday"]) == "1990-05-01"
    assert view.attributes["phone"] == PHONE
    assert "address" not in view.attributes


def test_empty_values_do_not_win(profiles_session: Session, tenant: TenantContext) -> None:
    s = profiles_session
    load(s, tenant, customer("tmall", "t-1", name="王小明"))
    [oneid] = load(s, tenant, customer("pos", "p-1", name=""))
    view = person(s, tenant, oneid)
    assert view.attributes["name"] == "王小明"
    assert view.attribute_sources["name"] == "tmall"


def test_unlisted_sources_rank_last_then_newest(
    profiles_session: Session, tenant: TenantContext
) -> None:
    s = profiles_session
    assert "web" not in tenant.settings.profile_source_priority
    load(s, tenant, customer("tmall", "t-1", city="杭州"))
    load(s, tenant, customer("web", "w-1", city="上海", name="旧名字"))
    [oneid] = load(s, tenant, customer("shop_x", "x-1", city="北京", name="新名字"))
    view = person(s, tenant, oneid)
    assert view.attributes["city"] == "杭州"  # tmall is listed; web and shop_x are not
    assert view.attributes["name"] == "新名字"  # neither is listed: the newest record wins
    assert view.attribute_sources["name"] == "shop_x"


def test_tenant_priority_can_put_tmall_first(
    profiles_session: Session, profiles_tenant: MakeTenant
) -> None:
    s = profiles_session
    tenant = profiles_tenant(profile_source_priority=["tmall", "pos"])
    [oneid, _] = load(
        s, tenant, customer("pos", "p-1", name="王明"), customer("tmall", "t-1", name="王小明")
    )
    assert person(s, tenant, oneid).attributes["name"] == "王小明"


def test_field_rule_overrides_priority_for_its_field_only(
    profiles_session: Session, profiles_tenant: MakeTenant
) -> None:
    s = profiles_session
    tenant = profiles_tenant(profile_field_rules={"name": FieldRule(sources=["tmall"])})
    [oneid, _] = load(
        s,
        tenant,
        customer("pos", "p-1", name="王明", city="上海"),
        customer("tmall", "t-1", name="王小明", city="杭州"),
    )
    view = person(s, tenant, oneid)
    assert view.attributes["name"] == "王小明"
    assert view.attribute_sources["name"] == "tmall"
    assert view.attributes["city"] == "上海"  # no rule for city: the default priority
    assert view.attribute_sources["city"] == "pos"


def test_field_rule_newest(profiles_session: Session, profiles_tenant: MakeTenant) -> None:
    s = profiles_session
    tenant = profiles_tenant(profile_field_rules={"address": {"strategy": "newest"}})
    load(s, tenant, customer("tmall", "t-1", address="西湖区 1 号", name="王小明"))
    [oneid] = load(s, tenant, customer("douyin", "d-1", address="滨江区 2 号", name="小明"))
    view = person(s, tenant, oneid)
    assert view.attributes["address"] == "滨江区 2 号"  # newest, though tmall ranks higher
    assert view.attributes["name"] == "王小明"  # other fields keep the priority
    # a newer version of the older record makes it the newest
    load(s, tenant, customer("tmall", "t-1", address="西湖区 3 号", name="王小明"))
    assert person(s, tenant, oneid).attributes["address"] == "西湖区 3 号"


def test_phone_and_email_follow_source_priority(
    profiles_session: Session, tenant: TenantContext
) -> None:
    s = profiles_session
    # wechat_mp outranks tmall; alphabetically (and in storage order) tmall comes first
    [oneid, _] = load(
        s,
        tenant,
        customer(
            "tmall",
            "t-1",
            identifiers={"phone": "13900000001", "email": "t@example.com", "member_no": "M1"},
        ),
        customer(
            "wechat_mp",
            "w-1",
            identifiers={"phone": "13900000002", "email": "w@example.com", "member_no": "M1"},
        ),
    )
    view = person(s, tenant, oneid)
    assert len(view.records) == 2
    assert view.attributes["phone"] == "13900000002"
    assert view.attributes["email"] == "w@example.com"
    assert view.attribute_sources["phone"] == view.attribute_sources["email"] == "wechat_mp"
    summary = profiles.search_persons(session=s, tenant=tenant, query="M1")
    assert [p.phone for p in summary] == ["13900000002"]


# -- consent ----------------------------------------------------------------------------


def test_consent_latest_explicit_answer_wins(
    profiles_session: Session, tenant: TenantContext
) -> None:
    s = profiles_session
    load(s, tenant, customer("pos", "p-1", consent={"sms": True, "email": True}))
    [oneid] = load(s, tenant, customer("tmall", "t-1", consent={"sms": False}))
    load(s, tenant, customer("wecom", "w-1"))  # no answer at all: changes nothing
    view = person(s, tenant, oneid)
    assert view.consent == {"sms": False, "email": True, "wecom": None, "wechat": None}
    # the pos record is updated later with a new answer: it is now the latest
    load(s, tenant, customer("pos", "p-1", consent={"sms": True, "email": True, "wechat": False}))
    view = person(s, tenant, oneid)
    assert view.consent == {"sms": True, "email": True, "wecom": None, "wechat": False}


def test_consent_unknown_is_none(profiles_session: Session, tenant: TenantContext) -> None:
    [oneid] = load(profiles_session, tenant, customer("tmall", "t-1"))
    view = person(profiles_session, tenant, oneid)
    assert view.consent == {"sms": None, "email": None, "wecom": None, "wechat": None}
    assert profiles.merge_consent(customers=[]) == {
        "sms": None,
        "email": None,
        "wecom": None,
        "wechat": None,
    }


# -- traits -----------------------------------------------------------------------------


def test_traits_count_sales_only_and_subtract_refunds(
    profiles_session: Session, tenant: TenantContext
) -> None:
    s = profiles_session
    [oneid, *_] = load(
        s,
        tenant,
        customer("tmall", "t-1"),
        order(
            "o-1",
            "paid",
            "100.00",
            "2024-02-28T10:00:00+08:00",
            paid_at="2024-03-01T09:00:00+08:00",
        ),
        order("o-2", "completed", "50.00", "2024-04-01T10:00:00+08:00"),
        order("o-3", "closed", "0", "2024-01-01T10:00:00+08:00"),  # cancelled before payment
        order("o-4", "created", "0", "2024-06-01T10:00:00+08:00"),  # not paid yet
        order("o-5", "closed", "0", "2023-12-01T10:00:00+08:00", source="jd"),
        refund("r-1", "o-2", "15.00"),
        refund("r-2", "o-2", "5.00"),
        refund("r-3", "o-2", "99.00", source="jd"),  # another source's order o-2
    )
    view = person(s, tenant, oneid)
    traits = view.traits
    assert traits.order_count == 2
    assert traits.net_paid == Decimal("130.00")  # 100 + 50 - 15 - 5
    assert traits.aov == Decimal("65.00")
    assert traits.first_order_at == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)  # paid_at of o-1
    assert traits.last_order_at == datetime(2024, 4, 1, 2, 0, tzinfo=UTC)
    assert traits.channels == ["tmall"]
    refunded = {o.order_id: o.refunded_amount for o in view.orders}
    assert refunded == {
        "o-1": Decimal("0.00"),
        "o-2": Decimal("20.00"),
        "o-3": Decimal("0.00"),
        "o-4": Decimal("0.00"),
        "o-5": Decimal("0.00"),
    }
    assert [o.order_id for o in view.orders] == ["o-4", "o-2", "o-1", "o-3", "o-5"]  # newest first


def test_order_status_change_updates_traits(
    profiles_session: Session, tenant: TenantContext
) -> None:
    s = profiles_session
    [oneid, _] = load(
        s, tenant, customer("tmall", "t-1"), order("o-1", "created", "0", "2024-05-01T10:00:00")
    )
    assert person(s, tenant, oneid).traits.order_count == 0
    load(s, tenant, order("o-1", "paid", "88.80", "2024-05-01T10:00:00"))
    traits = person(s, tenant, oneid).traits
    assert (traits.order_count, traits.net_paid, traits.aov) == (
        1,
        Decimal("88.80"),
        Decimal("88.80"),
    )


def test_aov_is_rounded_to_cents(profiles_session: Session, tenant: TenantContext) -> None:
    s = profiles_session
    [oneid, *_] = load(
        s,
        tenant,
        customer("tmall", "t-1"),
        order("o-1", "paid", "33.33", "2024-05-01T10:00:00"),
        order("o-2", "paid", "33.33", "2024-05-02T10:00:00"),
        order("o-3", "shipped", "33.34", "2024-05-03T10:00:00"),
    )
    traits = person(s, tenant, oneid).traits
    assert traits.net_paid == Decimal("100.00")
    assert traits.aov == Decimal("33.33")


def test_no_orders_no_traits(profiles_session: Session, tenant: TenantContext) -> None:
    [oneid] = load(profiles_session, tenant, customer("tmall", "t-1"))
    traits = person(profiles_session, tenant, oneid).traits
    assert traits.order_count == 0
    assert traits.net_paid == Decimal("0")
    assert traits.aov is None
    assert traits.first_order_at is None and traits.last_order_at is None


# -- search -----------------------------------------------------------------------------


@pytest.fixture
def two_people(profiles_session: Session, tenant: TenantContext) -> tuple[str, str, str]:
    oneids = load(
        profiles_session,
        tenant,
        customer("pos", "p-1", name="王明", identifiers={"phone": PHONE, "member_no": "vip-7"}),
        customer("tmall", "t-1", name="王小明", identifiers={"email": "Ming@Example.com"}),
        customer("jd", "j-1", name="王芳", identifiers={"phone": "13900139000"}),
        customer("douyin", "d-1", name="李雷", identifiers={"phone_sha256": "ab" * 32}),
    )
    assert oneids[0] != oneids[1] != oneids[2]
    return str(oneids[0]), str(oneids[2]), str(oneids[3])


def search(session: Session, tenant: TenantContext, query: str) -> list[str]:
    return [p.oneid for p in profiles.search_persons(session=session, tenant=tenant, query=query)]


@pytest.mark.parametrize(
    "query",
    [PHONE, f"+86{PHONE}", "+86 138-0013-8000", f"0086{PHONE}", " 138 0013 8000 "],
)
def test_search_by_phone(
    profiles_session: Session, tenant: TenantContext, two_people: tuple[str, str, str], query: str
) -> None:
    ming, _fang, _lei = two_people
    assert search(profiles_session, tenant, query) == [ming]


def test_search_by_hashed_phone_and_ids(
    profiles_session: Session, tenant: TenantContext, two_people: tuple[str, str, str]
) -> None:
    ming, fang, lei = two_people
    s = profiles_session
    assert search(s, tenant, hashlib.sha256(b"13900139000").hexdigest()) == [fang]
    assert search(s, tenant, "AB" * 32) == [lei]
    assert search(s, tenant, "vip-7") == [ming]
    assert search(s, tenant, ming) == [ming]


def test_search_by_name(
    profiles_session: Session, tenant: TenantContext, two_people: tuple[str, str, str]
) -> None:
    ming, fang, lei = two_people
    s = profiles_session
    tmall_ming = identity.find_persons(session=s, tenant=tenant, query="ming@example.com")
    assert len(tmall_ming) == 1 and tmall_ming[0] not in (ming, fang, lei)
    assert search(s, tenant, "李雷") == [lei]
    assert search(s, tenant, "王小明") == tmall_ming
    assert set(search(s, tenant, "王")) == {ming, fang, tmall_ming[0]}
    assert search(s, tenant, "赵") == []
    assert search(s, tenant, " 李雷 ") == [lei]  # surrounding blanks (pasted text) are ignored
    assert search(s, tenant, "   ") == []
    summaries = profiles.search_persons(session=s, tenant=tenant, query="王明")
    assert [(p.oneid, p.name, p.phone, p.sources) for p in summaries] == [
        (ming, "王明", PHONE, ["pos"])
    ]


def test_search_limit(profiles_session: Session, tenant: TenantContext) -> None:
    load(
        profiles_session,
        tenant,
        *(customer("web", f"w-{i}", name=f"张{i}", identifiers={}) for i in range(5)),
    )
    found = profiles.search_persons(session=profiles_session, tenant=tenant, query="张", limit=3)
    assert len(found) == 3
    assert len(search(profiles_session, tenant, "张")) == 5
