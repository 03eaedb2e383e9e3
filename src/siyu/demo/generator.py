"""Deterministic generator of a demo cosmetics brand's canonical records plus ground truth."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Final

from siyu.demo.context import TZ_SHANGHAI, Context
from siyu.demo.customers import external_id, write_customer
from siyu.demo.events import EventWriter
from siyu.demo.orders import OrderWriter
from siyu.demo.people import Person, street_address

DEFAULT_NOW: Final = datetime(2026, 11, 1, 12, 0, tzinfo=TZ_SHANGHAI)
# Sources where a raw or hashed phone is recorded, i.e. where a second phone can show up.
_PHONE_SOURCES: Final = ("tmall", "jd", "wechat_mp", "pos", "wecom")
# Sources that record names at all (a typo elsewhere would be invisible).
_NAME_SOURCES: Final = ("tmall", "jd", "douyin", "wechat_mp", "pos", "wecom")
# Share of persons one of whose sources still has an address they moved away from.
_MOVED_RATE: Final = 0.04
_DEVICE_SOURCES: Final = ("wechat_mp", "douyin")


@dataclass(frozen=True)
class DemoFiles:
    """Paths of the generated demo files and the number of records written per kind."""

    customers: Path
    orders: Path
    refunds: Path
    events: Path
    truth: Path
    counts: dict[str, int]


class _Generator:
    """Writes everything about one person at a time, so memory stays flat at any size."""

    def __init__(self, ctx: Context, *, orders_per_person: float, events_per_person: float) -> None:
        self.ctx = ctx
        self.orders = OrderWriter(ctx, orders_per_person=orders_per_person)
        self.events = EventWriter(ctx, events_per_person=events_per_person)

    def person(self, p: Person) -> None:
        ctx = self.ctx
        rng = ctx.rng
        ext = {source: external_id(ctx, source) for source in p.sources}
        typo_source: str | None = None
        named = [s for s in p.sources if s in _NAME_SOURCES]
        if named and rng.random() < 0.005:
            typo_source = rng.choice(named)
        second_phone: tuple[str, str] | None = None
        old_address: tuple[str, str, str] | None = None
        if rng.random() < _MOVED_RATE:
            old_address = (rng.choice(p.sources), rng.choice(p.city.districts), street_address(rng))
        phoned = [s for s in p.sources if s in _PHONE_SOURCES]
        if phoned and rng.random() < 0.0032:
            second_phone = (rng.choice(phoned), ctx.factory.new_phone())
        # Orders and events come first: a source's registration must precede what it saw.
        first_seen: dict[str, int] = {}
        order_times = self.orders.write_orders(p, ext, first_seen)
        self.events.write_events(p, ext, first_seen, order_times)
        device_sources = [s for s in p.sources if s in _DEVICE_SOURCES]
        if p.device_shared:
            # A shared family device must show up on a record, or it could not mislead anyone.
            device_sources = device_sources or [p.sources[0]]
        else:
            device_sources = [s for s in device_sources if rng.random() < 0.45]
        for source in p.sources:
            phone = p.phone
            if second_phone is not None and second_phone[0] == source:
                phone = second_phone[1]
            write_customer(
                ctx,
                p,
                source=source,
                ext=ext[source],
                first_seen=first_seen.get(source),
                phone=phone,
                typo=source == typo_source,
                device=source in device_sources,
                address=old_address[1:] if old_address and old_address[0] == source else None,
            )


def generate_demo(
    *,
    out_dir: Path,
    persons: int = 20_000,
    seed: int = 7,
    orders_per_person: float = 3.0,
    events_per_person: float = 4.0,
    now: datetime | None = None,
) -> DemoFiles:
    """Write a deterministic demo brand's canonical records for `persons` people."""
    if now is None:
        now = DEFAULT_NOW
    elif now.tzinfo is None:
        now = now.replace(tzinfo=TZ_SHANGHAI)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "customer": out_dir / "customers.jsonl",
        "order": out_dir / "orders.jsonl",
        "refund": out_dir / "refunds.jsonl",
        "event": out_dir / "events.jsonl",
        "truth": out_dir / "truth.csv",
    }
    handles: dict[str, IO[bytes]] = {}
    try:
        for kind, path in paths.items():
            handles[kind] = path.open("wb", buffering=1 << 20)
        handles["truth"].write(b"kind,source,record_id,person\n")
        ctx = Context(rng=random.Random(seed), now=now, files=handles)
        generator = _Generator(
            ctx, orders_per_person=orders_per_person, events_per_person=events_per_person
        )
        for index in range(persons):
            generator.person(ctx.factory.make(index))
    finally:
        for handle in handles.values():
            handle.close()
    return DemoFiles(
        customers=paths["customer"],
        orders=paths["order"],
        refunds=paths["refund"],
        events=paths["event"],
        truth=paths["truth"],
        counts=dict(ctx.counts),
    )
