"""The dispatcher: claim due messages with a lease, apply the touch policy, record each
message as `sending` BEFORE calling the provider, then record what the provider said.

A worker killed at any point leaves rows `queued` (sent by the next worker) or `sending`
(in doubt: resolved by asking the provider by our key, by resending where the provider
drops duplicates of the key, or marked `unknown`): never sent twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from sqlalchemy import or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from siyu import profiles
from siyu.channels.adapters import Adapters
from siyu.channels.links import sign_token
from siyu.channels.models import Message
from siyu.channels.policy import TOUCHED, CapCounter, consent_refusal, quiet_until
from siyu.channels.ports import ChannelAdapter
from siyu.channels.schemas import CONSENT_GROUP, DispatchReport, Outbound, SendOutcome
from siyu.channels.service import get_policy, tracking_config, unsubscribed
from siyu.channels.templates import pick_locale, render
from siyu.store.base import table, utcnow
from siyu.store.bulk import gc_paused, update_many
from siyu.tenants import TenantContext

log = logging.getLogger(__name__)
_M = table(Message)
_CLAIMED = (
    _M.c.id,
    _M.c.tenant_id,
    _M.c.key,
    _M.c.oneid,
    _M.c.channel,
    _M.c.category,
    _M.c.content,
    _M.c.variables,
    _M.c.payload,
    _M.c.recipient,
    _M.c.status,
    _M.c.attempts,
)


def dispatch(
    *,
    session: Session,
    adapters: Adapters,
    worker: str,
    now: datetime | None = None,
    limit: int = 1000,
    lease: timedelta = timedelta(seconds=120),
    max_attempts: int = 5,
) -> DispatchReport:
    """Send the messages that are due (every tenant); one pass, returns what it did."""
    now = now or utcnow()
    claimed = _claim(session, worker, now, limit, lease)
    session.commit()
    report = DispatchReport(claimed=len(claimed))
    by_tenant: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in claimed:
        by_tenant[row.tenant_id].append(row)
    with gc_paused():
        for tenant_id, rows in by_tenant.items():
            tenant = adapters.tenant(session, tenant_id)
            _Pass(session, tenant, adapters, worker, now, max_attempts, report).run(rows)
    return report


def _claim(
    session: Session, worker: str, now: datetime, limit: int, lease: timedelta
) -> list[Row[Any]]:
    """Lease up to `limit` due messages in one statement. PostgreSQL skips rows another
    worker holds (FOR UPDATE SKIP LOCKED); SQLite's BEGIN IMMEDIATE serialises claims."""
    due = (
        select(_M.c.id)
        .where(
            _M.c.not_before <= now,
            _M.c.status.in_(("queued", "sending")),
            or_(_M.c.lease_until.is_(None), _M.c.lease_until < now),
        )
        .order_by(_M.c.not_before)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(_M)
        .where(_M.c.id.in_(due.scalar_subquery()))
        .values(lease_owner=worker, lease_until=now + lease)
        .returning(*_CLAIMED)
    )
    return sorted(session.execute(statement).all(), key=lambda r: r.id)


