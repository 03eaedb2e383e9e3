"""Property tests: random sequences of earns, spends, refunds, adjustments, cancellations,
scheduler runs and replays keep the ledger's invariants on both refund policies."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_support import T0, Member, enrolled, make_program, paid, refund
from siyu import loyalty
from siyu.loyalty.models import Allocation, Entry, Lot
from support import tenant_with

Op = tuple[str, int, int]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 300), st.integers(0, 20)),
        st.tuples(st.just("spend"), st.integers(1, 400), st.integers(0, 20)),
        st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 100)),
        st.tuples(st.just("full_refund"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("adjust"), st.integers(-100, 100).filter(bool), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(0, 9), st.just(0)),
        st.tuples(st.just("due"), st.integers(0, 90), st.just(0)),
        st.tuples(st.just("replay"), st.integers(0, 40), st.just(0)),
    ),
    max_size=25,
)


class Run:
    """Interprets one generated sequence against a fresh tenant's member."""

    def __init__(self, session: Session, policy: str) -> None:
        tenant = tenant_with(session, name=f"p_{secrets.token_hex(5)}")
        make_program(
            session, tenant, pending_days=3, refund_policy=policy,
            expiry={"kind": "rolling_days", "days": 60, "warn_days": 0},
        )  # fmt: skip
        self.session = session
        self.member: Member = enrolled(session, tenant)
        self.now = T0
        self.orders: list[tuple[str, int]] = []  # (order id, yuan)
        self.spends: list[str] = []
        self.done: list[Callable[[], Any]] = []  # replayable calls
        self.refunds = 0

    def spendable(self) -> int:
        return self.member.view(self.now).balance.spendable

    def step(self, op: Op) -> None:
        name, a, b = op
        handler = getattr(self, f"_{name}")
        handler(a, b)

    def _earn(self, amount: int, days: int) -> None:
        self.now += timedelta(days=days)
        order_id = f"o{len(self.orders)}"
        self.orders.append((order_id, amount))
        order, now = paid(order_id, f"{amount}.00", when=self.now), self.now
        self.member.order(order, now=now)
        self.done.append(lambda: self.member.order(order, now=now))

    def _spend(self, points: int, days: int) -> None:
        self.now += timedelta(days=days)
        self._debit(points, lambda key: self.member.redeem(points, key, now=self.now), True)

    def _adjust(self, points: int, _b: int) -> None:
        if points > 0:
            self.member.adjust(points, now=self.now)
        else:
            self._debit(-points, lambda _key: self.member.adjust(points, now=self.now), False)

    def _debit(self, points: int, call: Callable[[str], loyalty.OpResult], keyed: bool) -> None:
        """A spend succeeds exactly when it is covered, takes exactly its points, and
        takes them (with any debt repaid first) from the earliest-expiring lots."""
        before = self.spendable()
        lots = _available(self.session, self.member, self.now)
        last_entry = self.session.scalar(select(func.max(Entry.id))) or 0
        key = f"s{len(self.spends)}"
        try:
            result = call(key)
        except loyalty.InsufficientPointsError:
            assert points > before
            return
        assert points <= before
        assert self.spendable() == before - points
        taken = _taken_since(self.session, last_entry)
        assert taken == _fifo(lots, sum(taken.values()))
        if keyed:  # a redemption, not an (unkeyed) manual adjustment
            assert result.key == key
            self.spends.append(key)
            self.done.append(lambda: call(key))

    def _refund(self, index: int, percent: int) -> None:
        if not self.orders:
            return
        order_id, amount = self.orders[index % len(self.orders)]
        yuan = (Decimal(amount) * percent / 100).quantize(Decimal("0.01"))
        item, now = refund(f"r{self.refunds}", order_id, str(yuan)), self.now
        self.refunds += 1
        self.member.refund(item, now=now)
        self.done.append(lambda: self.member.refund(item, now=now))

    def _full_refund(self, index: int, _b: int) -> None:
        if not self.orders:
            return
        order_id, amount = self.orders[index % len(self.orders)]
        order, now = paid(order_id, f"{amount}.00", status="refunded"), self.now
        self.member.order(order, now=now)
        self.done.append(lambda: self.member.order(order, now=now))

    def _cancel(self, index: int, _b: int) -> None:
        if not self.spends:
            return
        key, now = self.spends[index % len(self.spends)], self.now
        entry = self.session.scalar(
            select(Entry).where(Entry.member_id == _member_id(self.member), Entry.key == key)
        )
        assert entry is not None

        def cancel() -> loyalty.OpResult:
            return loyalty.cancel_redemption(
                session=self.session, tenant=self.member.tenant, program="main",
                oneid=self.member.oneid, key=key, reason="property", now=now,
            )  # fmt: skip

        returned = cancel()
        assert 0 <= returned.points <= -entry.points
        self.done.append(cancel)

    def _due(self, days: int, _b: int) -> None:
        self.now += timedelta(days=days)
        loyalty.run_due(session=self.session, tenant=self.member.tenant, now=self.now)
        stale = self.session.scalar(
            select(func.count()).where(
                Lot.member_id == _member_id(self.member),
                Lot.status.in_(("pending", "active")),
                Lot.expires_at <= self.now,
            )
        )
        assert stale == 0

    def _replay(self, index: int, _b: int) -> None:
        if not self.done:
            return
        before = (self.member.view(self.now).balance, _journal_size(self.session))
        self.done[index % len(self.done)]()
        assert (self.member.view(self.now).balance, _journal_size(self.session)) == before

    def check(self, policy: str) -> None:
        assert self.member.verify() == []
        balance = self.member.view(self.now).balance
        if policy == "claw_back":
            assert balance.debt == 0 and balance.spendable >= 0
        assert balance.debt >= 0
        per_order = self.session.execute(
            select(Entry.ref, Entry.kind, func.sum(Entry.points))
            .where(Entry.member_id == _member_id(self.member), Entry.ref.like("order:%"))
            .group_by(Entry.ref, Entry.kind)
        ).all()
        earned = {ref: pts for ref, kind, pts in per_order if kind == "earn"}
        for ref, kind, pts in per_order:
            if kind == "reverse":
                assert -pts <= earned.get(ref, 0)  # never more reversed than earned


