"""Bulk inserts store exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from siyu.identity.models import Person
from siyu.store.base import table
from siyu.store.bulk import insert_many, update_many
from siyu.tenants import TenantContext


def test_insert_many_stores_the_same_values_as_sqlalchemy(
    session: Session, tenant: TenantContext
) -> None:
    at = datetime(2024, 5, 31, 16, 0, tzinfo=UTC)  # whole seconds: formats differ most here
    insert_many(session, Person, [{"oneid": "B" * 26, "tenant_id": tenant.id, "created_at": at}])
    session.execute(
        insert(table(Person)), [{"oneid": "C" * 26, "tenant_id": tenant.id, "created_at": at}]
    )
    raw = dict(
        session.execute(
            text("SELECT oneid, CAST(created_at AS TEXT) FROM persons WHERE oneid IN (:b, :c)"),
            {"b": "B" * 26, "c": "C" * 26},
        ).all()
    )
    assert raw["B" * 26] == raw["C" * 26]
    # and a comparison with a bound time finds both (SQLite compares the stored text)
    found = session.scalars(
        select(Person.oneid).where(Person.tenant_id == tenant.id, Person.created_at >= at)
    ).all()
    assert {"B" * 26, "C" * 26} <= set(found)


def test_insert_many_counts_rows_and_update_many_checks_where(
    session: Session, tenant: TenantContext
) -> None:
    at = datetime(2024, 5, 31, 16, 0, tzinfo=UTC)
    rows = [{"oneid": f"W{n}".ljust(26, "0"), "tenant_id": tenant.id} for n in range(3)]
    inserted = insert_many(session, Person, rows)
    again = insert_many(session, Person, rows[:2], ignore_conflicts=True)
    if session.get_bind().dialect.name == "sqlite":
        assert (inserted, again) == (3, 0)  # the driver's count: ignored rows not counted
    else:
        assert inserted is None and again is None  # not known: callers count themselves
    # Only rows that also meet `where` change: W1's merged_into is set, so it is left.
    session.execute(
        table(Person).update().where(table(Person).c.oneid == rows[1]["oneid"]),
        {"merged_into": "X" * 26},
    )
    update_many(
        session,
        Person,
        [{"oneid": r["oneid"], "retired_at": at} for r in rows],
        key="oneid",
        where={"tenant_id": tenant.id},
    )
    update_many(
        session,
        Person,
        [{"oneid": r["oneid"], "merged_into": "Y" * 26} for r in rows],
        key="oneid",
        where={"merged_into": "X" * 26},
    )
    found = dict(
        session.execute(
            select(Person.oneid, Person.merged_into).where(
                Person.oneid.in_([r["oneid"] for r in rows])
            )
        ).all()
    )
    assert found == {rows[0]["oneid"]: None, rows[1]["oneid"]: "Y" * 26, rows[2]["oneid"]: None}
    retired = session.scalars(
        select(Person.retired_at).where(Person.oneid.in_([r["oneid"] for r in rows]))
    ).all()
    assert retired == [at, at, at]
