"""Signed tokens for links in messages (click tracking, one-click unsubscribe)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson


def sign_token(secret: str, data: dict[str, Any]) -> str:
    """`payload.mac`: the data, readable, with an HMAC-SHA256 that only we can make."""
    payload = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
    return f"{payload}.{_mac(secret, payload)}"


def read_token(token: str) -> dict[str, Any] | None:
    """The data in a token, NOT yet verified (to find whose secret checks it)."""
    payload = token.split(".", 1)[0]
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def verify_token(secret: str, token: str) -> dict[str, Any] | None:
    """The token's data if its MAC is right, else None."""
    payload, _, mac = token.partition(".")
    if not mac or not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    return read_token(token)


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