def _member_id(member: Member) -> int:
    return member.view().member_id


def _journal_size(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Entry)) or 0)


def _available(session: Session, member: Member, now: datetime) -> list[tuple[int, int]]:
    """(lot id, remaining) of spendable lots, in the order the spec says to use them."""
    rows = session.execute(
        select(Lot.id, Lot.remaining, Lot.expires_at).where(
            Lot.member_id == _member_id(member),
            Lot.status.in_(("pending", "active")),
            Lot.remaining > 0,
            Lot.activates_at <= now,
        )
    ).all()
    live = [r for r in rows if r.expires_at is None or r.expires_at > now]
    live.sort(key=lambda r: (r.expires_at is None, r.expires_at or now, r.id))
    return [(r.id, r.remaining) for r in live]


def _fifo(lots: list[tuple[int, int]], points: int) -> dict[int, int]:
    taken: dict[int, int] = {}
    for lot_id, remaining in lots:
        if points <= 0:
            break
        take = min(points, remaining)
        taken[lot_id] = take
        points -= take
    return taken


def _taken_since(session: Session, entry_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Allocation.lot_id, func.sum(Allocation.points))
        .where(Allocation.entry_id > entry_id)
        .group_by(Allocation.lot_id)
    ).all()
    return {int(lot): int(points) for lot, points in rows}


@settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS, policy=st.sampled_from(["claw_back", "negative_balance"]))
def test_ledger_invariants_hold_for_any_sequence(
    session: Session, ops: list[Op], policy: str
) -> None:
    run = Run(session, policy)
    for op in ops:
        run.step(op)
        run.check(policy)
