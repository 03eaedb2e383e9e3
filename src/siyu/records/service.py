"""Storing canonical records idempotently, and reading them back for a person."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Dialect, bindparam, extract, func, or_, select, update
from sqlalchemy.orm import Session

from siyu.records.models import CustomerRecord, Event, Order, Refund
from siyu.records.schemas import CanonicalRecord, EventIn, OrderIn, RefundIn
from siyu.store.base import table, utcnow
from siyu.store.bulk import AsBound, bind_values, insert_many
from siyu.tenants.schemas import TenantContext

Outcome = Literal["new", "updated", "unchanged"]
_MODELS: dict[str, Any] = {
    "customer": CustomerRecord,
    "order": Order,
    "refund": Refund,
    "event": Event,
}
_ID_COLUMN = {
    "customer": "external_id",
    "order": "order_id",
    "refund": "refund_id",
    "event": "event_id",
}
_CHUNK = 2000


@dataclass(frozen=True)
class Incoming:
    """A validated record with the fingerprint of what was received."""

    record: CanonicalRecord
    content_hash: str
    extra: dict[str, Any]  # columns computed upstream (normalised identifiers, hints)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated record as the columns it is stored with (see `prepare_record`).

    Plain values only, so a worker process can prepare records and hand them over.
    """

    kind: str
    source: str
    record_id: str
    content_hash: str
    values: dict[str, Any]  # the row, without tenant and time of writing
    bound: str | None = None  # the dialect `values` are converted for (`prepare_record`)


def prepare_record(item: Incoming, *, dialect: Dialect | None = None) -> Prepared:
    """The stored columns of a validated record; with `dialect`, converted as that store's
    columns would convert them (a bulk worker does it, sparing the one writing process)."""
    record = item.record
    values = _row(item)
    if dialect is not None:
        bind_values(_MODELS[record.kind], values, dialect)
    return Prepared(
        record.kind,
        record.source,
        record.record_id,
        item.content_hash,
        values,
        None if dialect is None else dialect.name,
    )


def store_records(
    *, session: Session, tenant: TenantContext, records: Sequence[Incoming]
) -> list[Outcome]:
    """Insert new records, replace changed ones, skip ones already seen; outcome per record."""
    return store_prepared(
        session=session, tenant=tenant, records=[prepare_record(r) for r in records]
    )


def store_prepared(
    *, session: Session, tenant: TenantContext, records: Sequence[Prepared]
) -> list[Outcome]:
    """`store_records` for records already prepared (e.g. by a worker process)."""
    outcomes: list[Outcome] = ["unchanged"] * len(records)
    by_kind: dict[str, list[int]] = {}
    for index, item in enumerate(records):
        by_kind.setdefault(item.kind, []).append(index)
    for kind, indexes in by_kind.items():
        model = _MODELS[kind]
        id_column = getattr(model, _ID_COLUMN[kind])
        keys = [(records[i].source, records[i].record_id) for i in indexes]
        existing: dict[tuple[str, str], tuple[int, str, list[str]]] = {}
        for source, ids in _group_by_source(keys).items():
            for start in range(0, len(ids), _CHUNK):
                for row in session.execute(
                    select(model.id, id_column, model.content_hash, model.previous_hashes).where(
                        model.tenant_id == tenant.id,
                        model.source == source,
                        id_column.in_(ids[start : start + _CHUNK]),
                    )
                ):
                    existing[(source, row[1])] = (row[0], row[2], row[3] or [])
        inserts: dict[tuple[str, str], dict[str, Any]] = {}
        updates: list[dict[str, Any]] = []
        now = utcnow()
        for index, key in zip(indexes, keys, strict=True):
            item = records[index]
            if key in inserts:
                # A newer version in the same batch: it replaces the earlier one, whose hash
                # is kept like any replaced version's (re-importing it later is a no-op).
                replaced = inserts[key]
                seen = [*(replaced["previous_hashes"] or []), replaced["content_hash"]]
                if item.content_hash in seen:
                    continue
                inserts[key] = {**_full(tenant.id, item, now), "previous_hashes": seen[-20:]}
                outcomes[index] = "new"
                continue
            found = existing.get(key)
            if found is None:
                inserts[key] = {**_full(tenant.id, item, now), "previous_hashes": None}
                outcomes[index] = "new"
                continue
            row_id, current, previous = found
            if item.content_hash == current or item.content_hash in previous:
                continue
            changed = _full(tenant.id, item, now)
            changed.update(_pk=row_id, previous_hashes=[*previous, current][-20:])
            updates.append(changed)
            existing[key] = (row_id, item.content_hash, changed["previous_hashes"])
            outcomes[index] = "updated"
        bound = _bound_keys(session, [records[i] for i in indexes])
        if inserts:
            insert_many(session, model, list(inserts.values()), bound=bound)
        if updates:
            core = table(model)
            # Values converted by the worker go to the driver as they are (no type).
            columns: dict[str, Any] = {
                c: bindparam(c, type_=AsBound()) if c in bound else bindparam(c)
                for c in updates[0]
                if c != "_pk"
            }
            if kind == "order":
                columns["version"] = core.c.version + 1
            session.execute(
                update(core).where(core.c.id == bindparam("_pk")).values(columns), updates
            )
    return outcomes


