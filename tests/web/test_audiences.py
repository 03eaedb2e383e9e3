"""人群 and 标签 over HTTP: the builder's rule is what the rules domain gets, the live count
is the service's count, saved audiences keep the rule, bad rules give clear errors."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siyu import audiences, rules
from siyu.runtime import Runtime
from siyu.web import rule_form
from siyu.web.i18n import catalog
from web_support import sign_in

TWO_CONDITIONS = {
    "all": [
        {"trait": "lifecycle_stage", "op": "in", "value": ["active", "silent"]},
        {"not": {"trait": "order_count", "op": ">=", "value": 3}},
    ]
}


class _Form(HTMLParser):
    """The fields a browser would submit from a page's forms (ticked boxes, chosen options)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and "name" in a:
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def form_fields(html: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(html)
    return parser.fields


def _count(html: str) -> int:
    found = re.search(r'data-count="(\d+)"', html)
    assert found, html
    return int(found.group(1))


def _service_count(runtime: Runtime, rule: dict[str, object]) -> int:
    with runtime.session() as session:
        return audiences.preview(
            session=session,
            tenant=runtime.tenant(session),
            rule=rule,
            engine_dir=Path(runtime.settings.engine_dir),
        ).count


def test_live_count_equals_the_service_count(console: TestClient, console_runtime: Runtime) -> None:
    csrf = sign_in(console, "operator")
    page = console.get("/audiences/new")
    assert page.status_code == 200
    assert 'hx-trigger="change, keyup delay:500ms' in page.text
    fields = rule_form.fields_of(rule_form.from_rule(TWO_CONDITIONS))
    shown = console.post("/audiences/preview", data=fields, headers={"X-CSRF-Token": csrf})
    assert shown.status_code == 200
    assert _count(shown.text) == _service_count(console_runtime, TWO_CONDITIONS)
    assert _count(shown.text) > 0


def test_saved_audience_keeps_the_built_rule_and_reopens_in_the_builder(
    console: TestClient, console_runtime: Runtime
) -> None:
    csrf = sign_in(console, "operator")
    fields = rule_form.fields_of(rule_form.from_rule(TWO_CONDITIONS))
    saved = console.post(
        "/audiences",
        data={**fields, "csrf": csrf, "name": "web-活跃少单", "online": "1"},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with console_runtime.session() as session:
        stored = audiences.get_audience(
            session=session, tenant=console_runtime.tenant(session), name="web-活跃少单"
        )
    # Exactly what the rules domain makes of the rule the builder produced.
    assert stored.rule == rules.dump_rule(rules.parse_rule(TWO_CONDITIONS))
    listed = console.get("/audiences")
    assert "web-活跃少单" in listed.text

    # Opening it in the builder and reading the form back gives the stored rule again.
    edit = console.get("/audiences/web-活跃少单/edit")
    assert edit.status_code == 200
    form = {k: v for k, v in form_fields(edit.text).items() if k.startswith("n")}
    assert rule_form.to_rule(rule_form.from_form(form)) == stored.rule

    refreshed = console.post(
        "/audiences/web-活跃少单/refresh", data={"csrf": csrf}, follow_redirects=True
    )
    assert refreshed.status_code == 200
    size = int(re.search(r'id="size">([\d,]+)<', refreshed.text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert size == _service_count(console_runtime, stored.rule)
    assert 'id="history"' in refreshed.text and "data-option" in refreshed.text

    csv_text = console.get(
        "/audiences/web-活跃少单/export.csv", params=[("field", "oneid"), ("field", "city")]
    ).text.lstrip("\ufeff")
    lines = csv_text.strip().splitlines()
    assert lines[0] == "oneid,city" and len(lines) == size + 1


def test_bad_rules_show_the_problem_not_a_500(console: TestClient) -> None:
    csrf = sign_in(console, "operator")
    headers = {"X-CSRF-Token": csrf}
    unknown_tag = rule_form.fields_of(rule_form.Node("tag", values={"tag": "没有这个标签"}))
    shown = console.post("/audiences/preview", data=unknown_tag, headers=headers)
    assert shown.status_code == 200
    assert "unknown tag" in shown.text and 'role="alert"' in shown.text
    bad_number = {
        "n.kind": "trait",
        "n.field": "order_count",
        "n.op": ">=",
        "n.value": "many",
    }
    shown = console.post("/audiences/preview", data=bad_number, headers=headers)
    assert "order_count needs an int value" in unescape(shown.text)
    empty_group = {"n.kind": "any"}
    shown = console.post("/audiences/preview", data=empty_group, headers=headers)
    assert "at least 1 item" in shown.text
    refused = console.post(
        "/audiences", data={**bad_number, "csrf": csrf, "name": "web-bad"}, follow_redirects=False
    )
    assert refused.status_code == 422
    assert "order_count needs an int value" in unescape(refused.text)


def test_builder_buttons_add_group_and_remove_rows(console: TestClient) -> None:
    csrf = sign_in(console, "operator")
    headers = {"X-CSRF-Token": csrf}
    start = rule_form.fields_of(rule_form.blank())
    grown = console.post(
        "/audiences/builder", params={"action": "group", "at": "n"}, data=start, headers=headers
    )
    assert 'name="n-1.kind"' in grown.text and 'name="n-1-0.kind"' in grown.text
    tree = rule_form.edit(rule_form.from_form(start), "group", "n")
    assert rule_form.to_rule(tree) == {
        "all": [
            {"trait": "lifecycle_stage", "value": "active"},
            {"any": [{"trait": "lifecycle_stage", "value": "active"}]},
        ]
    }
    removed = console.post(
        "/audiences/builder",
        params={"action": "remove", "at": "n-0"},
        data=rule_form.fields_of(tree),
        headers=headers,
    )
    assert 'name="n-1.kind"' not in removed.text and 'name="n-0-0.kind"' in removed.text
    loaded = console.post(
        "/audiences/builder",
        params={"action": "load"},
        data={**start, "rule_json": '{"event": "message_clicked", "within_days": 7}'},
        headers=headers,
    )
    assert 'name="n.event" value="message_clicked"' in loaded.text


@pytest.mark.parametrize(
    "rule",
    [
        {"trait": "net_spend", "op": ">=", "value": "1000"},
        {"not": {"attribute": "city", "value": "上海"}},
        {"any": [{"has_identifier": "wechat_unionid"}, {"has_identifier": "phone"}]},
        {"bought": {"category": ["护肤"], "source": ["tmall", "jd"]}, "within_days": 90, "min": 2},
        {"bought": {}, "within_days": 60, "max": 0},
        {"event": ["message_clicked"], "within_days": 7, "min": 1},
        {"trait": "is_member", "value": True},
        {"attribute": "birthday_month", "op": "in", "value": [5, 6]},
        {"trait": "last_order_day", "op": "is_null"},
    ],
)
def test_rules_round_trip_through_the_form(rule: dict[str, object]) -> None:
    stored = rules.dump_rule(rules.parse_rule(rule))
    fields = rule_form.fields_of(rule_form.from_rule(stored))
    assert rule_form.to_rule(rule_form.from_form(fields)) == stored


def test_overlap_matrix_shows_the_service_numbers(
    console: TestClient, console_runtime: Runtime
) -> None:
    csrf = sign_in(console, "admin")
    for name, rule in (
        ("web-ov-活跃", {"trait": "lifecycle_stage", "value": "active"}),
        ("web-ov-复购", {"trait": "order_count", "op": ">=", "value": 2}),
    ):
        fields = rule_form.fields_of(rule_form.from_rule(rule))
        console.post("/audiences", data={**fields, "csrf": csrf, "name": name})
        console.post(f"/audiences/{name}/refresh", data={"csrf": csrf})
    page = console.get(
        "/audiences/overlap", params=[("name", "web-ov-活跃"), ("name", "web-ov-复购")]
    )
    assert page.status_code == 200
    with console_runtime.session() as session:
        report = audiences.overlap(
            session=session,
            tenant=console_runtime.tenant(session),
            names=["web-ov-活跃", "web-ov-复购"],
        )
    pair = report.pairs[0]
    cell = re.search(rf'data-a="{pair.a}" data-b="{pair.b}" data-both="(\d+)"', page.text)
    assert cell and int(cell.group(1)) == pair.both
    assert "heatmap" in unescape(page.text)


def test_tags_manual_give_import_and_rule_tag(console: TestClient) -> None:
    csrf = sign_in(console, "operator")
    made = console.post(
        "/audiences/tags",
        data={"csrf": csrf, "kind": "manual", "key": "web肤质=干"},
        follow_redirects=True,
    )
    assert made.status_code == 200 and 'data-tag="web肤质=干"' in made.text
    oneids = sorted(
        set(re.findall(r"/persons/([0-9A-Z]{26})", console.get("/audiences/web-活跃少单").text))
    )
    assert oneids, "the saved audience has members"
    given = console.post(
        "/audiences/tags/give",
        data={"csrf": csrf, "key": "web肤质=干", "oneids": "\n".join(oneids[:3])},
    )
    assert given.status_code == 200
    assert re.search(r'data-tag="web肤质=干">.*?data-holders="3"', given.text, re.S)
    imported = console.post(
        "/audiences/tags/import",
        data={"csrf": csrf, "tag": "web肤质=干"},
        files={"file": ("t.csv", f"oneid\n{oneids[3]}\nNOPE\n".encode(), "text/csv")},
    )
    assert imported.status_code == 200
    assert re.search(r'data-tag="web肤质=干">.*?data-holders="4"', imported.text, re.S)
    assert "第 3 行" in imported.text  # the bad row (NOPE), reported by its line
    rule_tag = rule_form.fields_of(rule_form.from_rule({"tag": "web肤质=干"}))
    made = console.post(
        "/audiences/tags",
        data={**rule_tag, "csrf": csrf, "kind": "rule", "key": "web干皮"},
        follow_redirects=True,
    )
    assert 'data-tag="web干皮"' in made.text
    computed = console.post("/audiences/tags/compute", data={"csrf": csrf})
    assert re.search(r'data-tag="web干皮">.*?data-holders="4"', computed.text, re.S)
    bad = console.post(
        "/audiences/tags", data={**rule_tag, "csrf": csrf, "kind": "rule", "key": "a=b=c"}
    )
    assert bad.status_code == 422 and "is not a tag key" in unescape(bad.text)


def test_analysts_read_but_cannot_write(console: TestClient) -> None:
    csrf = sign_in(console, "analyst")
    assert console.get("/audiences").status_code == 200
    assert console.get("/audiences/tags").status_code == 200
    assert console.get("/audiences/new").status_code == 403
    fields = rule_form.fields_of(rule_form.blank())
    assert console.post("/audiences", data={**fields, "csrf": csrf, "name": "x"}).status_code == 403
    assert console.post("/audiences/tags/compute", data={"csrf": csrf}).status_code == 403
    sign_in(console, "guide")
    assert console.get("/audiences").status_code == 403


def test_builder_labels_have_chinese() -> None:
    labels = (
        rule_form.KIND_LABELS,
        rule_form.FIELD_LABELS,
        rule_form.OP_LABELS,
        rule_form.PLACEHOLDERS,
    )
    missing = {text for found in labels for text in found.values()} - set(catalog("zh-CN"))
    assert not missing
    assert set(rule_form.FIELD_LABELS) == {*rules.TRAIT_FIELDS, *rules.ATTRIBUTE_FIELDS}
