"""Adapters for the journeys ports: in-memory (tests, benchmarks) and unwired (CLI)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from siyu.journeys.ports import AudienceChanges, Expiring, Grant, Ports
from siyu.tenants import TenantContext


class PortNotWiredError(RuntimeError):
    """The domain behind a port is not connected in this process."""


class MemoryAudiences:
    """Audiences as sets; every change is logged with a sequence number (the cursor)."""

    def __init__(self) -> None:
        self.members_of: dict[str, set[str]] = defaultdict(set)
        self.log: list[tuple[str, str, str]] = []  # (audience, "enter"/"leave", oneid)

    def set_members(self, audience: str, oneids: Sequence[str]) -> None:
        now, new = self.members_of[audience], set(oneids)
        self.log += [(audience, "enter", o) for o in sorted(new - now)]
        self.log += [(audience, "leave", o) for o in sorted(now - new)]
        self.members_of[audience] = new

    def changes(
        self, *, session: Session, tenant: TenantContext, audience: str, cursor: str | None
    ) -> AudienceChanges:
        start = len(self.log) if cursor is None else int(cursor)
        seen = [entry for entry in self.log[start:] if entry[0] == audience]
        return AudienceChanges(
            entered=[o for _a, what, o in seen if what == "enter"],
            left=[o for _a, what, o in seen if what == "leave"],
            cursor=str(len(self.log)),
        )

    def members(self, *, session: Session, tenant: TenantContext, audience: str) -> list[str]:
        return sorted(self.members_of[audience])


class MemoryLoyalty:
    """Points and coupons in dicts, once per key; coupon codes are deterministic."""

    def __init__(self) -> None:
        self.points: dict[str, int] = defaultdict(int)
        self.tier: dict[str, str] = {}
        self.coupons: dict[str, list[str]] = defaultdict(list)
        self.grants: dict[str, Grant] = {}
        self.expiries: list[tuple[str, Expiring]] = []  # (kind, item)
        self.fail_next = 0  # make the next N grants raise (retry tests)

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
        if key in self.grants:
            return self.grants[key]
        if self.fail_next > 0:
            self.fail_next -= 1
            raise RuntimeError("loyalty service unavailable")
        code = None
        if coupon is not None:
            code = f"{coupon}-{len(self.grants) + 1:06d}"
            self.coupons[oneid].append(code)
        if points:
            self.points[oneid] += points
        result = Grant(coupon_code=code, points_balance=self.points[oneid])
        self.grants[key] = result
        return result

    def balances(
        self, *, session: Session, tenant: TenantContext, oneids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        return {o: {"points": self.points.get(o, 0), "tier": self.tier.get(o)} for o in oneids}

    def expiring(
        self, *, session: Session, tenant: TenantContext, kind: str, on: date
    ) -> list[Expiring]:
        return [item for k, item in self.expiries if k == kind and item.on == on]


class MemoryTags:
    """Tags per person, once per key."""

    def __init__(self) -> None:
        self.of: dict[str, set[str]] = defaultdict(set)
        self.keys: set[str] = set()

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
        if key in self.keys:
            return
        self.keys.add(key)
        self.of[oneid] |= set(add)
        self.of[oneid] -= set(remove)

    def tags(
        self, *, session: Session, tenant: TenantContext, oneids: Sequence[str]
    ) -> dict[str, list[str]]:
        return {o: sorted(self.of.get(o, set())) for o in oneids}


def memory_ports() -> Ports:
    """Fresh in-memory adapters for all ports."""
    return Ports(audiences=MemoryAudiences(), loyalty=MemoryLoyalty(), tags=MemoryTags())


class _Unwired:
    def __init__(self, domain: str) -> None:
        self.domain = domain

    def _fail(self) -> Any:
        raise PortNotWiredError(
            f"the {self.domain} domain is not wired into journeys in this process"
        )

    def changes(self, **_: Any) -> AudienceChanges:
        return self._fail()  # type: ignore[no-any-return]

    def members(self, **_: Any) -> list[str]:
        return self._fail()  # type: ignore[no-any-return]

    def grant(self, **_: Any) -> Grant:
        return self._fail()  # type: ignore[no-any-return]

    def balances(self, *, oneids: Sequence[str], **_: Any) -> dict[str, dict[str, Any]]:
        return {}  # templates then show no tier/points rather than failing every message

    def expiring(self, **_: Any) -> list[Expiring]:
        return self._fail()  # type: ignore[no-any-return]

    def apply(self, **_: Any) -> None:
        self._fail()

    def tags(self, *, oneids: Sequence[str], **_: Any) -> dict[str, list[str]]:
        return {}


def unwired_ports() -> Ports:
    """Ports that fail loudly: what `siyu worker` uses until audiences/loyalty are wired."""
    return Ports(
        audiences=_Unwired("audiences"), loyalty=_Unwired("loyalty"), tags=_Unwired("tags")
    )