def _bound_keys(session: Session, prepared: Sequence[Prepared]) -> set[str]:
    """The columns whose values these records carry converted already (all or none)."""
    dialects = {item.bound for item in prepared}
    if dialects == {None}:
        return set()
    store = session.get_bind().dialect.name
    if dialects != {store}:
        raise ValueError(f"records converted for {sorted(map(str, dialects))}, store is {store}")
    return set(prepared[0].values)


def _group_by_source(keys: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Record ids per source: `source = ? AND id IN (...)` uses the unique index directly."""
    grouped: dict[str, set[str]] = {}
    for source, record_id in keys:
        grouped.setdefault(source, set()).add(record_id)
    return {source: sorted(ids) for source, ids in grouped.items()}


def _full(tenant_id: int, item: Prepared, now: Any) -> dict[str, Any]:
    return {
        **item.values,
        "tenant_id": tenant_id,
        "content_hash": item.content_hash,
        "updated_at": now,
    }


def _row(item: Incoming) -> dict[str, Any]:
    record = item.record
    data = record.model_dump(exclude={"kind", "customer_ref", "identifiers"})
    if isinstance(record, OrderIn | EventIn):
        data["customer_external_id"] = record.customer_ref.external_id
        data["customer_identifiers"] = record.customer_ref.identifiers or None
    if isinstance(record, OrderIn | RefundIn) and record.items is not None:
        data["items"] = [i.model_dump(mode="json", exclude_none=True) for i in record.items]
    if isinstance(record, OrderIn) and record.ship_to is not None:
        data["ship_to"] = record.ship_to.model_dump(exclude_none=True)
    data.update(item.extra)
    return data


# -- reading ---------------------------------------------------------------------------


def customer_records(
    *, session: Session, tenant: TenantContext, refs: Sequence[tuple[str, str]]
) -> list[CustomerRecord]:
    """Customer records by (source, external_id)."""
    return _by_refs(session, tenant, CustomerRecord, CustomerRecord.external_id, refs)


def orders(
    *, session: Session, tenant: TenantContext, refs: Sequence[tuple[str, str]]
) -> list[Order]:
    """Orders by (source, order_id), newest first."""
    found = _by_refs(session, tenant, Order, Order.order_id, refs)
    return sorted(found, key=lambda o: o.created_at, reverse=True)


def events(
    *, session: Session, tenant: TenantContext, refs: Sequence[tuple[str, str]]
) -> list[Event]:
    """Events by (source, event_id), newest first."""
    found = _by_refs(session, tenant, Event, Event.event_id, refs)
    return sorted(found, key=lambda e: e.occurred_at, reverse=True)


def event_properties(
    *,
    session: Session,
    tenant: TenantContext,
    source: str,
    type_: str,
    since: datetime | None = None,
    batch_size: int = 2000,
) -> Iterator[dict[str, Any]]:
    """The properties of every event of one source and type (occurred since `since`)."""
    query = select(Event.id, Event.properties).where(
        Event.tenant_id == tenant.id, Event.source == source, Event.type == type_
    )
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    last = 0
    while True:  # keyset pages: no cursor held open while the caller works
        page = session.execute(query.where(Event.id > last).order_by(Event.id).limit(batch_size))
        rows = page.all()
        if not rows:
            return
        last = rows[-1][0]
        for _id, properties in rows:
            yield dict(properties or {})


def refunds_of_orders(
    *, session: Session, tenant: TenantContext, refs: Sequence[tuple[str, str]]
) -> list[Refund]:
    """Refunds against the given orders (source, order_id)."""
    return _by_refs(session, tenant, Refund, Refund.order_id, refs)


@dataclass(frozen=True)
class OrderValue:
    """An order's money at the time it was paid: what the buyer paid and what came back."""

    source: str
    order_id: str
    at: datetime  # paid_at, or created_at when the source gives no payment time
    paid_amount: Decimal
    refunded: Decimal  # sum of the order's refund records


def iter_order_values(
    *,
    session: Session,
    tenant: TenantContext,
    statuses: Collection[str],
    before: datetime | None = None,
    batch_size: int = 5000,
) -> Iterator[list[OrderValue]]:
    """Orders in `statuses` paid (or created) before `before`, refunds summed, in batches."""
    at = func.coalesce(Order.paid_at, Order.created_at)
    query = select(Order.id, Order.source, Order.order_id, at, Order.paid_amount).where(
        Order.tenant_id == tenant.id, Order.status.in_(sorted(statuses))
    )
    if before is not None:
        query = query.where(at < before)
    last = 0
    while True:  # keyset pages: flat memory, no cursor held open across the caller's work
        rows = session.execute(query.where(Order.id > last).order_by(Order.id).limit(batch_size))
        page = rows.all()
        if not page:
            return
        last = page[-1][0]
        refunded = _refunded(session, tenant, [(r[1], r[2]) for r in page])
        yield [
            OrderValue(r[1], r[2], r[3], r[4], refunded.get((r[1], r[2]), Decimal(0))) for r in page
        ]


def _refunded(
    session: Session, tenant: TenantContext, refs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Decimal]:
    """Refunded amount per order (source, order_id), for orders that have refunds."""
    found: dict[tuple[str, str], Decimal] = {}
    for source, ids in _group_by_source(refs).items():
        for start in range(0, len(ids), _CHUNK):
            rows = session.execute(
                select(Refund.order_id, func.sum(Refund.amount))
                .where(
                    Refund.tenant_id == tenant.id,
                    Refund.source == source,
                    Refund.order_id.in_(ids[start : start + _CHUNK]),
                )
                .group_by(Refund.order_id)
            )
            found.update({(source, order_id): total for order_id, total in rows})
    return found


def find_customer_records(
    *, session: Session, tenant: TenantContext, text: str, limit: int = 50
) -> list[tuple[str, str]]:
    """(source, external_id) of customer records whose name or external id match `text`."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    rows = session.execute(
        select(CustomerRecord.source, CustomerRecord.external_id)
        .where(
            CustomerRecord.tenant_id == tenant.id,
            or_(
                CustomerRecord.name.like(pattern, escape="\\"),
                CustomerRecord.external_id == text,
            ),
        )
        .limit(limit)
    )
    return [(r[0], r[1]) for r in rows]


def customers_of_staff(
    *, session: Session, tenant: TenantContext, staff_id: str
) -> list[tuple[str, str]]:
    """(source, external_id) of every customer record assigned to the guide `staff_id`."""
    # A guide serves hundreds to a few thousand customers: all their refs, by index.
    rows = session.execute(
        select(CustomerRecord.source, CustomerRecord.external_id)
        .where(CustomerRecord.tenant_id == tenant.id, CustomerRecord.staff_id == staff_id)
        .order_by(CustomerRecord.id)
    )
    return [(r[0], r[1]) for r in rows]


def _by_refs(
    session: Session,
    tenant: TenantContext,
    model: Any,
    id_column: Any,
    refs: Sequence[tuple[str, str]],
) -> list[Any]:
    found: list[Any] = []
    for source, ids in _group_by_source(refs).items():
        for start in range(0, len(ids), _CHUNK):
            found.extend(
                session.scalars(
                    select(model).where(
                        model.tenant_id == tenant.id,
                        model.source == source,
                        id_column.in_(ids[start : start + _CHUNK]),
                    )
                )
            )
    return found


def customers_on_day(
    *,
    session: Session,
    tenant: TenantContext,
    field: Literal["birthday", "registered_at"],
    month: int,
    day: int,
) -> list[tuple[str, str, date]]:
    """(source, external_id, date) of customer records whose birthday or registration
    (in the tenant's zone) falls on this month and day of any year."""
    if field == "birthday":
        # Birthdays are plain dates: the database filters them.
        rows = session.execute(
            select(
                CustomerRecord.source, CustomerRecord.external_id, CustomerRecord.birthday
            ).where(
                CustomerRecord.tenant_id == tenant.id,
                extract("month", CustomerRecord.birthday) == month,
                extract("day", CustomerRecord.birthday) == day,
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]
    # Registration times are instants: the local day depends on the tenant's zone, which
    # SQL cannot apply the same way on every database, so the dates are read in pages.
    found: list[tuple[str, str, date]] = []
    rows = session.execute(
        select(CustomerRecord.source, CustomerRecord.external_id, CustomerRecord.registered_at)
        .where(CustomerRecord.tenant_id == tenant.id, CustomerRecord.registered_at.is_not(None))
        .execution_options(yield_per=10_000)
    )
    zone = tenant.zone
    for source, external_id, at in rows:
        local = at.astimezone(zone).date()
        if local.month == month and local.day == day:
            found.append((source, external_id, local))
    return found


def counts_by_source(*, session: Session, tenant: TenantContext) -> dict[str, dict[str, int]]:
    """Per source, how many records of each kind the tenant holds (the sources in use)."""
    counts: dict[str, dict[str, int]] = {}
    for kind, model in (
        ("customer", CustomerRecord),
        ("order", Order),
        ("refund", Refund),
        ("event", Event),
    ):
        rows = session.execute(
            select(model.source, func.count())
            .where(model.tenant_id == tenant.id)
            .group_by(model.source)
        )
        for source, count in rows.tuples():
            counts.setdefault(source, {})[kind] = int(count)
    return dict(sorted(counts.items()))
