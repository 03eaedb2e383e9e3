"""Touch policy at dispatch: consent, unsubscribes (API and 回复TD退订), frequency caps,
WeCom's per-customer limit, quiet hours, templates by locale, retries, in-doubt sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from journey_support import NOON, Recorder, person
from siyu import channels
from siyu.channels.models import Message
from siyu.tenants import TenantContext

W = "w1"
SMS = {
    "zh-CN": {"template": "SMS_1", "params": {"name": "{{ person.name }}您好"}},
    "en": {"template": "SMS_2", "params": {"name": "Hi {{ person.name }}"}},
}


def queue(
    session: Session,
    tenant: TenantContext,
    oneid: str,
    key: str,
    *,
    at: datetime = NOON,
    channel: str = "sms",
    category: str = "marketing",
    content: dict[str, Any] | None = None,
) -> None:
    channels.enqueue_messages(
        session=session,
        tenant=tenant,
        messages=[
            channels.NewMessage(
                key=key,
                oneid=oneid,
                channel=channel,
                category=category,  # type: ignore[arg-type]
                content=content or SMS,
                not_before=at,
            )
        ],
    )


def send(session: Session, recorder: Recorder, at: datetime = NOON) -> channels.DispatchReport:
    adapters = channels.Adapters({recorder.channel: recorder})
    return channels.dispatch(session=session, adapters=adapters, worker=W, now=at)


def status(session: Session, tenant: TenantContext, key: str) -> tuple[str, str | None]:
    found = channels.messages_by_key(session=session, tenant=tenant, keys=[key])[key]
    return found.status, found.reason


def test_marketing_needs_recorded_consent_transactional_only_no_refusal(
    session: Session, tenant: TenantContext
) -> None:
    yes = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
    unknown = person(session, tenant, "c2", phone="13800000002")
    no = person(session, tenant, "c3", phone="13800000003", consent={"sms": False})
    for oneid, name in ((yes, "yes"), (unknown, "unknown"), (no, "no")):
        queue(session, tenant, oneid, f"m-{name}")
        queue(session, tenant, oneid, f"t-{name}", category="transactional")
    recorder = Recorder()
    send(session, recorder)
    assert sorted(m.key for m in recorder.sent) == ["m-yes", "t-unknown", "t-yes"]
    assert status(session, tenant, "m-unknown") == (
        "suppressed",
        "no recorded consent for sms marketing",
    )
    assert status(session, tenant, "t-no") == ("suppressed", "no consent for sms")


def test_unsubscribe_by_api_and_by_td_reply(session: Session, tenant: TenantContext) -> None:
    a = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
    b = person(session, tenant, "c2", phone="13800000002", consent={"sms": True})
    channels.unsubscribe(session=session, tenant=tenant, oneid=a, channel="sms", source="api")
    report = channels.handle_sms_callback(
        session=session,
        tenant=tenant,
        provider="aliyun",
        kind="reply",
        payload=[
            {
                "phone_number": "13800000002",
                "send_time": "2025-03-03 11:00:00",
                "content": "TD",
                "sign_name": "品牌",
                "dest_code": "1234",
                "sequence_id": 1,
            }
        ],
    )
    assert report.unsubscribed == 1 and report.events == 1
    for oneid, key in ((a, "ka"), (b, "kb")):
        queue(session, tenant, oneid, key, category="transactional")
    recorder = Recorder()
    send(session, recorder)
    assert recorder.sent == []
    assert status(session, tenant, "kb") == ("suppressed", "unsubscribed from sms")
    assert channels.is_stop_reply("回复TD退订") and channels.is_stop_reply(" td ")
    assert not channels.is_stop_reply("谢谢，已收到")


def test_frequency_caps_and_transactional_bypass(session: Session, tenant: TenantContext) -> None:
    oneid = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
    recorder = Recorder()
    for day in range(3):  # ≤ 2 marketing SMS a week (default policy)
        at = NOON + timedelta(days=day)
        queue(session, tenant, oneid, f"m{day}", at=at)
        send(session, recorder, at)
    assert [m.key for m in recorder.sent] == ["m0", "m1"]
    assert status(session, tenant, "m2")[0] == "suppressed"
    assert "frequency cap" in (status(session, tenant, "m2")[1] or "")
    queue(session, tenant, oneid, "t", at=NOON + timedelta(days=3), category="transactional")
    send(session, recorder, NOON + timedelta(days=3))
    queue(session, tenant, oneid, "m-later", at=NOON + timedelta(days=8))
    send(session, recorder, NOON + timedelta(days=8))  # the week has passed
    assert [m.key for m in recorder.sent] == ["m0", "m1", "t", "m-later"]


def test_wecom_limit_holds_even_for_transactional(session: Session, tenant: TenantContext) -> None:
    oneid = person(session, tenant, "c1", phone="13800000001", consent={"wecom": True})
    recorder = Recorder("wecom")
    content = {"zh-CN": {"text": "hi"}}
    queue(session, tenant, oneid, "w1", channel="wecom", content=content)
    queue(session, tenant, oneid, "w2", channel="wecom", content=content, category="transactional")
    send(session, recorder)
    queue(
        session, tenant, oneid, "w3", channel="wecom", content=content, at=NOON + timedelta(days=1)
    )
    send(session, recorder, NOON + timedelta(days=1))
    assert [m.key for m in recorder.sent] == ["w1", "w3"]
    assert "WeCom limit" in (status(session, tenant, "w2")[1] or "")


def test_quiet_hours_defer_to_the_morning_in_the_persons_zone(
    session: Session, tenant: TenantContext
) -> None:
    shanghai = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
    london = person(
        session,
        tenant,
        "c2",
        phone="13800000002",
        consent={"sms": True},
        attributes={"timezone": "Europe/London"},
    )
    late = datetime(2025, 3, 3, 23, 0, tzinfo=tenant.zone)  # 23:00 Shanghai = 15:00 London
    queue(session, tenant, shanghai, "sh", at=late)
    queue(session, tenant, london, "ldn", at=late)
    recorder = Recorder()
    report = send(session, recorder, late)
    assert report.deferred == 1 and [m.key for m in recorder.sent] == ["ldn"]
    deferred = channels.messages_by_key(session=session, tenant=tenant, keys=["sh"])["sh"]
    assert deferred.status == "queued" and deferred.reason == "quiet hours"
    assert deferred.not_before == datetime(2025, 3, 4, 8, 0, tzinfo=tenant.zone)
    send(session, recorder, datetime(2025, 3, 4, 7, 59, tzinfo=tenant.zone))
    assert len(recorder.sent) == 1  # still quiet
    send(session, recorder, datetime(2025, 3, 4, 8, 0, tzinfo=tenant.zone))
    assert [m.key for m in recorder.sent] == ["ldn", "sh"]


def test_templates_in_the_persons_language(session: Session, tenant: TenantContext) -> None:
    zh = person(session, tenant, "c1", phone="13800000001", consent={"sms": True}, name="李雷")
    en = person(
        session,
        tenant,
        "c2",
        phone="13800000002",
        consent={"sms": True},
        name="Amy",
        attributes={"locale": "en-GB"},
    )
    queue(session, tenant, zh, "zh")
    queue(session, tenant, en, "en")
    recorder = Recorder()
    send(session, recorder)
    got = {m.key: (m.payload["template"], m.payload["params"]["name"]) for m in recorder.sent}
    assert got == {"zh": ("SMS_1", "李雷您好"), "en": ("SMS_2", "Hi Amy")}


def test_sandboxed_templates_refuse_unsafe_code(session: Session, tenant: TenantContext) -> None:
    oneid = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
    evil = {"zh-CN": {"template": "X", "params": {"a": "{{ ''.__class__.__mro__ }}"}}}
    queue(session, tenant, oneid, "evil", content=evil)
    recorder = Recorder()
    send(session, recorder)
    assert recorder.sent == []
    state, reason = status(session, tenant, "evil")
    assert state == "failed" and "template error" in (reason or "")


def test_retries_then_dead_and_refusals_fail(session: Session, tenant: TenantContext) -> None:
    oneid = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
    policy = channels.TouchPolicy(caps=[])
    channels.set_policy(session=session, tenant=tenant, policy=policy)
    queue(session, tenant, oneid, "flaky")
    recorder = Recorder(fail_codes=["busy"] * 5)
    now = NOON
    for _ in range(5):
        send(session, recorder, now)
        found = channels.messages_by_key(session=session, tenant=tenant, keys=["flaky"])["flaky"]
        if found.not_before:
            assert found.not_before - now == channels.backoff(found.attempts)
            now = found.not_before
    assert status(session, tenant, "flaky")[0] == "dead"
    queue(session, tenant, oneid, "bad", at=now)
    send(session, Recorder(fail_codes=["isv.MOBILE_NUMBER_ILLEGAL"]), now)
    assert status(session, tenant, "bad")[0] == "failed"


def test_in_doubt_messages_are_asked_about_not_resent(
    session: Session, tenant: TenantContext
) -> None:
    oneid = person(session, tenant, "c1", phone="13800000001", consent={"sms": True})
    channels.set_policy(session=session, tenant=tenant, policy=channels.TouchPolicy(caps=[]))
    queue(session, tenant, oneid, "got-there")
    queue(session, tenant, oneid, "never-left")
    recorder = Recorder()
    send(session, recorder)
    # Simulate a worker killed after marking both `sending` (one reached the provider).
    session.execute(
        update(Message)
        .where(Message.key.in_(["got-there", "never-left"]))
        .values(status="sending", lease_owner="dead-worker", lease_until=NOON, not_before=NOON)
    )
    recorder.sent = [m for m in recorder.sent if m.key == "got-there"]
    report = send(session, recorder, NOON + timedelta(minutes=5))
    assert report.resolved_in_doubt == 2
    assert sorted(m.key for m in recorder.sent) == ["got-there", "never-left"]  # one resent
    assert status(session, tenant, "got-there")[0] == "sent"
    recorder.in_doubt = "give_up"
    session.execute(
        update(Message)
        .where(Message.key == "never-left")
        .values(status="sending", lease_until=NOON, not_before=NOON)
    )
    send(session, recorder, NOON + timedelta(minutes=10))
    assert status(session, tenant, "never-left")[0] == "unknown"
