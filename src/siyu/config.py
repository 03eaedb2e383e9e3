"""Runtime configuration from `SIYU_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings; per-tenant rules live in the store, not here."""

    model_config = SettingsConfigDict(env_prefix="SIYU_", extra="ignore")

    database_url: str = "sqlite:///./siyu.db"
    default_tenant: str = "default"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Where the API's group-committed records are written: "process" (a writing process
    # of its own, so requests and imports each get a core) or "thread" (in the server).
    api_writer: Literal["process", "thread"] = "process"
    # Records per store transaction during an import (None: 20,000 in bulk mode, else
    # 5,000): large enough to amortise commits, small enough that a crash re-imports
    # little and memory stays flat.
    ingest_batch_size: int | None = None
    # Where the columnar engine keeps each tenant's Parquet snapshot of the facts it reads
    # (a local path now; the same layout serves Spark from object storage later).
    engine_dir: str = "./siyu-engine"
    # The batch engine `siyu compute` uses unless told otherwise: "duckdb" or "spark".
    engine: str = "duckdb"
    spark_master: str = "local[2]"
    # Extra Spark settings applied over siyu's defaults, e.g. for a cluster:
    # SIYU_SPARK_CONF='{"spark.executor.memory": "8g", "spark.sql.shuffle.partitions": "400"}'
    spark_conf: dict[str, str] = {}
    # The key sealing stored credentials (channel secrets): a Fernet key in SIYU_SECRET_KEY, or
    # else a key file created on first use (mode 0600). Every process sharing a store (API,
    # workers) needs the same key.
    secret_key: str | None = None
    secret_key_file: str = "./siyu.key"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (e.g. `--db`) winning."""
    values = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**values)  # type: ignore[arg-type]
