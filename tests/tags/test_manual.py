"""Manual tags: giving and removing with provenance, exclusive groups, merges, errors."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from siyu import rules, tags
from siyu.tags import TagIn
from siyu.tenants import TenantContext
from support import customer, identity_map, ingest


def _persons(session: Session, tenant: TenantContext, *names: str) -> dict[str, str]:
    for i, name in enumerate(names):
        ingest(session, tenant, customer("pos", name, {"phone": f"1390000000{i}"}))
    labels = identity_map(session, tenant)
    return {name: labels[f"customer:pos/{name}"] for name in names}


def _create(session: Session, tenant: TenantContext, key: str, **fields: object) -> None:
    tags.create_tag(session=session, tenant=tenant, tag=TagIn(key=key, **fields), by="alice")


def test_give_and_remove_keep_provenance(session: Session, tenant: TenantContext) -> None:
    p = _persons(session, tenant, "a", "b")
    _create(session, tenant, "VIP", description="top customers")
    first = tags.give_tag(
        session=session, tenant=tenant, key="VIP", oneids=[p["a"], "NOSUCHONEID"], by="alice"
    )
    assert (first.given, first.already, first.unknown) == (1, 0, ["NOSUCHONEID"])
    again = tags.give_tag(session=session, tenant=tenant, key="VIP", oneids=[p["a"]], by="bob")
    assert (again.given, again.already) == (0, 1)
    [held] = tags.tags_of_person(session=session, tenant=tenant, oneid=p["a"])
    assert (held.key, held.kind, held.given_by_kind, held.given_by) == (
        "VIP",
        "manual",
        "user",
        "alice",  # the first giver stays: giving again changed nothing
    )
    assert tags.tags_of_person(session=session, tenant=tenant, oneid=p["b"]) == []
    assert tags.get_tag(session=session, tenant=tenant, key="VIP").holders == 1
    removed = tags.remove_tag(
        session=session, tenant=tenant, key="VIP", oneids=[p["a"], p["b"]], by="carol"
    )
    assert removed == 1
    assert tags.tags_of_person(session=session, tenant=tenant, oneid=p["a"]) == []
    [interval] = tags.tag_history(session=session, tenant=tenant, oneid=p["a"])
    assert (interval.given_by, interval.removed_by_kind, interval.removed_by) == (
        "alice",
        "user",
        "carol",
    )
    assert interval.removed_at is not None and interval.removed_at >= interval.given_at


def test_exclusive_group_keeps_one_value(session: Session, tenant: TenantContext) -> None:
    p = _persons(session, tenant, "a")
    for value in ("干", "油", "混合"):
        _create(session, tenant, f"肤质={value}")
    [group] = tags.list_groups(session=session, tenant=tenant)
    assert (group.name, group.exclusive, group.values) == ("肤质", True, ["干", "油", "混合"])
    tags.give_tag(session=session, tenant=tenant, key="肤质=干", oneids=[p["a"]], by="alice")
    switched = tags.give_tag(
        session=session, tenant=tenant, key="肤质=油", oneids=[p["a"]], by="bob"
    )
    assert (switched.given, switched.replaced) == (1, 1)
    held = tags.tags_of_person(session=session, tenant=tenant, oneid=p["a"])
    assert [t.key for t in held] == ["肤质=油"]
    history = tags.tag_history(session=session, tenant=tenant, oneid=p["a"])
    closed = next(h for h in history if h.key == "肤质=干")
    assert (closed.removed_by_kind, closed.removed_by) == ("user", "bob")


def test_open_group_allows_several_values(session: Session, tenant: TenantContext) -> None:
    p = _persons(session, tenant, "a")
    tags.create_group(session=session, tenant=tenant, name="兴趣", exclusive=False)
    for value in ("跑步", "瑜伽"):
        _create(session, tenant, f"兴趣={value}")
        tags.give_tag(session=session, tenant=tenant, key=f"兴趣={value}", oneids=[p["a"]], by="x")
    held = tags.tags_of_person(session=session, tenant=tenant, oneid=p["a"])
    assert sorted(t.key for t in held) == ["兴趣=瑜伽", "兴趣=跑步"]


def test_tags_follow_merges(session: Session, tenant: TenantContext) -> None:
    ingest(session, tenant, customer("pos", "x", {"phone": "13900000001"}))
    ingest(session, tenant, customer("jd", "y", {"email": "y@example.com"}))
    labels = identity_map(session, tenant)
    retired = labels["customer:jd/y"]
    _create(session, tenant, "VIP")
    tags.give_tag(session=session, tenant=tenant, key="VIP", oneids=[retired], by="alice")
    # One record with both identifiers merges the two persons; the older OneID survives.
    ingest(
        session,
        tenant,
        customer("tmall", "z", {"phone": "13900000001", "email": "y@example.com"}),
    )
    survivor = identity_map(session, tenant)["customer:jd/y"]
    assert survivor != retired
    held = tags.tags_of_person(session=session, tenant=tenant, oneid=survivor)
    assert [(t.key, t.given_by) for t in held] == [("VIP", "alice")]
    keys = tags.tag_keys_of_persons(session=session, tenant=tenant, oneids=[survivor])
    assert keys == {survivor: {"VIP"}}
    fact = [
        row
        for batch in tags.tag_fact(session=session, tenant=tenant).batches
        for row in zip(*batch.values(), strict=True)
    ]
    assert fact == [(survivor, None, "VIP")]
    assert tags.remove_tag(session=session, tenant=tenant, key="VIP", oneids=[survivor], by="b")
    assert tags.tags_of_person(session=session, tenant=tenant, oneid=survivor) == []


def test_refusals(session: Session, tenant: TenantContext) -> None:
    p = _persons(session, tenant, "a")
    _create(session, tenant, "VIP")
    _create(session, tenant, "高价值", rule={"trait": "net_spend", "op": ">=", "value": 1000})
    with pytest.raises(tags.TagError, match="exists"):
        _create(session, tenant, "VIP")
    with pytest.raises(tags.TagError, match="not a tag key"):
        _create(session, tenant, "a=b=c")
    with pytest.raises(tags.TagError, match="rule tag"):
        tags.give_tag(session=session, tenant=tenant, key="高价值", oneids=[p["a"]], by="x")
    with pytest.raises(LookupError, match="no tag 'nope'"):
        tags.give_tag(session=session, tenant=tenant, key="nope", oneids=[p["a"]], by="x")
    _create(session, tenant, "等级=金")
    with pytest.raises(tags.TagError, match="holds manual tags; this is rule"):
        _create(session, tenant, "等级=银", rule={"tag": "VIP"})
    with pytest.raises(rules.RuleError, match="unknown tag 'SVIP'"):
        _create(session, tenant, "超级", rule={"tag": "SVIP"})
    with pytest.raises(tags.TagError, match="manual; it has no rule"):
        tags.update_rule(session=session, tenant=tenant, key="VIP", rule={"tag": "VIP"})
    with pytest.raises(tags.TagError, match="exists"):
        tags.create_group(session=session, tenant=tenant, name="等级")
