"""What batch runs keeping holders as intervals share (rule tags, audiences): the open
intervals as a snapshot fact, the diff against a rule's result, and the due-check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
from sqlalchemy import Select
from sqlalchemy.orm import Session

from siyu import engine as eng

OPEN = "open_intervals"
_SCHEMA = pa.schema([("id", pa.int64()), ("owner", pa.int64()), ("oneid", pa.string())])
_BATCH = 20_000


def open_intervals(session: Session, query: Select[Any]) -> eng.ExtraFact:
    """Fact `OPEN` from a query of open intervals selecting (id, owner id, oneid)."""

    def batches() -> Iterator[dict[str, list[Any]]]:
        result = session.execute(query.execution_options(yield_per=_BATCH))
        for rows in result.partitions(_BATCH):
            yield {name: [r[i] for r in rows] for i, name in enumerate(_SCHEMA.names)}

    return eng.ExtraFact(_SCHEMA, batches())


def diff(engine: eng.Engine, selected: ir.Table, owner: int) -> tuple[list[str], list[int]]:
    """(OneIDs to enter, interval ids to close) for `owner`, from the persons `selected`
    (with a `oneid` column) and its open intervals in fact `OPEN`."""
    current = engine.fact(OPEN)
    mine = current.filter(current.owner == owner)
    entered = engine.to_arrow(selected.select("oneid").anti_join(mine, "oneid"))
    exited = engine.to_arrow(mine.anti_join(selected, "oneid").select("id"))
    return entered.column("oneid").to_pylist(), exited.column("id").to_pylist()


def due(last: datetime | None, every_minutes: int | None, now: datetime) -> bool:
    """Whether a run with this interval is due (never when there is no interval)."""
    if every_minutes is None:
        return False
    return last is None or last + timedelta(minutes=every_minutes) <= now
