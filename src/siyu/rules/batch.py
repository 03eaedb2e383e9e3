"""Rules compiled to Ibis: one expression that runs on DuckDB and on Spark.

Conditions on traits and attributes are column predicates over `rule_profile`. The others
(tags, identifiers, purchases, events) are sets of persons; at the top level of a rule
they become semi/anti joins (what DuckDB runs fastest), elsewhere a left-joined flag.
Under a `not`, every predicate is made null-free (`fill_null(False)`), so negation is
plain and the result is exactly the online evaluator's. Outside any `not` the formula is
monotone, and a filter keeps a row only when it is true, so a null already acts as false
there: leaving the comparisons bare lets the engine push them into the Parquet scan.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis import _

from siyu.rules.facts import RuleFacts
from siyu.rules.schemas import (
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
)
from siyu.store.base import to_fen

# Rule trait names whose engine column differs (money is integer fen in the engine).
_COLUMNS = {"net_spend": "net_fen", "aov": "aov_fen"}
_SetLeaf = TagCondition | TagGroupCondition | IdentifierCondition | BoughtCondition | EventCondition


def matching(
    rule: Rule,
    facts: RuleFacts,
    *,
    as_of: date,
    tag_sets: Mapping[str, ir.Table] | None = None,
) -> ir.Table:
    """The persons `rule` selects on day `as_of` (columns `oneid`, `person`).

    `tag_sets` replaces the stored holders of some tags (by key) with fresh results (tables
    with a `person` column): rule tags computed earlier in the same run.
    """
    compiler = _Compiler(facts, as_of, dict(tag_sets or {}))
    base = facts.profile
    predicates = []
    for node in rule.all if isinstance(rule, All) else [rule]:
        negate = isinstance(node, Not)
        inner = node.not_ if isinstance(node, Not) else node
        if isinstance(inner, _SetLeaf):
            persons, negated = compiler.persons(inner)
            join = base.anti_join if negate != negated else base.semi_join
            base = join(persons, "person")
        else:
            predicates.append(compiler.predicate(node))
    for name, persons in compiler.flags:
        flagged = persons.select("person", **{name: ibis.literal(True)})
        base = base.left_join(flagged, "person").select(base, flagged[name])
    if predicates:
        base = base.filter(functools.reduce(operator.and_, predicates))
    return base.select("oneid", "person")


class _Compiler:
    def __init__(self, facts: RuleFacts, as_of: date, tag_sets: dict[str, ir.Table]) -> None:
        self.facts = facts
        self.as_of = as_of
        self.tag_sets = tag_sets
        self.flags: list[tuple[str, ir.Table]] = []

    def predicate(self, node: Rule, negated: bool = False) -> Any:
        """A boolean (deferred, resolved against the profile with flags); null-free when
        `negated` (under a `not`)."""
        if isinstance(node, All):
            parts = [self.predicate(n, negated) for n in node.all]
            return functools.reduce(operator.and_, parts)
        if isinstance(node, AnyOf):
            parts = [self.predicate(n, negated) for n in node.any]
            return functools.reduce(operator.or_, parts)
        if isinstance(node, Not):
            return ~self.predicate(node.not_, True)
        if isinstance(node, TraitCondition):
            value = _fen(node.value) if TRAIT_FIELDS[node.trait] == "money" else node.value
            test = _compare(_COLUMNS.get(node.trait, node.trait), node.op, value)
        elif isinstance(node, AttributeCondition):
            test = _compare(node.attribute, node.op, node.value)
        else:
            persons, inverted = self.persons(node)
            name = f"_flag{len(self.flags)}"
            self.flags.append((name, persons))
            held = _[name].fill_null(False)
            return ~held if inverted else held
        return test.fill_null(False) if negated else test

    def persons(self, node: _SetLeaf) -> tuple[ir.Table, bool]:
        """(persons, negated): the condition holds for them, or for everyone else."""
        if isinstance(node, TagCondition):
            return self._holders([node.tag], None), False
        if isinstance(node, TagGroupCondition):
            return self._holders(node.keys(), node.tag_group), False
        if isinstance(node, IdentifierCondition):
            held = self.facts.identifier_types
            return held.filter(held.id_type == node.id_type).select("person"), False
        if isinstance(node, BoughtCondition):
            return self._bought(node)
        return self._events(node)

    def _holders(self, keys: list[str] | None, group: str | None) -> ir.Table:
        """Persons holding any of `keys` (or any tag of `group` when keys is None)."""
        tags = self.facts.tags
        fresh = [
            key
            for key in self.tag_sets
            if (key in keys if keys is not None else split_tag_key(key)[0] == group)
        ]
        stored = tags.filter(tags.tag.isin(keys) if keys is not None else tags.tag_group == group)
        if fresh:
            stored = stored.filter(~stored.tag.isin(fresh))
        holders = stored.select("person")
        for key in fresh:
            holders = holders.union(self.tag_sets[key].select("person"))
        return holders.distinct()

    def _window(self, table: ir.Table, within_days: int | None) -> ir.Table:
        # Dates compare the same everywhere; today counts as day 1 of the window.
        kept = table.filter(table.day <= ibis.date(self.as_of))
        if within_days is None:
            return kept
        start = self.as_of - timedelta(days=within_days - 1)
        return kept.filter(kept.day >= ibis.date(start))

    def _bought(self, node: BoughtCondition) -> tuple[ir.Table, bool]:
        wanted = node.bought
        lines = wanted.items_filtered()
        rows = self._window(self.facts.sale_items if lines else self.facts.sales, node.within_days)
        for column in ("category", "product_id", "sku", "source", "store_id"):
            values = getattr(wanted, column)
            if values is not None:
                rows = rows.filter(rows[column].isin(values))
        if lines:  # several matching lines of one order count once
            rows = rows.select("person", "sale").distinct()
        return _counted(rows, node.min, node.max)

    def _events(self, node: EventCondition) -> tuple[ir.Table, bool]:
        rows = self._window(self.facts.events, node.within_days)
        rows = rows.filter(rows.type.isin(node.event))
        if node.source is not None:
            rows = rows.filter(rows.source.isin(node.source))
        return _counted(rows, node.min, node.max)


def _counted(rows: ir.Table, low: int, high: int | None) -> tuple[ir.Table, bool]:
    """Persons whose row count is within [low, high], as (persons, negated)."""
    if low >= 1 and high is None:
        if low == 1:
            return rows.select("person").distinct(), False
        counts = rows.group_by("person").aggregate(n=rows.count())
        return counts.filter(counts.n >= low).select("person"), False
    counts = rows.group_by("person").aggregate(n=rows.count())
    if low == 0:  # zero rows qualifies: everyone except those above the range
        return counts.filter(counts.n > high).select("person"), True
    return counts.filter((counts.n >= low) & (counts.n <= high)).select("person"), False


def _fen(value: Any) -> Any:
    """Yuan (one amount or a tuple of them) → integer fen, the engine's money."""
    return (
        tuple(to_fen(v) for v in value)
        if isinstance(value, tuple)
        else (None if value is None else to_fen(value))
    )


def _compare(column: str, op: str, value: Any) -> Any:
    field = _[column]
    if op == "is_null":
        return field.isnull()
    if op == "not_null":
        return field.notnull()
    literal = list(value) if isinstance(value, tuple) else value
    tests = {
        "=": lambda: field == literal,
        "!=": lambda: field != literal,
        "<": lambda: field < literal,
        "<=": lambda: field <= literal,
        ">": lambda: field > literal,
        ">=": lambda: field >= literal,
        "in": lambda: field.isin(literal),
        "not_in": lambda: ~field.isin(literal),
    }
    return tests[op]()
