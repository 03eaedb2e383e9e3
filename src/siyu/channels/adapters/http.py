"""What adapters over HTTP share: a client, and sorting failures into retry / in doubt."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import httpx

from siyu.channels.schemas import Outbound, SendOutcome

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def new_client() -> httpx.Client:
    """A pooled client; TCP_NODELAY so a request's headers and body are not held back
    by Nagle's algorithm waiting for the server's delayed ACK."""
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(timeout=TIMEOUT, transport=transport)


def failed_request(messages: Sequence[Outbound], error: Exception) -> list[SendOutcome]:
    """Outcomes for a request that raised. Nothing was sent if the connection never opened
    (retry); a request that was written out may have arrived (in doubt: ask, not resend)."""
    not_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return [
        SendOutcome(
            m.key,
            ok=False,
            error_code=type(error).__name__,
            error=str(error) or type(error).__name__,
            retryable=not_sent,
            extra={} if not_sent else {"in_doubt": True},
        )
        for m in messages
    ]


def same_for_all(messages: Sequence[Outbound], outcome: SendOutcome) -> list[SendOutcome]:
    """One provider answer for a whole request, copied to each of its messages."""
    return [
        SendOutcome(
            m.key,
            ok=outcome.ok,
            provider_id=outcome.provider_id,
            error_code=outcome.error_code,
            error=outcome.error,
            retryable=outcome.retryable,
            extra=outcome.extra,
        )
        for m in messages
    ]
