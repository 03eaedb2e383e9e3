"""Fixtures for the CLI tests: a fresh SQLite file per test and a runner bound to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.runtime import Runtime, open_runtime

RunCli = Callable[..., Result]


@pytest.fixture
def cli_db(tmp_path: Path) -> str:
    """The URL of a SQLite file of this test's own (created on first use)."""
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def cli_run(cli_db: str) -> RunCli:
    """`cli_run("ingest", path)` runs `siyu --db <cli_db> ingest path` in-process."""
    runner = CliRunner()

    def run(*args: object, db: bool = True) -> Result:
        argv = [str(a) for a in args]
        return runner.invoke(app, ["--db", cli_db, *argv] if db else argv)

    return run


@pytest.fixture
def cli_runtime(cli_db: str) -> Iterator[Runtime]:
    """The same store, opened directly: for seeding data and checking results."""
    runtime = open_runtime(database_url=cli_db)
    yield runtime
    runtime.store.dispose()
