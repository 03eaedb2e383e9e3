"""The only place where DuckDB and Spark would disagree: helpers every computation uses.

Ibis compiles the same expression to both engines, but a few operations mean different
things there (measured in tests/engine/test_portable.py, where the raw forms are kept as
known gaps). We define ours explicitly and build them from operations both agree on:

- Day differences: DuckDB counts calendar days crossed between timestamps, Spark full 24 h
  periods. Ours: calendar days between *local dates* (the snapshot keeps a tenant-local
  copy of every time), which both compute the same.
- Float → integer: DuckDB rounds, Spark truncates. We never cast floats: money is integer
  fen and ratios are integer divisions rounded half away from zero (`round_div`).
- Quantiles: approximate on some engines. Scores by quantile are computed from exact
  ranks (`quantile_score`), which need no percentile function at all.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

Expr = Any  # Ibis expressions are dynamically typed; keep signatures readable


def local_day(local_time: Expr) -> Expr:
    """The calendar date of a tenant-local timestamp column (`<time>_local` in a snapshot)."""
    return local_time.date()


def days_between(later: Expr | date, earlier: Expr | date) -> Expr:
    """Whole calendar days from `earlier` to `later` (dates; negative if later is earlier)."""
    return _as_date(later).delta(_as_date(earlier), unit="day")


def _as_date(value: Expr | date) -> Expr:
    return ibis.date(value) if isinstance(value, date) else value


def round_div(numerator: Expr, denominator: Expr) -> Expr:
    """Integer `numerator / denominator` rounded half away from zero (denominator > 0).

    Built from floor division, which both engines define as flooring for integers.
    """
    magnitude = (numerator.abs() * 2 + denominator) // (denominator * 2)
    return ibis.ifelse(numerator < 0, -magnitude, magnitude).cast("int64")


def quantile_score(
    value: Expr, *, buckets: int, partition: Expr | None = None, eligible: Expr | None = None
) -> Expr:
    """Score 1..buckets by exact rank: 1 + floor(buckets × (values below) / count).

    Equal values share a score (ranks are "min" ranks); rows where `eligible` is false or
    `value` is null get null. Pure integer window arithmetic, so every engine agrees.
    """
    group = [partition] if partition is not None else []
    window = ibis.window(group_by=group, order_by=value)
    below = ibis.rank().over(window)  # 0-based min rank: how many values are smaller
    count = value.count().over(ibis.window(group_by=group))
    score = (below * buckets) // count + 1
    keep = value.notnull() if eligible is None else (eligible & value.notnull())
    return ibis.ifelse(keep, score.cast("int64"), ibis.null("int64"))


def fixed_score(value: Expr, cut_points: list[int], *, descending: bool = False) -> Expr:
    """Score by fixed cut points: 1 + (cut points <= value), or for `descending` (smaller is
    better, e.g. recency) len + 1 - (cut points < value). Null stays null."""
    passed: Expr = ibis.literal(0, "int64")
    for cut in cut_points:
        hit = (value > cut) if descending else (value >= cut)
        passed = passed + ibis.ifelse(hit, 1, 0)
    score = (len(cut_points) + 1 - passed) if descending else (passed + 1)
    return ibis.ifelse(value.isnull(), ibis.null("int64"), score.cast("int64"))


def top_per_group(table: ir.Table, *, group: str, value: str, order_by: list[Expr]) -> ir.Table:
    """For each `group`, the `value` ranked first by `order_by` (ties broken by `value`).

    A deterministic "favourite": row_number over an explicit total order, not `mode()`
    (which picks an arbitrary winner among ties, differently per engine).
    """
    window = ibis.window(group_by=table[group], order_by=[*order_by, table[value]])
    ranked = table.mutate(_rank=ibis.row_number().over(window))
    return ranked.filter(ranked._rank == 0).select(group, value)
