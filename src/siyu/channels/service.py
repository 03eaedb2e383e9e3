"""Channel use cases: queue messages, accounts and policy, unsubscribes, message views."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu import identity
from siyu.channels.models import ChannelAccount, Message, TouchPolicyRow, Unsubscribe
from siyu.channels.schemas import (
    CHANNELS,
    SECRET_FIELDS,
    MessageView,
    NewMessage,
    Queued,
    TouchPolicy,
)
from siyu.store.base import utcnow
from siyu.store.bulk import insert_many
from siyu.store.sealed import seal, unseal
from siyu.tenants import TenantContext

TRACKING = "tracking"  # account holding the link-signing secret and the public base URL


def enqueue_messages(
    *, session: Session, tenant: TenantContext, messages: Sequence[NewMessage | Queued]
) -> int:
    """Queue messages for the dispatcher (returns how many were given); a key already
    queued is left alone."""
    if not messages:
        return 0
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant.id,
            "key": m.key,
            "oneid": m.oneid,
            "channel": m.channel,
            "category": m.category,
            "origin": m.origin,
            "content": m.content,
            "variables": m.variables,
            "status": "queued",
            "attempts": 0,
            "not_before": m.not_before or now,
            "created_at": now,
        }
        for m in messages
    ]
    for channel in {m.channel for m in messages}:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
    # A key queued before (a step run again after a crash) is skipped, not an error.
    insert_many(session, Message, rows, ignore_conflicts=True)
    return len(rows)


def get_policy(*, session: Session, tenant: TenantContext) -> TouchPolicy:
    """The tenant's touch policy (defaults until one is set)."""
    row = session.scalar(select(TouchPolicyRow).where(TouchPolicyRow.tenant_id == tenant.id))
    return TouchPolicy.model_validate(row.policy) if row else TouchPolicy()


def set_policy(*, session: Session, tenant: TenantContext, policy: TouchPolicy) -> None:
    """Replace the tenant's touch policy."""
    row = session.scalar(select(TouchPolicyRow).where(TouchPolicyRow.tenant_id == tenant.id))
    if row is None:
        row = TouchPolicyRow(tenant_id=tenant.id, policy={})
        session.add(row)
    row.policy = policy.model_dump(mode="json")
    row.updated_at = utcnow()
    session.flush()


def configure_channel(
    *, session: Session, tenant: TenantContext, channel: str, config: dict[str, Any]
) -> None:
    """Set a channel's provider account (e.g. `{"provider": "aliyun", ...}` for sms)."""
    if channel not in (*CHANNELS, TRACKING):
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    row = session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.tenant_id == tenant.id, ChannelAccount.channel == channel
        )
    )
    if row is None:
        row = ChannelAccount(tenant_id=tenant.id, channel=channel, config={})
        session.add(row)
    # Keys, passwords and app secrets are stored sealed, never in plain text.
    row.config = {
        key: seal(str(value)) if key in SECRET_FIELDS and value else value
        for key, value in config.items()
    }
    row.updated_at = utcnow()
    session.flush()


def channel_config(
    *, session: Session, tenant: TenantContext, channel: str
) -> dict[str, Any] | None:
    """A channel's provider account, or None when the tenant has not set it up."""
    stored = session.scalar(
        select(ChannelAccount.config).where(
            ChannelAccount.tenant_id == tenant.id, ChannelAccount.channel == channel
        )
    )
    if stored is None:
        return None
    return {
        key: unseal(value) if key in SECRET_FIELDS and isinstance(value, str) else value
        for key, value in stored.items()
    }


def tracking_config(*, session: Session, tenant: TenantContext) -> dict[str, Any]:
    """The link-signing secret and public base URL, created on first use."""
    config = channel_config(session=session, tenant=tenant, channel=TRACKING)
    if config is None or "secret" not in config:
        config = {"secret": secrets.token_hex(32), "base_url": "http://127.0.0.1:8000"}
        configure_channel(session=session, tenant=tenant, channel=TRACKING, config=config)
    return config


