"""The touch policy, as pure decisions: consent, frequency caps, quiet hours."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from siyu.channels.schemas import CONSENT_GROUP, QuietHours, TouchPolicy
from siyu.profiles import ContactCard

# What counts as a touch for caps: everything handed to (or refused by) the provider.
TOUCHED = ("sending", "sent", "delivered", "undelivered")


def consent_refusal(
    *,
    channel: str,
    category: str,
    card: ContactCard | None,
    unsubscribed: set[str],
    policy: TouchPolicy,
) -> str | None:
    """Why consent forbids this message (None: it may go). Transactional messages skip
    caps, never consent: an unsubscribe or an explicit "no" stops them too."""
    group = CONSENT_GROUP.get(channel)
    if group is None:
        return None
    if group in unsubscribed or "*" in unsubscribed:
        return f"unsubscribed from {group}"
    given = card.consent.get(group) if card is not None else None
    if given is False:
        return f"no consent for {group}"
    if given is None and category == "marketing" and policy.require_explicit_consent:
        return f"no recorded consent for {group} marketing"
    return None


def quiet_until(*, now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """When quiet hours end if `now` falls in them (in `zone`), else None."""
    if not quiet.enabled or quiet.start == quiet.end:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= clock < quiet.end
    else:  # spans midnight, e.g. 21:00-08:00
        inside = clock >= quiet.start or clock < quiet.end
    if not inside:
        return None
    end_day = local.date() if clock < quiet.end else local.date() + timedelta(days=1)
    # Built from the calendar date in the zone, so DST changes keep "08:00 local".
    return datetime.combine(end_day, quiet.end, tzinfo=zone)


class CapCounter:
    """Recent touches per person (from the store plus this batch), checked against caps."""

    def __init__(self, policy: TouchPolicy, now: datetime) -> None:
        self.policy = policy
        self.now = now
        self.touches: dict[str, list[tuple[str, str, datetime]]] = defaultdict(list)

    def window(self) -> timedelta:
        """How far back the caps look (what to load from the store)."""
        longest = max((cap.per for cap in self.policy.caps), default=timedelta(0))
        return max(longest, timedelta(days=1))

    def load(self, rows: Iterable[tuple[str, str, str, datetime]]) -> None:
        for oneid, channel, category, at in rows:
            if CONSENT_GROUP.get(channel) is not None:  # only touches of the person count
                self.touches[oneid].append((channel, category, at))

    def refusal(self, *, oneid: str, channel: str, category: str, zone: ZoneInfo) -> str | None:
        """Why a cap forbids this message now (None: it may go)."""
        if CONSENT_GROUP.get(channel) is None:
            return None
        history = self.touches.get(oneid, [])
        if channel == "wecom" and self.policy.wecom_daily_limit >= 0:
            midnight = datetime.combine(self.now.astimezone(zone).date(), datetime.min.time())
            since = midnight.replace(tzinfo=zone)
            today = sum(1 for c, _cat, at in history if c == "wecom" and at >= since)
            if today >= self.policy.wecom_daily_limit:
                return f"WeCom limit: {self.policy.wecom_daily_limit} group message(s) a day"
        if category == "transactional":
            return None
        for cap in self.policy.caps:
            if cap.category != category or cap.channel not in ("*", channel):
                continue
            since = self.now - cap.per
            used = sum(
                1
                for c, cat, at in history
                if cat == cap.category and cap.channel in ("*", c) and at >= since
            )
            if used >= cap.limit:
                return f"frequency cap: {cap.limit} {category} on {cap.channel} per {cap.per}"
        return None

    def record(self, *, oneid: str, channel: str, category: str) -> None:
        if CONSENT_GROUP.get(channel) is not None:
            self.touches[oneid].append((channel, category, self.now))
