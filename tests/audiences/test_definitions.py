"""Audience definitions, count previews, overlap and CSV export."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from rules.dataset import AS_OF, build
from siyu import audiences, rules
from siyu.audiences import AudienceIn, AudienceUpdate
from siyu.identity import phone_sha256
from siyu.ingest import ingest_records
from siyu.tenants import TenantContext
from support import customer

FOUR = {
    "all": [
        {"trait": "lifecycle_stage", "op": "in", "value": ["active", "new"]},
        {"attribute": "gender", "op": "!=", "value": "m"},
        {"not": {"tag": "肤质=油"}},
        {"bought": {"category": "护肤"}, "within_days": 90, "min": 1},
    ]
}


def _create(session: Session, tenant: TenantContext, name: str, rule: dict[str, Any]) -> None:
    audiences.create_audience(
        session=session, tenant=tenant, audience=AudienceIn(name=name, rule=rule), by="ops"
    )


def test_definitions(session: Session, tenant: TenantContext) -> None:
    _create(session, tenant, "高价值", {"trait": "net_spend", "op": ">=", "value": 1000})
    with pytest.raises(audiences.AudienceError, match="exists"):
        _create(session, tenant, "高价值", {"trait": "net_spend", "op": ">=", "value": 1})
    with pytest.raises(rules.RuleError, match="unknown tag 'VIP'"):
        _create(session, tenant, "vip", {"tag": "VIP"})
    with pytest.raises(rules.RuleError, match="unknown trait"):
        _create(session, tenant, "bad", {"trait": "shoe_size", "value": 1})
    updated = audiences.update_audience(
        session=session,
        tenant=tenant,
        name="高价值",
        changes=AudienceUpdate(
            rule={"trait": "net_spend", "op": ">=", "value": 2000}, online=False
        ),
    )
    assert updated.rule == {"trait": "net_spend", "op": ">=", "value": "2000"}
    assert (updated.online, updated.size) == (False, 0)
    assert [a.name for a in audiences.list_audiences(session=session, tenant=tenant)] == ["高价值"]
    audiences.delete_audience(session=session, tenant=tenant, name="高价值")
    with pytest.raises(LookupError, match="no audience"):
        audiences.get_audience(session=session, tenant=tenant, name="高价值")


def test_preview_counts_over_the_last_snapshot(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    build(session, tenant, tmp_path)

    def count(rule: dict[str, Any], fresh: bool = False) -> int:
        return audiences.preview(
            session=session, tenant=tenant, rule=rule, engine_dir=tmp_path, as_of=AS_OF, fresh=fresh
        ).count

    assert count(FOUR) == 2  # A and E (first preview: makes a snapshot)
    shanghai = {"attribute": "city", "value": "上海"}
    assert count(shanghai) == 2
    ingest_records(
        session=session,
        tenant=tenant,
        items=[customer("pos", "n1", {"phone": "13911111111"}, city="上海")],
        origin="test",
    )
    assert count(shanghai) == 2  # the last snapshot does not have the new person yet
    assert count(shanghai, fresh=True) == 3
    assert count(shanghai) == 3  # ... and the fresh snapshot is the last one now
    with pytest.raises(rules.RuleError):
        count({"tag": "nope"})


def test_overlap_and_export(session: Session, tenant: TenantContext, tmp_path: Path) -> None:
    oneid = build(session, tenant, tmp_path)
    _create(session, tenant, "VIP", {"tag": "VIP"})  # A C
    _create(session, tenant, "上海", {"attribute": "city", "value": "上海"})  # C E
    _create(session, tenant, "会员", {"trait": "is_member", "value": True})  # A E
    _create(session, tenant, "四条件", FOUR)  # A E
    audiences.refresh_audiences(session=session, tenant=tenant, engine_dir=tmp_path, as_of=AS_OF)
    report = audiences.overlap(session=session, tenant=tenant, names=["VIP", "上海", "会员"])
    assert [(a.name, a.size) for a in report.audiences] == [("VIP", 2), ("上海", 2), ("会员", 2)]
    assert [(p.a, p.b, p.both, p.only_a, p.only_b) for p in report.pairs] == [
        ("VIP", "上海", 1, 1, 1),
        ("VIP", "会员", 1, 1, 1),
        ("上海", "会员", 1, 1, 1),
    ]
    everything = audiences.overlap(session=session, tenant=tenant)
    assert ("会员", "四条件", 2, 0, 0) in [
        (p.a, p.b, p.both, p.only_a, p.only_b) for p in everything.pairs
    ]

    out = io.StringIO()
    fields = [
        "oneid",
        "name",
        "phone",
        "phone_sha256",
        "city",
        "net_spend",
        "lifecycle_stage",
        "tags",
    ]
    rows = audiences.export_audience(
        session=session, tenant=tenant, name="VIP", fields=fields, out=out
    )
    assert rows == 2
    exported = list(csv.DictReader(io.StringIO(out.getvalue())))
    by_id = {r["oneid"]: r for r in exported}
    assert list(exported[0]) == fields
    assert by_id[oneid["A"]] == {
        "oneid": oneid["A"],
        "name": "王芳",
        "phone": "13800000001",
        "phone_sha256": phone_sha256("13800000001"),
        "city": "杭州",  # the pos record is trusted first
        "net_spend": "450.00",
        "lifecycle_stage": "active",
        "tags": "VIP|肤质=干",
    }
    assert by_id[oneid["C"]]["phone"] == "" and by_id[oneid["C"]]["net_spend"] == "80.00"
    with pytest.raises(audiences.ExportFieldError, match="unknown field"):
        audiences.export_audience(
            session=session, tenant=tenant, name="VIP", fields=["oneid", "password"], out=out
        )