def unsubscribe(
    *, session: Session, tenant: TenantContext, oneid: str, channel: str, source: str
) -> bool:
    """Record that a person wants no more messages on a consent group ("*": any).
    Returns False when they already had."""
    exists = session.scalar(
        select(Unsubscribe.id).where(
            Unsubscribe.tenant_id == tenant.id,
            Unsubscribe.oneid == oneid,
            Unsubscribe.channel == channel,
        )
    )
    if exists is not None:
        return False
    session.add(Unsubscribe(tenant_id=tenant.id, oneid=oneid, channel=channel, source=source))
    session.flush()
    return True


def resubscribe(*, session: Session, tenant: TenantContext, oneid: str, channel: str) -> bool:
    """Undo an unsubscribe (the person opted in again)."""
    row = session.scalar(
        select(Unsubscribe).where(
            Unsubscribe.tenant_id == tenant.id,
            Unsubscribe.oneid == oneid,
            Unsubscribe.channel == channel,
        )
    )
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def unsubscribed(
    *, session: Session, tenant: TenantContext, oneids: Sequence[str]
) -> dict[str, set[str]]:
    """The consent groups each person unsubscribed from."""
    found: dict[str, set[str]] = defaultdict(set)
    unique = sorted(set(oneids))
    for start in range(0, len(unique), 2000):
        rows = session.execute(
            select(Unsubscribe.oneid, Unsubscribe.channel).where(
                Unsubscribe.tenant_id == tenant.id,
                Unsubscribe.oneid.in_(unique[start : start + 2000]),
            )
        )
        for oneid, channel in rows:
            found[oneid].add(channel)
    return found


def list_messages(
    *,
    session: Session,
    tenant: TenantContext,
    oneid: str | None = None,
    origin_prefix: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[MessageView]:
    """Messages, newest first, filtered by person, origin (e.g. `journey:3:`) or status."""
    query = select(Message).where(Message.tenant_id == tenant.id)
    if oneid is not None:
        query = query.where(Message.oneid == oneid)
    if origin_prefix is not None:
        query = query.where(Message.origin.startswith(origin_prefix, autoescape=True))
    if status is not None:
        query = query.where(Message.status == status)
    if since is not None:
        query = query.where(Message.created_at >= since)
    rows = session.scalars(query.order_by(Message.id.desc()).limit(limit))
    return [MessageView.model_validate(row, from_attributes=True) for row in rows]


def messages_of_person(
    *, session: Session, tenant: TenantContext, oneid: str, limit: int = 100
) -> list[MessageView]:
    """Messages to a person, newest first, including those sent under OneIDs since
    merged into them (the outbox keeps the OneID a message was queued for)."""
    family = identity.oneid_family(session=session, tenant=tenant, oneid=oneid)
    names = [family[0], *family[1]] if family else [oneid]
    rows = session.scalars(
        select(Message)
        .where(Message.tenant_id == tenant.id, Message.oneid.in_(names))
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [MessageView.model_validate(row, from_attributes=True) for row in rows]


def count_messages(*, session: Session, tenant: TenantContext, status: str | None = None) -> int:
    """How many messages the tenant has (in one status)."""
    query = select(func.count()).select_from(Message).where(Message.tenant_id == tenant.id)
    if status is not None:
        query = query.where(Message.status == status)
    return int(session.scalar(query) or 0)


def messages_by_key(
    *, session: Session, tenant: TenantContext, keys: Sequence[str]
) -> dict[str, MessageView]:
    """Messages by their idempotency keys."""
    found: dict[str, MessageView] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), 2000):
        rows = session.scalars(
            select(Message).where(
                Message.tenant_id == tenant.id, Message.key.in_(unique[start : start + 2000])
            )
        )
        for row in rows:
            found[row.key] = MessageView.model_validate(row, from_attributes=True)
    return found
