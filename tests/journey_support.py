"""Builders for journey tests: people through ingest, definitions, a recording adapter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from siyu.channels import Outbound, SendOutcome
from siyu.journeys import JourneyDefinition, create_journey, start_journey
from siyu.profiles import ContactCard
from siyu.tenants import TenantContext
from support import customer, ingest

# A quiet daytime instant (11:00 in Shanghai) so quiet hours do not interfere by accident.
NOON = datetime(2025, 3, 3, 3, 0, tzinfo=UTC)


def person(
    session: Session,
    tenant: TenantContext,
    external_id: str,
    *,
    phone: str | None = None,
    consent: dict[str, bool] | None = None,
    **fields: Any,
) -> str:
    """Ingest one customer record and return the person's OneID."""
    ids = {"phone": phone} if phone else {"member_no": f"M{external_id}"}
    record = customer("pos", external_id, ids, consent=consent, **fields)
    result = ingest(session, tenant, record)[0]
    assert result.oneid is not None
    return result.oneid


def journey(
    session: Session, tenant: TenantContext, steps: list[dict[str, Any]], **extra: Any
) -> JourneyDefinition:
    """Create and start a journey (manual trigger unless given)."""
    data: dict[str, Any] = {
        "key": extra.pop("key", "j1"),
        "name": "test journey",
        "trigger": extra.pop("trigger", {"type": "manual"}),
        "steps": steps,
        **extra,
    }
    definition = JourneyDefinition.model_validate(data)
    create_journey(session=session, tenant=tenant, definition=definition)
    start_journey(session=session, tenant=tenant, key=definition.key)
    return definition


SMS = {"zh-CN": {"template": "SMS_1", "params": {"name": "{{ person.name }}"}}}


class Recorder:
    """A channel adapter that records what it is asked to send (engine and policy tests;
    adapters themselves are tested against their fake servers)."""

    def __init__(self, channel: str = "sms", fail_codes: Sequence[str] = ()) -> None:
        self.channel = channel
        self.max_batch = 100
        self.in_doubt = "lookup"
        self.sent: list[Outbound] = []
        self.fail_codes = list(fail_codes)

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        if self.channel == "webhook":
            return {"url": content["url"]}
        if self.channel == "wecom_staff":
            return {"userid": card.staff_id} if card and card.staff_id else None
        return {"phone": card.phone, "ref": {"phone": card.phone}} if card and card.phone else None

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        outcomes = []
        for message in messages:
            if self.fail_codes:
                code = self.fail_codes.pop(0)
                outcomes.append(
                    SendOutcome(
                        message.key, ok=False, error_code=code, error="no", retryable=code == "busy"
                    )
                )
                continue
            self.sent.append(message)
            outcomes.append(SendOutcome(message.key, ok=True, provider_id=f"p-{message.key}"))
        return outcomes

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        sent = {m.key for m in self.sent}
        return [SendOutcome(m.key, ok=True) if m.key in sent else None for m in messages]

    def close(self) -> None:
        return None


def first_run_day(zone: tzinfo, at: time = time(9, 0)) -> date:
    """The day a daily trigger at `at` (the tenant's clock) journey started now first runs
    for: today until `at`, tomorrow after it (the tenant's day is not the UTC day)."""
    now = datetime.now(zone)
    return now.date() if now.time() < at else now.date() + timedelta(days=1)
