"""Contact cards for many persons at once (journeys and channels touch people in bulk)."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from siyu import identity, records
from siyu.profiles.schemas import ContactCard
from siyu.profiles.service import merge_attributes, merge_consent
from siyu.tenants import TenantContext


def _customer_refs(
    session: Session, tenant: TenantContext, oneids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    found = identity.records_of_persons(
        session=session, tenant=tenant, oneids=oneids, kind="customer"
    )
    return {oneid: [(s, r) for _k, s, r in refs] for oneid, refs in found.items()}


def contact_cards(
    *, session: Session, tenant: TenantContext, oneids: Sequence[str]
) -> dict[str, ContactCard]:
    """Contact cards by OneID; a retired OneID is looked up as its successor."""
    refs = _customer_refs(session, tenant, oneids)
    for oneid in set(oneids) - set(refs):
        live = identity.current_oneid(session=session, tenant=tenant, oneid=oneid)
        if live and live != oneid:
            refs[oneid] = _customer_refs(session, tenant, [live]).get(live, [])
    everything = records.customer_records(
        session=session, tenant=tenant, refs=[ref for found in refs.values() for ref in found]
    )
    by_ref = {(c.source, c.external_id): c for c in everything}
    cards: dict[str, ContactCard] = {}
    for oneid, found in refs.items():
        customers = [by_ref[ref] for ref in found if ref in by_ref]
        if not customers:
            continue
        attributes, _ = merge_attributes(tenant=tenant, customers=customers)
        newest_first = (
            sorted(customers, key=lambda c: c.updated_at, reverse=True)
            if len(customers) > 1
            else customers
        )
        extra = [c.attributes or {} for c in newest_first]
        # Built from stored, validated records: no second validation (this runs per send).
        cards[oneid] = ContactCard.model_construct(
            oneid=oneid,
            name=attributes.get("name"),
            phone=attributes.get("phone"),
            email=attributes.get("email"),
            wechat_openids=_all(customers, "wechat_openid"),
            wecom_external_userids=_all(customers, "wecom_external_userid"),
            staff_id=attributes.get("staff_id"),
            store_id=attributes.get("store_id"),
            consent=merge_consent(customers=customers),
            timezone=next((a["timezone"] for a in extra if a.get("timezone")), None),
            locale=next((a["locale"] for a in extra if a.get("locale")), None),
            attributes=attributes,
        )
    return cards


def _all(customers: list[records.CustomerRecord], id_type: str) -> list[str]:
    return sorted({c.identifiers[id_type] for c in customers if c.identifiers.get(id_type)})


def persons_on_day(
    *,
    session: Session,
    tenant: TenantContext,
    field: Literal["birthday", "registered_at"],
    day: date,
) -> dict[str, date]:
    """Persons whose birthday or membership anniversary is `day` (29 February counts on
    the 28th in other years), with the date it comes from."""
    days = [(day.month, day.day)]
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        days.append((2, 29))
    found: dict[str, date] = {}
    for month, day_of_month in days:
        hits = records.customers_on_day(
            session=session, tenant=tenant, field=field, month=month, day=day_of_month
        )
        oneids = identity.oneids_of_records(
            session=session, tenant=tenant, kind="customer", refs=[(s, r) for s, r, _d in hits]
        )
        for source, record_id, when in hits:
            oneid = oneids.get((source, record_id))
            if oneid is not None:
                found.setdefault(oneid, when)
    return found
