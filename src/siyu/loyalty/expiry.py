"""When a lot expires, worked out in the tenant's time zone from when it was earned."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from siyu.loyalty.schemas import ExpiryPolicy

if TYPE_CHECKING:
    from siyu.loyalty.programs import ProgramRef


def expiry_of(policy: ExpiryPolicy, earned_at: datetime, program: ProgramRef) -> datetime | None:
    """The instant a lot earned at `earned_at` expires (None: never)."""
    zone = program.tenant.zone
    local = earned_at.astimezone(zone)
    if policy.kind == "never":
        return None
    if policy.kind == "rolling_days":
        return earned_at + timedelta(days=policy.days)
    if policy.kind == "end_of_month":
        month_index = local.year * 12 + local.month - 1 + policy.months_after
        year, month = divmod(month_index, 12)
        return _end_of_day(year, month + 1, calendar.monthrange(year, month + 1)[1], program)
    if policy.kind == "end_of_year":
        return _end_of_day(local.year + policy.years_after, 12, 31, program)
    # annual_reset: the first reset day on or after the earning day, plus `years_after`.
    year = local.year
    if (local.month, local.day) > (policy.reset_month, _day(year, policy)):
        year += 1
    year += policy.years_after
    return _end_of_day(year, policy.reset_month, _day(year, policy), program)


def _day(year: int, policy: ExpiryPolicy) -> int:
    """The reset day, clamped to the month's length (31 → 30 in November, 29 → 28...)."""
    return min(policy.reset_day, calendar.monthrange(year, policy.reset_month)[1])


def _end_of_day(year: int, month: int, day: int, program: ProgramRef) -> datetime:
    """The first instant after the local day ends, in UTC."""
    start = datetime.combine(datetime(year, month, day).date(), time(), tzinfo=program.tenant.zone)
    return (start + timedelta(days=1)).astimezone(UTC)
