"""The facts rules run on: a snapshot with rule extras, and per-person tables derived once.

A rules snapshot is the engine's snapshot (identity, orders, items, refunds, events) plus
what rules test that the core facts lack, exported from the owning domains:

    traits              stored person traits (siyu.traits)
    customer_profiles   customer records' rule attributes (siyu.records)
    identifier_types    (oneid, identifier type) held (siyu.identity)
    tags                (oneid, tag_group, tag) held now (siyu.tags, passed in by the caller)

From those, `derive_facts` materialises once per snapshot the tables every rule reads,
keyed by `person` (an integer per live person):

    rule_profile      one row per live person: oneid, person, traits + merged attributes
    rule_sales        one row per sale: person, sale, source, order_id, store_id, day
    rule_sale_items   one row per line of a sale: person, sale, source, store_id, day,
                      category, product_id, sku
    rule_events       one row per event: person, source, type, day
    rule_tags         person, tag_group, tag
    rule_identifiers  person, id_type

Rules snapshots live under `<engine_dir>/rules/` so other computations' snapshots never
replace them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from sqlalchemy.orm import Session

from siyu import engine as eng
from siyu import identity, records, traits
from siyu.engine.portable import local_day, top_per_group
from siyu.tenants import TenantContext, TenantSettings

TRAITS = "traits"
CUSTOMER_PROFILES = "customer_profiles"
IDENTIFIER_TYPES = "identifier_types"
TAGS = "tags"
PROFILE = "rule_profile"
SALES = "rule_sales"
SALE_ITEMS = "rule_sale_items"
EVENTS = "rule_events"
TAG_HOLDERS = "rule_tags"
IDENTIFIERS = "rule_identifiers"
SUBDIR = "rules"

_S = pa.string()
CUSTOMER_PROFILES_SCHEMA = pa.schema(
    [
        ("source", _S),
        ("external_id", _S),
        ("gender", _S),
        ("birthday", pa.date32()),
        ("province", _S),
        ("city", _S),
        ("district", _S),
        ("store_id", _S),
        ("staff_id", _S),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
IDENTIFIER_TYPES_SCHEMA = pa.schema([("oneid", _S), ("id_type", _S)])
TAGS_SCHEMA = pa.schema([("oneid", _S), ("tag_group", _S), ("tag", _S)])
# Trait columns kept in the profile (engine names: money in fen).
PROFILE_TRAITS = tuple(
    n for n in traits.TRAITS_SCHEMA.names if n not in ("oneid", "first_order_at", "last_order_at")
)


@dataclass
class RuleFacts:
    """An open engine over a rules snapshot, with the derived tables."""

    engine: eng.Engine

    @property
    def exported_at(self) -> datetime:
        """When the snapshot's data was read from the store (its version's time)."""
        stamp = self.engine.snapshot.root.name.split("-")[0]
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)

    @property
    def profile(self) -> ir.Table:
        return self.engine.fact(PROFILE)

    @property
    def sales(self) -> ir.Table:
        return self.engine.fact(SALES)

    @property
    def sale_items(self) -> ir.Table:
        return self.engine.fact(SALE_ITEMS)

    @property
    def events(self) -> ir.Table:
        return self.engine.fact(EVENTS)

    @property
    def tags(self) -> ir.Table:
        return self.engine.fact(TAG_HOLDERS)

    @property
    def identifier_types(self) -> ir.Table:
        return self.engine.fact(IDENTIFIERS)


@contextmanager
def prepared_facts(
    *,
    session: Session,
    tenant: TenantContext,
    engine_dir: Path,
    tags: eng.ExtraFact,
    extra: Mapping[str, eng.ExtraFact] | None = None,
    engine: str = "duckdb",
    spark_master: str = "local[2]",
) -> Iterator[RuleFacts]:
    """Export a fresh rules snapshot (plus `extra` facts), derive its tables, publish it."""
    root = Path(engine_dir) / SUBDIR
    facts = {
        TRAITS: eng.ExtraFact(
            traits.TRAITS_SCHEMA, traits.iter_trait_facts(session=session, tenant=tenant)
        ),
        CUSTOMER_PROFILES: eng.ExtraFact(
            CUSTOMER_PROFILES_SCHEMA,
            records.iter_customer_profile_facts(session=session, tenant=tenant),
        ),
        IDENTIFIER_TYPES: eng.ExtraFact(
            IDENTIFIER_TYPES_SCHEMA, _identifier_batches(session, tenant)
        ),
        TAGS: tags,
        **(extra or {}),
    }
    snapshot = eng.export_snapshot(
        session=session, tenant=tenant, engine_dir=root, extra=facts, publish=False
    )
    runner = eng.open_engine(engine, snapshot=snapshot, spark_master=spark_master)
    try:
        derive_facts(runner, settings=tenant.settings)
        eng.publish_snapshot(engine_dir=root, tenant=tenant, snapshot=snapshot)
        yield RuleFacts(runner)
    finally:
        runner.close()


@contextmanager
def current_facts(
    *,
    tenant: TenantContext,
    engine_dir: Path,
    engine: str = "duckdb",
    spark_master: str = "local[2]",
) -> Iterator[RuleFacts | None]:
    """The last published rules snapshot (None if there is none yet)."""
    snapshot = eng.current_snapshot(engine_dir=Path(engine_dir) / SUBDIR, tenant=tenant)
    if snapshot is None:
        yield None
        return
    runner = eng.open_engine(engine, snapshot=snapshot, spark_master=spark_master)
    try:
        # Derived facts are kept per engine: a snapshot another engine derived has none.
        yield RuleFacts(runner) if runner.has_fact(PROFILE) else None
    finally:
        runner.close()


def derive_facts(engine: eng.Engine, *, settings: TenantSettings) -> None:
    """Materialise the per-person tables of a snapshot that has the core and rule facts.

    Persons get an integer key (`person`, by OneID order) that every derived table carries:
    joins and counts on integers cost a fraction of 26-character OneIDs. Behaviour tables
    are sorted by day, so a time window reads only the row groups of its days.
    """
    profile = engine.materialise(PROFILE, _profile(engine, settings))
    keys = profile.select("oneid", "person")
    sold = traits.sales(engine).join(keys, "oneid")
    sold = sold.select(
        "person",
        "source",
        "order_id",
        "store_id",
        "day",
        sale=ibis.row_number().over(order_by=[sold.day, sold.source, sold.order_id]),
    )
    sold = engine.materialise(SALES, sold.order_by(["day", "sale"]))
    items = engine.fact("order_items").select("source", "order_id", "category", "product_id", "sku")
    lines = sold.join(items, ["source", "order_id"]).select(
        "person", "sale", "source", "store_id", "day", "category", "product_id", "sku"
    )
    engine.materialise(SALE_ITEMS, lines.order_by(["day", "sale"]))
    ids = engine.fact("identity")
    owners = ids.filter(ids.kind == "event").select("source", "oneid", event_id=ids.record_id)
    happened = engine.fact("events").join(owners, ["source", "event_id"]).join(keys, "oneid")
    engine.materialise(
        EVENTS,
        happened.select(
            "person", "source", "type", day=local_day(happened.occurred_at_local)
        ).order_by("day"),
    )
    held = engine.fact(TAGS).join(keys, "oneid")
    engine.materialise(TAG_HOLDERS, held.select("person", "tag_group", "tag"))
    typed = engine.fact(IDENTIFIER_TYPES).join(keys, "oneid")
    engine.materialise(IDENTIFIERS, typed.select("person", "id_type"))


def _profile(engine: eng.Engine, settings: TenantSettings) -> ir.Table:
    """Every live person (numbered) with their stored traits and merged attributes."""
    people = engine.fact("identity").select("oneid").distinct()
    people = people.mutate(person=ibis.row_number().over(order_by=people.oneid))
    stored = engine.fact(TRAITS).select("oneid", *PROFILE_TRAITS)
    result = people.left_join(stored, "oneid").select(people, *PROFILE_TRAITS)
    merged = merged_attributes(engine, settings)
    for name, part in merged.items():
        result = result.left_join(part, "oneid").select(result, part[name])
    return result.mutate(birthday_month=result.birthday.month().cast("int64"))


def merged_attributes(engine: eng.Engine, settings: TenantSettings) -> dict[str, ir.Table]:
    """Per attribute, (oneid, value) chosen like `profiles.merge_attributes`: the first
    record by the field's source order (or newest only, for strategy "newest"), then the
    most recently updated; exact ties go to the smaller (source, external_id)."""
    ids = engine.fact("identity")
    owners = ids.filter(ids.kind == "customer").select("source", "oneid", external_id=ids.record_id)
    customers = engine.fact(CUSTOMER_PROFILES).join(owners, ["source", "external_id"])
    found: dict[str, ir.Table] = {}
    for name in records.CUSTOMER_PROFILE_FIELDS:
        rule = settings.profile_field_rules.get(name)
        order = rule.sources if rule and rule.sources else settings.profile_source_priority
        by_source = rule is None or rule.strategy == "priority"
        column = customers[name]
        present = column.notnull()
        if column.type().is_string():
            present = present & (column != "")
        known = customers.filter(present)
        position = (
            ibis.cases(*((known.source == s, i) for i, s in enumerate(order)), else_=len(order))
            if by_source and order
            else ibis.literal(0)
        )
        ranked = known.mutate(_position=position)
        found[name] = top_per_group(
            ranked,
            group="oneid",
            value=name,
            order_by=[
                ranked._position,
                ranked.updated_at.desc(),
                ranked.source,
                ranked.external_id,
            ],
        )
    return found


def _identifier_batches(session: Session, tenant: TenantContext) -> Iterator[dict[str, list[str]]]:
    oneids: list[str] = []
    types: list[str] = []
    for oneid, id_type in identity.iter_identifier_types(session=session, tenant=tenant):
        oneids.append(oneid)
        types.append(id_type)
        if len(oneids) >= 50_000:
            yield {"oneid": oneids, "id_type": types}
            oneids, types = [], []
    yield {"oneid": oneids, "id_type": types}
