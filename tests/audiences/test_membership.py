"""Audience membership: batch refresh with entry/exit history, online updates as records
arrive (agreeing with batch), changes for journeys, run-due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from rules.dataset import AS_OF, build
from siyu import audiences
from siyu.audiences import AudienceIn
from siyu.ingest import ingest_records
from siyu.tenants import TenantContext
from support import event, order


def _create(
    session: Session, tenant: TenantContext, name: str, rule: dict[str, Any], **kw: Any
) -> None:
    audiences.create_audience(
        session=session, tenant=tenant, audience=AudienceIn(name=name, rule=rule, **kw), by="ops"
    )


def _members(session: Session, tenant: TenantContext, name: str, oneid: dict[str, str]) -> str:
    name_of = {v: k for k, v in oneid.items()}
    found = audiences.members(session=session, tenant=tenant, name=name)
    return "".join(sorted(name_of[o] for o in found))


def test_refresh_keeps_entry_and_exit_history(
    session: Session, tenant: TenantContext, engine_name: str, tmp_path: Path
) -> None:
    oneid = build(session, tenant, tmp_path)
    _create(session, tenant, "近30天购买", {"bought": {}, "within_days": 30})
    _create(session, tenant, "上海", {"attribute": "city", "value": "上海"})
    start = datetime.now(UTC) - timedelta(seconds=1)

    def refresh(day: object, *names: str) -> dict[str, tuple[int, int, int]]:
        report = audiences.refresh_audiences(
            session=session,
            tenant=tenant,
            engine_dir=tmp_path,
            names=list(names) or None,
            engine=engine_name,
            as_of=day,  # type: ignore[arg-type]
        )
        return {a.name: (a.size, a.entered, a.exited) for a in report.audiences}

    assert refresh(AS_OF) == {"近30天购买": (2, 2, 0), "上海": (2, 2, 0)}
    assert _members(session, tenant, "近30天购买", oneid) == "AB"
    assert _members(session, tenant, "上海", oneid) == "CE"
    # 15 days on, A's last purchase is 35 days old: A leaves.
    assert refresh(AS_OF + timedelta(days=15), "近30天购买") == {"近30天购买": (1, 0, 1)}
    # A buys again (dated that day) and comes back: a second interval.
    ingest_records(
        session=session,
        tenant=tenant,
        items=[order("tmall", "o9", customer_id="a1", created_at="2024-07-14T10:00:00+08:00")],
        origin="test",
    )
    assert refresh(AS_OF + timedelta(days=15), "近30天购买") == {"近30天购买": (2, 1, 0)}
    history = audiences.membership_history(
        session=session, tenant=tenant, name="近30天购买", oneid=oneid["A"]
    )
    assert [(h.entered_by, h.exited_by) for h in history] == [
        ("refresh", None),
        ("refresh", "refresh"),
    ]
    assert history[1].exited_at is not None and history[0].entered_at > history[1].exited_at
    changes = audiences.changes_since(
        session=session, tenant=tenant, since=start, audiences=["近30天购买"]
    )
    name_of = {v: k for k, v in oneid.items()}
    assert [(name_of[c.oneid], c.change) for c in changes] == [
        ("A", "entered"),
        ("B", "entered"),
        ("A", "exited"),
        ("A", "entered"),
    ]
    later = audiences.changes_since(session=session, tenant=tenant, since=changes[1].at)
    assert [(name_of[c.oneid], c.change) for c in later] == [("A", "exited"), ("A", "entered")]
    view = audiences.get_audience(session=session, tenant=tenant, name="近30天购买")
    assert view.size == 2 and view.refreshed_at is not None
    # Per tenant-local day: every entry and exit counted, the size after the last day.
    days = audiences.membership_timeline(session=session, tenant=tenant, name="近30天购买")
    assert sum(d.entered for d in days) == 3 and sum(d.exited for d in days) == 1
    assert days[-1].size == view.size
    assert [d.day for d in days] == sorted({d.day for d in days})


def test_online_updates_agree_with_batch(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    oneid = build(session, tenant, tmp_path)
    rules = {
        "clicked": {"event": "message_clicked", "within_days": 7},
        "护肤复购": {"bought": {"category": "护肤"}, "within_days": 90, "min": 2},
        "沉睡": {"bought": {}, "within_days": 60, "max": 0},
        "VIP上海": {"all": [{"tag": "VIP"}, {"attribute": "city", "value": "上海"}]},
    }
    for name, rule in rules.items():
        _create(session, tenant, name, rule)
    _create(session, tenant, "batch only", {"tag": "VIP"}, online=False)
    audiences.refresh_audiences(session=session, tenant=tenant, engine_dir=tmp_path, as_of=AS_OF)
    before = {name: _members(session, tenant, name, oneid) for name in rules}
    assert before == {"clicked": "AC", "护肤复购": "A", "沉睡": "CDE", "VIP上海": "C"}
    # D clicks today; C and E buy 护肤 today.
    arriving = [
        event(
            "douyin",
            "ed9",
            customer_id="d1",
            type="message_clicked",
            occurred_at="2024-06-30T10:00:00+08:00",
        ),
        order(
            "wechat_mp",
            "o10",
            customer_id="c1",
            created_at="2024-06-30T10:00:00+08:00",
            items=[{"category": "护肤", "quantity": 1, "amount": "100.00"}],
        ),
        order(
            "pos",
            "o11",
            customer_id="e1",
            created_at="2024-06-30T11:00:00+08:00",
            items=[{"category": "护肤", "quantity": 1, "amount": "100.00"}],
        ),
    ]
    _, results = ingest_records(session=session, tenant=tenant, items=arriving, origin="test")
    touched = [r.oneid for r in results if r.oneid]
    report = audiences.on_records(session=session, tenant=tenant, oneids=touched, as_of=AS_OF)
    after = {name: _members(session, tenant, name, oneid) for name in rules}
    assert after == {"clicked": "ACD", "护肤复购": "AE", "沉睡": "D", "VIP上海": "C"}
    assert (report.persons, report.entered, report.exited) == (3, 2, 2)
    assert _members(session, tenant, "batch only", oneid) == "AC"  # untouched online
    [entry] = [
        h
        for h in audiences.membership_history(session=session, tenant=tenant, name="clicked")
        if h.oneid == oneid["D"]
    ]
    assert entry.entered_by == "online"
    # A batch refresh over the same data finds nothing left to change.
    again = audiences.refresh_audiences(
        session=session, tenant=tenant, engine_dir=tmp_path, as_of=AS_OF
    )
    assert [(a.name, a.entered, a.exited) for a in again.audiences if a.entered or a.exited] == []


def test_merged_persons_leave_online(
    session: Session, tenant: TenantContext, tmp_path: Path
) -> None:
    from support import customer, identity_map, ingest

    ingest(session, tenant, customer("pos", "x", {"phone": "13900000001"}, city="上海"))
    ingest(session, tenant, customer("jd", "y", {"email": "y@example.com"}, city="上海"))
    _create(session, tenant, "上海", {"attribute": "city", "value": "上海"})
    audiences.refresh_audiences(session=session, tenant=tenant, engine_dir=tmp_path, as_of=AS_OF)
    retired = identity_map(session, tenant)["customer:jd/y"]
    ingest(
        session, tenant, customer("tmall", "z", {"phone": "13900000001", "email": "y@example.com"})
    )
    survivor = identity_map(session, tenant)["customer:jd/y"]
    assert survivor != retired
    # The online path (support.ingest) re-evaluated the merged person: the retired OneID left.
    history = audiences.membership_history(session=session, tenant=tenant, oneid=retired)
    assert [h.exited_by for h in history] == ["merge"]
    assert audiences.members(session=session, tenant=tenant, name="上海") == [survivor]


def test_run_due(session: Session, tenant: TenantContext, tmp_path: Path) -> None:
    build(session, tenant, tmp_path)
    _create(session, tenant, "daily", {"tag": "VIP"}, refresh_minutes=1440)
    _create(session, tenant, "on demand", {"tag": "VIP"})
    first = audiences.refresh_audiences(
        session=session, tenant=tenant, engine_dir=tmp_path, due_only=True
    )
    assert [(a.name, a.size) for a in first.audiences] == [("daily", 2)]
    assert (
        audiences.refresh_audiences(
            session=session, tenant=tenant, engine_dir=tmp_path, due_only=True
        ).audiences
        == []
    )
