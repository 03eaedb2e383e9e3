"""Bulk inserts store exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from siyu.identity.models import Person
from siyu.store.base import table
from siyu.store.bulk import insert_many
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
