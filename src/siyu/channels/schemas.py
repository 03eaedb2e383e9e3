"""Channel contracts: messages to send, provider outcomes, the touch policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

Category = Literal["marketing", "transactional"]
# Channels a message can go through. wecom: 1:1 group-send task for the guide to confirm
# (add_msg_template); wecom_staff: a message to a staff member (message/send);
# wecom_tag: mark tags on an external contact.
CHANNELS = (
    "sms",
    "email",
    "wecom",
    "wecom_staff",
    "wecom_tag",
    "wechat_subscribe",
    "wechat_template",
    "webhook",
)
# Credential fields stored sealed (store/sealed.py) and never shown back by the console.
SECRET_FIELDS = frozenset({"access_key_secret", "secret_key", "password", "secret"})
# Consent is given per group of channels, as in customer records' `consent`.
CONSENT_GROUP: dict[str, str | None] = {
    "sms": "sms",
    "email": "email",
    "wecom": "wecom",
    "wechat_subscribe": "wechat",
    "wechat_template": "wechat",
    # Not a touch of the person: a system integration, a note to their guide, a tag.
    "webhook": None,
    "wecom_staff": None,
    "wecom_tag": None,
}


class NewMessage(BaseModel):
    """A message to queue; `key` makes queueing it again a no-op."""

    key: str = Field(max_length=128)
    oneid: str
    channel: str
    category: Category = "marketing"
    content: dict[str, Any]  # per locale: {"zh-CN": {...}, "en": {...}}, strings are Jinja2
    variables: dict[str, Any] | None = None
    origin: str | None = None
    not_before: datetime | None = None


class Queued(NamedTuple):
    """A message built by trusted code from validated parts (a journey step): the same
    fields as `NewMessage`, without pydantic's per-object cost (~8 µs each, a million
    times in a big journey run)."""

    key: str
    oneid: str
    channel: str
    category: Category
    content: dict[str, Any]
    variables: dict[str, Any] | None
    origin: str | None
    not_before: datetime | None


@dataclass(frozen=True)
class Outbound:
    """A rendered message handed to an adapter."""

    key: str
    channel: str
    recipient: dict[str, Any]
    payload: dict[str, Any]
    category: str = "marketing"


@dataclass(frozen=True)
class SendOutcome:
    """What the provider answered for one message."""

    key: str
    ok: bool
    provider_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    retryable: bool = False  # a transient failure (throttled, timeout, 5xx)
    extra: dict[str, Any] = field(default_factory=dict)


class Cap(BaseModel):
    """At most `limit` messages of `category` on `channel` ("*": all) per `per`."""

    channel: str = "*"
    category: Category = "marketing"
    limit: int = Field(ge=0)
    per: timedelta


class QuietHours(BaseModel):
    """No messages between `start` and `end` in the person's time zone; deferred, not
    dropped."""

    enabled: bool = True
    start: time = time(21, 0)
    end: time = time(8, 0)


class TouchPolicy(BaseModel):
    """A tenant's rules for touching people."""

    # Marketing needs a recorded yes; transactional goes unless the person said no.
    # Either way an unsubscribe or an explicit no always stops the message.
    require_explicit_consent: bool = True
    caps: list[Cap] = Field(
        default_factory=lambda: [
            Cap(channel="sms", limit=2, per=timedelta(days=7)),
            Cap(channel="*", limit=6, per=timedelta(days=7)),
        ]
    )
    # WeCom's own rule: an external contact receives at most this many group-send
    # messages from the company per calendar day; more are refused by WeCom (status 3).
    wecom_daily_limit: int = Field(default=1, ge=0)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    default_locale: str = "zh-CN"


class MessageView(BaseModel):
    id: int
    key: str
    oneid: str
    channel: str
    category: str
    origin: str | None
    status: str
    reason: str | None
    attempts: int
    not_before: datetime | None
    provider_id: str | None
    created_at: datetime
    sent_at: datetime | None
    outcome_at: datetime | None
    recipient: dict[str, Any] | None
    payload: dict[str, Any] | None


class DispatchReport(BaseModel):
    claimed: int = 0
    sent: int = 0
    suppressed: int = 0
    deferred: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0
    resolved_in_doubt: int = 0


class CallbackReport(BaseModel):
    received: int = 0
    matched: int = 0
    events: int = 0
    unsubscribed: int = 0
