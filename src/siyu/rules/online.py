"""Rules evaluated in Python over one person's records: the online fast path.

`load_person_facts` reads what rules test for a few persons through the owning domains;
`evaluate` decides a rule for one of them. Same definitions as the batch compiler (a sale
is an order not created/closed, its day the tenant-local day it was paid, else created;
attributes merged by `profiles.merge_attributes`); tests hold the two paths to agreement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu import identity, profiles, records, traits
from siyu.rules.schemas import (
    ATTRIBUTE_FIELDS,
    TRAIT_FIELDS,
    All,
    AnyOf,
    AttributeCondition,
    BoughtCondition,
    EventCondition,
    IdentifierCondition,
    Not,
    Rule,
    TagCondition,
    TagGroupCondition,
    TraitCondition,
    split_tag_key,
    walk,
)
from siyu.tenants import TenantContext

Line = tuple[str | None, str | None, str | None]  # category, product_id, sku


@dataclass(frozen=True)
class Sale:
    source: str
    order_id: str
    store_id: str | None
    day: date
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class PersonFacts:
    """Everything a rule can test about one live person."""

    oneid: str
    traits: Mapping[str, Any]
    attributes: Mapping[str, Any]
    identifier_types: frozenset[str]
    tags: frozenset[str]
    sales: tuple[Sale, ...]
    events: tuple[tuple[str, str, date], ...]  # source, type, day


# What `load_person_facts` can read; a rule needs only some (`facts_needed`).
FACT_PARTS = frozenset({"traits", "customers", "tags", "identifiers", "sales", "events"})
_PART_OF: dict[type, str] = {
    TraitCondition: "traits",
    AttributeCondition: "customers",
    TagCondition: "tags",
    TagGroupCondition: "tags",
    IdentifierCondition: "identifiers",
    BoughtCondition: "sales",
    EventCondition: "events",
}


def facts_needed(rule: Rule) -> frozenset[str]:
    """The parts of a person's facts (`FACT_PARTS`) this rule reads."""
    return frozenset(_PART_OF[type(condition)] for condition in walk(rule))


def load_person_facts(
    *,
    session: Session,
    tenant: TenantContext,
    oneids: Sequence[str],
    tags: Mapping[str, Collection[str]],
    parts: Collection[str] = FACT_PARTS,
) -> dict[str, PersonFacts]:
    """Facts of the live persons among `oneids` (tag keys each holds are passed in); only
    the `parts` asked for are read (the others are left empty)."""
    refs = identity.records_of_persons(session=session, tenant=tenant, oneids=oneids)
    owner: dict[tuple[str, str, str], str] = {
        ref: oneid for oneid, found in refs.items() for ref in found
    }

    def of(kind: str) -> list[tuple[str, str]]:
        return [(s, r) for k, s, r in owner if k == kind]

    customers: dict[str, list[records.CustomerRecord]] = defaultdict(list)
    if "customers" in parts:
        for c in records.customer_records(session=session, tenant=tenant, refs=of("customer")):
            customers[owner[("customer", c.source, c.external_id)]].append(c)
    sales: dict[str, list[Sale]] = defaultdict(list)
    if "sales" in parts:
        for o in records.orders(session=session, tenant=tenant, refs=of("order")):
            if o.status not in profiles.UNPAID:
                sales[owner[("order", o.source, o.order_id)]].append(_sale(o, tenant))
    events: dict[str, list[tuple[str, str, date]]] = defaultdict(list)
    if "events" in parts:
        for e in records.events(session=session, tenant=tenant, refs=of("event")):
            day = e.occurred_at.astimezone(tenant.zone).date()
            events[owner[("event", e.source, e.event_id)]].append((e.source, e.type, day))
    stored = (
        traits.traits_of_persons(session=session, tenant=tenant, oneids=list(refs))
        if "traits" in parts
        else {}
    )
    held = (
        identity.identifiers_of_persons(session=session, tenant=tenant, oneids=list(refs))
        if "identifiers" in parts
        else {}
    )
    found: dict[str, PersonFacts] = {}
    for oneid in refs:
        view = stored.get(oneid)
        found[oneid] = PersonFacts(
            oneid=oneid,
            traits={name: getattr(view, name, None) for name in TRAIT_FIELDS},
            attributes=_attributes(tenant, customers[oneid]),
            identifier_types=frozenset(t for t, _ in held.get(oneid, [])),
            tags=frozenset(tags.get(oneid, ())),
            sales=tuple(sales[oneid]),
            events=tuple(events[oneid]),
        )
    return found


