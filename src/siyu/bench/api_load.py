"""`siyu bench events`: single-event REST ingest under concurrent load, against a real
server (`siyu serve`, uvicorn, its own process) from N concurrent HTTP clients here.

The figure the brief asks for (events/s with identity, p99 latency) is one of a server with
many clients at once, which a sequential in-process client cannot show: concurrent events
share transactions (`siyu.api.batching`). Both processes share the machine's cores; each
one's CPU is reported.
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from siyu import online
from siyu.bench.api_ingest import customer_record, p99
from siyu.bench.ingest import machine
from siyu.runtime import open_runtime
from siyu.store import refresh_statistics
from siyu.tenants import create_api_key


def run_events_load(
    *,
    persons: int,
    events: int,
    concurrency: int,
    writer: str,
    database_url: str | None,
    work_dir: Path | None,
) -> dict[str, Any]:
    """Post `events` single events from `concurrency` clients to a fresh server writing
    them in its writing process or in a thread of its own (`writer`), over a new SQLite
    file or the store at `database_url` (events of this run get ids of their own)."""
    if database_url is None:
        base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-events-"))
        base.mkdir(parents=True, exist_ok=True)
        database = base / "events.db"
        database.unlink(missing_ok=True)
    url = database_url or f"sqlite:///{database}"
    run = secrets.token_hex(4)  # a store used before already holds earlier runs' events
    key = prepare_store(url, persons)
    port = free_port()
    server = start_server(url, port, writer)
    try:
        # imports, caches
        asyncio.run(_post(port, key, 50, persons, concurrency, f"{run}-warm"))
        server_cpu, writer_cpu = _cpu(server)
        own = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        latencies = asyncio.run(_post(port, key, events, persons, concurrency, f"{run}-e"))
        seconds = time.perf_counter() - started
        server_after, writer_after = _cpu(server)
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "benchmark": "events",
        "store": url.split(":", 1)[0].split("+", 1)[0],
        "run": run,
        "persons": persons,
        "events": events,
        "concurrency": concurrency,
        "writer": writer,
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds, 1),
        "median_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(p99(latencies) * 1000, 2),
        "server_cpu_seconds": round(server_after - server_cpu, 2),
        "writer_cpu_seconds": round(writer_after - writer_cpu, 2),  # its writing process
        "client_cpu_seconds": round(
            after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime, 2
        ),
        "target": ">= 2,000 events/s, p99 < 50 ms",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }


def prepare_store(url: str, persons: int) -> str:
    """A store with `persons` customers (the events' persons) and an API key."""
    runtime = open_runtime(database_url=url)
    try:
        with runtime.session() as session:
            tenant = runtime.tenant(session)
            key = create_api_key(
                session=session, tenant_id=tenant.id, name="bench", role="admin"
            ).key
            session.commit()
            for start in range(0, persons, 1000):
                customers = [customer_record(i) for i in range(start, min(persons, start + 1000))]
                online.accept_records(
                    session=session, tenant=tenant, items=customers, origin="bench"
                )
            refresh_statistics(session)  # as a loaded store would have them
            session.commit()
    finally:
        runtime.store.dispose()
    return key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    url: str, port: int, writer: str, *, capture: bool = False
) -> subprocess.Popen[bytes]:
    """`siyu serve` on `url` in a process group of its own, once it answers (`capture`:
    its output in `stdout`, else dropped)."""
    command = shutil.which("siyu", path=str(Path(sys.executable).parent)) or "siyu"
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    server = subprocess.Popen(
        [command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "SIYU_DATABASE_URL": url, "SIYU_API_WRITER": writer},
        stdout=output,
        stderr=subprocess.STDOUT if capture else subprocess.DEVNULL,
        start_new_session=True,  # as a terminal's job: signals to its group reach both
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start within 60 s")


def _cpu(process: subprocess.Popen[bytes]) -> tuple[float, float]:
    """CPU seconds used so far by the server's own process and by its children."""
    found = psutil.Process(process.pid)
    own = found.cpu_times()
    children = sum(sum(c.cpu_times()[:2]) for c in found.children())
    return float(own.user + own.system), float(children)


async def _post(
    port: int, key: str, events: int, persons: int, concurrency: int, prefix: str
) -> list[float]:
    """Each client posts the next event as soon as its last one is answered, on its own
    kept-alive connection. Requests are written as raw HTTP/1.1: a general-purpose client
    spent more CPU per request than the server, so it measured itself."""
    latencies: list[float] = []
    numbers = iter(range(events))
    head = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    ).encode()

    async def one_client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in numbers:
                body = orjson.dumps(
                    {
                        "kind": "event",
                        "source": "miniapp",
                        "event_id": f"{prefix}{i}",
                        "customer_ref": {"external_id": f"c{i % persons}"},
                        "type": "page_view",
                        "occurred_at": datetime.now(UTC).isoformat(),
                    }
                )
                tick = time.perf_counter()
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                status = await _response(reader)
                latencies.append(time.perf_counter() - tick)
                if status != 200:
                    raise RuntimeError(f"event {prefix}{i}: HTTP {status}")
        finally:
            writer.close()

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return latencies


async def _response(reader: asyncio.StreamReader) -> int:
    """Read one response (status line, headers, a Content-Length body); its status."""
    header = await reader.readuntil(b"\r\n\r\n")
    lines = header.split(b"\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return int(lines[0].split(b" ", 2)[1])
