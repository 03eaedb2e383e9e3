"""The 360° view of a person and person search, assembled from identity and records."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.profiles.schemas import (
    EventView,
    OrderView,
    PersonSummary,
    PersonView,
    RefundView,
    SourceRecordView,
    Traits,
)
from siyu.tenants import TenantContext

MERGED_FIELDS = (
    "name",
    "gender",
    "birthday",
    "province",
    "city",
    "district",
    "address",
    "postal_code",
    "store_id",
    "staff_id",
)
IDENTIFIER_FIELDS = ("phone", "email")
CONSENT_CHANNELS = ("sms", "email", "wecom", "wechat")
# Orders that never turned into a sale do not count towards spend or frequency (the batch
# traits in siyu.traits use the same set).
UNPAID = frozenset({"created", "closed"})
ZERO = Decimal("0.00")


class PersonNotFoundError(LookupError):
    pass


def get_person(
    *,
    session: Session,
    tenant: TenantContext,
    oneid: str,
    event_limit: int = 200,
    staff_id: str | None = None,
) -> PersonView:
    """Everything known about a person (any OneID ever issued for them works); with
    `staff_id`, only a customer of that guide (else PersonNotFoundError)."""
    explanation = identity.explain_person(session=session, tenant=tenant, oneid=oneid)
    refs = explanation.records
    by_kind: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for ref in refs:
        by_kind[ref.kind].append((ref.source, ref.record_id))
    customers = records.customer_records(session=session, tenant=tenant, refs=by_kind["customer"])
    if staff_id is not None and not _served_by(customers, staff_id):
        # The same answer as an unknown OneID: a guide learns nothing of others' customers.
        raise PersonNotFoundError(f"no person with OneID {oneid}")
    orders = records.orders(session=session, tenant=tenant, refs=by_kind["order"])
    refunds = records.refunds_of_orders(
        session=session, tenant=tenant, refs=[(o.source, o.order_id) for o in orders]
    )
    events = records.events(session=session, tenant=tenant, refs=by_kind["event"])[:event_limit]
    refunded: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for refund in refunds:
        refunded[(refund.source, refund.order_id)] += refund.amount
    attributes, attribute_sources = merge_attributes(tenant=tenant, customers=customers)
    return PersonView(
        oneid=explanation.oneid,
        requested=oneid,
        retired_oneids=explanation.retired_oneids,
        attributes=attributes,
        attribute_sources=attribute_sources,
        identifiers=explanation.identifiers,
        records=[
            SourceRecordView.model_validate(c, from_attributes=True)
            for c in sorted(customers, key=lambda c: (c.source, c.external_id))
        ],
        orders=[
            OrderView(
                source=o.source,
                order_id=o.order_id,
                status=o.status,
                created_at=o.created_at,
                paid_amount=o.paid_amount,
                refunded_amount=refunded[(o.source, o.order_id)],
                items=o.items,
                store_id=o.store_id,
            )
            for o in orders
        ],
        refunds=[RefundView.model_validate(r, from_attributes=True) for r in refunds],
        events=[EventView.model_validate(e, from_attributes=True) for e in events],
        traits=basic_traits(orders=orders, refunded=refunded),
        consent=merge_consent(customers=customers),
        merge_history=explanation.changes,
        blocked=explanation.blocked,
        record_refs=refs,
    )


def merge_attributes(
    *, tenant: TenantContext, customers: list[records.CustomerRecord]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Pick each attribute from the source the tenant trusts most, else the newest record."""
    priority = tenant.settings.profile_source_priority
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    # Phone and e-mail come from the records' identifiers, chosen by the same rules (not by
    # storage order, which would make the shown phone depend on how records were queried).
    for field in (*MERGED_FIELDS, *IDENTIFIER_FIELDS):
        rule = tenant.settings.profile_field_rules.get(field)
        order = rule.sources if rule and rule.sources else priority
        strategy = rule.strategy if rule else "priority"

        # One record (most people): nothing to rank; contact cards for sends hit this.
        ranked = (
            customers
            if len(customers) == 1
            else sorted(customers, key=lambda r: _rank(r, order, strategy))
        )
        for record in ranked:
            value = (
                (record.identifiers or {}).get(field)
                if field in IDENTIFIER_FIELDS
                else getattr(record, field)
            )
            if value not in (None, ""):
                values[field] = value
                origin[field] = record.source
                break
    return values, origin


def _rank(record: records.CustomerRecord, order: list[str], strategy: str) -> tuple[int, float]:
    """Sort key: trusted source first (for "priority"), then the most recently updated."""
    position = order.index(record.source) if record.source in order else len(order)
    newest = -record.updated_at.timestamp()
    return (position, newest) if strategy == "priority" else (0, newest)


