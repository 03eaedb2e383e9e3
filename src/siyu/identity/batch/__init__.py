"""The batch rebuild of OneID in the columnar engine (DuckDB or Spark).

`partition` computes who is who from the link facts: components (fast: DuckDB + scipy;
portable: Ibis label propagation), then the pure `Resolver` over the few components a rule
could affect. `name_partition` keeps OneIDs stable (on integer arrays when the fast path
has every record's person in memory), `naming.diff_store` diffs against the store;
`writeback` writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir
import pyarrow as pa

from siyu.engine import Engine
from siyu.identity.batch.fast import fast_components
from siyu.identity.batch.graph import METHODS, Components
from siyu.identity.batch.naming import Naming, name_persons
from siyu.identity.batch.naming_arrays import name_records
from siyu.identity.batch.portable import portable_components
from siyu.identity.batch.replay import Replayed, all_groups, record_groups, replay
from siyu.tenants import IdentityRules


@dataclass(frozen=True)
class Partition:
    """Every record's person (`groups`: seq, grp = the person's first seq), and how."""

    components: Components
    replayed: Replayed
    groups: ir.Table
    seconds: dict[str, float] = field(default_factory=dict)  # components, replay
    records: pa.Table | None = None  # `groups` in memory, by seq (the fast path)


def partition(
    engine: Engine,
    *,
    rules: IdentityRules,
    constraints: Sequence[tuple[int, int]],
    method: str,
    pinned: Collection[int] = (),
) -> Partition:
    """Resolve every record in the engine: components, then replay where rules could bite
    (`pinned`: records whose components are always replayed, those of approved overrides)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    started = time.perf_counter()
    # Records under a manual decision (a cannot-link, an approved override): the resolver
    # decides their components, as the component rule cannot.
    constrained = {seq for pair in constraints for seq in pair} | set(pinned)
    find = fast_components if method == "fast" else portable_components
    components = find(engine, rules=rules, constrained=constrained)
    found = time.perf_counter()
    replayed = replay(engine, components, rules=rules, constraints=constraints)
    done = time.perf_counter()
    return Partition(
        components=components,
        replayed=replayed,
        groups=all_groups(engine, components, replayed),
        seconds={"components": found - started, "replay": done - found},
        records=record_groups(components, replayed),
    )


def name_partition(engine: Engine, found: Partition, *, new_oneid: Callable[[], str]) -> Naming:
    """Name the persons found: in numpy when their groups are in memory, else in the engine."""
    if found.records is not None:
        return name_records(found.records, new_oneid=new_oneid)
    return name_persons(engine, found.groups, new_oneid=new_oneid)


def default_method(engine: str) -> str:
    """DuckDB takes the fast path; Spark (a cluster) the portable one."""
    return "fast" if engine == "duckdb" else "portable"
