"""The CDNOW sample (2,357 customers) from the `lifetimes==0.11.3` wheel, as test data only.

Found, in order: `SIYU_CDNOW_WHEEL` (the wheel file, or a directory holding it), an
installed `lifetimes`, or `pip download lifetimes==0.11.3 --no-deps` into a cache directory
(`SIYU_CDNOW_CACHE`, default ~/.cache/siyu-tests). Tests skip with the reason when none
works, and fail instead when `SIYU_REQUIRE_CDNOW=1` (CI).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import orjson
import pytest

WHEEL = "lifetimes==0.11.3"
INSIDE = "lifetimes/datasets/"
SOURCE = "cdnow"
# The published calibration period ends here; the models use weeks.
UNTIL = date(1997, 9, 30)
PUBLISHED: dict[str, tuple[dict[str, float], float | None]] = {
    "bgnbd": ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    "pareto-nbd": ({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
    "gamma-gamma": ({"p": 6.25, "q": 3.74, "gamma": 15.44}, None),
}


def assert_published(model: str, params: dict[str, float], log_likelihood: float) -> None:
    expected, published_ll = PUBLISHED[model]
    assert list(params) == list(expected)
    for name, value in expected.items():
        assert params[name] == pytest.approx(value, abs=0.01), (model, name, params)
    if published_ll is not None:
        assert round(log_likelihood, 1) == published_ll


@dataclass(frozen=True)
class Cdnow:
    transactions: list[tuple[str, str, str]]  # (customer id, yyyymmdd, dollars)
    summary: dict[str, tuple[int, float, float]]  # id -> (frequency, recency, T), 2 decimals


def cdnow() -> Cdnow:
    """The CDNOW sample, or skip (fail under SIYU_REQUIRE_CDNOW=1) saying why it is missing."""
    found, reason = _load()
    if found is None:
        if os.environ.get("SIYU_REQUIRE_CDNOW") == "1":
            pytest.fail(f"SIYU_REQUIRE_CDNOW=1 but the CDNOW data is unavailable: {reason}")
        pytest.skip(f"CDNOW data unavailable ({reason}); set SIYU_CDNOW_WHEEL to the wheel")
    return found


@cache
def _load() -> tuple[Cdnow | None, str]:
    files, reason = _files()
    if files is None:
        return None, reason
    transactions = [
        (fields[1].lstrip("0"), fields[2], fields[4])
        for fields in (line.split() for line in files["CDNOW_sample.txt"].splitlines())
        if fields
    ]
    rows = csv.DictReader(io.StringIO(files["cdnow_customers_summary.csv"]))
    summary = {r["ID"]: (int(r["frequency"]), float(r["recency"]), float(r["T"])) for r in rows}
    return Cdnow(transactions, summary), ""


def _files() -> tuple[dict[str, str] | None, str]:
    names = ("CDNOW_sample.txt", "cdnow_customers_summary.csv")
    given = os.environ.get("SIYU_CDNOW_WHEEL")
    if given:
        wheel = _wheel_in(Path(given))
        if wheel is None:
            return None, f"SIYU_CDNOW_WHEEL={given} holds no lifetimes wheel"
        return _from_wheel(wheel, names), ""
    spec = find_spec("lifetimes")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "datasets"
        if all((folder / n).is_file() for n in names):
            return {n: (folder / n).read_text() for n in names}, ""
    cache_dir = Path(os.environ.get("SIYU_CDNOW_CACHE", Path.home() / ".cache" / "siyu-tests"))
    wheel = _wheel_in(cache_dir)
    if wheel is None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", cache_dir]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            return None, f"pip download {WHEEL} failed: {error}"
        wheel = _wheel_in(cache_dir)
        if wheel is None:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"pip download {WHEEL} failed: {tail[0]}"
    return _from_wheel(wheel, names), ""


def _wheel_in(path: Path) -> Path | None:
    if path.is_file():
        return path
    found = sorted(path.glob("[Ll]ifetimes-0.11.3-*.whl")) if path.is_dir() else []
    return found[0] if found else None


def _from_wheel(wheel: Path, names: tuple[str, ...]) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        return {n: archive.read(INSIDE + n).decode() for n in names}


def cdnow_records(data: Cdnow) -> list[dict[str, Any]]:
    """One customer record per CDNOW customer and one order per transaction line.

    Times are noon local time (no offset: the tenant's zone); amounts are the dollars paid.
    """
    records: list[dict[str, Any]] = [
        {"kind": "customer", "source": SOURCE, "external_id": cid}
        for cid in dict.fromkeys(c for c, _d, _v in data.transactions)
    ]
    for line, (cid, day, dollars) in enumerate(data.transactions, start=1):
        records.append(
            {
                "kind": "order",
                "source": SOURCE,
                "order_id": f"{cid}-{line}",
                "customer_ref": {"external_id": cid},
                "status": "completed",
                "created_at": f"{day[:4]}-{day[4:6]}-{day[6:]}T12:00:00",
                "currency": "USD",
                "total_amount": dollars,
                "paid_amount": dollars,
            }
        )
    return records


def write_cdnow_jsonl(path: Path) -> Path:
    """The CDNOW transactions as a canonical JSONL file at `path` (or skip, see `cdnow`)."""
    lines = (orjson.dumps(r) for r in cdnow_records(cdnow()))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path
