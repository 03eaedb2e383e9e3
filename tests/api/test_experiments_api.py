"""GET /api/v1/experiments and /api/v1/experiments/{name}/report."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu import experiments
from siyu.runtime import Runtime
from support import Files

from .conftest import MakeKey


def seed(runtime: Runtime, files: Files, tenant: str | None = None) -> None:
    rows = [{"arm": "ctl", "buy": i % 4 == 0, "spend": i % 7} for i in range(200)]
    rows += [{"arm": "new", "buy": i % 3 == 0, "spend": i % 9} for i in range(200)]
    path = files.csv("units.csv", [{**r, "buy": int(bool(r["buy"]))} for r in rows])
    with runtime.session() as session:
        experiments.import_csv(
            session=session,
            tenant=runtime.tenant(session, tenant),
            path=path,
            name="promo",
            arm_column="arm",
            control="ctl",
            metrics=experiments.parse_metrics("buy,spend"),
        )
        session.commit()


def test_report_over_rest_equals_the_service_report(
    api_runtime: Runtime, api_client: TestClient, api_headers: dict[str, str], files: Files
) -> None:
    seed(api_runtime, files)
    response = api_client.get(
        "/api/v1/experiments/promo/report",
        params={"confidence": 0.9, "interval": "wald", "correction": "holm"},
        headers=api_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    options = experiments.ReportOptions(confidence=0.9, interval="wald", correction="holm")
    with api_runtime.session() as session:
        expected = experiments.experiment_report(
            session=session, tenant=api_runtime.tenant(session), name="promo", options=options
        )
    assert body == expected.model_dump(mode="json")
    new = body["arms"][1]
    assert new["arm"] == "new" and new["vs_control"]["buy"]["relative_lift"] is not None
    listed = api_client.get("/api/v1/experiments", headers=api_headers).json()
    assert [(e["name"], e["units"]) for e in listed] == [("promo", 400)]


def test_report_errors_and_access(
    api_runtime: Runtime, api_client: TestClient, api_make_key: MakeKey, files: Files
) -> None:
    seed(api_runtime, files)
    headers = {"Authorization": f"Bearer {api_make_key('analyst')}"}
    assert api_client.get("/api/v1/experiments/promo/report").status_code == 401
    assert api_client.get("/api/v1/experiments/promo/report", headers=headers).status_code == 200
    missing = api_client.get("/api/v1/experiments/nope/report", headers=headers)
    assert missing.status_code == 404 and "no experiment 'nope'" in missing.json()["detail"]
    bad = api_client.get(
        "/api/v1/experiments/promo/report", params={"confidence": 1.5}, headers=headers
    )
    assert bad.status_code == 422
    other = {"Authorization": f"Bearer {api_make_key('admin', tenant='other')}"}
    assert api_client.get("/api/v1/experiments/promo/report", headers=other).status_code == 404
