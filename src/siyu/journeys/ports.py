"""What journeys need from other domains, as small ports.

Audiences (#4) and loyalty (#5) are separate domains; journeys reach them only through
these protocols. `adapters.py` has in-memory adapters (tests, benchmarks) and the
`unwired` ones the CLI uses until the integrator plugs in the real domains: those fail the
step loudly (it is retried, then dead-lettered) instead of pretending it happened.

Every call runs inside the engine's transaction on `session`; an adapter that writes must
be idempotent by `key` (the engine may run a step again after a crash) and either write
everything or raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.orm import Session

from siyu.tenants import TenantContext


@dataclass(frozen=True)
class AudienceChanges:
    entered: list[str]
    left: list[str]
    cursor: str | None  # hand back next time to get only later changes
    # Per OneID, what identifies its entry / exit (e.g. when it was written): a feed that
    # re-reads an overlap gives the same mark again, so the enrolment is not repeated.
    entered_marks: dict[str, str] = field(default_factory=dict)
    left_marks: dict[str, str] = field(default_factory=dict)


class AudiencePort(Protocol):
    def changes(
        self, *, session: Session, tenant: TenantContext, audience: str, cursor: str | None
    ) -> AudienceChanges:
        """Who entered and left `audience` since `cursor` (None: from now on)."""
        ...

    def members(self, *, session: Session, tenant: TenantContext, audience: str) -> list[str]:
        """The OneIDs in `audience` now."""
        ...


@dataclass(frozen=True)
class Grant:
    coupon_code: str | None = None
    points_balance: int | None = None


@dataclass(frozen=True)
class Expiring:
    oneid: str
    on: date
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. {"points": 300}


class LoyaltyPort(Protocol):
    def grant(
        self,
        *,
        session: Session,
        tenant: TenantContext,
        oneid: str,
        points: int | None,
        coupon: str | None,
        reason: str,
        key: str,
    ) -> Grant:
        """Give points and/or a coupon, once per `key`."""
        ...

    def balances(
        self, *, session: Session, tenant: TenantContext, oneids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Per person: `{"tier": ..., "points": ...}` for templates and conditions."""
        ...

    def expiring(
        self, *, session: Session, tenant: TenantContext, kind: str, on: date
    ) -> list[Expiring]:
        """People whose points (`kind="points"`) or coupons (`"coupon"`) expire on `on`."""
        ...


class TagPort(Protocol):
    def apply(
        self,
        *,
        session: Session,
        tenant: TenantContext,
        oneid: str,
        add: Sequence[str],
        remove: Sequence[str],
        key: str,
    ) -> None:
        """Add and remove a person's tags, once per `key`."""
        ...

    def tags(
        self, *, session: Session, tenant: TenantContext, oneids: Sequence[str]
    ) -> dict[str, list[str]]:
        """Each person's tags, for conditions (`person.tags contains ...`)."""
        ...


@dataclass(frozen=True)
class Ports:
    audiences: AudiencePort
    loyalty: LoyaltyPort
    tags: TagPort
