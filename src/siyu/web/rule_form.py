"""The rule builder's form: a rule (docs/rules.md) as a tree of rows and back.

The builder is server-rendered: every node of the rule is a row whose fields are named by
the node's path (`n`, `n-0`, `n-0-2`...), e.g. `n-0.kind`, `n-0.field`, `n-0.value`. The
form reads back into the same tree (`from_form`), the tree into the rule's JSON (`to_rule`),
which the rules domain then validates: the builder never decides what a valid rule is, so
whatever it produces is exactly what the API would accept or refuse. A `not` is a flag on
the node it negates. Lists (`in`, categories, event types) are comma-separated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from siyu import rules

GROUPS = ("all", "any")
CONDITIONS = ("trait", "attribute", "tag", "tag_group", "has_identifier", "bought", "event")
KINDS = (*GROUPS, *CONDITIONS)
OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "is_null", "not_null")
BOUGHT_FILTERS = ("category", "source", "store_id", "product_id", "sku")
COUNTED = ("within_days", "min", "max")
# Text fields each condition kind shows (besides kind and not).
FIELDS: dict[str, tuple[str, ...]] = {
    "trait": ("field", "op", "value"),
    "attribute": ("field", "op", "value"),
    "tag": ("tag",),
    "tag_group": ("group", "values"),
    "has_identifier": ("identifier",),
    "bought": (*BOUGHT_FILTERS, *COUNTED),
    "event": ("event", "source", *COUNTED),
}
ROOT = "n"


@dataclass
class Node:
    """One row of the builder: a group (all/any) with children, or a condition."""

    kind: str
    negate: bool = False
    values: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return self.kind in GROUPS


def default_condition() -> Node:
    """A new row: lifecycle stage is active (a common first condition)."""
    return Node("trait", values={"field": "lifecycle_stage", "op": "=", "value": "active"})


def blank() -> Node:
    """The builder's start: an AND group with one condition."""
    return Node("all", children=[default_condition()])


# -- rule JSON → tree ----------------------------------------------------------------------


def from_rule(rule: Mapping[str, Any]) -> Node:
    """The tree for a (stored, valid) rule."""
    if "not" in rule:
        inner = from_rule(rule["not"])
        if inner.negate:  # not(not x): keep both by wrapping the inner one
            return Node("all", negate=True, children=[inner])
        inner.negate = True
        return inner
    for group in GROUPS:
        if group in rule:
            return Node(group, children=[from_rule(child) for child in rule[group]])
    if "trait" in rule or "attribute" in rule:
        kind = "trait" if "trait" in rule else "attribute"
        return Node(
            kind,
            values={
                "field": str(rule[kind]),
                "op": str(rule.get("op", "=")),
                "value": _text(rule.get("value")),
            },
        )
    if "tag" in rule:
        return Node("tag", values={"tag": str(rule["tag"])})
    if "tag_group" in rule:
        return Node(
            "tag_group",
            values={"group": str(rule["tag_group"]), "values": _text(rule.get("values"))},
        )
    if "has_identifier" in rule:
        return Node("has_identifier", values={"identifier": str(rule["has_identifier"])})
    if "bought" in rule:
        filters = rule["bought"] or {}
        values = {name: _text(filters.get(name)) for name in BOUGHT_FILTERS}
        return Node("bought", values={**values, **_counted_text(rule)})
    if "event" in rule:
        values = {"event": _text(rule["event"]), "source": _text(rule.get("source"))}
        return Node("event", values={**values, **_counted_text(rule)})
    raise ValueError(f"not a rule node: {rule!r}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _counted_text(rule: Mapping[str, Any]) -> dict[str, str]:
    return {name: _text(rule.get(name)) for name in COUNTED}


# -- form ↔ tree ---------------------------------------------------------------------------


def from_form(form: Mapping[str, Any], path: str = ROOT) -> Node:
    """The tree the builder's fields describe (missing rows read as an empty AND group)."""
    kind = str(form.get(f"{path}.kind") or "all")
    if kind not in KINDS:
        kind = "all"
    node = Node(kind, negate=bool(form.get(f"{path}.not")))
    if node.is_group:
        indexes = sorted(
            {
                int(rest.split(".", 1)[0])
                for key in form
                if key.startswith(f"{path}-")
                and (rest := key[len(path) + 1 :]).split(".", 1)[0].isdigit()
            }
        )
        node.children = [from_form(form, f"{path}-{i}") for i in indexes]
    else:
        node.values = {name: str(form.get(f"{path}.{name}") or "").strip() for name in FIELDS[kind]}
    return node


def fields_of(node: Node, path: str = ROOT) -> dict[str, str]:
    """The form fields of a tree (what `from_form` reads back): for tests and hidden state."""
    found = {f"{path}.kind": node.kind}
    if node.negate:
        found[f"{path}.not"] = "1"
    for name, value in node.values.items():
        found[f"{path}.{name}"] = value
    for index, child in enumerate(node.children):
        found.update(fields_of(child, f"{path}-{index}"))
    return found


def find(node: Node, path: str) -> Node | None:
    """The node at `path` (`n-0-1`) of the tree."""
    if path == ROOT:
        return node
    if not path.startswith(f"{ROOT}-"):
        return None
    current = node
    for part in path[len(ROOT) + 1 :].split("-"):
        if not part.isdigit() or int(part) >= len(current.children):
            return None
        current = current.children[int(part)]
    return current


def edit(tree: Node, action: str, path: str) -> Node:
    """The tree after a builder button: add a condition or a group, remove a row, or
    reset a condition whose kind or field changed (its values no longer fit)."""
    target = find(tree, path)
    if target is None:
        return tree
    if action in ("add", "group"):
        row = (
            default_condition() if action == "add" else Node("any", children=[default_condition()])
        )
        if target.is_group:
            target.children.append(row)
        elif target is tree:  # a single condition at the top: make it an AND of two
            return Node("all", children=[tree, row])
        else:
            parent = find(tree, path.rsplit("-", 1)[0])
            assert parent is not None
            parent.children.insert(parent.children.index(target) + 1, row)
    elif action == "remove" and target is not tree:
        parent = find(tree, path.rsplit("-", 1)[0])
        assert parent is not None
        parent.children.remove(target)
    elif action == "kind" and not target.is_group:
        target.values = {
            name: target.values.get(name, "") for name in FIELDS[target.kind]
        } | _defaults(target.kind)
    elif action == "kind":
        target.values = {}
    return tree


def _defaults(kind: str) -> dict[str, str]:
    if kind in ("trait", "attribute"):
        first = next(iter(rules.TRAIT_FIELDS if kind == "trait" else rules.ATTRIBUTE_FIELDS))
        return {"field": first, "op": ">=" if kind == "trait" else "=", "value": ""}
    if kind in ("bought", "event"):
        return {"within_days": "30", "min": "1", "max": ""}
    return {}


# -- tree → rule JSON ----------------------------------------------------------------------


def to_rule(node: Node) -> dict[str, Any]:
    """The rule's JSON for the tree, typed by the field where the language types values
    (a value that does not convert stays text, so the rules domain names the problem)."""
    if node.is_group:
        built: dict[str, Any] = {node.kind: [to_rule(child) for child in node.children]}
    else:
        built = _condition(node)
    return {"not": built} if node.negate else built


def _condition(node: Node) -> dict[str, Any]:
    v = node.values
    if node.kind in ("trait", "attribute"):
        fields = rules.TRAIT_FIELDS if node.kind == "trait" else rules.ATTRIBUTE_FIELDS
        kind = fields.get(v.get("field", ""), "str")
        op = v.get("op") or "="
        found: dict[str, Any] = {node.kind: v.get("field", "")}
        if op != "=":
            found["op"] = op
        if op in ("in", "not_in"):
            found["value"] = [_typed(kind, item) for item in _items(v.get("value", ""))]
        elif op not in ("is_null", "not_null"):
            found["value"] = _typed(kind, v.get("value", ""))
        return found
    if node.kind == "tag":
        return {"tag": v.get("tag", "")}
    if node.kind == "tag_group":
        group: dict[str, Any] = {"tag_group": v.get("group", "")}
        if _items(v.get("values", "")):
            group["values"] = _items(v.get("values", ""))
        return group
    if node.kind == "has_identifier":
        return {"has_identifier": v.get("identifier", "")}
    if node.kind == "bought":
        filters = {name: _items(v[name]) for name in BOUGHT_FILTERS if _items(v.get(name, ""))}
        return {"bought": filters, **_counted(v)}
    found = {"event": _items(v.get("event", ""))}
    if _items(v.get("source", "")):
        found["source"] = _items(v.get("source", ""))
    return {**found, **_counted(v)}


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.replace("，", ",").split(",") if item.strip()]


