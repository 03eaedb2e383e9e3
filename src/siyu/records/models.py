"""The canonical records as stored: customer records, orders, refunds, events."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.base import Base, Money, TenantScoped, UtcDateTime, utcnow

_Id = BigInteger().with_variant(Integer, "sqlite")


class CustomerRecord(TenantScoped, Base):
    """A person as one source knows them."""

    __tablename__ = "customer_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "external_id"),
        # A guide's (导购) console pages list the customers whose records carry their id.
        Index("ix_customer_records_staff", "tenant_id", "staff_id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    gender: Mapped[str | None] = mapped_column(String(1), nullable=True)
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True)
    province: Mapped[str | None] = mapped_column(String(64), nullable=True)
    city: Mapped[str | None] = mapped_column(String(64), nullable=True)
    district: Mapped[str | None] = mapped_column(String(64), nullable=True)
    address: Mapped[str | None] = mapped_column(String(512), nullable=True)
    postal_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    store_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    staff_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    consent: Mapped[dict[str, bool] | None] = mapped_column(JSON, nullable=True)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Normalised identifier values (raw phone kept here, with the record) and hints.
    identifiers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    hints: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    # Hashes of versions replaced earlier: re-importing an old file does not roll back.
    previous_hashes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Order(TenantScoped, Base):
    """The latest version of an order; items are kept with it as JSON (see decisions)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "order_id"),
        Index("ix_orders_customer", "tenant_id", "source", "customer_external_id"),
        Index("ix_orders_feed", "tenant_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(128))
    customer_external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    customer_identifiers: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    total_amount: Mapped[Decimal] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    discount_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    shipping_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    coupon_codes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    store_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    staff_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ship_to: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    # Hashes of versions replaced earlier: re-importing an old file does not roll back.
    previous_hashes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Refund(TenantScoped, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "refund_id"),
        Index("ix_refunds_order", "tenant_id", "source", "order_id"),
        Index("ix_refunds_feed", "tenant_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    refund_id: Mapped[str] = mapped_column(String(128))
    order_id: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    # Hashes of versions replaced earlier: re-importing an old file does not roll back.
    previous_hashes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Event(TenantScoped, Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("tenant_id", "source", "event_id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    customer_external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    customer_identifiers: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    # Hashes of versions replaced earlier: re-importing an old file does not roll back.
    previous_hashes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
