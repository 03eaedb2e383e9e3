"""Canonical records (customer, order, refund, event): the contract and their storage."""

from siyu.records.facts import (
    CUSTOMER_PROFILE_FIELDS,
    changed_since,
    iter_customer_facts,
    iter_customer_profile_facts,
    iter_event_facts,
    iter_order_facts,
    iter_order_item_facts,
    iter_refund_facts,
)
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
    "CUSTOMER_PROFILE_FIELDS",
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
    "changed_since",
    "content_hash",
    "customer_records",
    "events",
    "find_customer_records",
    "iter_customer_facts",
    "iter_customer_profile_facts",
    "iter_event_facts",
    "iter_order_facts",
    "iter_order_item_facts",
    "iter_refund_facts",
    "orders",
    "refunds_of_orders",
    "store_records",
]