def backoff(attempts: int) -> timedelta:
    """Exponential: 30 s, 1 min, 2 min, ... at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


class _Pass:
    """One tenant's share of a claimed batch."""

    def __init__(
        self,
        session: Session,
        tenant: TenantContext,
        adapters: Adapters,
        worker: str,
        now: datetime,
        max_attempts: int,
        report: DispatchReport,
    ) -> None:
        self.session, self.tenant, self.adapters = session, tenant, adapters
        self.worker, self.now, self.max_attempts, self.report = worker, now, max_attempts, report
        self.settle: list[dict[str, Any]] = []
        self._adapters: dict[str, ChannelAdapter | None] = {}

    def adapter(self, channel: str) -> ChannelAdapter | None:
        """The tenant's adapter for a channel, looked up once per pass."""
        if channel not in self._adapters:
            self._adapters[channel] = self.adapters.get(self.session, self.tenant, channel)
        return self._adapters[channel]

    def run(self, rows: Sequence[Row[Any]]) -> None:
        to_send = self._in_doubt([r for r in rows if r.status == "sending"])
        to_send += self._decide([r for r in rows if r.status == "queued"])
        chunks = self._chunks(to_send)
        self._mark_sending(to_send)
        self._flush()  # suppressed/deferred/in-doubt results, and "sending": before any send
        mine = self._still_mine([row.id for row, _o in to_send])
        work = [
            (adapter, [(row, out) for row, out in items if row.id in mine])
            for adapter, items in chunks
        ]
        for _channel, group in groupby(work, key=lambda w: w[0].channel):
            self._send_chunks([(adapter, chunk) for adapter, chunk in group if chunk])

    def _send_chunks(
        self, work: Sequence[tuple[ChannelAdapter, list[tuple[Row[Any], Outbound]]]]
    ) -> None:
        """One channel's provider requests, up to the adapter's `parallel` at a time
        (HTTP round trips overlap). Every message was committed `sending` before the
        first request; each answer is committed as it comes, so a crash leaves only
        requests in flight in doubt, as with one request at a time."""
        if not work:
            return
        parallel = min(int(getattr(work[0][0], "parallel", 1)), len(work))
        if parallel <= 1:
            for adapter, chunk in work:
                self._record(chunk, _send(adapter, [o for _r, o in chunk]))
                self._flush()  # each provider call's result is durable before the next
            return
        # Threads only make the provider calls; the session stays on this thread.
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="siyu-send") as pool:
            futures = {
                pool.submit(_send, adapter, [o for _r, o in chunk]): chunk
                for adapter, chunk in work
            }
            for future in as_completed(futures):
                self._record(futures[future], future.result())
                self._flush()

    def _chunks(
        self, items: Sequence[tuple[Row[Any], Outbound]]
    ) -> list[tuple[ChannelAdapter, list[tuple[Row[Any], Outbound]]]]:
        """Provider-sized requests. Each message's payload gets the request's id (`_batch`,
        e.g. Alibaba's OutId) and day before it is recorded, so a lookup after a crash asks
        the provider for exactly what was sent."""
        chunks = []
        day = self.now.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
        ordered = sorted(items, key=lambda x: (x[1].channel, x[0].id))
        for channel, group in groupby(ordered, key=lambda x: x[1].channel):
            adapter = self.adapter(channel)
            assert adapter is not None  # checked when deciding
            members = list(group)
            for start in range(0, len(members), adapter.max_batch):
                chunk = members[start : start + adapter.max_batch]
                batch = f"{chunk[0][1].key}#{len(chunk)}"
                for _row, out in chunk:
                    out.payload["_batch"], out.payload["_day"] = batch, day
                chunks.append((adapter, chunk))
        return chunks

    # -- in doubt ---------------------------------------------------------------------

    def _in_doubt(self, rows: Sequence[Row[Any]]) -> list[tuple[Row[Any], Outbound]]:
        """Rows left `sending` by a dead worker: find out before sending anything again."""
        again: list[tuple[Row[Any], Outbound]] = []
        for channel, group in groupby(sorted(rows, key=lambda r: r.channel), lambda r: r.channel):
            items = [(r, _outbound(r)) for r in group]
            self.report.resolved_in_doubt += len(items)
            adapter = self.adapter(channel)
            if adapter is None or adapter.in_doubt == "give_up":
                for row, _o in items:
                    self._done(row, "unknown", reason="in doubt after a crash; not resent")
                continue
            if adapter.in_doubt == "resend":
                again += items
                continue
            try:
                found = adapter.lookup([o for _r, o in items])
            except Exception as error:  # provider unreachable: ask again later
                log.warning("lookup of in-doubt %s messages failed: %s", channel, error)
                for row, _o in items:
                    self._later(
                        row,
                        row.attempts,
                        f"lookup failed: {error}",
                        status="sending",
                        at=self.now + backoff(1),
                    )
                continue
            for (row, out), outcome in zip(items, found, strict=True):
                if outcome is None:
                    again.append((row, out))
                else:
                    self._outcome(row, outcome)
        return again

    # -- policy -----------------------------------------------------------------------

    def _decide(self, rows: Sequence[Row[Any]]) -> list[tuple[Row[Any], Outbound]]:
        """Consent, quiet hours, caps and addressing; renders what may go."""
        if not rows:
            return []
        session, tenant = self.session, self.tenant
        policy = get_policy(session=session, tenant=tenant)
        oneids = sorted({r.oneid for r in rows})
        cards = profiles.contact_cards(session=session, tenant=tenant, oneids=oneids)
        unsubs = unsubscribed(session=session, tenant=tenant, oneids=oneids)
        caps = CapCounter(policy, self.now)
        _lock_persons(session, tenant, oneids)
        caps.load(_recent(session, tenant, oneids, self.now - caps.window()))
        links = _Links(tracking_config(session=session, tenant=tenant), tenant.id)
        go: list[tuple[Row[Any], Outbound]] = []
        for row in rows:
            adapter = self.adapter(row.channel)
            if adapter is None:
                self._done(row, "failed", reason=f"channel {row.channel} is not configured")
                continue
            card = cards.get(row.oneid)
            zone = _zone(card.timezone if card else None, tenant.zone)
            reason = consent_refusal(
                channel=row.channel,
                category=row.category,
                card=card,
                unsubscribed=unsubs.get(row.oneid, set()),
                policy=policy,
            )
            if reason is None and CONSENT_GROUP.get(row.channel) is not None:
                later = quiet_until(now=self.now, zone=zone, quiet=policy.quiet_hours)
                if later is not None:
                    self._later(row, row.attempts, "quiet hours", at=later)
                    continue
                reason = caps.refusal(
                    oneid=row.oneid, channel=row.channel, category=row.category, zone=zone
                )
            locale = pick_locale(row.content, card.locale if card else None, policy.default_locale)
            content = row.content[locale]
            recipient = None if reason else adapter.address(card, content)
            if reason is None and recipient is None:
                reason = f"no {row.channel} address for this person"
            if reason is not None:
                self._done(row, "suppressed", reason=reason)
                continue
            variables = links.variables(row, card, content)
            try:
                payload = render(content, variables)
            except Exception as error:  # a broken template fails this message, not the batch
                self._done(row, "failed", reason=f"template error: {error}")
                continue
            if row.channel == "email":  # the List-Unsubscribe header's one-click link
                payload.setdefault("list_unsubscribe", variables["unsubscribe_url"])
            caps.record(oneid=row.oneid, channel=row.channel, category=row.category)
            go.append((row, Outbound(row.key, row.channel, recipient or {}, payload, row.category)))
        return go

    # -- bookkeeping ------------------------------------------------------------------

    def _mark_sending(self, items: Sequence[tuple[Row[Any], Outbound]]) -> None:
        rows = [
            {
                "id": r.id,
                "status": "sending",
                "payload": o.payload,
                "recipient": o.recipient,
                "sent_at": self.now,
            }
            for r, o in items
        ]
        update_many(self.session, Message, rows, where={"lease_owner": self.worker})

    def _still_mine(self, ids: Sequence[int]) -> set[int]:
        mine: set[int] = set()
        for start in range(0, len(ids), 2000):
            mine |= set(
                self.session.scalars(
                    select(_M.c.id).where(
                        _M.c.id.in_(ids[start : start + 2000]), _M.c.lease_owner == self.worker
                    )
                )
            )
        return mine

    def _record(
        self, chunk: Sequence[tuple[Row[Any], Outbound]], outcomes: list[SendOutcome]
    ) -> None:
        for (row, _out), outcome in zip(chunk, outcomes, strict=True):
            self._outcome(row, outcome)

    def _outcome(self, row: Row[Any], outcome: SendOutcome) -> None:
        attempts = row.attempts + 1
        if outcome.ok:
            self.report.sent += 1
            self._done(row, "sent", provider_id=outcome.provider_id, attempts=attempts)
        elif outcome.extra.get("in_doubt"):
            # The request may have reached the provider: leave it `sending` with an
            # expired lease, so the next pass asks the provider before anything else.
            self._later(row, row.attempts, outcome.error or "in doubt", status="sending", at=None)
        elif outcome.retryable and attempts < self.max_attempts:
            self.report.retried += 1
            self._later(
                row,
                attempts,
                f"{outcome.error_code}: {outcome.error}",
                at=self.now + backoff(attempts),
            )
        else:
            status = "dead" if outcome.retryable else "failed"
            self._done(
                row, status, reason=f"{outcome.error_code}: {outcome.error}", attempts=attempts
            )

    def _done(
        self,
        row: Row[Any],
        status: str,
        *,
        reason: str | None = None,
        provider_id: str | None = None,
        attempts: int | None = None,
    ) -> None:
        counter = {"suppressed": "suppressed", "failed": "failed", "dead": "dead"}.get(status)
        if counter:
            setattr(self.report, counter, getattr(self.report, counter) + 1)
        self.settle.append(
            {
                "id": row.id,
                "status": status,
                "reason": reason,
                "not_before": None,
                "lease_until": None,
                "provider_id": provider_id,
                "attempts": row.attempts if attempts is None else attempts,
            }
        )

    def _later(
        self,
        row: Row[Any],
        attempts: int,
        reason: str,
        *,
        at: datetime | None = None,
        status: str = "queued",
    ) -> None:
        if reason == "quiet hours":
            self.report.deferred += 1
        self.settle.append(
            {
                "id": row.id,
                "status": status,
                "reason": reason,
                "not_before": at if at is not None else self.now,
                "lease_until": None,
                "provider_id": None,
                "attempts": attempts,
            }
        )

    def _flush(self) -> None:
        update_many(self.session, Message, self.settle, where={"lease_owner": self.worker})
        self.settle = []
        self.session.commit()


