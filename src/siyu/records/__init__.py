"""Canonical records (customer, order, refund, event): the contract and their storage."""

from siyu.records.match_fields import iter_customer_match_fields
from siyu.records.models import CustomerRecord, Event, Order, Refund
from siyu.records.schemas import (
    RECORD_MODELS,
    CanonicalRecord,
    CustomerIn,
    CustomerRef,
    EventIn,
    OrderIn,
    RefundIn,
    content_hash,
)
from siyu.records.service import (
    Incoming,
    Outcome,
    customer_records,
    events,
    find_customer_records,
    orders,
    refunds_of_orders,
    store_records,
)

__all__ = [
    "RECORD_MODELS",
    "CanonicalRecord",
    "CustomerIn",
    "CustomerRecord",
    "CustomerRef",
    "Event",
    "EventIn",
    "Incoming",
    "Order",
    "OrderIn",
    "Outcome",
    "Refund",
    "RefundIn",
    "content_hash",
    "customer_records",
    "events",
    "find_customer_records",
    "iter_customer_match_fields",
    "orders",
    "refunds_of_orders",
    "store_records",
]
