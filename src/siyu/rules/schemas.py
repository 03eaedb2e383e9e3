"""The rule language tags and audiences share: JSON data, validated by pydantic.

A rule is a tree of nodes, each a JSON object named by its first key (docs/rules.md):

    {"all": [rule, ...]}   {"any": [rule, ...]}   {"not": rule}
    {"trait": "net_spend", "op": ">=", "value": 1000}
    {"attribute": "city", "op": "in", "value": ["上海", "杭州"]}
    {"tag": "VIP"}   {"tag": "肤质=干"}   {"tag_group": "肤质"}
    {"has_identifier": "wechat_unionid"}
    {"bought": {"category": "护肤"}, "within_days": 90, "min": 2}
    {"event": "message_clicked", "within_days": 7}

Every condition is true or false for every person, never unknown: a comparison with a
missing value is false (so `not` simply negates). Values are checked against the field's
type here, once, so the batch compiler and the online evaluator receive clean data.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null"]
FieldType = Literal["int", "money", "date", "str", "bool"]

# Trait fields (siyu.traits) and their types; money is in yuan.
TRAIT_FIELDS: dict[str, FieldType] = {
    "order_count": "int",
    "net_spend": "money",
    "aov": "money",
    "avg_interval_days": "int",
    "first_order_day": "date",
    "last_order_day": "date",
    "favourite_source": "str",
    "favourite_category": "str",
    "favourite_store": "str",
    "is_member": "bool",
    "rfm_r": "int",
    "rfm_f": "int",
    "rfm_m": "int",
    "lifecycle_stage": "str",
}
# Merged customer attributes (the profile's values) a rule may test.
ATTRIBUTE_FIELDS: dict[str, FieldType] = {
    "gender": "str",
    "birthday": "date",
    "birthday_month": "int",
    "province": "str",
    "city": "str",
    "district": "str",
    "store_id": "str",
    "staff_id": "str",
}
# Values a field may take when only a few make sense.
CHOICES: dict[str, tuple[object, ...]] = {
    "lifecycle_stage": ("prospect", "new", "active", "silent", "churned"),
    "gender": ("m", "f", "u"),
    "birthday_month": tuple(range(1, 13)),
    "rfm_r": tuple(range(1, 6)),
    "rfm_f": tuple(range(1, 6)),
    "rfm_m": tuple(range(1, 6)),
}
_OPS_BY_TYPE: dict[FieldType, frozenset[str]] = {
    "str": frozenset({"=", "!=", "in", "not_in", "is_null", "not_null"}),
    "bool": frozenset({"=", "!=", "is_null", "not_null"}),
    "int": frozenset(Op.__args__),  # type: ignore[attr-defined]
    "money": frozenset(Op.__args__),  # type: ignore[attr-defined]
    "date": frozenset(Op.__args__),  # type: ignore[attr-defined]
}
# A tag key is `name`, or `group=value` for a value of a tag group: up to 64 characters
# each, no `=` or `/` inside (keys appear in URLs), no spaces around.
_NAME = r"[^=/\s](?:[^=/]{0,62}[^=/\s])?"
TAG_KEY = re.compile(rf"^{_NAME}(?:={_NAME})?$")
TAG_GROUP = re.compile(rf"^{_NAME}$")
# `phone` is matched by its SHA-256 (identity keeps phones only as that key).
IDENTIFIER_ALIASES = {"phone": "phone_sha256"}
MAX_WINDOW_DAYS = 3650


class RuleError(ValueError):
    """A rule that is not valid; `problems` lists each as 'where: what'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def split_tag_key(key: str) -> tuple[str | None, str]:
    """`group=value` → (group, value); `name` → (None, name)."""
    group, sep, value = key.partition("=")
    return (group, value) if sep else (None, key)


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class All(_Node):
    all: list[Rule] = Field(min_length=1)


class AnyOf(_Node):
    any: list[Rule] = Field(min_length=1)


class Not(_Node):
    not_: Rule = Field(alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Comparison(_Node):
    op: Op = "="
    value: Any = None

    def _check(self, name: str, kind: FieldType) -> Any:
        if self.op not in _OPS_BY_TYPE[kind]:
            allowed = ", ".join(sorted(_OPS_BY_TYPE[kind]))
            raise ValueError(f"{name} is a {kind} field; op {self.op!r} is not one of {allowed}")
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise ValueError(f"op {self.op!r} takes no value")
            return None
        if self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op!r} needs a non-empty list of values")
            return tuple(_typed(name, kind, v) for v in self.value)
        return _typed(name, kind, self.value)


class TraitCondition(_Comparison):
    trait: str

    @model_validator(mode="after")
    def _valid(self) -> TraitCondition:
        if self.trait not in TRAIT_FIELDS:
            raise ValueError(f"unknown trait {self.trait!r}; traits: {', '.join(TRAIT_FIELDS)}")
        object.__setattr__(self, "value", self._check(self.trait, TRAIT_FIELDS[self.trait]))
        return self


