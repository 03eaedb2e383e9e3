"""The mapping engine: rows of one export, through its spec, into canonical records.

One engine runs every format. It reads each field as its spec says, keeps a cell it could
not convert as the text received (so the quarantined record is still canonical JSON to fix
and re-import) together with the platform column at fault, then applies the canonical rules
that hold for every source (item amounts, order totals, refund statuses, identifier hints).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from siyu.identity import IdentifierError, normalize_phone
from siyu.ingest.formats.spec import Fields, FormatSpec
from siyu.ingest.formats.values import CellError, Context, read
from siyu.ingest.readers import RawRecord

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_MASKED_MOBILE = re.compile(r"^(?:\+?86)?1\d{2}\*{4}\d{4}$")
_PHONE_NOISE = str.maketrans("", "", " -()")
_INDEX = re.compile(r"\.\d+(?=\.|$)")
_RECENT_CUSTOMERS = 50_000  # repeat buyers are sent once while they stay this recent


@dataclass
class Mapped:
    """Fields read from a row (or a group of rows) and the cells that failed."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, CellError]] = field(default_factory=list)  # (field path, error)


@dataclass(frozen=True)
class JoinedItem:
    """An order line from a separate item file, with where it came from."""

    item: dict[str, Any]
    errors: list[tuple[str, CellError]]
    where: str  # "items.csv line 7"


