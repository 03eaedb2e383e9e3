"""Access tokens for WeCom and WeChat: fetched once, cached until shortly before they
expire, and fetched again when the API says a token is invalid or expired."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

# 40014 invalid access_token, 42001 expired, 40001 (WeChat) invalid credential.
TOKEN_ERRORS = {40014, 42001, 40001}
MARGIN = 300  # seconds before the stated expiry that we stop using a token


class TokenCache:
    """One token for one (corp/app, secret); thread-safe."""

    def __init__(self, fetch: Callable[[], dict[str, Any]]) -> None:
        self._fetch = fetch
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                answer = self._fetch()
                if answer.get("errcode", 0) != 0 or "access_token" not in answer:
                    raise RuntimeError(
                        f"token refused: {answer.get('errcode')} {answer.get('errmsg')}"
                    )
                self.fetches += 1
                self._token = str(answer["access_token"])
                self._expires = time.monotonic() + int(answer.get("expires_in", 7200)) - MARGIN
            return self._token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None


def call_with_token(
    client: httpx.Client, tokens: TokenCache, method: str, url: str, body: dict[str, Any] | None
) -> dict[str, Any]:
    """Call a `?access_token=` API; on a token error, refresh once and call again."""
    for attempt in (1, 2):
        token = tokens.get()
        response = client.request(method, url, params={"access_token": token}, json=body)
        answer: dict[str, Any] = response.json()
        if answer.get("errcode", 0) in TOKEN_ERRORS and attempt == 1:
            tokens.invalidate(token)
            continue
        return answer
    raise AssertionError("unreachable")