class AttributeCondition(_Comparison):
    attribute: str

    @model_validator(mode="after")
    def _valid(self) -> AttributeCondition:
        if self.attribute not in ATTRIBUTE_FIELDS:
            known = ", ".join(ATTRIBUTE_FIELDS)
            raise ValueError(f"unknown attribute {self.attribute!r}; attributes: {known}")
        kind = ATTRIBUTE_FIELDS[self.attribute]
        object.__setattr__(self, "value", self._check(self.attribute, kind))
        return self


class TagCondition(_Node):
    """The person holds the tag (`name`, or `group=value`)."""

    tag: str

    @field_validator("tag")
    @classmethod
    def _key(cls, value: str) -> str:
        if not TAG_KEY.match(value):
            raise ValueError(f"{value!r} is not a tag key ('name' or 'group=value')")
        return value


class TagGroupCondition(_Node):
    """The person holds some value of the tag group (any of `values` if given)."""

    tag_group: str
    values: list[str] | None = Field(default=None, min_length=1)

    @field_validator("tag_group")
    @classmethod
    def _group(cls, value: str) -> str:
        if not TAG_GROUP.match(value):
            raise ValueError(f"{value!r} is not a tag group name")
        return value

    def keys(self) -> list[str] | None:
        """The tag keys meant, or None for every value of the group."""
        return None if self.values is None else [f"{self.tag_group}={v}" for v in self.values]


class IdentifierCondition(_Node):
    """The person holds an identifier of this type (`phone` means a phone's SHA-256)."""

    has_identifier: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]

    @property
    def id_type(self) -> str:
        return IDENTIFIER_ALIASES.get(self.has_identifier, self.has_identifier)


Strings = Annotated[list[str], Field(min_length=1)]


def _strings(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Counted(_Node):
    """How many matching records, in the last `within_days` tenant-local days (today
    included; no limit when absent), make the condition true: min <= count <= max.
    `min` defaults to 1 ("at least once"), or to 0 when a `max` is given ("at most")."""

    within_days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS)
    min: int = Field(default=None, ge=0)  # type: ignore[assignment]
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _range(self) -> _Counted:
        if self.min is None:
            object.__setattr__(self, "min", 1 if self.max is None else 0)
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        if self.min == 0 and self.max is None:
            raise ValueError("min 0 without max is true for everyone; give min >= 1 or a max")
        return self


class PurchaseFilter(_Node):
    """Which sales count: any of the listed values per field (all fields must match)."""

    category: Strings | None = None
    product_id: Strings | None = None
    sku: Strings | None = None
    source: Strings | None = None
    store_id: Strings | None = None

    _listify = field_validator("*", mode="before")(_strings)

    def items_filtered(self) -> bool:
        """True when the filter looks at order lines (not only at the order)."""
        return any(v is not None for v in (self.category, self.product_id, self.sku))


class BoughtCondition(_Counted):
    """Sales (orders that were paid) matching `bought`, counted once per order."""

    bought: PurchaseFilter


class EventCondition(_Counted):
    """Events of the type(s), optionally from certain sources."""

    event: Strings
    source: Strings | None = None

    _listify = field_validator("event", "source", mode="before")(_strings)


_KINDS: dict[str, type[_Node]] = {
    "all": All,
    "any": AnyOf,
    "not": Not,
    "trait": TraitCondition,
    "attribute": AttributeCondition,
    "tag": TagCondition,
    "tag_group": TagGroupCondition,
    "has_identifier": IdentifierCondition,
    "bought": BoughtCondition,
    "event": EventCondition,
}
_TAG_OF_CLASS = {cls: name for name, cls in _KINDS.items()}


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((k for k in _KINDS if k in value), None)
    return _TAG_OF_CLASS.get(type(value))


Rule = Annotated[
    Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[TraitCondition, Tag("trait")]
    | Annotated[AttributeCondition, Tag("attribute")]
    | Annotated[TagCondition, Tag("tag")]
    | Annotated[TagGroupCondition, Tag("tag_group")]
    | Annotated[IdentifierCondition, Tag("has_identifier")]
    | Annotated[BoughtCondition, Tag("bought")]
    | Annotated[EventCondition, Tag("event")],
    Discriminator(
        _kind,
        custom_error_type="rule_kind",
        custom_error_message=f"a rule node is an object with one of the keys {', '.join(_KINDS)}",
    ),
]
Condition = (
    TraitCondition
    | AttributeCondition
    | TagCondition
    | TagGroupCondition
    | IdentifierCondition
    | BoughtCondition
    | EventCondition
)
for _model in (All, AnyOf, Not):
    _model.model_rebuild()


class _Document(RootModel[Rule]):
    pass


