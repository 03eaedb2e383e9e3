"""Persons over HTTP: search, the 360° view, retired OneIDs, unmerge, guides' scope."""

from __future__ import annotations

import hashlib
import re
import secrets

import pytest
from fastapi.testclient import TestClient

from siyu import channels, identity, ingest, loyalty, profiles, tags
from siyu.runtime import Runtime
from siyu.tags import TagIn
from siyu.web.pages import persons as persons_page
from web_support import GUIDE_STAFF_ID, customer_oneids, sign_in


def _phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def _load(runtime: Runtime, *items: dict[str, object]) -> list[str]:
    """Import records into the demo store; their OneIDs."""
    with runtime.session() as session:
        _report, results = ingest.ingest_records(
            session=session, tenant=runtime.tenant(session), items=list(items), origin="test"
        )
    assert all(r.status == "accepted" for r in results), results
    return [str(r.oneid) for r in results]


def _customer(external_id: str, **fields: object) -> dict[str, object]:
    return {"kind": "customer", "source": "pos", "external_id": external_id, **fields}


def test_search_by_phone_name_and_hashed_phone(
    console: TestClient, console_runtime: Runtime
) -> None:
    sign_in(console, "operator")
    phone, hashed = _phone(), _phone()
    tag = secrets.token_hex(3)
    plain, only_hash = _load(
        console_runtime,
        _customer(f"s-{tag}", name=f"搜索{tag}", identifiers={"phone": phone}),
        _customer(
            f"h-{tag}",
            name=f"哈希{tag}",
            identifiers={"phone_sha256": hashlib.sha256(hashed.encode()).hexdigest()},
        ),
    )
    assert plain in console.get("/persons", params={"q": phone}).text
    assert plain in console.get("/persons", params={"q": f"搜索{tag}"}).text
    # A platform that gives only the phone's hash: the raw phone still finds the person.
    found = console.get("/persons", params={"q": hashed})
    assert only_hash in found.text and plain not in found.text
    none = console.get("/persons", params={"q": "no-such-person-anywhere"})
    assert none.status_code == 200 and "0" in none.text
    fragment = console.get("/persons", params={"q": phone}, headers={"HX-Request": "true"})
    assert plain in fragment.text and "<html" not in fragment.text


def test_the_360_view_shows_what_the_services_give(
    console: TestClient, console_runtime: Runtime
) -> None:
    sign_in(console, "analyst")
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        sample = profiles.persons_of_staff(session=session, tenant=tenant, staff_id=GUIDE_STAFF_ID)
        view = next(
            v
            for v in (
                profiles.get_person(session=session, tenant=tenant, oneid=p.oneid) for p in sample
            )
            if v.orders
        )
    page = console.get(f"/persons/{view.oneid}")
    assert page.status_code == 200
    html = page.text
    for order in view.orders:
        assert order.order_id in html
    for record in view.records:
        assert record.external_id in html
    for identifier in view.identifiers:
        assert identifier.value in html
    assert f"<strong>{view.traits.order_count}</strong>" in html
    assert "合并记录" in html and "事件时间线" in html  # zh-CN by default
    assert "/unmerge" not in html  # analysts read only
    explained = console.get(f"/persons/{view.oneid}/panel/explain")
    assert explained.status_code == 200 and "为什么" in explained.text
    assert console.get(f"/persons/{view.oneid}/panel/nope").status_code == 404
    assert console.get("/persons/NOSUCHONEID").status_code == 404


def test_panels_show_tags_membership_and_messages(
    console: TestClient, console_runtime: Runtime
) -> None:
    tag = secrets.token_hex(3)
    (oneid,) = _load(console_runtime, _customer(f"p-{tag}", identifiers={"phone": _phone()}))
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        tags.create_tag(session=session, tenant=tenant, tag=TagIn(key=f"vip{tag}"), by="test")
        tags.give_tag(session=session, tenant=tenant, key=f"vip{tag}", oneids=[oneid], by="test")
        loyalty.create_program(session=session, tenant=tenant, code=f"p{tag}", name="Club")
        loyalty.enrol_member(session=session, tenant=tenant, program=f"p{tag}", oneid=oneid)
        loyalty.adjust_points(
            session=session,
            tenant=tenant,
            program=f"p{tag}",
            oneid=oneid,
            points=321,
            reason="test",
            actor="test",
        )
        channels.enqueue_messages(
            session=session,
            tenant=tenant,
            messages=[
                channels.NewMessage(
                    key=f"m-{tag}",
                    oneid=oneid,
                    channel="sms",
                    origin=f"test:{tag}",
                    content={"zh-CN": {"text": "hi"}},
                )
            ],
        )
        session.commit()
    sign_in(console, "operator")
    assert f"vip{tag}" in console.get(f"/persons/{oneid}/panel/tags").text
    membership = console.get(f"/persons/{oneid}/panel/membership").text
    assert f"p{tag}" in membership and ">321<" in membership
    assert f"test:{tag}" in console.get(f"/persons/{oneid}/panel/messages").text
    assert "没有优惠券" in console.get(f"/persons/{oneid}/panel/coupons").text
    assert console.get(f"/persons/{oneid}/panel/audiences").status_code == 200
    assert console.get(f"/persons/{oneid}/panel/traits").status_code == 200


