"""旅程 over HTTP: the canvas draws every step, the editor saves what the service stores,
bad definitions are explained, start/pause, roles, and the funnel equals the service's."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from journey_console_support import PERSONS, journey_with_results
from siyu import journeys
from siyu.runtime import Runtime
from web_support import sign_in


def definition(key: str, **changes: Any) -> dict[str, Any]:
    """Trigger + send + wait + branch + tag: every kind of arrow on the canvas."""
    data: dict[str, Any] = {
        "key": key,
        "name": f"Welcome {key}",
        "trigger": {"type": "event", "event_type": "member_joined"},
        "steps": [
            {
                "id": "hello",
                "type": "send",
                "channel": "sms",
                "content": {"zh-CN": {"template": "SMS_1", "params": {}}},
            },
            {
                "id": "wait",
                "type": "wait",
                "until_event": {"event_type": "order", "timeout": "P3D", "on_timeout": "vip"},
            },
            {"id": "bought", "type": "tag", "add": ["welcome-buyer"], "next": "end"},
            {
                "id": "vip",
                "type": "branch",
                "cases": [
                    {"when": {"field": "person.tier", "op": "eq", "value": "gold"}, "next": "gift"}
                ],
                "next": "end",
            },
            {"id": "gift", "type": "grant", "points": 100},
        ],
        "goal": {"event_type": "order", "within": "P7D"},
    }
    data.update(changes)
    return data


def stored(runtime: Runtime, key: str, version: int | None = None) -> journeys.JourneyDetail:
    with runtime.session() as session:
        return journeys.get_journey(
            session=session, tenant=runtime.tenant(session), key=key, version=version
        )


def create(console: TestClient, token: str, data: dict[str, Any]) -> Any:
    return console.post(
        "/journeys/_new",
        data={"csrf": token, "definition": json.dumps(data, ensure_ascii=False)},
        follow_redirects=False,
    )


def canvas_steps(html: str) -> set[str]:
    svg = html[html.index('<svg class="journey-canvas"') : html.index("</svg>")]
    return set(re.findall(r'<g class="node kind-[a-z]+" data-step="([^"@][^"]*)"', svg))


def test_saved_definition_equals_what_the_service_stores(
    console: TestClient, console_runtime: Runtime
) -> None:
    token = sign_in(console, "operator")
    data = definition("web-welcome")
    response = create(console, token, data)
    assert response.status_code == 303
    assert response.headers["location"] == "/journeys/web-welcome?note=created"
    saved = stored(console_runtime, "web-welcome")
    assert saved.status == "draft" and saved.latest_version == 1
    assert saved.definition == journeys.JourneyDefinition.model_validate(data)
    # YAML is accepted as well and lands as the same definition
    yaml_text = (
        "key: web-yaml\nname: 欢迎\ntrigger: {type: manual}\nsteps:\n  - {id: bye, type: exit}\n"
    )
    response = console.post(
        "/journeys/_new", data={"csrf": token, "definition": yaml_text}, follow_redirects=False
    )
    assert response.status_code == 303
    assert stored(console_runtime, "web-yaml").definition.name == "欢迎"


def test_canvas_shows_every_step_and_every_arrow(console: TestClient) -> None:
    token = sign_in(console, "admin")
    create(console, token, definition("web-canvas"))
    page = console.get("/journeys/web-canvas")
    assert page.status_code == 200
    assert canvas_steps(page.text) == {"hello", "wait", "bought", "vip", "gift"}
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    edges = set(re.findall(r'data-from="([^"]+)" data-to="([^"]+)"', svg))
    assert edges == {
        ("@trigger", "hello"),
        ("hello", "wait"),
        ("wait", "bought"),  # the order arrived
        ("wait", "vip"),  # the timeout
        ("bought", "@end"),
        ("vip", "gift"),
        ("vip", "@end"),
        ("gift", "@end"),
    }
    # the same flow as a list, for screen readers
    assert 'id="step-vip"' in page.text and "person.tier = gold" in unescape(page.text)


def test_invalid_definitions_get_a_clear_error_and_nothing_is_saved(
    console: TestClient, console_runtime: Runtime
) -> None:
    token = sign_in(console, "admin")
    bad = definition("web-bad")
    bad["steps"][0]["channel"] = "fax"
    bad["steps"][3]["cases"][0]["next"] = "nowhere"
    response = create(console, token, bad)
    assert response.status_code == 400
    text = unescape(response.text)
    assert "steps[0] (hello) → channel" in text and "'sms'" in text
    assert 'role="alert"' in response.text
    # the text stays in the editor to be fixed
    assert "fax" in text
    broken = console.post("/journeys/_new", data={"csrf": token, "definition": '{"key": "x",'})
    assert broken.status_code == 400 and "JSON:" in broken.text and "line 1" in broken.text
    unknown = definition("web-bad")
    unknown["steps"][3]["cases"][0]["next"] = "nowhere"
    response = create(console, token, unknown)
    assert "points to unknown step &#39;nowhere&#39;" in response.text
    with console_runtime.session() as session:
        keys = [
            j.key
            for j in journeys.list_journeys(session=session, tenant=console_runtime.tenant(session))
        ]
    assert "web-bad" not in keys


def test_saving_makes_a_new_version_and_versions_open_and_diff(
    console: TestClient, console_runtime: Runtime
) -> None:
    token = sign_in(console, "operator")
    create(console, token, definition("web-versions"))
    changed = definition("web-versions", name="Welcome v2")
    changed["steps"][0]["content"]["zh-CN"]["template"] = "SMS_2"
    response = console.post(
        "/journeys/web-versions",
        data={"csrf": token, "definition": json.dumps(changed)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert stored(console_runtime, "web-versions").latest_version == 2
    first = console.get("/journeys/web-versions?version=1")
    assert "SMS_1" in first.text and 'aria-current="true"' in first.text
    diff = console.get("/journeys/web-versions/diff?old=1&new=2")
    assert '<span class="del">-' in diff.text and "SMS_2" in diff.text
    # the key of a journey cannot change through its editor
    moved = console.post(
        "/journeys/web-versions",
        data={"csrf": token, "definition": json.dumps(definition("web-other"))},
    )
    assert moved.status_code == 400 and "web-versions" in moved.text
    assert stored(console_runtime, "web-versions").latest_version == 2


def test_step_forms_add_and_remove_steps_on_the_text(console: TestClient) -> None:
    token = sign_in(console, "operator")
    headers = {"X-CSRF-Token": token}
    start = json.dumps(definition("web-form"))
    added = console.post(
        "/journeys/_workbench",
        headers=headers,
        data={
            "definition": start,
            "op": "add",
            "type": "send",
            "id": "coupon-sms",
            "after": "hello",
            "channel": "sms",
            "template": "SMS_9",
        },
    )
    assert added.status_code == 200
    text = unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", added.text, re.S).group(1))  # type: ignore[union-attr]
    steps = [s["id"] for s in json.loads(text)["steps"]]
    assert steps == ["hello", "coupon-sms", "wait", "bought", "vip", "gift"]
    assert "coupon-sms" in canvas_steps(added.text)
    removed = console.post(
        "/journeys/_workbench",
        headers=headers,
        data={"definition": start, "op": "remove", "step": "bought"},
    )
    text = unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", removed.text, re.S).group(1))  # type: ignore[union-attr]
    data = json.loads(text)
    assert [s["id"] for s in data["steps"]] == ["hello", "wait", "vip", "gift"]
    assert "problems" not in removed.text  # the wait now goes where "bought" went
    trigger = console.post(
        "/journeys/_workbench",
        headers=headers,
        data={
            "definition": start,
            "op": "trigger",
            "trigger_type": "audience_enter",
            "trigger_value": "vip",
        },
    )
    assert '"audience": "vip"' in unescape(trigger.text)
    # edit one step on its own: its JSON opens next to the canvas, applying it replaces it
    editing = console.post(
        "/journeys/_workbench",
        headers=headers,
        data={"definition": start, "op": "edit", "step": "hello"},
    )
    shown = unescape(
        re.search(r'<textarea id="step-json"[^>]*>(.*?)</textarea>', editing.text, re.S).group(1)
    )  # type: ignore[union-attr]
    step = json.loads(shown)
    assert step["id"] == "hello" and step["content"]["zh-CN"]["template"] == "SMS_1"
    step["id"], step["content"]["zh-CN"]["template"] = "greet", "SMS_7"
    applied = console.post(
        "/journeys/_workbench",
        headers=headers,
        data={"definition": start, "op": "replace", "step": "hello", "step_json": json.dumps(step)},
    )
    text = unescape(
        re.search(r'<textarea id="definition"[^>]*>(.*?)</textarea>', applied.text, re.S).group(1)
    )  # type: ignore[union-attr]
    assert json.loads(text)["steps"][0] == step
    assert "greet" in canvas_steps(applied.text) and "problems" not in applied.text
    broken = console.post(
        "/journeys/_workbench",
        headers=headers,
        data={"definition": start, "op": "replace", "step": "hello", "step_json": "{oops"},
    )
    assert "the step is not valid JSON" in broken.text


def test_start_and_pause_change_the_status(console: TestClient, console_runtime: Runtime) -> None:
    token = sign_in(console, "operator")
    create(console, token, definition("web-start"))
    response = console.post(
        "/journeys/web-start/start", data={"csrf": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert stored(console_runtime, "web-start").status == "live"
    listing = console.get("/journeys")
    row = re.search(r'<tr data-key="web-start">(.*?)</tr>', listing.text, re.S)
    assert row and "status-live" in row.group(1)
    console.post("/journeys/web-start/pause", data={"csrf": token})
    assert stored(console_runtime, "web-start").status == "paused"
    again = console.post("/journeys/web-start/pause", data={"csrf": token})
    assert again.status_code == 409 and "paused, not live" in again.text
    console.post("/journeys/web-start/start", data={"csrf": token})
    assert stored(console_runtime, "web-start").status == "live"


def test_analysts_read_but_cannot_write(console: TestClient, console_runtime: Runtime) -> None:
    token = sign_in(console, "admin")
    create(console, token, definition("web-roles"))
    token = sign_in(console, "analyst")
    page = console.get("/journeys/web-roles")
    assert page.status_code == 200 and "<textarea" not in page.text
    assert "/journeys/web-roles/start" not in page.text
    assert console.get("/journeys").status_code == 200
    assert console.get("/journeys/_new").status_code == 403
    assert create(console, token, definition("web-analyst")).status_code == 403
    assert console.post("/journeys/web-roles/start", data={"csrf": token}).status_code == 403
    changed = json.dumps(definition("web-roles", name="changed"))
    assert (
        console.post("/journeys/web-roles", data={"csrf": token, "definition": changed}).status_code
        == 403
    )
    assert stored(console_runtime, "web-roles").status == "draft"
    sign_in(console, "guide")
    assert console.get("/journeys").status_code == 403


@pytest.fixture(scope="module")
def results_journey(console_runtime: Runtime) -> Iterator[str]:
    journey_with_results(console_runtime, "web-results", "1370001")
    yield "web-results"


def test_funnel_and_ab_numbers_equal_the_service(
    console: TestClient, console_runtime: Runtime, results_journey: str
) -> None:
    with console_runtime.session() as session:
        report = journeys.journey_results(
            session=session, tenant=console_runtime.tenant(session), key=results_journey
        )
    assert report is not None
    sign_in(console, "analyst")
    page = console.get(f"/journeys/{results_journey}/results")
    assert page.status_code == 200
    shown: dict[tuple[str, str], dict[str, str]] = {}
    for step, arm, cells in re.findall(
        r'<tr data-step="([^"]+)" data-arm="([^"]+)">(.*?)</tr>', page.text, re.S
    ):
        shown[(step, arm)] = dict(re.findall(r'data-stage="([a-z]+)">([^<]*)<', cells))
    everything = {(step.step, counts.arm): counts for step in report.funnel for counts in step.arms}
    # arms that never reach a step (the holdout after the split) are left out, all zero
    expected = {where: counts for where, counts in everything.items() if counts.entered}
    assert set(shown) == set(expected)
    assert all(c.sent == c.converted == 0 for w, c in everything.items() if w not in expected)
    for where, counts in expected.items():
        for stage in ("entered", "sent", "delivered", "clicked", "converted"):
            assert int(shown[where][stage]) == getattr(counts, stage), (where, stage)
        assert Decimal(shown[where]["revenue"].replace(",", "")) == counts.revenue
    # the funnel is real: people were sent, delivered, clicked and converted
    totals = {
        s: sum(getattr(c, s) for c in expected.values())
        for s in ("sent", "delivered", "clicked", "converted")
    }
    assert all(totals.values()), totals
    assert sum(c.entered for (step, _a), c in expected.items() if step == "ab") == PERSONS
    # A/B: each arm against the holdout, with the service's p-values
    arms = {arm.arm: arm for arm in report.results.arms}
    assert report.results.control == "holdout" and set(arms) == {"holdout", "A", "B"}
    for name in ("A", "B"):
        row = re.search(
            rf'<tr data-arm="{name}">(.*?)</tr>', page.text.split('class="arms"')[1], re.S
        )
        assert row is not None
        p_value = arms[name].vs_control["conversion"].p_value
        assert p_value is not None
        assert f'data-metric="p">{p_value:.3f}<' in row.group(1)
    # the chart carries the same numbers as the table
    option = json.loads(unescape(re.findall(r"data-option='(.*?)'", page.text)[0]))
    entered = next(s for s in option["series"] if s["name"] in ("entered", "进入"))
    assert entered["data"] == [sum(c.entered for c in step.arms) for step in report.funnel]


def test_enrolment_trace_for_support(
    console: TestClient, console_runtime: Runtime, results_journey: str
) -> None:
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        found = journeys.list_enrolments(session=session, tenant=tenant, key=results_journey)
        sent = next(e for e in found if e.arm in ("A", "B"))
        detail = journeys.get_enrolment(session=session, tenant=tenant, enrolment_id=sent.id)
    sign_in(console, "operator")
    listing = console.get(f"/journeys/_enrolments?q={sent.oneid}")
    assert f'href="/journeys/_enrolments/{sent.id}"' in listing.text
    assert (
        console.get(f"/journeys/_enrolments?q={sent.id}", follow_redirects=False).status_code == 303
    )
    page = console.get(f"/journeys/_enrolments/{sent.id}")
    assert page.status_code == 200
    rows = re.findall(
        r"<tr><td>([0-9: -]+)</td><td>([^<]+)</td>", page.text.split('class="trace"')[1]
    )
    assert [step for _at, step in rows] == [t.step or "—" for t in detail.trace]
    assert detail.messages and detail.messages[0]["key"] in page.text
    assert console.get("/journeys/_enrolments/999999999").status_code == 404
