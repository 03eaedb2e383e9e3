"""The columnar batch engine: Ibis on DuckDB or Spark over per-tenant Parquet snapshots."""

from siyu.engine import portable
from siyu.engine.backends import (
    ENGINES,
    NATIVE_FILE,
    Engine,
    EngineUnavailableError,
    open_engine,
    spark_session,
    spark_unavailable,
)
from siyu.engine.snapshot import (
    FACT_SCHEMAS,
    ExtraFact,
    Snapshot,
    current_snapshot,
    discard_snapshot,
    export_snapshot,
    publish_snapshot,
    with_local_times,
    write_fact,
)

__all__ = [
    "ENGINES",
    "FACT_SCHEMAS",
    "NATIVE_FILE",
    "Engine",
    "EngineUnavailableError",
    "ExtraFact",
    "Snapshot",
    "current_snapshot",
    "discard_snapshot",
    "export_snapshot",
    "open_engine",
    "portable",
    "publish_snapshot",
    "spark_session",
    "spark_unavailable",
    "with_local_times",
    "write_fact",
]
