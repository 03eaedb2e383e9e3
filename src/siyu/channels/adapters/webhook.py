"""Signed webhooks: a JSON POST with an HMAC-SHA256 signature and a delivery id."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from siyu.channels.adapters.http import failed_request, new_client
from siyu.channels.ports import InDoubt
from siyu.channels.schemas import Outbound, SendOutcome
from siyu.profiles import ContactCard

SIGNATURE_HEADER = "X-Siyu-Signature"
DELIVERY_HEADER = "X-Siyu-Delivery"
TIMESTAMP_HEADER = "X-Siyu-Timestamp"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_webhook(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = 300
) -> bool:
    """What a receiver checks: the signature, and a timestamp within `tolerance` s."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, ""))


class Webhook:
    channel = "webhook"
    max_batch = 50
    # Receivers de-duplicate by the delivery id (documented contract), so a message in
    # doubt is sent again with the same id.
    in_doubt: InDoubt = "resend"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.secret = str(config["secret"])
        self.client = new_client()

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        return {"url": content["url"]} if content.get("url") else None

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        outcomes: list[SendOutcome] = []
        for message in messages:
            body = orjson.dumps(message.payload.get("body") or {})
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                DELIVERY_HEADER: message.key,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: webhook_signature(self.secret, timestamp, body),
            }
            try:
                response = self.client.post(
                    str(message.recipient["url"]), content=body, headers=headers
                )
            except Exception as error:
                outcomes += failed_request([message], error)
                continue
            code = response.status_code
            outcomes.append(
                SendOutcome(message.key, ok=True, provider_id=response.headers.get("X-Request-Id"))
                if 200 <= code < 300
                else SendOutcome(
                    message.key,
                    ok=False,
                    error_code=str(code),
                    error=response.text[:200],
                    retryable=code >= 500 or code in (408, 429),
                )
            )
        return outcomes

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        return [None for _ in messages]

    def close(self) -> None:
        self.client.close()
