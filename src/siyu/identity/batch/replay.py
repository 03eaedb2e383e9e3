"""The components a guard, a cannot-link or a weak identifier could affect: replayed with the
pure `Resolver` in arrival order, the same rules the online path applies record by record."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count

import ibis.expr.types as ir
import pyarrow as pa

from siyu.engine import Engine
from siyu.identity.batch.facts import KEYS, LINKS
from siyu.identity.batch.graph import Components
from siyu.identity.resolver import Incoming, Key, Resolver
from siyu.tenants import IdentityRules

GROUP_SCHEMA = pa.schema([("seq", pa.int64()), ("grp", pa.int64())])


@dataclass(frozen=True)
class BlockedLink:
    """A merge a guard refused: the record, the two persons (by first seq), key and guard."""

    seq: int
    grp: int
    other_grp: int
    key: Key
    guard: str


@dataclass(frozen=True)
class Replayed:
    groups: pa.Table  # seq, grp (the smallest seq of the record's person)
    blocked: list[BlockedLink]


def replay(
    engine: Engine,
    components: Components,
    *,
    rules: IdentityRules,
    constraints: Iterable[tuple[int, int]],
) -> Replayed:
    """Resolve the records of the components marked for replay, in arrival order."""
    if components.replay_records == 0:
        return Replayed(GROUP_SCHEMA.empty_table(), [])
    records, rows = components.replay_input or _replay_input(engine, components)
    records = records.sort_by("seq")
    rows = rows.sort_by([("seq", "ascending"), ("pos", "ascending")])
    counter = count(1)
    resolver = Resolver(
        rules=rules, new_oneid=lambda: f"~{next(counter):012d}", constraints=constraints
    )
    temp_of: list[str] = []
    seqs = records.column("seq").to_pylist()
    key_seqs = rows.column("seq").to_pylist()
    id_types = rows.column("id_type").cast(pa.string()).to_pylist()
    values = rows.column("value").to_pylist()
    at = 0
    kinds = records.column("kind").cast(pa.string()).to_pylist()
    for seq, kind in zip(seqs, kinds, strict=True):
        start = at
        while at < len(key_seqs) and key_seqs[at] == seq:
            at += 1
        record_keys = tuple(zip(id_types[start:at], values[start:at], strict=True))
        temp_of.append(resolver.add(Incoming(seq, kind, record_keys)))
    # A person is named by its first record: records come in arrival order.
    group_of: dict[str, int] = {}
    groups = []
    for seq, temp in zip(seqs, temp_of, strict=True):
        groups.append(group_of.setdefault(resolver.current(temp), seq))
    grp_of_seq = dict(zip(seqs, groups, strict=True))
    blocked = []
    for item in resolver.blocked:
        grp, other = grp_of_seq[item.seq], group_of[resolver.current(item.other)]
        if grp != other:  # joined later after all: nothing left to review
            blocked.append(BlockedLink(item.seq, grp, other, item.key, item.guard))
    return Replayed(pa.table({"seq": seqs, "grp": groups}, schema=GROUP_SCHEMA), blocked)


def _replay_input(engine: Engine, components: Components) -> tuple[pa.Table, pa.Table]:
    chosen = components.table.filter(components.table.replay).select("seq")
    links = engine.fact(LINKS).semi_join(chosen, "seq").select("seq", "kind")
    keys = engine.fact(KEYS).semi_join(chosen, "seq").select("seq", "pos", "id_type", "value")
    return engine.to_arrow(links), engine.to_arrow(keys)


def all_groups(engine: Engine, components: Components, replayed: Replayed) -> ir.Table:
    """seq, grp for every record: decided by the components, else by the replay."""
    decided = components.table.filter(~components.table.replay).select("seq", "grp")
    if replayed.groups.num_rows == 0:
        return decided
    return decided.union(engine.memtable("identity_replayed", replayed.groups))