class Mapper:
    """Maps the rows of one spec; keeps the provenance of every field for messages."""

    def __init__(self, spec: FormatSpec, params: Mapping[str, str] | None = None) -> None:
        self.spec = spec
        self.ctx = Context(
            nulls=frozenset(spec.null_values),
            amount_unit=spec.amount_unit,
            time_formats=tuple(spec.time_formats),
            params={**spec.params, **(params or {})},
        )
        self.record_columns = _provenance(spec.record, "")
        items = {**(spec.items or {}), **(spec.item_file.items if spec.item_file else {})}
        self.record_columns.update(_provenance(items, "items."))
        customer = _provenance(spec.customer or {}, "")
        self.customer_columns = customer
        self.record_columns.update(
            {
                f"customer_ref.{path}": column
                for path, column in customer.items()
                if path.startswith("identifiers.") or path == "external_id"
            }
        )
        if spec.customer:  # an order without a buyer is rejected on `customer_ref`
            first = spec.customer["external_id"].source_columns()
            if first:
                self.record_columns["customer_ref"] = first[0]
        self._recent: OrderedDict[bytes, None] = OrderedDict()

    def read_fields(self, fields: Fields, row: Mapping[str, str]) -> Mapped:
        """The fields of one row; a failed cell keeps its text and is listed in errors."""
        mapped = Mapped()
        for path, spec in fields.items():
            try:
                value = read(spec, row, self.ctx)
            except CellError as error:
                mapped.errors.append((path, error))
                value = error.text
            if value is not None:
                _set(mapped.data, path, value)
        return mapped

    def order_key(self, row: Mapping[str, str]) -> str:
        """The order id of a row (the key joining item files), or "" when unreadable."""
        try:
            return str(read(self.spec.record["order_id"], row, self.ctx) or "")
        except CellError:
            return ""

    def customer_record(self, row: Mapping[str, str], file: str, line: int) -> RawRecord | None:
        """A customer-kind row as a record."""
        mapped = self.read_fields(self.spec.record, row)
        data = {"kind": "customer", "source": self.spec.source, **mapped.data}
        _hint_identifiers(data)
        return self._raw(data, mapped.errors, file, line, self.record_columns)

    def order_records(
        self,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        file: str,
        joined: Iterable[JoinedItem] = (),
    ) -> list[RawRecord]:
        """One order from its rows (one, or several when grouped) and joined lines, preceded
        by its buyer's customer record when the export identifies the buyer."""
        line, first = rows[0]
        mapped = self.read_fields(self.spec.record, first)
        errors = list(mapped.errors)
        order: dict[str, Any] = {"kind": "order", "source": self.spec.source, **mapped.data}
        for path, spec in self.spec.record.items():
            if spec.aggregate == "first" or (spec.aggregate == "sum" and len(rows) == 1):
                continue
            values = [self.read_fields({path: spec}, row) for _line, row in rows[1:]]
            errors.extend(error for value in values for error in value.errors)
            if spec.aggregate == "sum":
                _sum_into(order, path, [v.data for v in values])
            else:
                order[path] = [order.get(path), *(v.data.get(path) for v in values)]
        items: list[dict[str, Any]] = []
        for _line, row in rows if self.spec.items else ():
            item = self.read_fields(self.spec.items or {}, row)
            errors.extend((f"items.{path}", error) for path, error in item.errors)
            if item.data:
                items.append(item.data)
        for joined_item in joined:
            items.append(joined_item.item)
            errors.extend(
                (f"items.{path}", _located(error, joined_item.where))
                for path, error in joined_item.errors
            )
        if items:
            order["items"] = items
        records: list[RawRecord] = []
        customer = self._buyer(first)
        if customer is not None:
            order["customer_ref"] = _customer_ref(customer)
            if not self._seen(customer):
                record = self._raw(customer, [], file, line, self.customer_columns)
                records.append(record)
        _finish_order(order)
        records.append(self._raw(order, errors, file, line, self.record_columns))
        return records

    def _buyer(self, row: Mapping[str, str]) -> dict[str, Any] | None:
        if not self.spec.customer:
            return None
        mapped = self.read_fields(self.spec.customer, row)
        # The buyer's record is a by-product of the order: a cell it cannot use (a landline
        # in the phone column) makes no identifier, it never rejects the order.
        for path, _error in mapped.errors:
            _drop(mapped.data, path)
        if not mapped.data.get("external_id") and not mapped.data.get("identifiers"):
            return None
        data = {"kind": "customer", "source": self.spec.source, **mapped.data}
        _hint_identifiers(data)
        return data

    def _seen(self, customer: dict[str, Any]) -> bool:
        if not customer.get("external_id"):
            return True  # identifiers only: the order carries them, no record to keep
        key = orjson.dumps(customer, option=orjson.OPT_SORT_KEYS)
        if key in self._recent:
            self._recent.move_to_end(key)
            return True
        self._recent[key] = None
        if len(self._recent) > _RECENT_CUSTOMERS:
            self._recent.popitem(last=False)
        return False

    def _raw(
        self,
        data: dict[str, Any],
        errors: list[tuple[str, CellError]],
        file: str,
        line: int,
        columns: dict[str, str],
    ) -> RawRecord:
        text = orjson.dumps(data).decode()
        if not errors:
            return RawRecord(file, line, text, data, columns=columns)
        path, error = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        reason = f"{path} from {error.column}: {error.reason}{more}"
        return RawRecord(file, line, text, data, reason, error.column, columns=columns)


def _located(error: CellError, where: str) -> CellError:
    return CellError(error.column, error.text, f"{error.reason} ({where})")


