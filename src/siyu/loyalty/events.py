"""The loyalty outbox: events journeys trigger on (升级礼, 降级提醒, points expiring...).

Each event has a key from what caused it, so emitting twice stores it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.loyalty.journal import Account
from siyu.loyalty.models import LoyaltyEvent, Program
from siyu.loyalty.sql import insert_once
from siyu.loyalty.views import EventView
from siyu.store.base import table
from siyu.tenants import TenantContext

EVENT_TYPES = (
    "enrolled",
    "members_merged",
    "tier_upgraded",
    "tier_downgraded",
    "tier_retained",
    "tier_grace_started",
    "tier_changed",
    "points_expiring",
    "points_expired",
)
_EVENT = table(LoyaltyEvent)


def emit(
    session: Session,
    account: Account,
    type_: str,
    *,
    key: str,
    at: datetime,
    payload: dict[str, Any],
) -> bool:
    """Store an event for journeys once per key; False when it was already stored."""
    values = {
        "tenant_id": account.tenant_id,
        "program_id": account.program.id,
        "member_id": account.id,
        "oneid": account.oneid,
        "type": type_,
        "key": key,
        "payload": {"program": account.program.code, **payload},
        "at": at,
    }
    return insert_once(session, _EVENT, values, ["tenant_id", "key"])


def events_since(
    *, session: Session, tenant: TenantContext, after: int = 0, limit: int = 1000
) -> list[EventView]:
    """Loyalty events after id `after`, oldest first: the feed journeys read."""
    rows = session.execute(
        select(LoyaltyEvent, Program.code)
        .join(Program, Program.id == LoyaltyEvent.program_id)
        .where(LoyaltyEvent.tenant_id == tenant.id, LoyaltyEvent.id > after)
        .order_by(LoyaltyEvent.id)
        .limit(limit)
    )
    return [
        EventView(id=e.id, program=code, oneid=e.oneid, type=e.type, payload=e.payload, at=e.at)
        for e, code in rows
    ]
