"""Watermarks of the feeds loyalty reads (orders, refunds, identity merges), per tenant.

Reading a cursor locks it, so two runs of one feed for a tenant take turns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.loyalty.models import Cursor
from siyu.loyalty.sql import insert_once
from siyu.store.base import table

_CURSOR = table(Cursor)


def take(session: Session, tenant_id: int, name: str) -> dict[str, Any]:
    """The cursor's value (empty when new), locked until the transaction ends."""
    insert_once(session, _CURSOR, {"tenant_id": tenant_id, "name": name, "value": {}},
                ["tenant_id", "name"])  # fmt: skip
    value = session.scalar(
        select(_CURSOR.c.value)
        .where(_CURSOR.c.tenant_id == tenant_id, _CURSOR.c.name == name)
        .with_for_update()
    )
    return dict(value or {})


def move(session: Session, tenant_id: int, name: str, value: dict[str, Any]) -> None:
    session.execute(
        update(_CURSOR)
        .where(_CURSOR.c.tenant_id == tenant_id, _CURSOR.c.name == name)
        .values(value=value)
    )
