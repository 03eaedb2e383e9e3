"""Streaming every record of a tenant as columnar batches: what the batch engine reads.

Money comes out as integer fen and times as aware UTC datetimes, so the engine's copy is
exact; order items are unnested into their own rows (one per order line).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Select, select, type_coerce
from sqlalchemy.orm import Session

from siyu.records.models import CustomerRecord, Event, Order, Refund
from siyu.tenants import TenantContext

Columns = dict[str, list[Any]]
BATCH = 20_000


def iter_customer_facts(*, session: Session, tenant: TenantContext) -> Iterator[Columns]:
    """Customer records: source, external_id, store_id, is_member, registered_at."""
    query = select(
        CustomerRecord.source,
        CustomerRecord.external_id,
        CustomerRecord.store_id,
        CustomerRecord.identifiers,
        CustomerRecord.registered_at,
    ).where(CustomerRecord.tenant_id == tenant.id)
    names = ("source", "external_id", "store_id", "is_member", "registered_at")
    for rows in _batches(session, query):
        # A member card number is what makes a member until loyalty owns memberships.
        yield _columns(names, [(r[0], r[1], r[2], "member_no" in (r[3] or {}), r[4]) for r in rows])


# Customer-record attributes rules may test; no names, phones or addresses (the snapshot
# on disk holds no personal data beyond what matching and rules need).
CUSTOMER_PROFILE_FIELDS = (
    "gender",
    "birthday",
    "province",
    "city",
    "district",
    "store_id",
    "staff_id",
)


def iter_customer_profile_facts(*, session: Session, tenant: TenantContext) -> Iterator[Columns]:
    """Customer records' rule attributes: source, external_id, CUSTOMER_PROFILE_FIELDS,
    updated_at (which record is newest decides merged attributes)."""
    names = ("source", "external_id", *CUSTOMER_PROFILE_FIELDS, "updated_at")
    query = select(*(getattr(CustomerRecord, name) for name in names)).where(
        CustomerRecord.tenant_id == tenant.id
    )
    for rows in _batches(session, query):
        yield _columns(names, [tuple(r) for r in rows])


def iter_order_facts(*, session: Session, tenant: TenantContext) -> Iterator[Columns]:
    """Orders: source, order_id, status, created_at, paid_at, paid_fen, total_fen, store_id."""
    query = select(
        Order.source,
        Order.order_id,
        Order.status,
        Order.created_at,
        Order.paid_at,
        type_coerce(Order.paid_amount, BigInteger),
        type_coerce(Order.total_amount, BigInteger),
        Order.store_id,
        Order.staff_id,
    ).where(Order.tenant_id == tenant.id)
    names = (
        "source",
        "order_id",
        "status",
        "created_at",
        "paid_at",
        "paid_fen",
        "total_fen",
        "store_id",
        "staff_id",
    )
    for rows in _batches(session, query):
        yield _columns(names, [tuple(r) for r in rows])


def iter_order_item_facts(*, session: Session, tenant: TenantContext) -> Iterator[Columns]:
    """Order lines: source, order_id, line, sku, product_id, category, quantity, amount_fen."""
    query = select(Order.source, Order.order_id, Order.items).where(
        Order.tenant_id == tenant.id, Order.items.is_not(None)
    )
    names = (
        "source",
        "order_id",
        "line",
        "sku",
        "product_id",
        "category",
        "quantity",
        "amount_fen",
    )
    for rows in _batches(session, query):
        lines = [
            (source, order_id, number, *_item(item))
            for source, order_id, items in rows
            for number, item in enumerate(items or [])
        ]
        yield _columns(names, lines)


def _item(item: dict[str, Any]) -> tuple[Any, ...]:
    quantity = int(item.get("quantity", 1))
    amount = item.get("amount")
    if amount is None and item.get("unit_price") is not None:
        amount = Decimal(str(item["unit_price"])) * quantity
    fen = None if amount is None else int(Decimal(str(amount)).scaleb(2))
    return item.get("sku"), item.get("product_id"), item.get("category"), quantity, fen


def iter_refund_facts(*, session: Session, tenant: TenantContext) -> Iterator[Columns]:
    """Refunds: source, refund_id, order_id, amount_fen, created_at."""
    query = select(
        Refund.source,
        Refund.refund_id,
        Refund.order_id,
        type_coerce(Refund.amount, BigInteger),
        Refund.created_at,
    ).where(Refund.tenant_id == tenant.id)
    names = ("source", "refund_id", "order_id", "amount_fen", "created_at")
    for rows in _batches(session, query):
        yield _columns(names, [tuple(r) for r in rows])


def iter_event_facts(*, session: Session, tenant: TenantContext) -> Iterator[Columns]:
    """Events: source, event_id, type, occurred_at."""
    query = select(Event.source, Event.event_id, Event.type, Event.occurred_at).where(
        Event.tenant_id == tenant.id
    )
    names = ("source", "event_id", "type", "occurred_at")
    for rows in _batches(session, query):
        yield _columns(names, [tuple(r) for r in rows])


def changed_since(
    *, session: Session, tenant: TenantContext, since: datetime
) -> dict[str, list[tuple[str, str]]]:
    """(source, id) of records stored or replaced after `since`, by the kind owning a person.

    A changed refund is reported as its order (refunds belong to a person through it).
    """
    found: dict[str, list[tuple[str, str]]] = {"customer": [], "order": [], "event": []}
    queries: list[tuple[str, Any, Any]] = [
        ("customer", CustomerRecord, CustomerRecord.external_id),
        ("order", Order, Order.order_id),
        ("order", Refund, Refund.order_id),
        ("event", Event, Event.event_id),
    ]
    for kind, model, id_column in queries:
        query = select(model.source, id_column).where(
            model.tenant_id == tenant.id, model.updated_at > since
        )
        for rows in _batches(session, query):
            found[kind].extend((r[0], r[1]) for r in rows)
    return found


def _batches(session: Session, query: Select[Any]) -> Iterator[Sequence[Any]]:
    result = session.execute(query.execution_options(yield_per=BATCH))
    yield from result.partitions(BATCH)


def _columns(names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> Columns:
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}