def _sale(order: records.Order, tenant: TenantContext) -> Sale:
    moment = order.paid_at or order.created_at
    lines = tuple(
        (item.get("category"), item.get("product_id"), item.get("sku"))
        for item in order.items or []
    )
    return Sale(
        order.source, order.order_id, order.store_id, moment.astimezone(tenant.zone).date(), lines
    )


def _attributes(tenant: TenantContext, customers: list[records.CustomerRecord]) -> dict[str, Any]:
    # Sorted first: exact ties between records then go to the smaller (source, external_id),
    # as in the batch merge (merge_attributes' sort is stable).
    ordered = sorted(customers, key=lambda c: (c.source, c.external_id))
    merged, _ = profiles.merge_attributes(tenant=tenant, customers=ordered)
    values = {name: merged.get(name) for name in ATTRIBUTE_FIELDS}
    birthday = merged.get("birthday")
    values["birthday_month"] = birthday.month if isinstance(birthday, date) else None
    return values


def evaluate(rule: Rule, person: PersonFacts, *, as_of: date) -> bool:
    """Whether `rule` selects `person` on day `as_of` (tenant-local)."""
    if isinstance(rule, All):
        return all(evaluate(r, person, as_of=as_of) for r in rule.all)
    if isinstance(rule, AnyOf):
        return any(evaluate(r, person, as_of=as_of) for r in rule.any)
    if isinstance(rule, Not):
        return not evaluate(rule.not_, person, as_of=as_of)
    if isinstance(rule, TraitCondition):
        return _compare(person.traits.get(rule.trait), rule.op, rule.value)
    if isinstance(rule, AttributeCondition):
        return _compare(person.attributes.get(rule.attribute), rule.op, rule.value)
    if isinstance(rule, TagCondition):
        return rule.tag in person.tags
    if isinstance(rule, TagGroupCondition):
        keys = rule.keys()
        if keys is not None:
            return any(k in person.tags for k in keys)
        return any(split_tag_key(k)[0] == rule.tag_group for k in person.tags)
    if isinstance(rule, IdentifierCondition):
        return rule.id_type in person.identifier_types
    if isinstance(rule, BoughtCondition):
        count = sum(
            1
            for sale in person.sales
            if _in_window(sale.day, rule.within_days, as_of) and _matches(sale, rule)
        )
        return _in_range(count, rule.min, rule.max)
    return _events(rule, person, as_of)


def _events(rule: EventCondition, person: PersonFacts, as_of: date) -> bool:
    count = sum(
        1
        for source, kind, day in person.events
        if kind in rule.event
        and (rule.source is None or source in rule.source)
        and _in_window(day, rule.within_days, as_of)
    )
    return _in_range(count, rule.min, rule.max)


def _matches(sale: Sale, rule: BoughtCondition) -> bool:
    wanted = rule.bought
    if wanted.source is not None and sale.source not in wanted.source:
        return False
    if wanted.store_id is not None and sale.store_id not in wanted.store_id:
        return False
    if not wanted.items_filtered():
        return True
    return any(
        all(
            allowed is None or value in allowed
            for value, allowed in zip(
                line, (wanted.category, wanted.product_id, wanted.sku), strict=True
            )
        )
        for line in sale.lines
    )


def _in_window(day: date, within_days: int | None, as_of: date) -> bool:
    if day > as_of:
        return False
    return within_days is None or day >= as_of - timedelta(days=within_days - 1)


def _in_range(count: int, low: int, high: int | None) -> bool:
    return count >= low and (high is None or count <= high)


def _compare(actual: Any, op: str, value: Any) -> bool:
    """A comparison where a missing value is false (only `is_null` holds for it)."""
    if op == "is_null":
        return actual is None
    if actual is None:
        return False
    if op == "not_null":
        return True
    tests: dict[str, Callable[[], Any]] = {
        "=": lambda: actual == value,
        "!=": lambda: actual != value,
        "<": lambda: actual < value,
        "<=": lambda: actual <= value,
        ">": lambda: actual > value,
        ">=": lambda: actual >= value,
        "in": lambda: actual in value,
        "not_in": lambda: actual not in value,
    }
    return bool(tests[op]())
