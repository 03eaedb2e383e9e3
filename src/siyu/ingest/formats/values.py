"""Cell text to canonical values: amounts (yuan/fen, exact), times, address parts, value maps,
templates and fingerprints. A cell that cannot be converted raises `CellError` naming its
platform column."""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from siyu.ingest.formats.spec import FieldSpec

_DEFAULT_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
)
_DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
_MONEY_JUNK = str.maketrans("", "", "¥￥,， 元")
_CENT = Decimal("0.01")
_POSTAL = re.compile(r"[(（]\s*(\d{6})\s*[)）]\s*$")
_PROVINCES = tuple(
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 "  # noqa: SIM905
    "广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门".split()
)
_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
_PROVINCE = re.compile(
    rf"^((?:{'|'.join(_PROVINCES)})(?:壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)?)"
)
_CITY = re.compile(r"^(.+?(?:自治州|地区|盟|市))")
_DISTRICT = re.compile(r"^(.+?(?:区|县|旗|市))")


class CellError(ValueError):
    """A cell whose text is not what its field needs."""

    def __init__(self, column: str, text: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.text = text
        self.reason = reason


@dataclass(frozen=True)
class Context:
    """What a spec says for all of its fields."""

    nulls: frozenset[str]
    amount_unit: str = "yuan"
    time_formats: tuple[str, ...] = ()
    params: dict[str, str | None] = field(default_factory=dict)


def read(spec: FieldSpec, row: Mapping[str, str], ctx: Context) -> Any:
    """The value of one field in one row, or None when the row has none."""
    if spec.value is not None:
        return spec.value
    if spec.type == "fingerprint":
        found = _fingerprint(spec, row, ctx)
        return read(spec.fallback, row, ctx) if found is None and spec.fallback else found
    column, text = _raw(spec, row, ctx)
    if text == "":
        return read(spec.fallback, row, ctx) if spec.fallback else None
    return convert(spec, column, text, ctx)


def convert(spec: FieldSpec, column: str, text: str, ctx: Context) -> Any:
    """Typed value of a non-empty cell."""
    if spec.map is not None:
        if text in spec.map:
            return spec.map[text]
        if spec.default is None:
            known = "、".join(list(spec.map)[:12])
            raise CellError(column, text, f"unknown value {text!r} (known: {known})")
        return spec.default if spec.default != "" else None
    if spec.type == "amount":
        return amount(column, text, spec.unit or ctx.amount_unit)
    if spec.type == "int":
        return _int(column, text)
    if spec.type == "datetime":
        return timestamp(column, text, (*(spec.formats or ()), *ctx.time_formats))
    if spec.type == "date":
        return _date(column, text, tuple(spec.formats or ()))
    if spec.type == "address":
        return split_address(text).get(spec.part or "address")  # (cached: never mutated)
    if spec.template:
        return _template(spec.template, text, ctx)
    return text


def _raw(spec: FieldSpec, row: Mapping[str, str], ctx: Context) -> tuple[str, str]:
    for column in [spec.column] if spec.column else spec.columns or []:
        text = row.get(column, "")
        if text in ctx.nulls or (spec.masked == "skip" and "*" in text):
            text = ""
        if text:
            return column, text
    return spec.column or (spec.columns or [""])[0], ""


def amount(column: str, text: str, unit: str) -> str:
    """Exact decimal yuan as text; `fen` cells must be whole numbers of fen."""
    try:
        value = Decimal(text.translate(_MONEY_JUNK))
    except InvalidOperation:
        raise CellError(column, text, f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise CellError(column, text, f"{text!r} is not an amount")
    if unit == "fen":
        if value != value.to_integral_value():
            raise CellError(column, text, f"{text!r} is not a whole number of fen")
        return str((value / 100).quantize(_CENT))
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise CellError(column, text, f"{text!r} has more than 2 decimals (amounts are yuan)")
    return str(value.quantize(_CENT))  # 398 and 398.00 are one amount, one text


def _int(column: str, text: str) -> int:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise CellError(column, text, f"{text!r} is not a whole number") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise CellError(column, text, f"{text!r} is not a whole number")
    return int(value)


def timestamp(column: str, text: str, formats: tuple[str, ...]) -> str:
    """ISO 8601 text; without an offset it stays local (the tenant's zone applies)."""
    for fmt in (*formats, *_DEFAULT_TIME_FORMATS, *_DEFAULT_DATE_FORMATS):
        if fmt in ("unix", "unix_ms"):
            if text.isdigit():
                seconds = int(text) / (1000 if fmt == "unix_ms" else 1)
                return datetime.fromtimestamp(seconds, UTC).isoformat()
            continue
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise CellError(column, text, f"{text!r} is not a date and time") from None


def _date(column: str, text: str, formats: tuple[str, ...]) -> str:
    for fmt in (*formats, *_DEFAULT_DATE_FORMATS):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise CellError(column, text, f"{text!r} is not a date") from None


@lru_cache(maxsize=4096)  # one address cell feeds several fields (province, city, ...)
def split_address(text: str) -> dict[str, str]:
    """A one-cell Chinese address (`浙江省 杭州市 西湖区 文三路 1号(310012)`) in parts."""
    parts: dict[str, str] = {}
    postal = _POSTAL.search(text)
    if postal:
        parts["postal_code"] = postal.group(1)
        text = text[: postal.start()].strip()
    tokens = text.split()
    if len(tokens) >= 4:
        parts.update(province=tokens[0], city=tokens[1], district=tokens[2])
        parts["address"] = " ".join(tokens[3:])
        return parts
    rest = "".join(tokens)
    for part, pattern in (("province", _PROVINCE), ("city", _CITY), ("district", _DISTRICT)):
        found = pattern.match(rest)
        if found:
            parts[part] = found.group(1)
            rest = rest[found.end() :]
    province = parts.get("province", "")
    if "city" not in parts and province[:2] in _MUNICIPALITIES:
        parts["city"] = f"{province[:2]}市"  # 北京朝阳区...: the city is the municipality
    if rest:
        parts["address"] = rest
    return parts


def _template(template: str, text: str, ctx: Context) -> str | None:
    names = {name for _lit, name, _spec, _conv in string.Formatter().parse(template) if name}
    values: dict[str, Any] = {"value": text}
    for name in names - {"value"}:
        if not ctx.params.get(name):
            return None  # e.g. an OpenID without the app id it belongs to: not usable
        values[name] = ctx.params[name]
    return template.format(**values)


def _fingerprint(spec: FieldSpec, row: Mapping[str, str], ctx: Context) -> str | None:
    parts = [row.get(column, "") for column in spec.columns or []]
    parts = ["" if part in ctx.nulls else part for part in parts]
    if not any(parts):
        return None
    # The prefix is hashed too: a key made of one phone is not that phone's plain SHA-256.
    digest = hashlib.sha256("\x1f".join([spec.prefix, *parts]).encode()).hexdigest()[:24]
    return f"{spec.prefix}{digest}"