def parse_rule(data: Any) -> Rule:
    """A rule from JSON text or decoded JSON; raises RuleError naming each problem's place."""
    if isinstance(data, str | bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise RuleError([f"rule: not valid JSON ({error})"]) from None
    try:
        return _Document.model_validate(data).root
    except ValidationError as error:
        raise RuleError([_problem(e) for e in error.errors()]) from None


def _problem(error: Any) -> str:
    # Leave pydantic's union tags out of the path: ("all", 0, "trait", "value") → all[0].value
    parts: list[str] = []
    expect_tag = True  # the root and every list item / `not` child is a union of node kinds
    for item in error["loc"]:
        if expect_tag and isinstance(item, str) and item in _KINDS:
            expect_tag = False
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
            expect_tag = True
        else:
            parts.append(f".{item}" if parts else str(item))
            expect_tag = item == "not"
    where = "".join(parts) or "rule"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def dump_rule(rule: Rule) -> dict[str, Any]:
    """The rule as JSON-ready data (what is stored; `parse_rule` reads it back)."""
    # Constructed, not validated again: a checked comparison holds its values as a tuple,
    # which a second validation of a top-level `in` condition would refuse.
    document = _Document.model_construct(root=rule)
    dumped = document.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return _kind_first(dumped)  # type: ignore[no-any-return]


def _kind_first(value: Any) -> Any:
    """Each node's naming key first (`{"trait": ..., "op": ...}`), for people reading it."""
    if isinstance(value, list):
        return [_kind_first(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = _kind(value)
    ordered = {kind: value[kind]} if kind is not None else {}
    ordered.update(value)
    return {k: _kind_first(v) if k in ("all", "any", "not") else v for k, v in ordered.items()}


def walk(rule: Rule) -> Iterator[Condition]:
    """Every condition (leaf) of the rule."""
    if isinstance(rule, All):
        for child in rule.all:
            yield from walk(child)
    elif isinstance(rule, AnyOf):
        for child in rule.any:
            yield from walk(child)
    elif isinstance(rule, Not):
        yield from walk(rule.not_)
    else:
        yield rule


# Which kinds of arriving record can change each condition for a person whose identity did
# not change (a new or merged person is re-evaluated whatever arrived): traits kept online
# are the purchase ones (orders, refunds), attributes come from customer records, any record
# may carry identifiers, and tags are never given by records.
_RECORD_KINDS: dict[type[_Node], frozenset[str]] = {
    TraitCondition: frozenset({"order", "refund"}),
    AttributeCondition: frozenset({"customer"}),
    TagCondition: frozenset(),
    TagGroupCondition: frozenset(),
    IdentifierCondition: frozenset({"customer", "order", "event"}),
    BoughtCondition: frozenset({"order"}),
    EventCondition: frozenset({"event"}),
}


def record_kinds(rule: Rule) -> frozenset[str]:
    """The kinds of record (customer, order, refund, event) whose arrival can change what
    the rule says about a person; others can be skipped online."""
    found: frozenset[str] = frozenset()
    for condition in walk(rule):
        found |= _RECORD_KINDS[type(condition)]
    return found


def _typed(name: str, kind: FieldType, value: Any) -> Any:
    """`value` as the field's type (money: Decimal yuan, 2 places at most)."""
    checked = _convert(name, kind, value)
    choices = CHOICES.get(name)
    if choices is not None and checked not in choices:
        raise ValueError(f"{name} is one of {', '.join(map(str, choices))}, not {value!r}")
    return checked


def _convert(name: str, kind: FieldType, value: Any) -> Any:
    article = "an" if kind == "int" else "a"
    wrong = ValueError(f"{name} needs {article} {kind} value, got {value!r}")
    if value is None or isinstance(value, list | dict):
        raise wrong
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise wrong
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if kind == "date":
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} needs a date (YYYY-MM-DD), got {value!r}") from None
    if isinstance(value, bool):
        raise wrong
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise wrong from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{name} is an amount in yuan with at most 2 decimals, got {value!r}")
    return amount


def tag_references(rule: Rule) -> tuple[set[str], set[str]]:
    """The tag keys and tag groups a rule tests."""
    keys: set[str] = set()
    groups: set[str] = set()
    for node in walk(rule):
        if isinstance(node, TagCondition):
            keys.add(node.tag)
        elif isinstance(node, TagGroupCondition):
            groups.add(node.tag_group)
            keys.update(node.keys() or [])
    return keys, groups


def check_references(
    rule: Rule,
    *,
    tag_keys: Collection[str],
    tag_groups: Collection[str],
    identifier_types: Collection[str],
) -> None:
    """Raise RuleError if the rule names tags, groups or identifier types that do not exist."""
    keys, groups = tag_references(rule)
    problems = [f"unknown tag {k!r}" for k in sorted(keys) if k not in tag_keys]
    problems += [f"unknown tag group {g!r}" for g in sorted(groups) if g not in tag_groups]
    for node in walk(rule):
        if isinstance(node, IdentifierCondition) and node.has_identifier not in identifier_types:
            known = ", ".join(sorted(identifier_types))
            problems.append(f"unknown identifier type {node.has_identifier!r} (known: {known})")
    if problems:
        raise RuleError(problems)