def _send(adapter: ChannelAdapter, messages: list[Outbound]) -> list[SendOutcome]:
    try:
        return adapter.send(messages)
    except Exception as error:  # an adapter bug or an unexpected answer: retry later
        log.exception("%s adapter failed", adapter.channel)
        return [
            SendOutcome(
                m.key, ok=False, error_code="adapter_error", error=str(error), retryable=True
            )
            for m in messages
        ]


def _outbound(row: Row[Any]) -> Outbound:
    return Outbound(row.key, row.channel, row.recipient or {}, row.payload or {}, row.category)


def _lock_persons(session: Session, tenant: TenantContext, oneids: Sequence[str]) -> None:
    """On PostgreSQL, serialise cap checks per person across workers: the locks are held
    until the commit that marks the messages `sending`, which the next worker's cap count
    then sees (SQLite's single writer serialises passes already). Taken in OneID order, so
    two workers never wait on each other in a cycle."""
    if not oneids or session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(:tenant, hashtext(o))) "
            "FROM (SELECT unnest(CAST(:oneids AS text[])) AS o ORDER BY 1) AS persons"
        ),
        {"tenant": tenant.id, "oneids": sorted(oneids)},
    )


def _recent(
    session: Session, tenant: TenantContext, oneids: Sequence[str], since: datetime
) -> list[tuple[str, str, str, datetime]]:
    found: list[tuple[str, str, str, datetime]] = []
    for start in range(0, len(oneids), 2000):
        rows = session.execute(
            select(_M.c.oneid, _M.c.channel, _M.c.category, _M.c.sent_at).where(
                _M.c.tenant_id == tenant.id,
                _M.c.oneid.in_(oneids[start : start + 2000]),
                _M.c.sent_at >= since,
                _M.c.status.in_(TOUCHED),
            )
        )
        found += [(r[0], r[1], r[2], r[3]) for r in rows]
    return found


