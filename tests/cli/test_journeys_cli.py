"""`siyu journey ...`, `siyu channel ...` and `siyu worker --once` end to end."""

from __future__ import annotations

from pathlib import Path

import orjson

from siyu import tags
from siyu.runtime import Runtime
from siyu.tenants import get_tenant
from support import customer, ingest

from .conftest import RunCli

JOURNEY = """
key: welcome
name: 欢迎新会员
trigger: {type: manual}
steps:
  - id: hello
    type: send
    channel: sms
    content:
      zh-CN: {template: SMS_1, params: {name: "{{ person.name }}"}}
  - id: tag
    type: tag
    add: [welcomed]
reentry: {policy: once}
"""


def test_journey_lifecycle_and_worker(
    cli_run: RunCli, cli_runtime: Runtime, tmp_path: Path
) -> None:
    with cli_runtime.session() as session:
        tenant = get_tenant(session=session, name="default")
        oneid = ingest(session, tenant, customer("pos", "c1", {"phone": "13800000001"}, name="王"))[
            0
        ].oneid
        session.commit()
    spec = tmp_path / "welcome.yaml"
    spec.write_text(JOURNEY, encoding="utf-8")
    assert cli_run("journey", "create", spec).exit_code == 0
    assert cli_run("journey", "create", spec).exit_code == 1  # exists
    assert cli_run("journey", "enrol", "welcome", oneid).exit_code == 1  # still a draft
    assert cli_run("journey", "start", "welcome").exit_code == 0
    listed = orjson.loads(cli_run("journey", "list", "--json").stdout)
    assert [(j["key"], j["status"], j["live_version"]) for j in listed] == [("welcome", "live", 1)]
    enrolled = cli_run("journey", "enrol", "welcome", oneid)
    assert "enrolled 1" in enrolled.stdout
    assert "enrolled 0, skipped 1" in cli_run("journey", "enrol", "welcome", oneid).stdout
    # the worker's ports reach the real tags domain; no SMS account: the message fails
    assert cli_run("worker", "--once").exit_code == 0
    found = orjson.loads(cli_run("journey", "enrolments", "welcome", "--json").stdout)
    (enrolment,) = found
    assert enrolment["status"] == "completed" and enrolment["last_error"] is None
    trace = orjson.loads(cli_run("journey", "trace", str(enrolment["id"]), "--json").stdout)
    assert [t["result"] for t in trace["trace"]] == ["queued", "tagged", "completed"]
    assert trace["messages"][0]["status"] == "failed"  # channel sms is not configured
    with cli_runtime.session() as session:
        held = tags.tags_of_person(session=session, tenant=tenant, oneid=oneid or "")
    assert [(t.key, t.given_by_kind) for t in held] == [("welcomed", "journey")]
    shown = orjson.loads(cli_run("journey", "show", "welcome", "--json").stdout)
    assert shown["in_flight"] == {} and shown["definition"]["steps"][1]["add"] == ["welcomed"]
    spec.write_text(JOURNEY.replace("[welcomed]", "[welcomed, v2]"), encoding="utf-8")
    assert "version 2 (live)" in cli_run("journey", "update", spec).stdout
    assert cli_run("journey", "pause", "welcome").exit_code == 0
    assert cli_run("journey", "pause", "welcome").exit_code == 1


def test_channel_commands(cli_run: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "sms.json"
    config.write_bytes(
        orjson.dumps(
            {"provider": "aliyun", "access_key_id": "a", "access_key_secret": "b", "sign_name": "c"}
        )
    )
    assert cli_run("channel", "configure", "sms", config).exit_code == 0
    assert cli_run("channel", "configure", "fax", config).exit_code == 2
    policy = tmp_path / "policy.json"
    policy.write_bytes(orjson.dumps({"caps": [{"channel": "sms", "limit": 1, "per": "P7D"}]}))
    shown = orjson.loads(cli_run("channel", "policy", policy).stdout)
    assert shown["caps"] == [{"channel": "sms", "category": "marketing", "limit": 1, "per": "P7D"}]
    assert cli_run("channel", "unsubscribe", "01ONEID", "sms").exit_code == 0
    assert orjson.loads(cli_run("channel", "messages", "--json").stdout) == []


def test_demo_runs_a_worker_beside_the_api(cli_runtime: Runtime, tmp_path: Path) -> None:
    import time

    from siyu import journeys
    from siyu.cli.demo import _worker_thread

    spec = tmp_path / "welcome.yaml"
    spec.write_text(JOURNEY.replace("  - id: tag\n    type: tag\n    add: [welcomed]\n", ""))
    with cli_runtime.session() as session:
        tenant = get_tenant(session=session, name="default")
        oneid = ingest(session, tenant, customer("pos", "c1", {"phone": "13800000001"}))[0].oneid
        assert oneid is not None
        definition = journeys.load_definition(spec)
        journeys.create_journey(session=session, tenant=tenant, definition=definition)
        journeys.start_journey(session=session, tenant=tenant, key="welcome")
        journeys.enrol(session=session, tenant=tenant, key="welcome", oneids=[oneid])
        session.commit()
    with _worker_thread(cli_runtime, enabled=True):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with cli_runtime.session() as session:
                tenant = get_tenant(session=session, name="default")
                (found,) = journeys.list_enrolments(session=session, tenant=tenant, key="welcome")
            if found.status == "completed":
                break
            time.sleep(0.1)
    assert found.status == "completed"
