"""A journey with real results for the console tests: people enter it through the online
path, the engine splits them (A / B / holdout) and queues SMS, the dispatcher sends them to
the fake Alibaba gateway, receipts and clicks come back, and some people buy (the goal)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from siyu import channels, journeys
from siyu.channels.fakes import FakeAliyunSms
from siyu.online import accept_records
from siyu.runtime import Runtime
from siyu.store.base import utcnow
from support import customer, event, order

PERSONS = 90
NO_LIMITS = channels.TouchPolicy(caps=[], quiet_hours=channels.QuietHours(enabled=False))


def click_event(message: channels.MessageView, phone: str, at: str) -> dict[str, Any]:
    """A `message_clicked` event, as the tracking link records it for `message`."""
    return event(
        "siyu",
        f"{message.key}:clicked:test",
        ids={"phone": phone},
        type="message_clicked",
        occurred_at=at,
        properties={"message_key": message.key, "origin": message.origin, "channel": "sms"},
    )


def results_definition(key: str, event_type: str) -> dict[str, Any]:
    return {
        "key": key,
        "name": f"Cart reminder {key}",
        "trigger": {"type": "event", "event_type": event_type},
        "steps": [
            {
                "id": "ab",
                "type": "split",
                "holdout_percent": 20,
                "arms": [{"name": "A"}, {"name": "B", "next": "sms-b"}],
            },
            {
                "id": "sms-a",
                "type": "send",
                "channel": "sms",
                "content": {"zh-CN": {"template": "SMS_A", "params": {}}},
                "next": "end",
            },
            {
                "id": "sms-b",
                "type": "send",
                "channel": "sms",
                "content": {"zh-CN": {"template": "SMS_B", "params": {}}},
            },
        ],
        "goal": {"event_type": "order", "within": "P14D"},
    }


def _accept(runtime: Runtime, items: list[dict[str, Any]]) -> list[Any]:
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        report, results = accept_records(
            session=session, tenant=tenant, items=items, origin="console-test"
        )
        assert report.accepted == len(items), results
        session.commit()
        return results


def journey_with_results(runtime: Runtime, key: str, phone_prefix: str) -> list[str]:
    """Build the journey `key` and its results; returns the people's OneIDs."""
    now = utcnow()
    stamp = now.isoformat()
    event_type = f"cart_{key}".replace("-", "_")[:64]
    phones = [f"{phone_prefix}{i:04d}" for i in range(PERSONS)]
    people = _accept(
        runtime,
        [
            customer("pos", f"{key}-{i}", {"phone": p}, name=f"顾客{i}", consent={"sms": True})
            for i, p in enumerate(phones)
        ],
    )
    oneids = [str(r.oneid) for r in people]
    with runtime.session() as session:
        tenant = runtime.tenant(session)
        channels.set_policy(session=session, tenant=tenant, policy=NO_LIMITS)
        definition = journeys.JourneyDefinition.model_validate(results_definition(key, event_type))
        journeys.create_journey(session=session, tenant=tenant, definition=definition)
        journeys.start_journey(session=session, tenant=tenant, key=key)
        session.commit()
    # Everyone enters through the online path (the event trigger).
    _accept(
        runtime,
        [
            event("pos", f"{key}-e{i}", ids={"phone": p}, type=event_type, occurred_at=stamp)
            for i, p in enumerate(phones)
        ],
    )
    with FakeAliyunSms(access_key_id="LTAI-console", secret="s3cret") as fake:
        adapters = channels.Adapters()
        try:
            with runtime.session() as session:
                tenant = runtime.tenant(session)
                channels.configure_channel(
                    session=session,
                    tenant=tenant,
                    channel="sms",
                    config={
                        "provider": "aliyun",
                        "endpoint": fake.url,
                        "access_key_id": "LTAI-console",
                        "access_key_secret": "s3cret",
                        "sign_name": "美妆",
                    },
                )
                session.commit()
                later = now + timedelta(seconds=5)
                while journeys.run_due(
                    session=session, ports=journeys.memory_ports(), worker="console", now=later
                ).enrolments:
                    pass
                while channels.dispatch(
                    session=session, adapters=adapters, worker="console", now=later
                ).claimed:
                    pass
                # Receipts: every tenth phone was not reachable.
                channels.handle_sms_callback(
                    session=session,
                    tenant=tenant,
                    provider="aliyun",
                    kind="receipt",
                    payload=fake.receipts(failed_phones=set(phones[::10])),
                )
                session.commit()
                sent = channels.list_messages(
                    session=session, tenant=tenant, origin_prefix="journey:", limit=1000
                )
        finally:
            adapters.close()
    ours = {m.oneid: m for m in sent if m.oneid in set(oneids)}
    stamp = utcnow().isoformat()  # clicks and orders come after the people entered
    # Clicks come back as message_clicked events (as the tracking link records them).
    clicks = [
        click_event(m, phones[oneids.index(m.oneid)], stamp)
        for i, m in enumerate(ours.values())
        if m.status == "delivered" and i % 3 == 0
    ]
    # A third of those reached buy; a few of the holdout buy anyway.
    buyers = [i for i in range(PERSONS) if i % 3 == 0 and (oneids[i] in ours or i % 2 == 0)]
    orders = [
        order(
            "pos",
            f"{key}-o{i}",
            ids={"phone": phones[i]},
            total=f"{100 + i}.00",
            created_at=stamp,
            paid_at=stamp,
        )
        for i in buyers
    ]
    _accept(runtime, clicks + orders)
    return oneids
