"""A local webhook receiver: verifies siyu's signature and de-duplicates deliveries by id,
as receivers are asked to."""

from __future__ import annotations

from typing import Any

from siyu.channels.adapters.webhook import DELIVERY_HEADER, verify_webhook
from siyu.channels.fakes.server import FakeServer, Request, Response


class FakeWebhookReceiver(FakeServer):
    def __init__(self, secret: str = "hook-secret") -> None:
        super().__init__()
        self.secret = secret
        self.deliveries: dict[str, Any] = {}  # delivery id -> body, first copy only
        self.rejected = 0
        self.fail_next = 0  # answer 503 this many times

    def handle(self, request: Request) -> Response:
        if not verify_webhook(self.secret, request.headers, request.body):
            with self.lock:
                self.rejected += 1
            return Response(401, {"error": "bad signature"})
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(503, {"error": "busy"})
            delivery = request.headers.get(DELIVERY_HEADER, "")
            self.deliveries.setdefault(delivery, request.json())
        return Response(200, {"ok": True}, headers={"X-Request-Id": delivery})
