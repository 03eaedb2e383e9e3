"""The RFM summary the CLV models are fitted on, built from a person's purchases.

Kept in one function (`rfm_summary`) over plain (oneid, time, value) rows, so the same
definition can move onto the columnar engine later without touching the models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

Unit = Literal["day", "week", "month"]
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class RfmSummary:
    """Per person: repeat purchase days, recency, age and mean repeat spend, in `unit`s.

    frequency = purchase days - 1 (days with several orders count once);
    recency = first to last purchase day; age (T) = first purchase day to `until`;
    monetary = mean spend of the repeat days (0 when there are none).
    """

    oneids: list[str]
    frequency: Floats
    recency: Floats
    age: Floats
    monetary: Floats
    until: date
    unit: Unit

    def __len__(self) -> int:
        return len(self.oneids)


def rfm_summary(
    purchases: Iterable[tuple[str, datetime, Decimal]],
    *,
    until: date,
    unit: Unit,
    zone: ZoneInfo,
) -> RfmSummary:
    """Collapse (oneid, time, value) purchases into per-day spend and summarise each person.

    Days are calendar days in the tenant's zone; purchases after `until` are ignored.
    """
    spend: dict[str, dict[date, Decimal]] = {}
    for oneid, at, value in purchases:
        day = at.astimezone(zone).date()
        if day > until:
            continue
        days = spend.setdefault(oneid, {})
        days[day] = days.get(day, Decimal(0)) + value
    oneids = sorted(spend)
    size = len(oneids)
    frequency, recency, age, monetary = (np.zeros(size) for _ in range(4))
    length = UNIT_DAYS[unit]
    for index, oneid in enumerate(oneids):
        days = spend[oneid]
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        frequency[index] = len(ordered) - 1
        recency[index] = (last - first).days / length
        age[index] = (until - first).days / length
        if len(ordered) > 1:
            repeat = sum((days[d] for d in ordered[1:]), Decimal(0))
            monetary[index] = float(repeat / (len(ordered) - 1))
    return RfmSummary(oneids, frequency, recency, age, monetary, until, unit)