def _provenance(fields: Fields, prefix: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for path, spec in fields.items():
        columns = spec.source_columns()
        if columns:
            found[prefix + path] = columns[0]
            if path == "identifiers.phone":  # a hashed phone is detected and renamed
                found[prefix + "identifiers.phone_sha256"] = columns[0]
    return found


def platform_column(field_path: str, columns: Mapping[str, str]) -> str | None:
    """The platform column behind a canonical field path (`items.0.unit_price` → 价格)."""
    path = _INDEX.sub("", field_path)
    while path:
        if path in columns:
            return columns[path]
        path = path.rpartition(".")[0]
    return None


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for name in parents:
        data = data.setdefault(name, {})
    data[last] = value


def _drop(data: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    for name in parents:
        data = data.get(name, {})
    data.pop(last, None)


def _sum_into(order: dict[str, Any], path: str, others: list[dict[str, Any]]) -> None:
    try:
        total = Decimal(str(order.get(path, "0")))
        for other in others:
            total += Decimal(str(other.get(path, "0")))
    except InvalidOperation:
        return  # a bad cell is already reported; keep the first row's text
    order[path] = str(total.quantize(Decimal("0.01")))


def _classify(id_type: str, value: str) -> tuple[str, str, bool]:
    """(type, value, usable): masked values and unusable phones are hints, not identifiers;
    a hex SHA-256 in a phone column is a hashed phone."""
    if "*" in value:  # a masked mobile stays a phone: the identity rules keep it as a hint
        mobile = id_type == "phone" and _MASKED_MOBILE.match(value.translate(_PHONE_NOISE))
        return ("phone" if mobile else f"masked_{id_type}"), value, False
    if id_type != "phone":
        return id_type, value, True
    if _SHA256.match(value):
        return "phone_sha256", value.lower(), True
    if _MD5.match(value):
        return "phone_md5", value.lower(), False
    try:
        normalize_phone(value)
    except IdentifierError:
        return "phone_unparsed", value, False
    return "phone", value, True


def _hint_identifiers(record: dict[str, Any]) -> None:
    """Keep usable identifiers; move the rest to attributes (a masked phone stays under
    `phone`, which the identity normaliser keeps as a matching hint)."""
    identifiers = record.get("identifiers")
    if not identifiers:
        return
    kept: dict[str, str] = {}
    for id_type, value in identifiers.items():
        name, text, usable = _classify(id_type, str(value))
        if usable or name == "phone":
            kept[name] = text
        else:
            record.setdefault("attributes", {})[name] = text
    record["identifiers"] = kept


def _customer_ref(customer: dict[str, Any]) -> dict[str, Any]:
    ref: dict[str, Any] = {}
    if customer.get("external_id"):
        ref["external_id"] = customer["external_id"]
    usable = {
        id_type: value
        for id_type, value in (customer.get("identifiers") or {}).items()
        if "*" not in str(value)
    }
    if usable:
        ref["identifiers"] = usable
    return ref


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _finish_order(order: dict[str, Any]) -> None:
    """Canonical rules every order export shares (docs/formats.md, "Rules")."""
    items = order.get("items") or []
    for item in items:
        price, quantity = _decimal(item.get("unit_price")), item.get("quantity", 1)
        if "amount" not in item and price is not None and isinstance(quantity, int):
            item["amount"] = str((price * quantity).quantize(Decimal("0.01")))
    amounts = [_decimal(item.get("amount")) for item in items]
    if "total_amount" not in order and amounts and all(a is not None for a in amounts):
        total = sum((a for a in amounts if a is not None), Decimal(0))
        order["total_amount"] = str(total.quantize(Decimal("0.01")))
    refunded = _decimal(order.pop("refunded_amount", None))
    refund_status = order.pop("refund_status", None)
    if isinstance(refund_status, list):  # one per order line (aggregate: collect)
        done = [value == "refunded" for value in refund_status]
        partly = any(value in ("refunded", "partially_refunded") for value in refund_status)
        refund_status = "refunded" if all(done) else "partially_refunded" if partly else None
    status = order.get("status")
    if status == "closed" and order.get("paid_at"):
        status = "refunded"  # `closed` means cancelled before payment; after it, refunded
    if status in ("created", "closed"):
        order["paid_amount"] = "0.00"  # unpaid by definition, whatever the export calls due
    paid = _decimal(order.get("paid_amount"))
    if status in ("paid", "shipped", "completed", "refunded"):
        if refund_status in ("refunded", "partially_refunded"):
            status = refund_status
        elif refunded is not None and refunded > 0:
            status = "refunded" if paid is None or refunded >= paid else "partially_refunded"
    if status is not None:
        order["status"] = status
