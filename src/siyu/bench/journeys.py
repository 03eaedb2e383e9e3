"""Journey engine benchmarks: enrolments through a 3-step journey, and messages per
second to a local fake SMS gateway (Alibaba Cloud SendBatchSms) with none duplicated."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from siyu import channels, ingest, journeys
from siyu.bench.ingest import machine
from siyu.channels.fakes import FakeAliyunSms
from siyu.journeys.models import Enrolment
from siyu.store import Store, open_store
from siyu.store.bulk import freeze_heap
from siyu.tenants import TenantContext, get_tenant

SMS = {"zh-CN": {"template": "SMS_100", "params": {"name": "{{ person.name }}"}}}
THREE_STEPS = {
    "key": "bench",
    "name": "3-step bench journey",
    "trigger": {"type": "manual"},
    "reentry": {"policy": "concurrent"},
    "steps": [
        {
            "id": "branch",
            "type": "branch",
            "cases": [{"when": {"field": "data.vip", "op": "eq", "value": True}, "next": "vip"}],
        },
        {"id": "send", "type": "send", "channel": "sms", "content": SMS},
        {"id": "vip", "type": "tag", "add": ["bench"]},
    ],
}


def run_journeys_bench(
    *, enrolments: int, messages: int, database_url: str | None, work_dir: Path | None, batch: int
) -> dict[str, Any]:
    """Time both benchmarks on a fresh store (SQLite file unless a URL is given)."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-journeys-"))
    base.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{base / 'journeys.db'}"
    store = open_store(url)
    try:
        engine = _engine_bench(store, enrolments, batch)
    finally:
        store.dispose()
    # On SQLite the sending benchmark gets a file of its own: otherwise it must first
    # settle the engine run's million messages to made-up people (longer than both).
    store = open_store(database_url or f"sqlite:///{base / 'dispatch.db'}")
    try:
        sending = _dispatch_bench(store, messages, batch)
    finally:
        store.dispose()
    return {
        "benchmark": "journeys",
        "store": url.split(":")[0],
        **engine,
        **sending,
        "target": "1M enrolments, 3 steps <= 60 s; >= 5,000 messages/s, none duplicated",
        "machine": machine(),
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }


def _engine_bench(store: Store, count: int, batch: int) -> dict[str, Any]:
    ports = journeys.memory_ports()
    with store.session() as session:
        tenant = get_tenant(session=session, name="default")
        definition = journeys.JourneyDefinition.model_validate(THREE_STEPS)
        journeys.create_journey(session=session, tenant=tenant, definition=definition)
        journeys.start_journey(session=session, tenant=tenant, key="bench")
        session.commit()
        oneids = [f"01BENCH{n:019d}" for n in range(count)]
        freeze_heap()  # as `siyu worker` does when it starts
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, count, 50_000):
            journeys.enrol(
                session=session,
                tenant=tenant,
                key="bench",
                oneids=oneids[start : start + 50_000],
                data={"vip": False},
            )
            session.commit()
        enrolled = time.perf_counter() - started
        steps = 0
        while True:
            report = journeys.run_due(session=session, ports=ports, worker="bench", limit=batch)
            steps += report.steps
            if report.enrolments == 0:
                break
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        completed = session.scalar(select(func.count()).where(Enrolment.status == "completed"))
        queued = channels.count_messages(session=session, tenant=tenant, status="queued")
    return {
        "enrolments": count,
        "enrol_seconds": round(enrolled, 2),
        "engine_seconds": round(seconds, 2),
        # CPU time of this process: on a shared machine wall time also counts waiting.
        "engine_cpu_seconds": round(cpu, 2),
        "enrolments_per_second": round(count / seconds),
        "steps_run": steps,
        "completed": completed,
        "messages_queued": queued,
    }


def _serve_gateway(pipe: Connection) -> None:
    """Child process: a fake Alibaba SMS gateway until told to stop, then its record."""
    cpu = time.process_time()
    with FakeAliyunSms() as gateway:
        pipe.send(gateway.url)
        pipe.recv()  # stop
        pipe.send(
            {
                "received": len(gateway.sent),
                "requests": gateway.requests,
                "duplicates": len(gateway.duplicates()),
                "cpu_seconds": time.process_time() - cpu,
            }
        )


@contextmanager
def _gateway_process() -> Iterator[tuple[str, dict[str, Any]]]:
    """The fake gateway in its own process, as a real one is on another machine: its
    CPU is then not counted against the sender (it still shares the machine's cores)."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=_serve_gateway, args=(theirs,))
    child.start()
    record: dict[str, Any] = {}
    try:
        yield str(ours.recv()), record
    finally:
        ours.send("stop")
        record.update(ours.recv())
        child.join(10)


def _dispatch_bench(store: Store, count: int, batch: int) -> dict[str, Any]:
    with _gateway_process() as (gateway_url, gateway), store.session() as session:
        tenant = get_tenant(session=session, name="default")
        _people(session, tenant, count)
        channels.configure_channel(
            session=session,
            tenant=tenant,
            channel="sms",
            config={
                "provider": "aliyun",
                "endpoint": gateway_url,
                "access_key_id": "LTAIfake",
                "access_key_secret": "fake-secret",
                "sign_name": "bench",
            },
        )
        quiet = channels.QuietHours(enabled=False)
        channels.set_policy(
            session=session, tenant=tenant, policy=channels.TouchPolicy(caps=[], quiet_hours=quiet)
        )
        session.commit()
        # the engine benchmark's messages were for made-up people: settle them first
        adapters = channels.Adapters()
        while channels.dispatch(
            session=session, adapters=adapters, worker="bench", limit=5000
        ).claimed:
            pass
        oneids = [
            o
            for _k, _s, _r, o in __import__("siyu.identity", fromlist=["x"]).iter_identity_map(
                session=session, tenant=tenant
            )
        ]
        people = sorted(set(oneids))[:count]
        channels.enqueue_messages(
            session=session,
            tenant=tenant,
            messages=[
                channels.NewMessage(key=f"bench-{o}", oneid=o, channel="sms", content=SMS)
                for o in people
            ],
        )
        session.commit()
        started, cpu = time.perf_counter(), time.process_time()
        sent = 0
        while True:
            report = channels.dispatch(
                session=session, adapters=adapters, worker="bench", limit=batch
            )
            sent += report.sent
            if report.claimed == 0:
                break
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu  # the sender only: the gateway is another process
        adapters.close()
    return {
        "messages": len(people),
        "messages_sent": sent,
        "gateway_received": gateway["received"],
        "gateway_requests": gateway["requests"],
        "duplicates": gateway["duplicates"],
        "dispatch_seconds": round(seconds, 2),
        "dispatch_cpu_seconds": round(cpu, 2),
        "gateway_cpu_seconds": round(gateway["cpu_seconds"], 2),
        "messages_per_second": round(sent / seconds) if seconds else 0,
    }


def _people(session: Any, tenant: TenantContext, count: int) -> None:
    """`count` customers with a phone and SMS consent, through the ordinary ingest path."""
    for start in range(0, count, 1000):
        records = [
            {
                "kind": "customer",
                "source": "pos",
                "external_id": f"b{n}",
                "identifiers": {"phone": f"13{n:09d}"},
                "name": f"会员{n}",
                "consent": {"sms": True},
            }
            for n in range(start, min(start + 1000, count))
        ]
        ingest.ingest_records(session=session, tenant=tenant, items=records, origin="bench")
