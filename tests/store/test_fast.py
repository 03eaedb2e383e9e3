"""`siyu.store.fast`: pre-built statements on the session's driver connection store and read
values exactly as the ORM does, and stay inside the session's transaction."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, insert, select

from siyu.loyalty.models import Entry, Reward
from siyu.store import Store
from siyu.store.base import table
from siyu.store.fast import Fast

_ENTRY = table(Entry)
KEYS = ["tenant_id", "program_id", "member_id", "key", "kind", "cause", "ref", "points",
        "debt", "reason", "actor", "detail", "at"]  # fmt: skip
INSERT = Fast(insert(_ENTRY).returning(_ENTRY.c.id), keys=KEYS)
BY_TENANT = Fast(
    select(_ENTRY.c.key, _ENTRY.c.at, _ENTRY.c.detail)
    .where(_ENTRY.c.tenant_id == bindparam("tenant"), _ENTRY.c.kind == "earn")
    .order_by(_ENTRY.c.id)
)
LOCAL = datetime(2024, 5, 1, 10, 30, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))


def _values(tenant: int, key: str) -> dict[str, object]:
    return {
        "tenant_id": tenant, "program_id": 1, "member_id": 1, "key": key, "kind": "earn",
        "cause": "test", "ref": None, "points": 5, "debt": 0, "reason": None, "actor": "t",
        "detail": {"é": [1, "二"]}, "at": LOCAL,
    }  # fmt: skip


def test_values_round_trip_like_the_orm(store: Store) -> None:
    tenant = secrets.randbelow(10**9) + 10**6
    with store.session() as session:
        new_id = INSERT.scalar(session, _values(tenant, "fast"))
        session.add(Entry(**_values(tenant, "orm")))
        session.flush()
        by_orm = session.scalars(select(Entry).where(Entry.tenant_id == tenant).order_by(Entry.id))
        assert [(e.key, e.at, e.detail) for e in by_orm] == [
            ("fast", LOCAL, {"é": [1, "二"]}),
            ("orm", LOCAL, {"é": [1, "二"]}),
        ]
        rows = BY_TENANT.rows(session, {"tenant": tenant})
        assert [(r.key, r.at, r.detail) for r in rows] == [
            ("fast", LOCAL, {"é": [1, "二"]}),
            ("orm", LOCAL, {"é": [1, "二"]}),
        ]
        assert rows[0].at.tzinfo is not None and rows[0].at == LOCAL.astimezone(UTC)
        assert isinstance(new_id, int)
        session.rollback()


def test_money_and_comparisons_on_stored_times(store: Store) -> None:
    tenant = secrets.randbelow(10**9) + 10**6
    rewards = table(Reward)
    later = Fast(select(rewards.c.cash).where(rewards.c.tenant_id == bindparam("tenant")))
    after = Fast(
        select(_ENTRY.c.key).where(
            _ENTRY.c.tenant_id == bindparam("tenant"), _ENTRY.c.at > bindparam("moment")
        )
    )
    with store.session() as session:
        session.add(Reward(tenant_id=tenant, program_id=1, code="r", name="r", points=1,
                           cash=Decimal("9.90"), taken=0, active=True))  # fmt: skip
        session.flush()  # fast statements do not autoflush
        INSERT.scalar(session, _values(tenant, "k"))
        assert later.scalar(session, {"tenant": tenant}) == Decimal("9.90")
        just_before = datetime(2024, 5, 1, 2, 30, 0, 123455, tzinfo=UTC)
        assert after.rows(session, {"tenant": tenant, "moment": just_before})[0].key == "k"
        assert after.rows(session, {"tenant": tenant, "moment": LOCAL}) == []
        session.rollback()


def test_statements_stay_inside_the_sessions_transactions(store: Store) -> None:
    tenant = secrets.randbelow(10**9) + 10**6
    with store.session() as session:
        INSERT.scalar(session, _values(tenant, "committed"))
        session.commit()
        INSERT.scalar(session, _values(tenant, "rolled back"))  # a new transaction begins
        session.rollback()
    with store.session() as session:
        try:
            assert [r.key for r in BY_TENANT.rows(session, {"tenant": tenant})] == ["committed"]
        finally:  # the store is shared: a committed entry of member 1 would show in others
            session.execute(delete(Entry).where(Entry.tenant_id == tenant))
            session.commit()
