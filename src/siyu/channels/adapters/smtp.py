"""E-mail over SMTP, with List-Unsubscribe (RFC 2369) and one-click (RFC 8058) headers."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from siyu.channels.ports import InDoubt
from siyu.channels.schemas import Outbound, SendOutcome
from siyu.profiles import ContactCard


class Smtp:
    channel = "email"
    max_batch = 50  # messages per SMTP connection
    in_doubt: InDoubt = "give_up"  # an SMTP server cannot be asked; never risk two copies

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = str(config.get("host", "127.0.0.1"))
        self.port = int(config.get("port", 25))
        self.sender = str(config["from"])
        self.username = config.get("username")
        self.password = config.get("password")
        self.starttls = bool(config.get("starttls", False))
        self.domain = self.sender.rsplit("@", 1)[-1]

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        return {"email": card.email, "ref": {"email": card.email}} if card and card.email else None

    def compose(self, message: Outbound) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = str(message.recipient["email"])
        email["Subject"] = str(message.payload.get("subject", ""))
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = f"<{message.key.replace(':', '.')}@{self.domain}>"
        unsubscribe = message.payload.get("list_unsubscribe")
        if unsubscribe:
            email["List-Unsubscribe"] = f"<{unsubscribe}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(str(message.payload.get("text", "")))
        if message.payload.get("html"):
            email.add_alternative(str(message.payload["html"]), subtype="html")
        return email

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        try:
            connection = smtplib.SMTP(self.host, self.port, timeout=10)
        except OSError as error:  # nothing sent: try again later
            return [
                SendOutcome(m.key, ok=False, error_code="connect", error=str(error), retryable=True)
                for m in messages
            ]
        outcomes: list[SendOutcome] = []
        try:
            if self.starttls:
                connection.starttls()
            if self.username:
                connection.login(str(self.username), str(self.password or ""))
            for message in messages:
                outcomes.append(self._send_one(connection, message))
        except (smtplib.SMTPException, OSError) as error:
            # The connection broke mid-way: the message in flight may have been accepted;
            # the ones after it were never tried.
            done = len(outcomes)
            outcomes += [
                SendOutcome(
                    m.key,
                    ok=False,
                    error_code="smtp",
                    error=str(error),
                    retryable=index > done,
                    extra={"in_doubt": True} if index == done else {},
                )
                for index, m in enumerate(messages[done:], start=done)
            ]
        finally:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()
        return outcomes

    def _send_one(self, connection: smtplib.SMTP, message: Outbound) -> SendOutcome:
        email = self.compose(message)
        try:
            connection.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            return SendOutcome(message.key, ok=False, error_code="recipient", error=str(error))
        except smtplib.SMTPResponseException as error:
            return SendOutcome(
                message.key,
                ok=False,
                error_code=str(error.smtp_code),
                error=str(error.smtp_error),
                retryable=400 <= error.smtp_code < 500,  # 4xx: temporary
            )
        return SendOutcome(message.key, ok=True, provider_id=str(email["Message-ID"]))

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        return [None for _ in messages]

    def close(self) -> None:
        return None
