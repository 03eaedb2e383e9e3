"""Identifier types and their normalisation, exactly as the import contract specifies."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# The implicit key linking a source's customer record with that source's orders and events
# (`customer_ref.external_id`): strong, internal, never counted by guards.
SOURCE_CUSTOMER = "source_customer"
# The key ("match", "<match link id>") two customer records share once a probabilistic
# match between them is accepted: strong, internal, never counted by guards, and kept
# when a record's identifiers change (it is a decision about the record, not its content).
MATCH = "match"
# The key ("approved", "<blocked merge id>") an operator's approval of a blocked merge gives
# the two records it joins: like MATCH, and a merge through it is exempt from the count
# guards (never from a cannot-link). It does not make a record identified.
APPROVED = "approved"
# Keys that are decisions about a record, not its content: kept when its identifiers change.
DECISION_TYPES = frozenset({MATCH, APPROVED})

PHONE_MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")
_MAINLAND = re.compile(r"^1\d{10}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PHONE_JUNK = str.maketrans("", "", " -()\u3000")
_NULL_DEVICES = {"00000000-0000-0000-0000-000000000000", "0", "unknown", "null"}


class IdentifierError(ValueError):
    """A value that cannot be an identifier of its type; the message says why."""


@dataclass
class NormalizedIdentifiers:
    """What one record's identifiers become: matching keys, display values, hints."""

    keys: list[tuple[str, str]] = field(default_factory=list)  # (type, value) used for linking
    values: dict[str, str] = field(default_factory=dict)  # normalised values, for display
    hints: dict[str, str] = field(default_factory=dict)  # e.g. a masked phone: not a link

    def add_key(self, id_type: str, value: str) -> None:
        if (id_type, value) not in self.keys:
            self.keys.append((id_type, value))


def phone_sha256(phone: str) -> str:
    """The hex SHA-256 platforms use for a normalised phone."""
    return hashlib.sha256(phone.encode()).hexdigest()


def normalize_phone(raw: str) -> str:
    """A mainland 11-digit mobile, or E.164 for other countries."""
    text = raw.translate(_PHONE_JUNK)
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and _MAINLAND.match(text[len(prefix) :]):
            return text[len(prefix) :]
    if _MAINLAND.match(text) or _E164.match(text):
        return text
    raise IdentifierError(f"{raw!r} is not a mainland mobile (11 digits from 1) or E.164 number")


def masked_phone(raw: str) -> str | None:
    """The masked mobile (`138****5678`) `raw` spells, with the phone noise stripped, or None."""
    text = raw.translate(_PHONE_JUNK)
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and PHONE_MASKED.match(text[len(prefix) :]):
            return text[len(prefix) :]
    return text if PHONE_MASKED.match(text) else None


def _as_is(raw: str) -> str:
    return raw.strip()


def _lower(raw: str) -> str:
    return raw.strip().lower()


def _upper(raw: str) -> str:
    return raw.strip().upper()


def _email(raw: str) -> str:
    value = raw.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or " " in value:
        raise IdentifierError(f"{raw!r} is not an e-mail address")
    return value


def _sha256(raw: str) -> str:
    value = raw.strip().lower()
    if not _SHA256.match(value):
        raise IdentifierError(f"{raw!r} is not a hex SHA-256 (64 hex digits)")
    return value


def _scoped(scope: str) -> Callable[[str], str]:
    def normalise(raw: str) -> str:
        value = raw.strip()
        head, _, tail = value.partition("/")
        if not head or not tail:
            raise IdentifierError(f"{raw!r} must be scoped as {scope}")
        return value

    return normalise


def _device(raw: str) -> str:
    value = raw.strip().lower()
    if value in _NULL_DEVICES:
        raise IdentifierError(f"{raw!r} is a placeholder device id, not a device")
    return value


BUILTIN_NORMALISERS: dict[str, Callable[[str], str]] = {
    "phone_sha256": _sha256,
    "email": _email,
    "wechat_unionid": _as_is,
    "wechat_openid": _scoped("appid/openid"),
    "wecom_external_userid": _scoped("corpid/external_userid"),
    "tmall_ouid": _as_is,
    "jd_pin": _as_is,
    "douyin_openid": _as_is,
    "youzan_open_id": _as_is,
    "member_no": _upper,
    "device_id": _device,
}
IDENTIFIER_TYPES = ("phone", *BUILTIN_NORMALISERS)
CUSTOM_NORMALISERS: dict[str, Callable[[str], str]] = {
    "as_is": _as_is,
    "lower": _lower,
    "upper": _upper,
}


def normalize_identifiers(
    raw: Mapping[str, object], *, custom_types: Mapping[str, str] | None = None
) -> tuple[NormalizedIdentifiers, dict[str, str]]:
    """Normalise a record's identifiers; returns the result and errors by identifier type.

    A raw phone yields both `phone` (display) and `phone_sha256` (the matching key), so
    hashed and raw sources link; masked phones become hints.
    """
    result = NormalizedIdentifiers()
    errors: dict[str, str] = {}
    for id_type, value in raw.items():
        if value is None or value == "":
            continue
        text = str(value)
        try:
            if id_type == "phone":
                masked = masked_phone(text)
                if masked is not None:  # spaces, dashes and +86 are noise here too
                    result.hints["masked_phone"] = masked
                    continue
                phone = normalize_phone(text)
                result.values["phone"] = phone
                result.add_key("phone_sha256", phone_sha256(phone))
                continue
            normaliser = BUILTIN_NORMALISERS.get(id_type)
            if normaliser is None and custom_types and id_type in custom_types:
                normaliser = CUSTOM_NORMALISERS[custom_types[id_type]]
            if normaliser is None:
                raise IdentifierError(f"unknown identifier type {id_type!r}")
            normalised = normaliser(text)
            if not normalised:
                continue
            result.values.setdefault(id_type, normalised)
            result.add_key(id_type, normalised)
        except IdentifierError as error:
            errors[id_type] = str(error)
    return result, errors