def test_a_retired_oneid_redirects_to_its_successor(
    console: TestClient, console_runtime: Runtime
) -> None:
    tag = secrets.token_hex(3)
    first, second = _load(
        console_runtime,
        _customer(f"r1-{tag}", identifiers={"phone": _phone()}),
        _customer(f"r2-{tag}", identifiers={"email": f"{tag}@example.com"}),
    )
    phone = _phone()
    _load(
        console_runtime,
        _customer(f"r1-{tag}", identifiers={"phone": phone, "email": f"{tag}@example.com"}),
    )
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        live = identity.current_oneid(session=session, tenant=tenant, oneid=first)
    retired = second if live == first else first
    sign_in(console, "analyst")
    response = console.get(f"/persons/{retired}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/persons/{live}"


def test_unmerge_changes_the_partition_and_keeps_the_reason(
    console: TestClient, console_runtime: Runtime
) -> None:
    tag, phone = secrets.token_hex(3), _phone()
    first, second = _load(
        console_runtime,
        _customer(f"u1-{tag}", identifiers={"phone": phone}),
        {**_customer(f"u2-{tag}", identifiers={"phone": phone}), "source": "tmall"},
    )
    assert first == second
    csrf = sign_in(console, "operator")
    page = console.get(f"/persons/{first}")
    link = f"/persons/{first}/unmerge?kind=customer&amp;source=tmall&amp;record_id=u2-{tag}"
    assert link in page.text
    confirm = console.get(link.replace("&amp;", "&"))
    assert confirm.status_code == 200 and "确认拆分" in confirm.text
    form = {"csrf": csrf, "kind": "customer", "source": "tmall", "record_id": f"u2-{tag}"}
    refused = console.post(f"/persons/{first}/unmerge", data={**form, "reason": " "})
    assert refused.status_code == 400 and "原因" in refused.text
    done = console.post(
        f"/persons/{first}/unmerge",
        data={**form, "reason": "两个人共用一个手机号"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    now = customer_oneids(console_runtime, [("pos", f"u1-{tag}"), ("tmall", f"u2-{tag}")])
    assert now[("pos", f"u1-{tag}")] != now[("tmall", f"u2-{tag}")]
    assert f"detached={now[('tmall', f'u2-{tag}')]}" in done.headers["location"]
    after = console.get(done.headers["location"])
    assert "两个人共用一个手机号" in after.text
    again = console.post(f"/persons/{first}/unmerge", data={**form, "reason": "again"})
    assert again.status_code == 409


def test_readers_cannot_unmerge(console: TestClient) -> None:
    csrf = sign_in(console, "analyst")
    form = {"csrf": csrf, "kind": "customer", "source": "pos", "record_id": "x", "reason": "r"}
    assert console.post("/persons/X/unmerge", data=form).status_code == 403
    assert console.get("/persons/X/unmerge?kind=a&source=b&record_id=c").status_code == 403


def test_a_guide_sees_only_their_own_customers(
    console: TestClient, console_runtime: Runtime
) -> None:
    tag = secrets.token_hex(3)
    mine_phone, other_phone = _phone(), _phone()
    mine, other = _load(
        console_runtime,
        _customer(
            f"g1-{tag}",
            name=f"导购{tag}",
            identifiers={"phone": mine_phone},
            staff_id=GUIDE_STAFF_ID,
        ),
        _customer(
            f"g2-{tag}", name=f"导购{tag}", identifiers={"phone": other_phone}, staff_id="G999"
        ),
    )
    sign_in(console, "guide")
    start = console.get("/persons")
    assert start.status_code == 200 and mine in start.text and other not in start.text
    by_name = console.get("/persons", params={"q": f"导购{tag}"}).text
    assert mine in by_name and other not in by_name
    assert other not in console.get("/persons", params={"q": other_phone}).text
    assert console.get(f"/persons/{mine}").status_code == 200
    assert console.get(f"/persons/{other}").status_code == 404
    assert console.get(f"/persons/{other}/panel/tags").status_code == 404
    assert console.get(f"/persons/{other}/panel/explain").status_code == 404
    assert console.get(f"/persons/{mine}/panel/tags").status_code == 200
    assert console.get("/imports").status_code == 403


def test_a_guides_list_pages_through_all_their_customers(
    console: TestClient, console_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persons_page, "GUIDE_PAGE", 2)
    tag = secrets.token_hex(3)
    _load(
        console_runtime,
        *(
            _customer(f"page{i}-{tag}", identifiers={"phone": _phone()}, staff_id=GUIDE_STAFF_ID)
            for i in range(3)
        ),
    )
    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        everyone = profiles.persons_of_staff(
            session=session, tenant=tenant, staff_id=GUIDE_STAFF_ID, limit=10**6
        )
    assert len(everyone) > 2
    sign_in(console, "guide")
    seen: list[str] = []
    path: str | None = "/persons"
    while path is not None:
        html = console.get(path).text
        seen.extend(p.oneid for p in everyone if f"/persons/{p.oneid}" in html)
        found = re.search(r'href="(/persons\?start=\d+)">下一页', html)
        path = found.group(1) if found else None
    assert seen == [p.oneid for p in everyone]
