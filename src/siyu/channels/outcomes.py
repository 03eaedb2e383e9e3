"""Outcomes coming back: delivery receipts, replies (回复TD退订), clicks, unsubscribe
links and WeCom guides' confirmations. Each becomes an event on the person's timeline
through the ordinary ingest path, and updates the message it belongs to."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu import identity
from siyu.channels.adapters import Adapters
from siyu.channels.adapters.wecom import WeComGroupSend
from siyu.channels.links import read_token, verify_token
from siyu.channels.models import Message
from siyu.channels.schemas import CallbackReport
from siyu.channels.service import tracking_config, unsubscribe
from siyu.store.base import utcnow
from siyu.tenants import TenantContext, get_tenant_by_id

log = logging.getLogger(__name__)
EVENT_SOURCE = "siyu"  # outcome events are siyu's own records
# What people reply to stop SMS (回复TD退订 asks them to reply "TD").
STOP_WORDS = {"TD", "T", "N", "退订", "取消", "STOP", "UNSUBSCRIBE", "QX", "0000"}
# SMS providers whose receipt and reply callbacks are understood.
SMS_PROVIDERS = ("aliyun", "tencent")


def is_stop_reply(text: str) -> bool:
    """True when an SMS reply asks to unsubscribe ("TD", "退订", "回复TD退订" echoed...)."""
    words = text.strip().upper().replace("回复", "").replace("退订", " 退订 ").split()
    return bool(words) and (
        text.strip().upper() in STOP_WORDS or any(w in STOP_WORDS for w in words)
    )


def handle_sms_callback(
    *, session: Session, tenant: TenantContext, provider: str, kind: str, payload: Any
) -> CallbackReport:
    """Take an SMS provider's receipt or reply push (Alibaba SmsReport/SmsUp, Tencent
    status/reply callbacks) and record its outcomes."""
    items = payload if isinstance(payload, list) else [payload]
    report = CallbackReport(received=len(items))
    events: list[dict[str, Any]] = []
    for item in items:
        if kind == "receipt":
            parsed = _receipt(provider, item)
            message = _message_by_provider_id(session, tenant, parsed["id"], parsed["phone"])
            if message is None:
                continue
            report.matched += 1
            message.status = "delivered" if parsed["ok"] else "undelivered"
            message.outcome_at = parsed["at"] or utcnow()
            events.append(
                _event(
                    message,
                    "message_delivered" if parsed["ok"] else "message_undelivered",
                    parsed["at"],
                    {"code": parsed["code"]},
                )
            )
        elif kind == "reply":
            phone, text, at = _reply(provider, item)
            oneids = identity.find_persons(session=session, tenant=tenant, query=phone)
            digest = hashlib.blake2b(f"{phone}|{text}|{at}".encode(), digest_size=8).hexdigest()
            events.append(
                {
                    "kind": "event",
                    "source": EVENT_SOURCE,
                    "event_id": f"sms-reply:{digest}",
                    "customer_ref": {"identifiers": {"phone": phone}},
                    "type": "message_replied",
                    "occurred_at": (at or utcnow()).isoformat(),
                    "properties": {"channel": "sms", "text": text},
                }
            )
            if is_stop_reply(text):
                for oneid in oneids:
                    if unsubscribe(
                        session=session,
                        tenant=tenant,
                        oneid=oneid,
                        channel="sms",
                        source="sms reply",
                    ):
                        report.unsubscribed += 1
        else:
            raise ValueError(f"unknown callback kind {kind!r} (receipt, reply)")
    session.flush()
    report.events = _ingest(session, tenant, events)
    return report


def _receipt(provider: str, item: dict[str, Any]) -> dict[str, Any]:
    if provider == "aliyun":  # SmsReport HTTP push
        return {
            "id": str(item.get("biz_id")),
            "phone": str(item.get("phone_number")),
            "ok": bool(item.get("success")),
            "code": item.get("err_code"),
            "at": _time(item.get("report_time")),
        }
    if provider == "tencent":  # 短信下发状态通知
        return {
            "id": str(item.get("sid")),
            "phone": str(item.get("mobile")),
            "ok": item.get("report_status") == "SUCCESS",
            "code": item.get("errmsg"),
            "at": _time(item.get("user_receive_time")),
        }
    raise ValueError(f"unknown SMS provider {provider!r}")


def _reply(provider: str, item: dict[str, Any]) -> tuple[str, str, datetime | None]:
    if provider == "aliyun":  # SmsUp
        return (
            str(item.get("phone_number")),
            str(item.get("content", "")),
            _time(item.get("send_time")),
        )
    if provider == "tencent":  # 短信回复 callback: unix time
        at = item.get("time")
        when = datetime.fromtimestamp(int(at)).astimezone() if at else None
        return str(item.get("mobile")), str(item.get("text", "")), when
    raise ValueError(f"unknown SMS provider {provider!r}")


def _time(text: Any) -> datetime | None:
    """Providers report "YYYY-MM-DD HH:MM:SS" in China time."""
    if not text:
        return None
    from zoneinfo import ZoneInfo

    return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=ZoneInfo("Asia/Shanghai")
    )


def _message_by_provider_id(
    session: Session, tenant: TenantContext, provider_id: str, phone: str
) -> Message | None:
    """A batch shares one provider id (Alibaba's BizId): the phone picks the message."""
    candidates = session.scalars(
        select(Message).where(Message.tenant_id == tenant.id, Message.provider_id == provider_id)
    ).all()
    digits = phone.lstrip("+")
    for message in candidates:
        sent_to = str((message.recipient or {}).get("phone", ""))
        if len(candidates) == 1 or sent_to == phone or digits.endswith(sent_to) and sent_to:
            return message
    return None


def _event(
    message: Message, type_: str, at: datetime | None, extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "kind": "event",
        "source": EVENT_SOURCE,
        "event_id": f"{message.key}:{type_}",
        "customer_ref": {"identifiers": dict((message.recipient or {}).get("ref") or {})},
        "type": type_,
        "occurred_at": (at or utcnow()).isoformat(),
        "properties": {
            "message_key": message.key,
            "channel": message.channel,
            "origin": message.origin,
            **{k: v for k, v in extra.items() if v is not None},
        },
    }


def _ingest(session: Session, tenant: TenantContext, events: Sequence[dict[str, Any]]) -> int:
    """Outcome events go in through the online path like any other event, so waits and
    goals see them (imported here: the online path calls journeys, which send through
    this package)."""
    from siyu.online import accept_records

    placeable = [e for e in events if e["customer_ref"]["identifiers"]]
    accepted = 0
    for start in range(0, len(placeable), 1000):
        report, _results = accept_records(
            session=session,
            tenant=tenant,
            items=list(placeable[start : start + 1000]),
            origin="channels",
        )
        accepted += report.accepted
    session.commit()
    return accepted


def follow_link(*, session: Session, token: str) -> str | None:
    """A tracked link was clicked: record `message_clicked`, return where it goes."""
    data = read_token(token)
    if not data or "k" not in data:
        return None
    tenant = get_tenant_by_id(session=session, tenant_id=int(data.get("t", 0)))
    verified = verify_token(str(tracking_config(session=session, tenant=tenant)["secret"]), token)
    if verified is None:
        return None
    message = session.scalar(
        select(Message).where(Message.tenant_id == tenant.id, Message.key == str(verified["k"]))
    )
    url = str(verified["u"])
    if message is not None:
        digest = hashlib.blake2b(url.encode(), digest_size=6).hexdigest()
        event = _event(message, "message_clicked", None, {"url": url})
        event["event_id"] = f"{message.key}:clicked:{digest}"
        _ingest(session, tenant, [event])
    return url


def unsubscribe_link(*, session: Session, token: str) -> bool:
    """The one-click unsubscribe link of a message was used."""
    data = read_token(token)
    if not data or "o" not in data:
        return False
    tenant = get_tenant_by_id(session=session, tenant_id=int(data.get("t", 0)))
    verified = verify_token(str(tracking_config(session=session, tenant=tenant)["secret"]), token)
    if verified is None:
        return False
    unsubscribe(
        session=session,
        tenant=tenant,
        oneid=str(verified["o"]),
        channel=str(verified["c"]),
        source="unsubscribe link",
    )
    session.commit()
    return True


def check_wecom_confirmations(
    *, session: Session, tenant: TenantContext, adapters: Adapters, limit: int = 200
) -> CallbackReport:
    """Ask WeCom whether guides confirmed their group-send tasks: sent (1) becomes
    delivered; not a friend (2) or over WeCom's per-customer limit (3) undelivered."""
    adapter = adapters.get(session, tenant, "wecom")
    report = CallbackReport()
    if not isinstance(adapter, WeComGroupSend):
        return report
    pending = session.scalars(
        select(Message)
        .where(
            Message.tenant_id == tenant.id,
            Message.channel == "wecom",
            Message.status == "sent",
        )
        .order_by(Message.sent_at)
        .limit(limit)
    ).all()
    events = []
    for message in pending:
        recipient = message.recipient or {}
        rows = adapter.client.group_send_result(
            str(message.provider_id), str(recipient.get("sender"))
        )
        report.received += 1
        row = next(
            (r for r in rows if r.get("external_userid") == recipient.get("external_userid")), None
        )
        if row is None or int(row.get("status", 0)) == 0:
            continue  # the guide has not confirmed yet
        report.matched += 1
        status = int(row["status"])
        at = (
            datetime.fromtimestamp(int(row["send_time"])).astimezone()
            if row.get("send_time")
            else None
        )
        message.status = "delivered" if status == 1 else "undelivered"
        message.outcome_at = at or utcnow()
        reason = {2: "not a friend of the guide", 3: "customer already got a group message"}
        if status != 1:
            message.reason = reason.get(status, f"status {status}")
        events.append(
            _event(
                message,
                "message_delivered" if status == 1 else "message_undelivered",
                at,
                {"code": str(status)},
            )
        )
    session.flush()
    report.events = _ingest(session, tenant, events)
    return report


def check_confirmations(*, session: Session, adapters: Adapters) -> int:
    """WeCom confirmations for every tenant with group-send tasks awaiting them."""
    tenant_ids = session.scalars(
        select(Message.tenant_id)
        .where(Message.channel == "wecom", Message.status == "sent")
        .distinct()
    ).all()
    matched = 0
    for tenant_id in tenant_ids:
        tenant = adapters.tenant(session, tenant_id)
        try:
            matched += check_wecom_confirmations(
                session=session, tenant=tenant, adapters=adapters
            ).matched
        except Exception as error:  # WeCom unreachable: the next pass asks again
            log.warning("WeCom confirmations for tenant %s: %s", tenant_id, error)
            session.rollback()
    return matched
