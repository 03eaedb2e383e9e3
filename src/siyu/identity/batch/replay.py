"""The components a guard, a cannot-link or a weak identifier could affect: replayed with the
pure `Resolver` in arrival order, the same rules the online path applies record by record."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import count, islice
from multiprocessing.connection import Connection

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from siyu.engine import Engine
from siyu.identity.batch.facts import KEYS, LINKS
from siyu.identity.batch.graph import Components
from siyu.identity.resolver import Incoming, Key, Resolver
from siyu.tenants import IdentityRules

Pair = tuple[int, int]
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
    workers: int = 2,
) -> Replayed:
    """Resolve the records of the components marked for replay, in arrival order."""
    if components.replay_records == 0:
        return Replayed(GROUP_SCHEMA.empty_table(), [])
    records, rows = components.replay_input or _replay_input(engine, components)
    records, pairs = records.sort_by("seq"), tuple(constraints)
    parts = _split(records, rows, workers if components.replay_records >= FORK_FROM else 1)
    if len(parts) == 1:
        return _resolve(parts[0], rules, pairs)
    # Full components are independent: the other parts are resolved in forked workers
    # (they read the parent's tables in place) while this process resolves the first.
    context = multiprocessing.get_context("fork")
    children = []
    for part in parts[1:]:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_worker, args=(send, part, rules, pairs), daemon=True)
        child.start()
        send.close()
        children.append((child, receive))
    results = [_resolve(parts[0], rules, pairs)]
    for child, receive in children:
        try:
            outcome = receive.recv()
        except EOFError:  # died without a word (killed, out of memory)
            child.join()
            outcome = RuntimeError(f"a replay worker died (exit code {child.exitcode})")
        child.join()
        if isinstance(outcome, BaseException):
            raise outcome
        results.append(outcome)
    groups = pa.concat_tables([r.groups for r in results]).sort_by("seq")
    blocked = sorted((b for r in results for b in r.blocked), key=lambda b: b.seq)
    return Replayed(groups, blocked)


# Below this many records a fork costs more than it saves (and tests stay in-process).
FORK_FROM = 20_000

_Part = tuple[pa.Table, pa.Table]


def _split(records: pa.Table, rows: pa.Table, workers: int) -> list[_Part]:
    """The records (and their key rows) in up to `workers` parts of whole full components,
    about equal in records."""
    if (
        workers < 2
        or "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # may not start processes of its own
    ):
        return [(records, rows)]
    full = records.column("full").to_numpy()
    labels, first, sizes = np.unique(full, return_index=True, return_counts=True)
    del first
    # Whole components, in label order, cut where the running total passes each share.
    cuts = np.searchsorted(np.cumsum(sizes), np.arange(1, workers) * (len(full) / workers))
    part_of_label = np.zeros(len(labels), dtype=np.int64)
    for cut in cuts:
        part_of_label[cut + 1 :] += 1
    part = part_of_label[np.searchsorted(labels, full)]
    seqs = records.column("seq").to_numpy()
    row_part = part[np.searchsorted(seqs, rows.column("seq").to_numpy())] if len(seqs) else part
    return [
        (records.filter(pa.array(part == i)), rows.filter(pa.array(row_part == i)))
        for i in range(workers)
        if np.any(part == i)
    ]


def _worker(send: Connection, part: _Part, rules: IdentityRules, pairs: Sequence[Pair]) -> None:
    try:
        send.send(_resolve(part, rules, pairs))
    except BaseException as error:  # handed to the parent, which raises it
        send.send(error)
    finally:
        send.close()


def _resolve(part: _Part, rules: IdentityRules, constraints: Sequence[Pair]) -> Replayed:
    """The pure Resolver over some whole full components' records, in arrival order."""
    records, rows = part
    rows = rows.sort_by([("seq", "ascending"), ("pos", "ascending")])
    # Temporary names: only compared within this run, so the cheapest strings do.
    resolver = Resolver(rules=rules, new_oneid=map(str, count(1)).__next__, constraints=constraints)
    add, temp_of = resolver.add, []
    seqs = records.column("seq").to_pylist()
    kinds = records.column("kind").cast(pa.string()).to_pylist()
    keys = zip(
        rows.column("id_type").cast(pa.string()).to_pylist(),
        rows.column("value").to_pylist(),
        strict=True,
    )
    # Key rows come grouped by record in the same order: take each record's run of them.
    key_seqs, record_seqs = rows.column("seq").to_numpy(), records.column("seq").to_numpy()
    runs = np.searchsorted(key_seqs, record_seqs, side="right") - np.searchsorted(
        key_seqs, record_seqs
    )
    for seq, kind, run in zip(seqs, kinds, runs.tolist(), strict=True):
        temp_of.append(add(Incoming(seq, kind, tuple(islice(keys, run)))))
    # A person is named by its first record: records come in arrival order.
    current = resolver.current
    group_of: dict[str, int] = {}
    pairs = zip(seqs, temp_of, strict=True)
    groups = [group_of.setdefault(current(temp), seq) for seq, temp in pairs]
    grp_of_seq = dict(zip(seqs, groups, strict=True))
    blocked = []
    for item in resolver.blocked:
        grp, other = grp_of_seq[item.seq], group_of[current(item.other)]
        if grp != other:  # joined later after all: nothing left to review
            blocked.append(BlockedLink(item.seq, grp, other, item.key, item.guard))
    return Replayed(pa.table({"seq": seqs, "grp": groups}, schema=GROUP_SCHEMA), blocked)


def _replay_input(engine: Engine, components: Components) -> tuple[pa.Table, pa.Table]:
    chosen = components.table.filter(components.table.replay).select("seq", "full")
    links = engine.fact(LINKS).join(chosen, "seq").select("seq", "kind", "full")
    keys = engine.fact(KEYS).semi_join(chosen, "seq").select("seq", "pos", "id_type", "value")
    return engine.to_arrow(links), engine.to_arrow(keys)


def record_groups(components: Components, replayed: Replayed) -> pa.Table | None:
    """seq, grp, oneid (the old one) for every record in seq order, in memory: when the
    components are (the fast path); else None."""
    if components.decided is None or components.old_oneids is None:
        return None
    seqs = components.decided.column("seq").to_numpy()
    grp = components.decided.column("grp").fill_null(0).to_numpy().copy()
    if replayed.groups.num_rows:
        at = np.searchsorted(seqs, replayed.groups.column("seq").to_numpy())
        grp[at] = replayed.groups.column("grp").to_numpy()
    return pa.table({"seq": seqs, "grp": grp, "oneid": components.old_oneids})


def all_groups(engine: Engine, components: Components, replayed: Replayed) -> ir.Table:
    """seq, grp for every record: decided by the components, else by the replay."""
    decided = components.table.filter(~components.table.replay).select("seq", "grp")
    if replayed.groups.num_rows == 0:
        return decided
    return decided.union(engine.memtable("identity_replayed", replayed.groups))
