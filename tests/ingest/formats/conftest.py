"""Platform export tests: each imports sample files through `siyu ingest --format` in-process
(Typer's CliRunner) into a fresh SQLite file and reads back what was stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from siyu import identity, ingest
from siyu.cli.main import app
from siyu.records import CustomerRecord, Order
from siyu.runtime import Runtime, open_runtime

SAMPLES = Path(__file__).resolve().parents[3] / "examples" / "formats"


@dataclass
class Store:
    """What the imports stored, read back through the runtime."""

    runtime: Runtime

    def orders(self, source: str) -> dict[str, Order]:
        with self.runtime.session() as session:
            tenant = self.runtime.tenant(session)
            rows = session.scalars(
                select(Order).where(Order.tenant_id == tenant.id, Order.source == source)
            )
            found = {row.order_id: row for row in rows}
            session.expunge_all()  # readable after the session closes
            return found

    def customers(self, source: str) -> dict[str, CustomerRecord]:
        with self.runtime.session() as session:
            tenant = self.runtime.tenant(session)
            rows = session.scalars(
                select(CustomerRecord).where(
                    CustomerRecord.tenant_id == tenant.id, CustomerRecord.source == source
                )
            )
            found = {row.external_id: row for row in rows}
            session.expunge_all()
            return found

    def quarantine(self) -> list[ingest.QuarantineEntry]:
        with self.runtime.session() as session:
            return ingest.list_quarantine(session=session, tenant=self.runtime.tenant(session))

    def oneids(self) -> dict[tuple[str, str, str], str]:
        """(kind, source, record id) -> OneID."""
        with self.runtime.session() as session:
            tenant = self.runtime.tenant(session)
            return {
                (kind, source, record_id): oneid
                for kind, source, record_id, oneid in identity.iter_identity_map(
                    session=session, tenant=tenant
                )
            }


Ingest = Callable[..., dict[str, Any]]


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[Store]:
    runtime = open_runtime(database_url=f"sqlite:///{tmp_path / 'formats.db'}")
    yield Store(runtime)
    runtime.store.dispose()


@pytest.fixture
def siyu(tmp_path: Path) -> Callable[..., Any]:
    """`siyu(*args)` runs `siyu --db <this test's db> *args` and returns the click result."""
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'formats.db'}"
    return lambda *args: runner.invoke(app, ["--db", url, *[str(a) for a in args]])


@pytest.fixture
def ingest_format(siyu: Callable[..., Any]) -> Ingest:
    """`ingest_format("jd", "jd/orders.csv")`: import samples, return the JSON report."""

    def run(name: str, *files: str | Path, options: tuple[str, ...] = ()) -> dict[str, Any]:
        paths = [f if isinstance(f, Path) else SAMPLES / f for f in files]
        result = siyu("ingest", "--format", name, *options, *paths, "--json")
        assert result.exit_code == 0, result.output
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    return run


def entries_by_line(store: Store) -> dict[tuple[str, int], ingest.QuarantineEntry]:
    """Open quarantine entries by (file name, line)."""
    return {(Path(e.file or "").name, e.line or 0): e for e in store.quarantine()}
