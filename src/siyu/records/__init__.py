"""Canonical records (customer, order, refund, event): the contract and their storage."""

from siyu.records.facts import (
    changed_since,
    iter_customer_facts,
    iter_event_facts,
    iter_order_facts,
    iter_order_item_facts,
    iter_refund_facts,
)
from siyu.records.feed import Changed, changed_orders, changed_refunds
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
    OrderValue,
    Outcome,
    customer_records,
    customers_on_day,
    events,
    find_customer_records,
    iter_order_values,
    orders,
    refunds_of_orders,
    store_records,
)

__all__ = [
    "RECORD_MODELS",
    "CanonicalRecord",
    "Changed",
    "CustomerIn",
    "CustomerRecord",
    "CustomerRef",
    "Event",
    "EventIn",
    "Incoming",
    "Order",
    "OrderIn",
    "OrderValue",
    "Outcome",
    "Refund",
    "RefundIn",
    "changed_since",
    "changed_orders",
    "changed_refunds",
    "content_hash",
    "customer_records",
    "customers_on_day",
    "events",
    "find_customer_records",
    "iter_customer_facts",
    "iter_event_facts",
    "iter_order_facts",
    "iter_order_item_facts",
    "iter_refund_facts",
    "iter_order_values",
    "iter_customer_match_fields",
    "orders",
    "refunds_of_orders",
    "store_records",
]
