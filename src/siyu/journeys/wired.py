"""The journeys ports wired to the real domains, through their public names: audiences
(membership change feed, members), loyalty (gifts, standings, expiries) and tags.

`wired_ports()` is what `siyu worker`, `siyu demo` and the API use; tests and benchmarks
keep the in-memory adapters (`adapters.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from siyu import audiences, loyalty, tags
from siyu.journeys.ports import AudienceChanges, Expiring, Grant, Ports
from siyu.store.base import utcnow
from siyu.tenants import TenantContext

# Changes are written with the time of their transaction, which may commit later than a
# poll that already read past that time (a batch refresh runs for minutes): every poll
# reads this far back again, and the marks keep what it re-reads from enrolling twice.
OVERLAP = timedelta(minutes=10)
_MEMBERS_PAGE = 10_000


class DomainAudiences:
    """Audience changes from `audiences.change_feed`; the cursor is the time of the latest
    change read (ISO 8601)."""

    def __init__(
        self, *, overlap: timedelta = OVERLAP, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.overlap = overlap
        self.clock = clock

    def changes(
        self, *, session: Session, tenant: TenantContext, audience: str, cursor: str | None
    ) -> AudienceChanges:
        if cursor is None:  # from now on
            return AudienceChanges(entered=[], left=[], cursor=self.clock().isoformat())
        watermark = datetime.fromisoformat(cursor)
        latest = watermark
        entered: dict[str, str] = {}
        left: dict[str, str] = {}
        for change in audiences.change_feed(
            session=session, tenant=tenant, audience=audience, since=watermark - self.overlap
        ):
            (entered if change.change == "entered" else left)[change.oneid] = change.at.isoformat()
            latest = max(latest, change.at)
        return AudienceChanges(
            entered=list(entered),
            left=list(left),
            cursor=latest.isoformat(),
            entered_marks=entered,
            left_marks=left,
        )

    def members(self, *, session: Session, tenant: TenantContext, audience: str) -> list[str]:
        found: list[str] = []
        while True:
            page = audiences.members(
                session=session, tenant=tenant, name=audience, limit=_MEMBERS_PAGE,
                offset=len(found),
            )  # fmt: skip
            found += page
            if len(page) < _MEMBERS_PAGE:
                return found


class DomainLoyalty:
    """Gifts, standings and expiries of one loyalty program (default: the tenant's oldest)."""

    def __init__(self, *, program: str | None = None) -> None:
        self.program = program

    def _program(self, session: Session, tenant: TenantContext) -> str:
        return self.program or loyalty.default_program(session=session, tenant=tenant)

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
        given = loyalty.grant(
            session=session, tenant=tenant, program=self._program(session, tenant),
            oneid=oneid, points=points, coupon=coupon, reason=reason, key=key,
        )  # fmt: skip
        return Grant(coupon_code=given.coupon_code, points_balance=given.points_balance)

    def balances(
        self, *, session: Session, tenant: TenantContext, oneids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        try:
            program = self._program(session, tenant)
        except loyalty.NotFoundError:  # no program: messages show no tier or points
            return {}
        found = loyalty.standings(session=session, tenant=tenant, program=program, oneids=oneids)
        return {o: {"tier": s.tier, "points": s.points} for o, s in found.items()}

    def expiring(
        self, *, session: Session, tenant: TenantContext, kind: str, on: date
    ) -> list[Expiring]:
        what: Literal["points", "coupon"] = "points" if kind == "points" else "coupon"
        program = self._program(session, tenant) if what == "points" else None
        found = loyalty.expiring_on(
            session=session, tenant=tenant, kind=what, day=on, program=program
        )
        return [Expiring(oneid=o, on=on, detail=detail) for o, detail in found]


class DomainTags:
    """Manual tags given and taken by journey steps, with the step's key as provenance."""

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
        tags.apply_tags(
            session=session, tenant=tenant, oneid=oneid, add=add, remove=remove,
            by=f"journey:{key}", via="journey",
        )  # fmt: skip

    def tags(
        self, *, session: Session, tenant: TenantContext, oneids: Sequence[str]
    ) -> dict[str, list[str]]:
        held = tags.tag_keys_of_persons(session=session, tenant=tenant, oneids=oneids)
        return {o: sorted(keys) for o, keys in held.items()}


def wired_ports(*, program: str | None = None) -> Ports:
    """Ports backed by the audiences, loyalty (`program`, default the tenant's oldest) and
    tags domains."""
    return Ports(
        audiences=DomainAudiences(), loyalty=DomainLoyalty(program=program), tags=DomainTags()
    )
