"""A local WeCom API: gettoken with expiring tokens (40014 / 42001 / 40001), group-send
tasks that guides confirm (add_msg_template, get_groupmsg_send_result) with WeCom's
one-group-message-a-day rule, message/send with duplicate checking, mark_tag."""

from __future__ import annotations

import secrets
import time
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from siyu.channels.fakes.server import FakeServer, Request, Response

CHINA = ZoneInfo("Asia/Shanghai")


class FakeWeCom(FakeServer):
    def __init__(
        self, corpid: str = "wwfakecorp", secret: str = "fake-secret", token_ttl: int = 7200
    ) -> None:
        super().__init__()
        self.corpid, self.secret, self.token_ttl = corpid, secret, token_ttl
        self.tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self.token_requests = 0
        self.tasks: dict[str, dict[str, Any]] = {}  # msgid -> group-send task
        self.received_on: dict[str, list[str]] = defaultdict(list)  # external id -> days
        self.staff_messages: list[dict[str, Any]] = []
        self.tags: dict[tuple[str, str], set[str]] = defaultdict(set)

    def handle(self, request: Request) -> Response:
        if request.path == "/cgi-bin/gettoken":
            return self._token(request)
        code = self._check_token(request.query.get("access_token", ""))
        if code:
            return Response(200, _err(code))
        body = request.json() or {}
        routes = {
            "/cgi-bin/externalcontact/add_msg_template": self._add_msg_template,
            "/cgi-bin/externalcontact/get_groupmsg_send_result": self._send_result,
            "/cgi-bin/message/send": self._message_send,
            "/cgi-bin/externalcontact/mark_tag": self._mark_tag,
        }
        route = routes.get(request.path)
        return Response(200, route(body) if route else _err(60011))

    def _token(self, request: Request) -> Response:
        if request.query.get("corpid") != self.corpid:
            return Response(200, _err(40013))  # invalid corpid
        if request.query.get("corpsecret") != self.secret:
            return Response(200, _err(40001))  # invalid secret
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.token_requests += 1
            self.tokens[token] = time.time() + self.token_ttl
        return Response(
            200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl}
        )

    def _check_token(self, token: str) -> int:
        with self.lock:
            expiry = self.tokens.get(token)
        if expiry is None:
            return 40014  # invalid access_token
        return 42001 if time.time() >= expiry else 0  # access_token expired

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def _add_msg_template(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("sender") or not body.get("external_userid"):
            return _err(41048)
        msgid = f"msg{uuid.uuid4().hex[:20]}"
        with self.lock:
            self.tasks[msgid] = {
                "sender": body["sender"],
                "external_userid": list(body["external_userid"]),
                "text": (body.get("text") or {}).get("content"),
                "status": dict.fromkeys(body["external_userid"], 0),
                "send_time": None,
            }
        return {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": msgid}

    def confirm(self, msgid: str) -> None:
        """The guide taps "send" in WeCom: each customer gets it (1), unless they already
        received a group message today (3, WeCom's per-customer limit)."""
        now = time.time()
        today = datetime.fromtimestamp(now, CHINA).date().isoformat()
        with self.lock:
            task = self.tasks[msgid]
            task["send_time"] = int(now)
            for external in task["external_userid"]:
                if today in self.received_on[external]:
                    task["status"][external] = 3
                else:
                    self.received_on[external].append(today)
                    task["status"][external] = 1

    def _send_result(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            task = self.tasks.get(str(body.get("msgid")))
            if task is None or task["sender"] != body.get("userid"):
                return _err(41063)
            rows = [
                {
                    "external_userid": external,
                    "userid": task["sender"],
                    "status": status,
                    **({"send_time": task["send_time"]} if status else {}),
                }
                for external, status in task["status"].items()
            ]
        return {"errcode": 0, "errmsg": "ok", "send_list": rows}

    def _message_send(self, body: dict[str, Any]) -> dict[str, Any]:
        content = (body.get("text") or {}).get("content")
        with self.lock:
            repeat = body.get("enable_duplicate_check") and any(
                m["touser"] == body.get("touser") and m["content"] == content
                for m in self.staff_messages
            )
            if not repeat:
                self.staff_messages.append({"touser": body.get("touser"), "content": content})
        return {
            "errcode": 0,
            "errmsg": "ok",
            "invaliduser": "",
            "msgid": uuid.uuid4().hex,
            "response_code": "",
        }

    def _mark_tag(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (str(body.get("userid")), str(body.get("external_userid")))
        with self.lock:
            self.tags[key] |= set(body.get("add_tag") or [])
            self.tags[key] -= set(body.get("remove_tag") or [])
        return {"errcode": 0, "errmsg": "ok"}


def _err(code: int) -> dict[str, Any]:
    messages = {
        40001: "invalid credential",
        40013: "invalid corpid",
        40014: "invalid access_token",
        41048: "missing external_userid or sender",
        41063: "invalid msgid",
        42001: "access_token expired",
        60011: "no privilege to access/modify contact/party/agent",
    }
    return {"errcode": code, "errmsg": messages.get(code, "error")}
