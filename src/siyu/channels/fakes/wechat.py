"""A local WeChat API: access tokens, mini-program subscribe messages (one per granted
subscription, else 43101) and official-account template messages (client_msg_id dedup)."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Any

from siyu.channels.fakes.server import FakeServer, Request, Response


class FakeWeChat(FakeServer):
    def __init__(
        self, appid: str = "wxfakeapp", secret: str = "fake-secret", token_ttl: int = 7200
    ) -> None:
        super().__init__()
        self.appid, self.secret, self.token_ttl = appid, secret, token_ttl
        self.tokens: dict[str, float] = {}
        self.subscriptions: Counter[tuple[str, str]] = Counter()  # (openid, template) -> grants
        self.delivered: list[dict[str, Any]] = []
        self._client_ids: dict[tuple[str, str], int] = {}
        self._next_msgid = 1000

    def grant(self, openid: str, template_id: str, times: int = 1) -> None:
        """The user accepted a subscription prompt (each acceptance allows one message)."""
        with self.lock:
            self.subscriptions[(openid, template_id)] += times

    def handle(self, request: Request) -> Response:
        if request.path == "/cgi-bin/token":
            if (
                request.query.get("appid") != self.appid
                or request.query.get("secret") != self.secret
            ):
                return Response(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
            token = secrets.token_urlsafe(32)
            with self.lock:
                self.tokens[token] = time.time() + self.token_ttl
            return Response(200, {"access_token": token, "expires_in": self.token_ttl})
        with self.lock:
            expiry = self.tokens.get(request.query.get("access_token", ""))
        if expiry is None:
            return Response(
                200,
                {
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid or not latest",
                },
            )
        if time.time() >= expiry:
            return Response(200, {"errcode": 42001, "errmsg": "access_token expired"})
        body = request.json() or {}
        if request.path == "/cgi-bin/message/subscribe/send":
            return Response(200, self._subscribe(body))
        if request.path == "/cgi-bin/message/template/send":
            return Response(200, self._template(body))
        return Response(404, {"errcode": 40066, "errmsg": "invalid url"})

    def _subscribe(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (str(body.get("touser")), str(body.get("template_id")))
        with self.lock:
            if self.subscriptions[key] <= 0:
                return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            self.subscriptions[key] -= 1
            self._next_msgid += 1
            self.delivered.append({"kind": "subscribe", **body})
            return {"errcode": 0, "errmsg": "ok", "msgid": self._next_msgid}

    def _template(self, body: dict[str, Any]) -> dict[str, Any]:
        client = (str(body.get("touser")), str(body.get("client_msg_id") or ""))
        with self.lock:
            if client[1] and client in self._client_ids:
                return {"errcode": 0, "errmsg": "ok", "msgid": self._client_ids[client]}
            self._next_msgid += 1
            self.delivered.append({"kind": "template", **body})
            if client[1]:
                self._client_ids[client] = self._next_msgid
            return {"errcode": 0, "errmsg": "ok", "msgid": self._next_msgid}
