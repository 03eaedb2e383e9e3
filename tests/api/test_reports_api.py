"""Reports over the REST API: the list, one report, an unknown name."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from siyu.runtime import Runtime
from traits.test_compute import BASE


def test_reports_api(
    api_client: TestClient, api_runtime: Runtime, api_headers: dict[str, str], tmp_path: Path
) -> None:
    api_runtime.settings.engine_dir = str(tmp_path / "engine")
    posted = api_client.post("/api/v1/records", json={"records": BASE}, headers=api_headers)
    assert posted.status_code == 200 and posted.json()["quarantined"] == 0
    listed = api_client.get("/api/v1/reports", headers=api_headers).json()
    assert "repurchase" in {r["name"] for r in listed}
    found = api_client.get("/api/v1/reports/repurchase", headers=api_headers)
    assert found.status_code == 200
    # The online refresh already knows the purchase counts: A 3, C 2, B, E and F 1.
    rows = {r["orders"]: r["buyers"] for r in found.json()["rows"]}
    assert rows == {"1": 3, "2": 1, "3": 1}
    missing = api_client.get("/api/v1/reports/nope", headers=api_headers)
    assert missing.status_code == 404
    assert api_client.get("/api/v1/reports/repurchase").status_code == 401
