"""`siyu serve` as a real process: events written by its writing process, and Ctrl-C (a
SIGINT to the whole process group) stops both cleanly after what was taken is written."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from siyu.bench.api_load import free_port, prepare_store, start_server
from siyu.records.models import Event
from siyu.store import open_store


def test_ctrl_c_stops_the_server_and_its_writer_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    key = prepare_store(url, 3)
    port = free_port()
    server = start_server(url, port, "process", capture=True)
    try:
        base = f"http://127.0.0.1:{port}"
        event = {
            "source": "web",
            "event_id": "e-1",
            "customer_ref": {"external_id": "c1"},
            "type": "page_view",
            "occurred_at": "2024-05-01T10:00:00+08:00",
        }
        posted = httpx.post(
            f"{base}/api/v1/events",
            json=event,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert posted.status_code == 200, posted.text
        os.killpg(server.pid, signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.returncode == 0
    assert b"KeyboardInterrupt" not in output and b"Traceback" not in output
    store = open_store(url)
    try:
        with store.session() as session:
            assert session.query(Event).filter(Event.event_id == "e-1").count() == 1
    finally:
        store.dispose()
