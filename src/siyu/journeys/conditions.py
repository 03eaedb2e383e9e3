"""Conditions in journey definitions: a small JSON rule language evaluated over facts.

A condition is `{"field": "record.properties.amount", "op": "gte", "value": 100}` or a
combination `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}`. Facts are plain dicts:
`record` (the trigger or awaited record), `person` (profile, tier, points, tags) and
`enrolment` (arm, data).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Op = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "exists", "not_exists"
]
_MISSING = object()


class Condition(BaseModel):
    """One test on a fact, or all/any/not of other conditions."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    field: str | None = None
    op: Op = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [
            self.all is not None,
            self.any is not None,
            self.not_ is not None,
            bool(self.field),
        ]
        if sum(forms) != 1:
            raise ValueError("a condition is exactly one of: field/op/value, all, any, not")
        return self

    def fields(self) -> set[str]:
        """Every fact path this condition reads (to know which facts to load)."""
        if self.field:
            return {self.field}
        found: set[str] = set()
        for part in [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]:
            found |= part.fields()
        return found


def evaluate(condition: Condition | None, facts: Mapping[str, Any]) -> bool:
    """True when `facts` satisfy `condition` (no condition: always true)."""
    if condition is None:
        return True
    if condition.all is not None:
        return all(evaluate(part, facts) for part in condition.all)
    if condition.any is not None:
        return any(evaluate(part, facts) for part in condition.any)
    if condition.not_ is not None:
        return not evaluate(condition.not_, facts)
    return _test(lookup(facts, condition.field or ""), condition.op, condition.value)


_PARTS: dict[str, list[str]] = {}


def lookup(facts: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`record.properties.amount`), or a missing marker."""
    value: Any = facts
    parts = _PARTS.get(path)
    if parts is None:
        parts = path.split(".")
        if len(_PARTS) < 10_000:  # paths come from definitions: few, but stay bounded
            _PARTS[path] = parts
    for part in parts:
        # `type is dict` first: the Mapping ABC check is several times slower.
        if (type(value) is dict or isinstance(value, Mapping)) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _test(actual: Any, op: Op, expected: Any) -> bool:
    if op == "exists":
        return actual is not _MISSING and actual is not None
    if op == "not_exists":
        return actual is _MISSING or actual is None
    if actual is _MISSING or actual is None:
        return op == "ne" or op == "not_in"
    if op == "contains":
        return expected in actual if isinstance(actual, list | tuple | set | str) else False
    if op in ("in", "not_in"):
        options = expected if isinstance(expected, list | tuple | set) else [expected]
        hit = any(_equal(actual, option) for option in options)
        return hit if op == "in" else not hit
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    left, right = _comparable(actual, expected)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "gte":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:  # e.g. a number against a word: not comparable, not satisfied
        return False


def _equal(actual: Any, expected: Any) -> bool:
    left, right = _comparable(actual, expected)
    if left is not None and right is not None:
        return bool(left == right)
    return bool(actual == expected)


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any]:
    """Numbers compare as exact decimals (amounts arrive as Decimal or text); dates as
    ISO text; anything else as it is."""
    number_a, number_b = _number(actual), _number(expected)
    if number_a is not None and number_b is not None:
        return number_a, number_b
    if isinstance(actual, datetime | date) or isinstance(expected, datetime | date):
        return _iso(actual), _iso(expected)
    if isinstance(actual, bool | int | float | Decimal) != isinstance(
        expected, bool | int | float | Decimal
    ):
        return None, None
    return actual, expected


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value) if value.strip() else None
        except InvalidOperation:
            return None
    return None


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)
