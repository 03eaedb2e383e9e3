"""The 360° person view."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from siyu.identity import BlockedView, RecordRef
from siyu.identity.schemas import ChangeView, IdentifierView


class SourceRecordView(BaseModel):
    source: str
    external_id: str
    name: str | None
    identifiers: dict[str, str]
    hints: dict[str, str] | None
    consent: dict[str, bool] | None
    registered_at: datetime | None
    store_id: str | None
    staff_id: str | None


class OrderView(BaseModel):
    source: str
    order_id: str
    status: str
    created_at: datetime
    paid_amount: Decimal
    refunded_amount: Decimal
    items: list[dict[str, Any]] | None
    store_id: str | None


class RefundView(BaseModel):
    source: str
    refund_id: str
    order_id: str
    amount: Decimal
    created_at: datetime


class EventView(BaseModel):
    source: str
    event_id: str
    type: str
    occurred_at: datetime
    properties: dict[str, Any] | None


class Traits(BaseModel):
    """Basic traits computed on the fly; the engine computes the rest in batch."""

    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    order_count: int = 0
    net_paid: Decimal = Decimal("0.00")
    aov: Decimal | None = None
    channels: list[str] = Field(default_factory=list)


class PersonView(BaseModel):
    oneid: str
    requested: str
    retired_oneids: list[str]
    attributes: dict[str, Any]  # merged across source records by the tenant's field rules
    attribute_sources: dict[str, str]  # which source each merged attribute came from
    identifiers: list[IdentifierView]
    records: list[SourceRecordView]
    orders: list[OrderView]
    refunds: list[RefundView]
    events: list[EventView]
    traits: Traits
    consent: dict[str, bool | None]
    merge_history: list[ChangeView]
    blocked: list[BlockedView]
    record_refs: list[RecordRef]


class PersonSummary(BaseModel):
    oneid: str
    name: str | None
    phone: str | None
    sources: list[str]
    birthday: date | None = None


class ContactCard(BaseModel):
    """What touching a person needs: merged attributes, addresses per channel, consent."""

    oneid: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat_openids: list[str] = Field(default_factory=list)  # "appid/openid"
    wecom_external_userids: list[str] = Field(default_factory=list)  # "corpid/external_userid"
    staff_id: str | None = None  # their guide (导购)
    store_id: str | None = None
    consent: dict[str, bool | None] = Field(default_factory=dict)
    timezone: str | None = None  # from a record's attributes; else the tenant's
    locale: str | None = None  # from a record's attributes ("zh-CN", "en")
    attributes: dict[str, Any] = Field(default_factory=dict)  # merged profile attributes
