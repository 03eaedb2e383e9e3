"""Each adapter against its local fake, which speaks the provider's documented format:
signatures, error codes, tokens, receipts and replies back in as timeline events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from journey_support import NOON, person
from siyu import channels, profiles
from siyu.channels.adapters.webhook import webhook_signature
from siyu.channels.fakes import (
    FakeAliyunSms,
    FakeSmtp,
    FakeTencentSms,
    FakeWebhookReceiver,
    FakeWeChat,
    FakeWeCom,
)
from siyu.tenants import TenantContext

W = "w1"
NO_CAPS = channels.TouchPolicy(caps=[], quiet_hours=channels.QuietHours(enabled=False))


@pytest.fixture
def adapters() -> Iterator[channels.Adapters]:
    built = channels.Adapters()
    yield built
    built.close()


def queue(
    session: Session,
    tenant: TenantContext,
    oneid: str,
    key: str,
    channel: str,
    content: dict[str, Any],
    category: str = "marketing",
) -> None:
    channels.enqueue_messages(
        session=session,
        tenant=tenant,
        messages=[
            channels.NewMessage(
                key=key,
                oneid=oneid,
                channel=channel,
                category=category,
                content={"zh-CN": content},
                not_before=NOON,  # type: ignore[arg-type]
            )
        ],
    )


def dispatch(
    session: Session, adapters: channels.Adapters, minutes: int = 0
) -> channels.DispatchReport:
    return channels.dispatch(
        session=session, adapters=adapters, worker=W, now=NOON + timedelta(minutes=minutes)
    )


def message(session: Session, tenant: TenantContext, key: str) -> channels.MessageView:
    return channels.messages_by_key(session=session, tenant=tenant, keys=[key])[key]


def event_types(session: Session, tenant: TenantContext, oneid: str) -> list[str]:
    return sorted(
        e.type for e in profiles.get_person(session=session, tenant=tenant, oneid=oneid).events
    )


def test_aliyun_sms_single_batch_receipts_and_errors(
    session: Session, tenant: TenantContext, adapters: channels.Adapters
) -> None:
    channels.set_policy(session=session, tenant=tenant, policy=NO_CAPS)
    with FakeAliyunSms(access_key_id="LTAI1", secret="s3cret") as fake:
        config = {
            "provider": "aliyun",
            "endpoint": fake.url,
            "access_key_id": "LTAI1",
            "access_key_secret": "s3cret",
            "sign_name": "美妆",
        }
        channels.configure_channel(session=session, tenant=tenant, channel="sms", config=config)
        people = [
            person(
                session,
                tenant,
                f"c{i}",
                phone=f"1380000000{i}",
                consent={"sms": True},
                name=f"顾客{i}",
            )
            for i in range(3)
        ]
        content = {"template": "SMS_100", "params": {"name": "{{ person.name }}"}}
        queue(session, tenant, people[0], "one", "sms", content)
        assert dispatch(session, adapters).sent == 1  # a single message: SendSms
        for i, oneid in enumerate(people):
            queue(session, tenant, oneid, f"batch{i}", "sms", content)
        assert dispatch(session, adapters, 1).sent == 3  # SendBatchSms
        assert [(m["phone"], m["params"]["name"]) for m in fake.sent] == [
            ("13800000000", "顾客0"),
            ("13800000000", "顾客0"),
            ("13800000001", "顾客1"),
            ("13800000002", "顾客2"),
        ]
        assert fake.sent[0]["out_id"] == "one#1" and fake.sent[1]["out_id"] == "batch0#3"
        # delivery receipts (SmsReport push) come back as events on each person's timeline
        report = channels.handle_sms_callback(
            session=session,
            tenant=tenant,
            provider="aliyun",
            kind="receipt",
            payload=fake.receipts(failed_phones={"13800000002"}),
        )
        assert (report.received, report.matched, report.events) == (4, 4, 4)
        assert message(session, tenant, "batch2").status == "undelivered"
        assert event_types(session, tenant, people[0]) == ["message_delivered", "message_delivered"]
        assert event_types(session, tenant, people[2]) == ["message_undelivered"]
        # the provider throttles: retried later; a bad number: failed for good
        fake.throttle_next = 1
        queue(session, tenant, people[1], "throttled", "sms", content)
        dispatch(session, adapters, 2)
        assert message(session, tenant, "throttled").status == "queued"
        assert "isv.BUSINESS_LIMIT_CONTROL" in (message(session, tenant, "throttled").reason or "")
        dispatch(session, adapters, 10)
        assert message(session, tenant, "throttled").status == "sent"
        # a wrong secret is refused by the signature check
        channels.configure_channel(
            session=session,
            tenant=tenant,
            channel="sms",
            config={**config, "access_key_secret": "wrong"},
        )
        queue(session, tenant, people[1], "unsigned", "sms", content, category="transactional")
        dispatch(session, adapters, 20)
        refused = message(session, tenant, "unsigned")
        assert refused.status == "failed" and "SignatureDoesNotMatch" in (refused.reason or "")


def test_aliyun_lookup_finds_what_was_sent(adapters: channels.Adapters) -> None:
    from siyu.channels.adapters.aliyun_sms import AliyunSms

    with FakeAliyunSms() as fake:
        sms = AliyunSms(
            {
                "endpoint": fake.url,
                "access_key_id": "LTAIfake",
                "access_key_secret": "fake-secret",
                "sign_name": "x",
            }
        )
        sent = channels.Outbound(
            "k1",
            "sms",
            {"phone": "13900000000"},
            {"template": "SMS_1", "params": {}, "_batch": "k1#1"},
        )
        never = channels.Outbound(
            "k2",
            "sms",
            {"phone": "13900000001"},
            {"template": "SMS_1", "params": {}, "_batch": "k2#1"},
        )
        assert sms.send([sent])[0].ok
        found = sms.lookup([sent, never])
        assert found[0] is not None and found[0].ok and found[1] is None
        # stale timestamps and replayed nonces are refused, as the real API does
        from siyu.channels.adapters.aliyun_sms import rpc_signature

        def signed(nonce: str, stamp: str) -> dict[str, Any]:
            params = {
                "AccessKeyId": "LTAIfake",
                "Action": "QuerySendDetails",
                "SignatureNonce": nonce,
                "Timestamp": stamp,
                "Version": "2017-05-25",
            }
            params["Signature"] = rpc_signature(params, "fake-secret")
            return dict(sms.client.post(fake.url + "/", data=params).json())

        assert signed("n1", "2020-01-01T00:00:00Z")["Code"] == "InvalidTimeStamp.Expired"
        fresh = __import__("datetime").datetime.now(__import__("datetime").UTC)
        stamp = fresh.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert signed("n2", stamp)["Code"] == "OK"
        assert signed("n2", stamp)["Code"] == "SignatureNonceUsed"
        sms.close()


def test_tencent_sms_tc3_signature_lookup_and_receipts(
    session: Session, tenant: TenantContext, adapters: channels.Adapters
) -> None:
    channels.set_policy(session=session, tenant=tenant, policy=NO_CAPS)
    with FakeTencentSms(secret_id="AKID1", secret_key="k3y", app_id="1400001") as fake:
        config = {
            "provider": "tencent",
            "endpoint": fake.url,
            "secret_id": "AKID1",
            "secret_key": "k3y",
            "sdk_app_id": "1400001",
            "sign_name": "美妆",
        }
        channels.configure_channel(session=session, tenant=tenant, channel="sms", config=config)
        a = person(session, tenant, "c1", phone="13800000001", consent={"sms": True}, name="甲")
        b = person(session, tenant, "c2", phone="13800000002", consent={"sms": True}, name="乙")
        content = {"template": "123456", "params": ["{{ person.name }}", "9折"]}
        queue(session, tenant, a, "a", "sms", content)
        queue(session, tenant, b, "b", "sms", content)
        assert dispatch(session, adapters).sent == 2
        assert [(m["phone"], m["params"]) for m in fake.sent] == [
            ("+8613800000001", ["甲", "9折"]),
            ("+8613800000002", ["乙", "9折"]),
        ]
        report = channels.handle_sms_callback(
            session=session,
            tenant=tenant,
            provider="tencent",
            kind="receipt",
            payload=fake.receipts(),
        )
        assert report.matched == 2 and message(session, tenant, "a").status == "delivered"
        assert event_types(session, tenant, a) == ["message_delivered"]
        adapter = adapters.get(session, tenant, "sms")
        assert adapter is not None
        out = channels.Outbound(
            "a", "sms", {"phone": "13800000001"}, {"_batch": fake.sent[0]["session_context"]}
        )
        assert adapter.lookup([out])[0] is not None
        channels.configure_channel(
            session=session, tenant=tenant, channel="sms", config={**config, "secret_key": "bad"}
        )
        queue(session, tenant, a, "bad", "sms", content, category="transactional")
        dispatch(session, adapters, 1)
        assert "AuthFailure.SignatureFailure" in (message(session, tenant, "bad").reason or "")


def test_email_over_real_smtp_with_unsubscribe_headers(
    session: Session, tenant: TenantContext, adapters: channels.Adapters
) -> None:
    channels.set_policy(session=session, tenant=tenant, policy=NO_CAPS)
    with FakeSmtp() as smtp:
        channels.configure_channel(
            session=session,
            tenant=tenant,
            channel="email",
            config={"host": "127.0.0.1", "port": smtp.port, "from": "crm@brand.example"},
        )
        amy = person_with_email(session, tenant, "c2", "amy@example.com", "Amy")
        bad = person_with_email(session, tenant, "c3", "nobody@invalid.example", "Bob")
        content = {
            "subject": "你好 {{ person.name }}",
            "text": "会员日 {{ unsubscribe_url }}",
            "html": "<p>{{ person.name }}</p>",
        }
        queue(session, tenant, amy, "mail-1", "email", content)
        queue(session, tenant, bad, "mail-2", "email", content)
        dispatch(session, adapters)
        (received,) = smtp.messages
        assert received["To"] == "amy@example.com" and received["Subject"] == "你好 Amy"
        assert received["Message-ID"] == "<mail-1@brand.example>"
        assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = received["List-Unsubscribe"].strip("<>")
        assert message(session, tenant, "mail-2").status == "failed"
        # the one-click link unsubscribes the person from e-mail
        token = link.rsplit("/", 1)[1]
        assert channels.unsubscribe_link(session=session, token=token)
        assert channels.unsubscribe_link(session=session, token=token[:-2] + "xx") is False
        assert channels.unsubscribed(session=session, tenant=tenant, oneids=[amy])[amy] == {"email"}


def person_with_email(
    session: Session, tenant: TenantContext, external_id: str, email: str, name: str
) -> str:
    from support import customer, ingest

    record = customer("web", external_id, {"email": email}, name=name, consent={"email": True})
    oneid = ingest(session, tenant, record)[0].oneid
    assert oneid is not None
    return oneid


def test_wecom_tokens_group_send_confirmation_tasks_and_tags(
    session: Session, tenant: TenantContext, adapters: channels.Adapters
) -> None:
    channels.set_policy(session=session, tenant=tenant, policy=NO_CAPS)
    with FakeWeCom(corpid="wwcorp", secret="cs", token_ttl=7200) as wecom:
        channels.configure_channel(
            session=session,
            tenant=tenant,
            channel="wecom",
            config={"corpid": "wwcorp", "secret": "cs", "agentid": 1000002, "base_url": wecom.url},
        )
        from support import customer, ingest

        def contact(ext: str) -> str:
            record = customer(
                "wecom",
                ext,
                {"wecom_external_userid": f"wwcorp/{ext}"},
                staff_id="guide1",
                consent={"wecom": True},
            )
            oneid = ingest(session, tenant, record)[0].oneid
            assert oneid is not None
            return oneid

        a, b = contact("wmA"), contact("wmB")
        queue(session, tenant, a, "g1", "wecom", {"text": "新品到店"})
        queue(session, tenant, b, "g2", "wecom", {"text": "新品到店"})
        queue(
            session,
            tenant,
            a,
            "task1",
            "wecom_staff",
            {"text": "请回访客户"},
            category="transactional",
        )
        queue(
            session,
            tenant,
            a,
            "tag1",
            "wecom_tag",
            {"add_tag": ["etVIP"], "remove_tag": []},
            category="transactional",
        )
        assert dispatch(session, adapters).sent == 4
        assert wecom.token_requests == 1  # one token, cached for every call
        assert wecom.staff_messages == [{"touser": "guide1", "content": "请回访客户"}]
        assert wecom.tags[("guide1", "wmA")] == {"etVIP"}
        # nothing confirmed yet: messages stay "sent"
        channels.check_wecom_confirmations(session=session, tenant=tenant, adapters=adapters)
        assert message(session, tenant, "g1").status == "sent"
        wecom.received_on["wmB"].append(
            __import__("datetime")
            .datetime.now(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
            .date()
            .isoformat()
        )
        for msgid in list(wecom.tasks):
            wecom.confirm(msgid)
        report = channels.check_wecom_confirmations(
            session=session, tenant=tenant, adapters=adapters
        )
        assert report.matched == 2
        assert message(session, tenant, "g1").status == "delivered"
        assert message(session, tenant, "g2").status == "undelivered"  # WeCom's daily limit (3)
        assert event_types(session, tenant, a) == ["message_delivered"]
        # expired and revoked tokens are refreshed transparently (42001, 40014)
        wecom.expire_tokens()
        queue(
            session,
            tenant,
            b,
            "task2",
            "wecom_staff",
            {"text": "生日提醒"},
            category="transactional",
        )
        assert dispatch(session, adapters, 1).sent == 1
        wecom.tokens.clear()
        queue(
            session, tenant, b, "task3", "wecom_staff", {"text": "再提醒"}, category="transactional"
        )
        assert dispatch(session, adapters, 2).sent == 1
        assert wecom.token_requests == 3


def test_wechat_subscribe_and_template_messages(
    session: Session, tenant: TenantContext, adapters: channels.Adapters
) -> None:
    channels.set_policy(session=session, tenant=tenant, policy=NO_CAPS)
    with (
        FakeWeChat(appid="wxmini", secret="ms") as mini,
        FakeWeChat(appid="wxoa", secret="os") as oa,
    ):
        channels.configure_channel(
            session=session,
            tenant=tenant,
            channel="wechat_subscribe",
            config={"appid": "wxmini", "secret": "ms", "base_url": mini.url},
        )
        channels.configure_channel(
            session=session,
            tenant=tenant,
            channel="wechat_template",
            config={"appid": "wxoa", "secret": "os", "base_url": oa.url},
        )
        from support import customer, ingest

        record = customer(
            "wechat_mp",
            "u1",
            {"wechat_openid": "wxmini/oMini1"},
            consent={"wechat": True},
            name="小红",
        )
        oneid = ingest(session, tenant, record)[0].oneid
        oa_record = customer(
            "wechat_oa",
            "f1",
            {"wechat_openid": "wxoa/oFan1", "wechat_unionid": "U1"},
            consent={"wechat": True},
        )
        mini_union = customer(
            "wechat_mp",
            "u1",
            {"wechat_openid": "wxmini/oMini1", "wechat_unionid": "U1"},
            consent={"wechat": True},
            name="小红",
        )
        ingest(session, tenant, mini_union, oa_record)
        assert oneid is not None
        mini.grant("oMini1", "TPL_POINTS", times=1)
        sub = {
            "template_id": "TPL_POINTS",
            "page": "pages/points",
            "data": {"thing1": "{{ person.name }}的积分即将过期"},
        }
        queue(session, tenant, oneid, "sub1", "wechat_subscribe", sub, category="transactional")
        queue(session, tenant, oneid, "sub2", "wechat_subscribe", sub, category="transactional")
        queue(
            session,
            tenant,
            oneid,
            "tpl1",
            "wechat_template",
            {"template_id": "OA_TPL", "url": "https://brand.example", "data": {"first": "您好"}},
        )
        dispatch(session, adapters)
        assert [d["data"]["thing1"]["value"] for d in mini.delivered] == ["小红的积分即将过期"]
        refused = message(session, tenant, "sub2")
        assert refused.status == "failed" and "43101" in (
            refused.reason or ""
        )  # no subscription left
        assert [d["touser"] for d in oa.delivered] == ["oFan1"]
        # a template message resent after a crash is dropped by WeChat (client_msg_id)
        adapter = adapters.get(session, tenant, "wechat_template")
        assert adapter is not None and adapter.in_doubt == "resend"
        out = channels.Outbound(
            "tpl1", "wechat_template", {"openid": "oFan1"}, {"template_id": "OA_TPL", "data": {}}
        )
        assert adapter.send([out])[0].ok
        assert len(oa.delivered) == 1


def test_signed_webhooks(
    session: Session, tenant: TenantContext, adapters: channels.Adapters
) -> None:
    with FakeWebhookReceiver(secret="whsec") as hook:
        channels.configure_channel(
            session=session, tenant=tenant, channel="webhook", config={"secret": "whsec"}
        )
        oneid = person(session, tenant, "c1")
        content = {"url": f"{hook.url}/crm", "body": {"oneid": "{{ message_key }}", "n": 1}}
        queue(session, tenant, oneid, "h1", "webhook", content, category="transactional")
        hook.fail_next = 1
        dispatch(session, adapters)
        assert message(session, tenant, "h1").status == "queued"  # 503: retried
        dispatch(session, adapters, 5)
        assert hook.deliveries == {"h1": {"oneid": "h1", "n": 1}}
        assert message(session, tenant, "h1").provider_id == "h1"
        forged = httpx.post(
            f"{hook.url}/crm",
            content=b"{}",
            headers={
                "X-Siyu-Timestamp": "1",
                "X-Siyu-Signature": webhook_signature("x", "1", b"{}"),
            },
        )
        assert forged.status_code == 401
        channels.configure_channel(
            session=session, tenant=tenant, channel="webhook", config={"secret": "wrong"}
        )
        queue(session, tenant, oneid, "h2", "webhook", content, category="transactional")
        dispatch(session, adapters, 10)
        assert message(session, tenant, "h2").status == "failed"