def _zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


class _Links:
    """Template variables: the person, the message's own variables, signed links."""

    def __init__(self, tracking: dict[str, Any], tenant_id: int) -> None:
        self.secret = str(tracking["secret"])
        self.base = str(tracking.get("base_url", "")).rstrip("/")
        self.tenant_id = tenant_id

    def variables(
        self, row: Row[Any], card: profiles.ContactCard | None, content: dict[str, Any]
    ) -> dict[str, Any]:
        given = dict(row.variables or {})
        person = dict(card.attributes) if card else {}
        person.update(given.pop("person", {}) or {})
        track: Callable[[str], str] = lambda url: (  # noqa: E731 - a template function
            f"{self.base}/api/v1/t/"
            + sign_token(self.secret, {"t": self.tenant_id, "k": row.key, "u": url})
        )
        variables = {**given, "person": person, "track": track, "message_key": row.key}
        # The signed unsubscribe link (an HMAC per message) only where it is used: e-mail's
        # List-Unsubscribe header, or content that names it.
        if row.channel == "email" or b"unsubscribe_url" in orjson.dumps(content):
            group = CONSENT_GROUP.get(row.channel) or row.channel
            token = sign_token(self.secret, {"t": self.tenant_id, "o": row.oneid, "c": group})
            variables["unsubscribe_url"] = f"{self.base}/api/v1/unsubscribe/{token}"
        return variables
