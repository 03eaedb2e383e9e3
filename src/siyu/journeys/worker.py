"""`siyu worker`: one loop that fires triggers, runs due enrolments and sends messages.
No cron: timers live in the store and any number of workers share them by leases."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from siyu import channels
from siyu.journeys.engine import run_due
from siyu.journeys.ports import Ports
from siyu.journeys.triggers import run_triggers
from siyu.store import Store
from siyu.store.bulk import freeze_heap

log = logging.getLogger(__name__)


def worker_id() -> str:
    """host:pid:random — unique per worker process."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerOptions:
    batch: int = 1000
    lease: timedelta = timedelta(seconds=60)
    message_lease: timedelta = timedelta(seconds=120)
    idle_sleep: float = 0.5
    confirmations_every: float = 60.0  # seconds between WeCom confirmation checks
    stop_when_idle: bool = False  # exit once nothing is due (tests, one-off runs)


@dataclass
class WorkerTotals:
    passes: int = 0
    steps: int = 0
    enrolments: int = 0
    triggered: int = 0
    messages_sent: int = 0
    messages_suppressed: int = 0
    errors: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def run_worker(
    *,
    store: Store,
    ports: Ports,
    adapters: channels.Adapters,
    options: WorkerOptions | None = None,
    stop: threading.Event | None = None,
    on_pass: Callable[[WorkerTotals], None] | None = None,
) -> WorkerTotals:
    """Work until `stop` is set (or, with `stop_when_idle`, until nothing is due)."""
    options = options or WorkerOptions()
    stop = stop or threading.Event()
    freeze_heap()  # what is loaded by now lives as long as the worker
    me = worker_id()
    totals = WorkerTotals()
    last_confirmations = 0.0
    while not stop.is_set():
        busy = 0
        try:
            with store.session() as session:
                fired = run_triggers(session=session, ports=ports, worker=me)
                ran = run_due(
                    session=session,
                    ports=ports,
                    worker=me,
                    limit=options.batch,
                    lease=options.lease,
                )
                sent = channels.dispatch(
                    session=session,
                    adapters=adapters,
                    worker=me,
                    limit=options.batch,
                    lease=options.message_lease,
                )
                if time.monotonic() - last_confirmations > options.confirmations_every:
                    last_confirmations = time.monotonic()
                    channels.check_confirmations(session=session, adapters=adapters)
            busy = ran.enrolments + sent.claimed + fired.triggered
            totals.passes += 1
            totals.steps += ran.steps
            totals.enrolments += ran.enrolments
            totals.triggered += fired.triggered
            totals.messages_sent += sent.sent
            totals.messages_suppressed += sent.suppressed
        except Exception:  # a bad pass must not kill the worker: log, back off, go on
            log.exception("worker pass failed")
            totals.errors += 1
            busy = 0
        if on_pass is not None:
            on_pass(totals)
        if busy == 0:
            if options.stop_when_idle:
                break
            stop.wait(options.idle_sleep)
    return totals
