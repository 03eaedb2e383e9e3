"""The canonical records of `shared/spec/records.md`, as pydantic contracts.

Empty strings mean "no value"; nested fields may arrive as JSON strings (CSV columns);
times without an offset are in the tenant's zone, passed as validation context `zone`.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


def _json_text(value: Any) -> Any:
    """CSV carries nested fields as JSON strings; parse them, leave real objects alone."""
    if isinstance(value, str):
        if value.strip() == "":
            return None
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
    return value


def _aware(value: datetime, info: ValidationInfo) -> datetime:
    if value.tzinfo is None:
        zone = (info.context or {}).get("zone", SHANGHAI)
        return value.replace(tzinfo=zone)
    return value


# Validated natively by pydantic-core (no Python call per amount): yuan, at most 2 decimals.
Yuan = Annotated[Decimal, Field(decimal_places=2, allow_inf_nan=False)]
NonNegativeYuan = Annotated[Yuan, Field(ge=0)]
Time = Annotated[datetime, AfterValidator(_aware)]
Text = Annotated[str, Field(min_length=1, max_length=128)]
SourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


JsonObject = Annotated[dict[str, Any] | None, BeforeValidator(_json_text)]
JsonConsent = Annotated[dict[str, bool] | None, BeforeValidator(_json_text)]
JsonStrings = Annotated[list[str] | None, BeforeValidator(_json_text)]


class _Record(BaseModel):
    model_config = ConfigDict(
        extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True, frozen=True
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_empty(cls, data: Any) -> Any:
        if isinstance(data, dict):
            values = data.values()
            # Most records have no empty values: check in C before building a new dict.
            if "" in values or None in values:
                return {k: v for k, v in data.items() if v is not None and v != ""}
        return data


class CustomerRef(_Record):
    external_id: Text | None = None
    identifiers: dict[str, Annotated[str | None, BeforeValidator(_empty_to_none)]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _needs_something(self) -> CustomerRef:
        if not self.external_id and not any(self.identifiers.values()):
            raise ValueError("customer_ref needs an external_id or at least one identifier")
        return self


class CustomerIn(_Record):
    kind: Literal["customer"] = "customer"
    source: SourceName
    external_id: Text
    identifiers: dict[str, Annotated[str | None, BeforeValidator(_empty_to_none)]] = Field(
        default_factory=dict
    )
    name: Annotated[str, Field(max_length=128)] | None = None
    gender: Literal["m", "f", "u"] | None = None
    birthday: date | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address: Annotated[str, Field(max_length=512)] | None = None
    postal_code: Annotated[str, Field(max_length=16)] | None = None
    registered_at: Time | None = None
    store_id: str | None = None
    staff_id: str | None = None
    consent: JsonConsent = None
    attributes: JsonObject = None

    @property
    def record_id(self) -> str:
        return self.external_id


class OrderItem(_Record):
    sku: str | None = None
    product_id: str | None = None
    product_name: str | None = None
    category: str | None = None
    quantity: Annotated[int, Field(ge=0)] = 1
    unit_price: Yuan | None = None
    amount: Yuan | None = None


class ShipTo(_Record):
    name: str | None = None
    phone: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address: str | None = None


OrderStatus = Literal[
    "created", "paid", "shipped", "completed", "closed", "refunded", "partially_refunded"
]


class OrderIn(_Record):
    kind: Literal["order"] = "order"
    source: SourceName
    order_id: Text
    customer_ref: Annotated[CustomerRef, BeforeValidator(_json_text)]
    status: OrderStatus
    created_at: Time
    paid_at: Time | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    total_amount: NonNegativeYuan
    paid_amount: NonNegativeYuan
    discount_amount: NonNegativeYuan | None = None
    shipping_amount: NonNegativeYuan | None = None
    items: Annotated[list[OrderItem] | None, BeforeValidator(_json_text)] = None
    coupon_codes: JsonStrings = None
    store_id: str | None = None
    staff_id: str | None = None
    ship_to: Annotated[ShipTo | None, BeforeValidator(_json_text)] = None

    @property
    def record_id(self) -> str:
        return self.order_id


class RefundIn(_Record):
    kind: Literal["refund"] = "refund"
    source: SourceName
    refund_id: Text
    order_id: Text
    amount: NonNegativeYuan
    created_at: Time
    items: Annotated[list[OrderItem] | None, BeforeValidator(_json_text)] = None

    @property
    def record_id(self) -> str:
        return self.refund_id


class EventIn(_Record):
    kind: Literal["event"] = "event"
    source: SourceName
    event_id: Text
    customer_ref: Annotated[CustomerRef, BeforeValidator(_json_text)]
    type: Annotated[str, Field(min_length=1, max_length=64)]
    occurred_at: Time
    properties: JsonObject = None

    @property
    def record_id(self) -> str:
        return self.event_id


CanonicalRecord = CustomerIn | OrderIn | RefundIn | EventIn
RECORD_MODELS: dict[str, type[CustomerIn | OrderIn | RefundIn | EventIn]] = {
    "customer": CustomerIn,
    "order": OrderIn,
    "refund": RefundIn,
    "event": EventIn,
}


def content_hash(data: dict[str, Any]) -> str:
    """A fingerprint of a record as received: the same record again changes nothing."""
    payload = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(payload, digest_size=16).hexdigest()