def _counted(values: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in COUNTED:
        text = values.get(name, "").strip()
        if text:
            found[name] = int(text) if _is_int(text) else text
    return found


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _typed(kind: str, text: str) -> Any:
    text = text.strip()
    if kind == "int" and _is_int(text):
        return int(text)
    if kind == "bool" and text.lower() in ("true", "false", "是", "否"):
        return text.lower() in ("true", "是")
    if kind == "money" and text:
        return text  # the language reads amounts from text exactly ("99.90")
    return text if text else None


# -- labels (English message ids; Chinese in locales/zh-CN/audiences.json) ------------------

KIND_LABELS = {
    "trait": "Trait",
    "attribute": "Attribute",
    "tag": "Has tag",
    "tag_group": "Has a value of tag group",
    "has_identifier": "Has identifier",
    "bought": "Bought",
    "event": "Did event",
}
FIELD_LABELS = {
    "order_count": "Order count",
    "net_spend": "Net spend (yuan)",
    "aov": "AOV (yuan)",
    "avg_interval_days": "Days between orders",
    "first_order_day": "First order day",
    "last_order_day": "Last order day",
    "favourite_source": "Favourite channel",
    "favourite_category": "Favourite category",
    "favourite_store": "Favourite store",
    "is_member": "Is member",
    "rfm_r": "RFM recency (1-5)",
    "rfm_f": "RFM frequency (1-5)",
    "rfm_m": "RFM monetary (1-5)",
    "lifecycle_stage": "Lifecycle stage",
    "gender": "Gender",
    "birthday": "Birthday",
    "birthday_month": "Birthday month",
    "province": "Province",
    "city": "City",
    "district": "District",
    "store_id": "Store",
    "staff_id": "Guide",
}
OP_LABELS = {
    "=": "is",
    "!=": "is not",
    "<": "<",
    "<=": "≤",
    ">": ">",
    ">=": "≥",
    "in": "is one of",
    "not_in": "is none of",
    "is_null": "is empty",
    "not_null": "is not empty",
}
PLACEHOLDERS = {
    "int": "a number, e.g. 3",
    "money": "yuan, e.g. 99.90",
    "date": "YYYY-MM-DD",
    "str": "text; lists: a, b",
    "bool": "true or false",
}
