"""The batch engine: Ibis over DuckDB (in-process, default) or Spark, reading a snapshot.

Computations receive an `Engine` and build Ibis expressions from its facts; they never
name the backend. Results come back as Arrow tables.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from siyu.engine.snapshot import Snapshot

ENGINES = ("duckdb", "spark")
NATIVE_FILE = "derived.duckdb"  # DuckDB's own file of a snapshot's derived facts
_NATIVE = "derived"
_NATIVE_SCHEMA = (_NATIVE, "main")


class EngineUnavailableError(RuntimeError):
    """The engine asked for cannot run here (e.g. no pyspark or no Java); says why."""


@dataclass
class Engine:
    """One connection to a backend, reading one snapshot's facts."""

    name: str
    backend: Any
    snapshot: Snapshot
    _facts: dict[str, ir.Table] = field(default_factory=dict)
    _attached: bool | None = None  # DuckDB's derived file: None, or attached read-only?

    def fact(self, name: str) -> ir.Table:
        """A fact of the snapshot as an Ibis table (read once per engine)."""
        if name not in self._facts:
            if self._native(name):
                self._facts[name] = self.backend.table(name, database=_NATIVE_SCHEMA)
                return self._facts[name]
            path = self.snapshot.path(name)
            if not path.exists():
                raise KeyError(f"snapshot {self.snapshot.root} has no fact {name!r}")
            self._facts[name] = self._read(path)
        return self._facts[name]

    def has_fact(self, name: str) -> bool:
        """Whether the snapshot has fact `name` for this engine (derived facts are kept in
        the format of the engine that derived them)."""
        return name in self._facts or self._native(name) or self.snapshot.path(name).exists()

    def _read(self, path: Path) -> ir.Table:
        # DuckDB reads a glob of files, Spark a directory: the same layout serves both.
        source = str(path / "*.parquet") if self.name == "duckdb" else str(path)
        return self.backend.read_parquet(source)

    def memtable(self, name: str, data: pa.Table) -> ir.Table:
        """A small table made here (e.g. the OneIDs an incremental run recomputes).

        Written beside the snapshot's facts and read like them, so it reaches every engine
        the same way (Spark does not see Ibis in-memory tables inside cached results).
        """
        path = self.snapshot.root / "_scratch" / name
        path.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path / "part-00000.parquet")
        return self._read(path)

    def scratch(self, expr: ir.Table) -> ir.Table:
        """Run `expr` once and read its result back (a run's intermediate result, e.g. a
        rule's persons that several diffs read), as Parquet under the snapshot's scratch."""
        path = self.snapshot.root / "_scratch" / f"{secrets.token_hex(8)}"
        self._write_parquet(expr, path)
        return self._read(path)

    def materialise(self, name: str, expr: ir.Table) -> ir.Table:
        """Run `expr` once, keep its result as fact `name` of the snapshot, and read it back.

        For derived facts many later queries read (e.g. the per-person tables rules run
        on), computed once per snapshot and before it is published: Spark keeps them as
        Parquet like every fact; DuckDB in its own file beside them (`derived.duckdb`),
        whose native tables it scans several times faster than Parquet.
        """
        if self.name == "duckdb":
            self._attach(read_only=False)
            self.backend.create_table(name, obj=expr, database=_NATIVE_SCHEMA, overwrite=True)
            # Read-only again at once: other processes may then open the file too.
            self._attach(read_only=True)
            self._facts[name] = self.backend.table(name, database=_NATIVE_SCHEMA)
        else:
            self._write_parquet(expr, self.snapshot.path(name))
            self._facts[name] = self._read(self.snapshot.path(name))
        return self._facts[name]

    def _write_parquet(self, expr: ir.Table, path: Path) -> None:
        if self.name == "duckdb":
            path.mkdir(parents=True, exist_ok=True)
            self.backend.to_parquet(expr, path / "part-00000.parquet")
        else:  # Spark writes a directory of part files
            self.backend.to_parquet(expr, path, mode="overwrite")

    def _native(self, name: str) -> bool:
        """Whether DuckDB's file of derived facts has table `name` (attaching it if so)."""
        if self.name != "duckdb" or not (self.snapshot.root / NATIVE_FILE).exists():
            return False
        if self._attached is None:
            self._attach(read_only=True)
        return name in self.backend.list_tables(database=_NATIVE_SCHEMA)

    def _attach(self, *, read_only: bool) -> None:
        if self._attached == read_only:
            return
        if self._attached is not None:
            self.backend.detach(_NATIVE)
        self.backend.attach(self.snapshot.root / NATIVE_FILE, name=_NATIVE, read_only=read_only)
        self._attached = read_only

    def checkpoint(self, name: str, expr: ir.Table) -> ir.Table:
        """Run `expr` into Parquet beside the facts (a fresh `name`) and read it back.

        For iterative work: the next step starts from stored rows, not from a plan that
        grows with every step (Spark re-plans, and without storage may recompute, the whole
        lineage). Runs in the engine; nothing passes through this process."""
        path = self.snapshot.root / "_scratch" / name
        if self.name == "duckdb":
            path.mkdir(parents=True, exist_ok=True)
            self.backend.to_parquet(expr, str(path / "part-00000.parquet"))
        else:
            self.backend.to_parquet(expr, str(path))
        return self._read(path)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        """Run `expr` and return its result."""
        return self.backend.to_pyarrow(expr)

    def count(self, expr: ir.Table) -> int:
        """The number of rows of `expr`."""
        return int(self.backend.execute(expr.count()))

    def close(self) -> None:
        if self.name == "duckdb":
            self.backend.disconnect()


def open_engine(
    name: str,
    *,
    snapshot: Snapshot,
    spark_master: str = "local[2]",
    spark_conf: Mapping[str, str] | None = None,
) -> Engine:
    """An engine of kind `name` ("duckdb" or "spark") over `snapshot`.

    `spark_conf` (e.g. SIYU_SPARK_CONF) is applied over our defaults when the process's
    Spark session starts; a session already running keeps the settings it started with."""
    if name == "duckdb":
        return Engine(name, ibis.duckdb.connect(), snapshot)
    if name == "spark":
        conf = tuple(sorted((spark_conf or {}).items()))
        return Engine(name, ibis.pyspark.connect(spark_session(spark_master, conf)), snapshot)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def spark_unavailable() -> str | None:
    """Why Spark cannot run here, or None when pyspark and Java are present."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'siyu[spark]')"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "Java is not installed (Spark needs Java 17)"
    return None


@functools.cache
def spark_session(master: str, conf: tuple[tuple[str, str], ...] = ()) -> Any:
    """One Spark session per process (it takes seconds to start); UTC, quiet, temp warehouse."""
    reason = spark_unavailable()
    if reason:
        raise EngineUnavailableError(reason)
    from pyspark.sql import SparkSession

    # A fresh warehouse directory: reruns would otherwise fail with LOCATION_ALREADY_EXISTS.
    warehouse = tempfile.mkdtemp(prefix="siyu-spark-warehouse-")
    builder = (
        SparkSession.builder.master(master)
        .appName("siyu")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for key, value in conf:  # a cluster's own settings (executors, partitions) win
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
