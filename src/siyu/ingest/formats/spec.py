"""The mapping language: how the columns of one export become canonical records.

Every built-in format is a spec in this language (`specs/*.yaml`); `--map FILE` takes the
same YAML. docs/formats.md documents it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ValueType = Literal["text", "amount", "int", "datetime", "date", "address", "fingerprint"]
AddressPart = Literal["province", "city", "district", "address", "postal_code"]

DEFAULT_NULLS = ("-", "--", "—", "——", "null", "NULL", "None", "N/A", "#N/A")


class MappingError(ValueError):
    """A mapping file (or built-in format) that is not valid; the message says where."""


class _Strict(BaseModel):
    # YAML reads `1: paid` with an int key: status codes are text like every cell
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class FieldSpec(_Strict):
    """Where one canonical field comes from and how its text becomes a value."""

    column: str | None = None  # the platform's column name
    columns: list[str] | None = None  # several: the first non-empty one (fingerprint: all)
    value: Any = None  # a constant instead of a column
    type: ValueType = "text"
    map: dict[str, Any] | None = None  # value map (status, gender, yes/no ...)
    default: Any = None  # for values missing from `map` (without it they are errors)
    unit: Literal["yuan", "fen"] | None = None  # amounts; default: the spec's amount_unit
    formats: list[str] | None = None  # datetimes: strptime formats, `unix`, `unix_ms`
    part: AddressPart | None = None  # type address: which part of a one-cell address
    template: str | None = None  # e.g. "{appid}/{value}"; skipped when a param is unset
    prefix: str = ""  # type fingerprint: put before the hash
    masked: Literal["keep", "skip"] = "keep"  # skip: a value with `*` counts as empty
    # over the rows of one grouped order: the first row's, the sum, or one value per row
    aggregate: Literal["first", "sum", "collect"] = "first"
    fallback: FieldSpec | None = None  # used when this one gives no value

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _has_source(self) -> FieldSpec:
        if self.value is None and not self.column and not self.columns:
            raise ValueError("a field needs `column`, `columns` or `value`")
        if self.type == "fingerprint" and not self.columns:
            raise ValueError("type fingerprint needs `columns`")
        if self.type == "address" and self.part is None:
            raise ValueError("type address needs `part`")
        return self

    def source_columns(self) -> list[str]:
        """The platform columns this field reads (for messages and provenance)."""
        found = [self.column] if self.column else list(self.columns or [])
        return found + (self.fallback.source_columns() if self.fallback else [])


Fields = dict[str, FieldSpec]


class ItemFile(_Strict):
    """A second file of order lines, joined to the orders by a key (Tmall's 宝贝报表)."""

    detect: list[str]  # columns that tell this file from the order file
    key: str  # the column holding the order id
    items: Fields


class FormatSpec(_Strict):
    """One export layout."""

    name: str
    description: str = ""
    source: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    kind: Literal["order", "customer"]
    detect: list[str] = Field(min_length=1)  # columns every file of this layout has
    null_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NULLS))
    amount_unit: Literal["yuan", "fen"] = "yuan"
    time_formats: list[str] = Field(default_factory=list)
    group_by: str | None = None  # adjacent rows with the same value form one order
    params: dict[str, str | None] = Field(default_factory=dict)
    record: Fields
    items: Fields | None = None
    customer: Fields | None = None
    item_file: ItemFile | None = None

    @model_validator(mode="after")
    def _complete(self) -> FormatSpec:
        needed = ("order_id", "status", "created_at") if self.kind == "order" else ()
        needed = (*needed, "external_id") if self.kind == "customer" else needed
        missing = [name for name in needed if name not in self.record]
        if missing:
            raise ValueError(f"record needs {', '.join(missing)}")
        if self.customer is not None and "external_id" not in self.customer:
            raise ValueError("customer needs external_id")
        if self.kind == "customer" and (self.items or self.item_file or self.customer):
            raise ValueError("items, item_file and customer belong to order formats")
        return self


def load_spec(data: Any, *, origin: str) -> FormatSpec:
    """A spec from parsed YAML; errors name the place in the file."""
    try:
        return FormatSpec.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        raise MappingError(f"{origin}: {problems}") from None


def load_mapping(path: Path) -> FormatSpec:
    """A user's mapping file (YAML)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"{path}: {error}") from None
    return load_spec(data, origin=str(path))


def builtin_formats() -> dict[str, FormatSpec]:
    """The formats shipped with siyu, by name."""
    folder = resources.files("siyu.ingest.formats") / "specs"
    found: dict[str, FormatSpec] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            spec = load_spec(yaml.safe_load(entry.read_text(encoding="utf-8")), origin=entry.name)
            found[spec.name] = spec
    return found
