"""The matching input (customer records with their OneID) and the features compared.

`RECORD_SCHEMA` is the contract of the scoring core: one row per customer record, `rid` its
identity link position (arrival order) and `oneid` the person it belongs to now. Whoever
produces it (the store extract, the batch engine) hands an Arrow table of this shape.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

import pyarrow as pa

from siyu.identity.matching.names import MASKS, parse_name

_S = pa.string()
RECORD_SCHEMA = pa.schema(
    [
        ("rid", pa.int64()),
        ("oneid", _S),
        ("source", _S),
        ("name", _S),
        ("gender", _S),
        ("birthday", _S),  # ISO date
        ("province", _S),
        ("city", _S),
        ("district", _S),
        ("address", _S),
        ("postal_code", _S),
        ("phone", _S),  # normalised raw phone, when the source gave one
        ("phone_sha256", _S),
        ("masked_phone", _S),  # `138****5678`: a hint, not an identifier
        ("email", _S),
        ("device_id", _S),  # a weak identifier: a household may share one
        ("store_id", _S),
        ("staff_id", _S),
    ]
)
FEATURE_SCHEMA = pa.schema(
    [
        ("rid", pa.int64()),
        ("oneid", _S),
        ("source", _S),
        ("name_text", _S),
        ("name_py", _S),
        ("name_full_py", _S),  # pinyin of an unmasked name (its frequency is a full name's)
        ("name_flat", _S),  # pinyin without spaces, for edit similarity
        ("name_key", _S),
        ("family_py", _S),
        ("name_masked", pa.bool_()),
        ("gender", _S),
        ("bday", _S),
        ("b_year", pa.int32()),
        ("b_month", pa.int32()),
        ("b_day", pa.int32()),
        ("phone_sha", _S),
        ("phone_p3", _S),
        ("phone_s4", _S),
        ("email", _S),
        ("email_local", _S),
        ("device", _S),
        ("province", _S),
        ("city", _S),
        ("district", _S),
        ("addr", _S),
        ("addr_numbers", _S),  # the address's numbers in order: 12-3-1201
        ("addr_prefix", _S),  # what a masked address shows: 人民路 of 人民路***
        ("postal", _S),
        ("store_id", _S),
        ("staff_id", _S),
    ]
)
_MAINLAND = re.compile(r"^1\d{10}$")
_MASKED = re.compile(r"^(1\d{2})\*{4}(\d{4})$")
_NUMBERS = re.compile(r"\d+")
_ADDRESS_NOISE = re.compile(r"[\s,，、。.·#()（）\-_/]+")


def records_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A matching input table from plain dicts (missing columns are null)."""
    return pa.Table.from_pylist(
        [{f: _text(row.get(f)) if f != "rid" else row["rid"] for f in RECORD_SCHEMA.names}
         for row in rows],
        schema=RECORD_SCHEMA,
    )  # fmt: skip


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def features(records: pa.Table) -> pa.Table:
    """Derive the compared features of every record (pure, deterministic)."""
    cols = {name: records.column(name).to_pylist() for name in RECORD_SCHEMA.names}
    out: dict[str, list[Any]] = {name: [] for name in FEATURE_SCHEMA.names}
    for i in range(records.num_rows):
        row = {name: values[i] for name, values in cols.items()}
        for key, value in _record_features(row).items():
            out[key].append(value)
    return pa.table(out, schema=FEATURE_SCHEMA)


def _record_features(row: dict[str, Any]) -> dict[str, Any]:
    name = parse_name(row["name"])
    b_year, b_month, b_day = _birthday(row["birthday"])
    p3, s4 = _phone_parts(row["phone"], row["masked_phone"])
    email = _clean(row["email"], str.lower)
    addr = _clean(row["address"], normalise_address)
    return {
        "rid": row["rid"],
        "oneid": row["oneid"],
        "source": row["source"],
        "name_text": name.text if name else None,
        "name_py": name.pinyin if name else None,
        "name_full_py": name.pinyin if name and not name.masked else None,
        "name_flat": name.pinyin.replace(" ", "") if name else None,
        "name_key": name.key if name else None,
        "family_py": name.family if name else None,
        "name_masked": name.masked if name else None,
        "gender": row["gender"] if row["gender"] in ("m", "f") else None,
        "bday": f"{b_year:04d}-{b_month:02d}-{b_day:02d}" if b_year else None,
        "b_year": b_year,
        "b_month": b_month,
        "b_day": b_day,
        "phone_sha": _phone_sha(row["phone"], row["phone_sha256"]),
        "phone_p3": p3,
        "phone_s4": s4,
        "email": email,
        "email_local": email_local(email),
        "device": _clean(row["device_id"], _device),
        "province": _clean(row["province"], _place),
        "city": _clean(row["city"], _place),
        "district": _clean(row["district"], _place),
        "addr": addr,
        "addr_numbers": "-".join(_NUMBERS.findall(addr)) or None if addr else None,
        "addr_prefix": _clean(row["address"], masked_address_prefix),
        "postal": _clean(row["postal_code"], _postal),
        "store_id": _clean(row["store_id"], str.strip),
        "staff_id": _clean(row["staff_id"], str.strip),
    }


def _clean(value: str | None, normalise: Callable[[str], str | None]) -> str | None:
    if value is None:
        return None
    return normalise(value) or None


@lru_cache(maxsize=4096)
def _place(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _device(value: str) -> str:
    return value.strip().lower()


def _postal(value: str) -> str | None:
    digits = unicodedata.normalize("NFKC", value).strip()
    return digits if len(digits) == 6 and digits.isdigit() else None


@lru_cache(maxsize=100_000)
def normalise_address(value: str) -> str | None:
    """Street address without spacing and punctuation; None when masked (nothing to compare)."""
    text = _ADDRESS_NOISE.sub("", unicodedata.normalize("NFKC", value))
    if not text or any(mask in text for mask in MASKS):
        return None
    return text


def masked_address_prefix(value: str) -> str | None:
    """The visible start of a masked address (at least two characters), else None."""
    text = _ADDRESS_NOISE.sub("", unicodedata.normalize("NFKC", value))
    cut = min((text.find(mask) for mask in MASKS if mask in text), default=-1)
    return text[:cut] if cut >= 2 else None


def _birthday(value: str | None) -> tuple[int | None, int | None, int | None]:
    if not value:
        return None, None, None
    try:
        parsed = date.fromisoformat(value[:10])
    except ValueError:
        return None, None, None
    return parsed.year, parsed.month, parsed.day


def _phone_sha(phone: str | None, sha: str | None) -> str | None:
    if phone:
        return hashlib.sha256(phone.encode()).hexdigest()
    return sha.lower() if sha else None


def _phone_parts(phone: str | None, masked: str | None) -> tuple[str | None, str | None]:
    """The first three and last four digits: what a full and a masked phone both show."""
    if phone and _MAINLAND.match(phone):
        return phone[:3], phone[-4:]
    found = _MASKED.match(masked) if masked else None
    if found:
        return found.group(1), found.group(2)
    return None, None


def email_local(email: str | None) -> str | None:
    """The part before `@`, without a `+tag`."""
    if not email or "@" not in email:
        return None
    local = email.split("@", 1)[0].split("+", 1)[0]
    return local or None
