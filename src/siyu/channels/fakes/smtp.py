"""A real SMTP server (aiosmtpd) in a thread, keeping what it receives."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import Message
from typing import Any


class FakeSmtp:
    """aiosmtpd's Controller with a handler that records each message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller  # optional dependency: the `fakes` extra

        self.messages: list[Message] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:  # noqa: N802
        if address.endswith("@invalid.example"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def start(self) -> FakeSmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> FakeSmtp:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