def merge_consent(*, customers: list[records.CustomerRecord]) -> dict[str, bool | None]:
    """Consent per channel: the most recent explicit answer wins; none known means None."""
    consent: dict[str, bool | None] = dict.fromkeys(CONSENT_CHANNELS)
    for record in sorted(customers, key=lambda c: c.updated_at):
        for channel, given in (record.consent or {}).items():
            consent[channel] = bool(given)
    return consent


def basic_traits(
    *, orders: list[records.Order], refunded: dict[tuple[str, str], Decimal]
) -> Traits:
    """First/last order, count, net paid after refunds, AOV and channels used.

    The definitions the batch traits (siyu.traits) reproduce in the engine: a sale is an
    order not in UNPAID, its time is paid_at else created_at, AOV rounds half up to fen.
    """
    sales = [o for o in orders if o.status not in UNPAID]
    if not sales:
        return Traits(channels=sorted({o.source for o in orders}))
    times: list[datetime] = [o.paid_at or o.created_at for o in sales]
    net = sum((o.paid_amount - refunded[(o.source, o.order_id)] for o in sales), ZERO)
    return Traits(
        first_order_at=min(times),
        last_order_at=max(times),
        order_count=len(sales),
        net_paid=net,
        aov=(net / len(sales)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        channels=sorted({o.source for o in sales}),
    )


def search_persons(
    *,
    session: Session,
    tenant: TenantContext,
    query: str,
    limit: int = 20,
    staff_id: str | None = None,
) -> list[PersonSummary]:
    """Persons matching a phone, name, OneID or any identifier; with `staff_id`, only
    the customers of that guide (persons with a record carrying it)."""
    query = query.strip()
    if not query:
        return []
    oneids = identity.find_persons(session=session, tenant=tenant, query=query)
    by_name = records.find_customer_records(session=session, tenant=tenant, text=query)
    if by_name:
        named = identity.oneids_of_records(
            session=session, tenant=tenant, kind="customer", refs=by_name
        )
        oneids = sorted(set(oneids) | set(named.values()))
    return _summaries(session, tenant, oneids, limit=limit, staff_id=staff_id)


def persons_of_staff(
    *, session: Session, tenant: TenantContext, staff_id: str, offset: int = 0, limit: int = 50
) -> list[PersonSummary]:
    """The customers of the guide `staff_id` (persons with a record carrying it), by OneID,
    `limit` of them from `offset`."""
    refs = records.customers_of_staff(session=session, tenant=tenant, staff_id=staff_id)
    found = identity.oneids_of_records(session=session, tenant=tenant, kind="customer", refs=refs)
    oneids = sorted(set(found.values()))[offset:]
    return _summaries(session, tenant, oneids, limit=limit, staff_id=None)


def is_customer_of(*, session: Session, tenant: TenantContext, oneid: str, staff_id: str) -> bool:
    """Whether the person (any of their OneIDs) has a record carrying the guide's staff_id."""
    live = identity.current_oneid(session=session, tenant=tenant, oneid=oneid)
    if live is None:
        return False
    refs = identity.person_records(session=session, tenant=tenant, oneid=live)
    return _served_by(_customers(session, tenant, refs), staff_id)


def _served_by(customers: list[records.CustomerRecord], staff_id: str) -> bool:
    return any(c.staff_id == staff_id for c in customers)


def _customers(
    session: Session, tenant: TenantContext, refs: list[identity.RecordRef]
) -> list[records.CustomerRecord]:
    return records.customer_records(
        session=session,
        tenant=tenant,
        refs=[(r.source, r.record_id) for r in refs if r.kind == "customer"],
    )


def _summaries(
    session: Session,
    tenant: TenantContext,
    oneids: list[str],
    *,
    limit: int,
    staff_id: str | None,
) -> list[PersonSummary]:
    """One summary per OneID, up to `limit`, skipping persons `staff_id` does not serve."""
    summaries: list[PersonSummary] = []
    for oneid in oneids:
        if len(summaries) >= limit:
            break
        refs = identity.person_records(session=session, tenant=tenant, oneid=oneid)
        customers = _customers(session, tenant, refs)
        if staff_id is not None and not _served_by(customers, staff_id):
            continue
        attributes, _ = merge_attributes(tenant=tenant, customers=customers)
        summaries.append(
            PersonSummary(
                oneid=oneid,
                name=attributes.get("name"),
                phone=attributes.get("phone"),
                sources=sorted({r.source for r in refs}),
                birthday=attributes.get("birthday"),
            )
        )
    return summaries
