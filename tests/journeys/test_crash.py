"""kill -9 a real worker mid-run, several times, against a real (local) SMS gateway:
after restarts every enrolment finishes and every message arrived exactly once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from siyu import channels
from siyu.channels.fakes import FakeAliyunSms
from siyu.channels.models import Message
from siyu.journeys import JourneyDefinition, create_journey, enrol, list_enrolments, start_journey
from siyu.journeys.models import Enrolment
from siyu.store import open_store
from siyu.tenants import get_tenant
from support import customer, ingest

PEOPLE = 150
WORKER = "import sys; from siyu.cli.main import app; sys.argv[0] = 'siyu'; app()"


def start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    args = ["--db", url, "worker", "--batch", "40", "--lease", "2", "--message-lease", "2"]
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, *args, "--idle-sleep", "0.05"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_kill_minus_nine_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    store = open_store(url)
    with FakeAliyunSms(delay=0.03) as gateway:
        with store.session() as session:
            tenant = get_tenant(session=session, name="default")
            records = [
                customer(
                    "pos", f"c{i}", {"phone": f"139{i:08d}"}, name=f"n{i}", consent={"sms": True}
                )
                for i in range(PEOPLE)
            ]
            oneids = [r.oneid for r in ingest(session, tenant, *records) if r.oneid]
            channels.configure_channel(
                session=session,
                tenant=tenant,
                channel="sms",
                config={
                    "provider": "aliyun",
                    "endpoint": gateway.url,
                    "access_key_id": "LTAIfake",
                    "access_key_secret": "fake-secret",
                    "sign_name": "品牌",
                },
            )
            quiet = channels.QuietHours(enabled=False)
            channels.set_policy(
                session=session,
                tenant=tenant,
                policy=channels.TouchPolicy(caps=[], quiet_hours=quiet),
            )
            sms = {"zh-CN": {"template": "SMS_1", "params": {"n": "{{ person.name }}", "s": "1"}}}
            again = {"zh-CN": {"template": "SMS_2", "params": {"n": "{{ person.name }}", "s": "2"}}}
            definition = JourneyDefinition.model_validate(
                {
                    "key": "crash",
                    "name": "crash test",
                    "trigger": {"type": "manual"},
                    "steps": [
                        {"id": "first", "type": "send", "channel": "sms", "content": sms},
                        {"id": "pause", "type": "wait", "duration": "PT1S"},
                        {"id": "second", "type": "send", "channel": "sms", "content": again},
                    ],
                }
            )
            create_journey(session=session, tenant=tenant, definition=definition)
            start_journey(session=session, tenant=tenant, key="crash")
            assert enrol(session=session, tenant=tenant, key="crash", oneids=oneids).count == PEOPLE
            session.commit()

        log = tmp_path / "worker.log"
        expected = 2 * PEOPLE
        rng = random.Random(20261125)
        kills = 0
        for fraction in sorted(rng.uniform(0.1, 0.9) for _ in range(3)):
            worker = start_worker(url, log)
            deadline = time.monotonic() + 60
            while len(gateway.sent) < fraction * expected and time.monotonic() < deadline:
                time.sleep(0.005)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
        worker = start_worker(url, log)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with store.session() as session:
                    open_enrolments = session.scalar(
                        select(func.count()).where(Enrolment.finished_at.is_(None))
                    )
                    unsettled = session.scalar(
                        select(func.count()).where(Message.status.in_(("queued", "sending")))
                    )
                if open_enrolments == 0 and unsettled == 0:
                    break
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)

        assert kills == 3
        assert gateway.duplicates() == {}, "a message was sent twice"
        arrived = sorted((m["phone"], m["params"]["s"]) for m in gateway.sent)
        assert arrived == sorted((f"139{i:08d}", s) for i in range(PEOPLE) for s in ("1", "2"))
        with store.session() as session:
            tenant = get_tenant(session=session, name="default")
            done = list_enrolments(session=session, tenant=tenant, key="crash", limit=PEOPLE * 2)
            assert len(done) == PEOPLE and {e.status for e in done} == {"completed"}
            statuses = dict(
                session.execute(select(Message.status, func.count()).group_by(Message.status))
                .tuples()
                .all()
            )
            assert statuses == {"sent": expected}
    store.dispose()
