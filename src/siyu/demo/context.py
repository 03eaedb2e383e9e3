"""Shared state and small helpers of one demo generation run (clock, ids, output files)."""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect
from datetime import date, datetime, timedelta, timezone
from itertools import accumulate
from typing import IO, Any, Final

import orjson

from siyu.demo.catalog import HOUR_WEIGHTS, PRODUCTS
from siyu.demo.people import Person, PersonFactory, Serial

TZ_SHANGHAI: Final = timezone(timedelta(hours=8))
DAY: Final = 86_400
_UTC_OFFSET: Final = 8 * 3600
ORDER_WINDOW: Final = 3 * 365 * DAY
EVENT_WINDOW: Final = 540 * DAY


def money(fen: int) -> str:
    """Format an amount in fen as a yuan decimal string with two decimals."""
    return f"{fen // 100}.{fen % 100:02d}"


def masked(phone: str) -> str:
    """Mask a phone the way Douyin and Tmall show it: 138****5678."""
    return f"{phone[:3]}****{phone[7:]}"


def sha256_hex(phone: str) -> str:
    """Lowercase hex SHA-256 of an already normalised 11-digit phone."""
    return hashlib.sha256(phone.encode("ascii")).hexdigest()


class Clock:
    """Formats epoch seconds as ISO 8601 in +08:00, caching the date part (it is the slow bit)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def day(self, ts: int) -> str:
        """The local (+08:00) date of `ts` as YYYY-MM-DD."""
        local_day = (ts + _UTC_OFFSET) // DAY
        text = self._days.get(local_day)
        if text is None:
            text = (date(1970, 1, 1) + timedelta(days=local_day)).isoformat()
            self._days[local_day] = text
        return text

    def iso(self, ts: int) -> str:
        """`ts` as an ISO 8601 timestamp with a +08:00 offset."""
        sec = (ts + _UTC_OFFSET) % DAY
        return f"{self.day(ts)}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}+08:00"


class Context:
    """Everything the record writers share: the one RNG, the clock, counters and output files."""

    def __init__(self, *, rng: random.Random, now: datetime, files: dict[str, IO[bytes]]) -> None:
        self.rng = rng
        self.factory = PersonFactory(rng)
        self.now = int(now.timestamp())
        self.files = files
        self.clock = Clock()
        self.counts = {"customer": 0, "order": 0, "refund": 0, "event": 0}
        self.hour_cum = list(accumulate(HOUR_WEIGHTS))
        self.product_cum = list(accumulate(p.weight for p in PRODUCTS))
        self._serials: dict[str, Serial] = {}

    def serial(self, key: str, digits: int) -> str:
        """Next unique number of the id space `key` (e.g. 'order:tmall')."""
        serial = self._serials.get(key)
        if serial is None:
            serial = self._serials[key] = Serial(self.rng, digits)
        return serial.next()

    def write(self, kind: str, record: dict[str, Any]) -> None:
        """Append one canonical record to the file of its kind."""
        self.files[kind].write(orjson.dumps(record) + b"\n")
        self.counts[kind] += 1

    def truth(self, kind: str, source: str, record_id: str, person: Person) -> None:
        """Record which true person a customer, order or event record belongs to."""
        self.files["truth"].write(f"{kind},{source},{record_id},{person.pid}\n".encode())

    def geometric(self, mean: float) -> int:
        """Heavy-tailed count (0, 1, 2, ...) with the given mean."""
        if mean <= 0:
            return 0
        return int(math.log(1.0 - self.rng.random()) / math.log(mean / (1.0 + mean)))

    def product(self) -> int:
        """Index into PRODUCTS of a SKU drawn by popularity."""
        return bisect(self.product_cum, self.rng.random() * self.product_cum[-1])

    def at_hour(self, ts: int, cum: list[float]) -> int:
        """Move `ts` to a realistic time of day on the same local day."""
        rng = self.rng
        hour = bisect(cum, rng.random() * cum[-1])
        day_start = ts - (ts + _UTC_OFFSET) % DAY
        return day_start + hour * 3600 + rng.randrange(3600)

    def raw_phone(self, phone: str) -> str:
        """A raw phone as typed into a source: ~1% in a non-canonical but valid format."""
        rng = self.rng
        if rng.random() >= 0.01:
            return phone
        a, b, c = phone[:3], phone[3:7], phone[7:]
        formats = (f"+86 {a}-{b}-{c}", f"+86{phone}", f"{a} {b} {c}", f"{a}-{b}-{c}")
        return rng.choice((*formats, f"0086 {phone}", f"86-{phone}"))
