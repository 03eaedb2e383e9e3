"""Channel tables: the message outbox, unsubscribes, channel accounts and touch policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, TenantScoped, UtcDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class Message(TenantScoped, Base):
    """One outbound message. Its `key` is recorded here before anything is sent, so a
    crash never sends it twice: a row left `sending` is resolved with the provider first.

    status: queued -> sending -> sent -> delivered / undelivered; or suppressed (consent,
    unsubscribe, cap, no address), failed (provider refused), dead (retries exhausted),
    unknown (in doubt after a crash on a channel that cannot be asked).
    """

    __tablename__ = "channel_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index("ix_channel_messages_due", "not_before"),
        Index("ix_channel_messages_person", "tenant_id", "oneid", "sent_at"),
        Index("ix_channel_messages_provider", "tenant_id", "provider_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128))
    oneid: Mapped[str] = mapped_column(String(26))
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16), default="marketing")
    origin: Mapped[str | None] = mapped_column(String(128), nullable=True)  # journey/step
    content: Mapped[dict[str, Any]] = mapped_column(JSON)  # per locale, unrendered
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # as sent
    recipient: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due time while queued (quiet hours and retries move it); NULL once settled.
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Unsubscribe(TenantScoped, Base):
    """A person said stop on a channel (API, e-mail link, SMS reply such as 回复TD退订)."""

    __tablename__ = "channel_unsubscribes"
    __table_args__ = (UniqueConstraint("tenant_id", "oneid", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oneid: Mapped[str] = mapped_column(String(26))
    channel: Mapped[str] = mapped_column(String(32))  # consent group: sms, email, wecom, ...
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ChannelAccount(TenantScoped, Base):
    """A tenant's provider settings for a channel (endpoint, keys, sign name, agent id)."""

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TouchPolicyRow(TenantScoped, Base):
    """A tenant's touch policy (consent rule, caps, quiet hours) as JSON."""

    __tablename__ = "channel_policies"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
