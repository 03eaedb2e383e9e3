"""Console review of blocked merges: approve and dismiss buttons, the reviewed tab, roles."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu import identity
from siyu.runtime import Runtime
from web_support import blocked_pair, sign_in


def test_operator_approves_and_dismisses_from_the_list(
    console: TestClient, console_runtime: Runtime
) -> None:
    approve, dismiss = blocked_pair(console_runtime), blocked_pair(console_runtime)
    csrf = sign_in(console, "operator")
    page = console.get("/imports/blocked")
    assert page.status_code == 200
    for item in (approve, dismiss):
        assert f'id="blocked-{item.id}"' in page.text
        assert f'action="/imports/blocked/{item.id}"' in page.text

    done = console.post(
        f"/imports/blocked/{approve.id}",
        data={"csrf": csrf, "decision": "approve", "reason": "同一位顾客"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/imports/blocked?decided={approve.id}"
    kept = console.post(
        f"/imports/blocked/{dismiss.id}",
        data={"csrf": csrf, "decision": "dismiss", "reason": "家人共用手机"},
        follow_redirects=False,
    )
    assert kept.status_code == 303

    with console_runtime.session() as session:
        tenant = console_runtime.tenant(session)
        live = identity.current_oneid(session=session, tenant=tenant, oneid=approve.oneid)
        assert live == approve.other_oneid  # merged under the older OneID
        other = identity.current_oneid(session=session, tenant=tenant, oneid=dismiss.oneid)
        assert other == dismiss.oneid != dismiss.other_oneid
    open_list = console.get("/imports/blocked").text
    assert f'id="blocked-{approve.id}"' not in open_list
    assert f'id="blocked-{dismiss.id}"' not in open_list
    reviewed = console.get("/imports/blocked", params={"status": "reviewed"}).text
    assert f'id="blocked-{approve.id}"' in reviewed and f'id="blocked-{dismiss.id}"' in reviewed
    assert "同一位顾客" in reviewed and "家人共用手机" in reviewed and "t-operator" in reviewed
    assert f'action="/imports/blocked/{approve.id}"' not in reviewed  # no buttons once decided

    again = console.post(
        f"/imports/blocked/{approve.id}",
        data={"csrf": csrf, "decision": "dismiss", "reason": "changed my mind"},
    )
    assert again.status_code == 409
    no_reason = console.post(
        f"/imports/blocked/{approve.id}", data={"csrf": csrf, "decision": "approve"}
    )
    assert no_reason.status_code == 400
    odd = console.post(
        f"/imports/blocked/{approve.id}", data={"csrf": csrf, "decision": "maybe", "reason": "x"}
    )
    assert odd.status_code == 400


def test_deciding_needs_a_writer_and_the_csrf_token(
    console: TestClient, console_runtime: Runtime
) -> None:
    item = blocked_pair(console_runtime)
    for role in ("analyst", "guide"):
        csrf = sign_in(console, role)
        refused = console.post(
            f"/imports/blocked/{item.id}",
            data={"csrf": csrf, "decision": "approve", "reason": "x"},
        )
        assert refused.status_code == 403, role
    sign_in(console, "admin")
    forged = console.post(
        f"/imports/blocked/{item.id}",
        data={"csrf": "not-the-token", "decision": "approve", "reason": "x"},
    )
    assert forged.status_code == 403
    with console_runtime.session() as session:
        still = identity.list_blocked(session=session, tenant=console_runtime.tenant(session))
        assert item.id in {b.id for b in still}  # nothing decided
