"""Components on one machine: DuckDB builds integer edge lists, scipy finds the components.

DuckDB numbers the keys shared by several records (an exact GROUP BY on type and value)
and gives each key row its record's seq, its key's number and its type's code; numpy and
`scipy.sparse.csgraph.connected_components` do the rest on integer arrays: the strong
graph (record ↔ shared strong key), then the full graph over strong components joined by
shared weak keys, then the replay rule of `graph.py` as counts per component.
"""

from __future__ import annotations

from collections.abc import Collection

import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from siyu.engine import Engine
from siyu.identity.batch.facts import KEYS, LINKS
from siyu.identity.batch.graph import GUARDED, STRONG, WEAK, Components, guarded_types
from siyu.tenants import IdentityRules

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def fast_components(
    engine: Engine, *, rules: IdentityRules, constrained: Collection[int]
) -> Components:
    """Strong and full components and the replay rule, on DuckDB + scipy."""
    if engine.name != "duckdb":
        raise ValueError("the fast component path runs on DuckDB; use the portable one")
    guarded = guarded_types(rules)
    links = engine.fact(LINKS)
    records = engine.to_arrow(
        links.select("seq", customer=links.kind == "customer").order_by("seq")
    )
    seqs = records.column("seq").to_numpy()
    customer = records.column("customer").to_numpy(zero_copy_only=False)
    rows = engine.to_arrow(_key_rows(engine, rules, [t for t, _ in guarded]))
    rid = np.searchsorted(seqs, rows.column("seq").to_numpy())
    code = rows.column("code").to_numpy()
    kid = rows.column("kid").to_numpy()
    n_keys = int(kid.max()) + 1 if len(kid) else 0

    # Strong graph: records and shared strong keys. Weak key nodes stay isolated here.
    n_records = len(seqs)
    weak_row = code == WEAK
    edge = ~weak_row & (kid >= 0)
    n_strong, s_label = _components(n_records + n_keys, rid[edge], n_records + kid[edge], n_records)
    rec_s, key_s = s_label[:n_records], s_label[n_records:]
    # Full graph: strong components joined by the shared weak keys their records carry.
    edge = weak_row & (kid >= 0)
    n_full, f_of_s = _components(
        n_strong + n_keys, rec_s[rid[edge]], n_strong + kid[edge], n_strong
    )
    f_of_s = f_of_s[:n_strong]
    rec_f = f_of_s[rec_s]

    strong_count = np.bincount(rid[~weak_row], minlength=len(seqs))
    weak_count = np.bincount(rid[weak_row], minlength=len(seqs))
    identified = strong_count > 0
    anonymous = ~identified & (weak_count > 0)

    risky_s = np.bincount(rec_s, weights=customer, minlength=n_strong) > rules.max_customer_records
    for i, (_type, limit) in enumerate(guarded):
        of_type = code == GUARDED + i
        risky_s |= _distinct_per_component(of_type, rid, kid, rec_s, key_s, n_strong) > limit
    ident_s = np.bincount(rec_s, weights=identified, minlength=n_strong) > 0

    # An anonymous record is "simple" when its one weak key has one identified carrier.
    carriers = np.bincount(kid[weak_row & (kid >= 0) & identified[rid]], minlength=n_keys)
    anon_row = weak_row & anonymous[rid] & (kid >= 0)
    simple = np.zeros(len(seqs), dtype=bool)
    simple[rid[anon_row][carriers[kid[anon_row]] == 1]] = True
    simple &= weak_count == 1

    def any_in_full(flags: Flags) -> Flags:
        return np.bincount(rec_f, weights=flags, minlength=n_full) > 0

    ident_f = np.bincount(f_of_s, weights=ident_s, minlength=n_full)
    has_anon = any_in_full(anonymous)
    replay_f = (
        (np.bincount(f_of_s, weights=risky_s, minlength=n_full) > 0)
        | any_in_full(anonymous & customer)
        | (has_anon & (ident_f >= 1) & ((ident_f > 1) | any_in_full(anonymous & ~simple)))
    )
    present = np.asarray(sorted(constrained), dtype=np.int64)
    present = present[np.isin(present, seqs)]
    replay_f[rec_f[np.searchsorted(seqs, present)]] = True

    first_s = _first_seq(rec_s, seqs, n_strong)
    first_f = np.full(n_full, np.iinfo(np.int64).max)
    np.minimum.at(first_f, f_of_s, first_s)
    replay = replay_f[rec_f]
    grp = np.where(has_anon[rec_f], first_f[rec_f], first_s[rec_s])
    table = pa.table(
        {
            "seq": seqs,
            "strong": first_s[rec_s],
            "full": first_f[rec_f],
            "replay": replay,
            "grp": pa.array(grp, mask=replay),
        }
    )
    return Components(
        table=engine.memtable("identity_components", table),
        records=len(seqs),
        strong_components=n_strong,
        full_components=n_full,
        replay_components=int(replay_f.sum()),
        replay_records=int(replay.sum()),
    )


def _key_rows(engine: Engine, rules: IdentityRules, guarded: list[str]) -> ibis.Table:
    """seq, type code and shared-key number (-1: a key no other record carries) per key row."""
    keys = engine.fact(KEYS)
    shared = (
        keys.group_by(["id_type", "value"])
        .aggregate(n=keys.count())
        .filter(lambda t: t.n > 1)
        .select("id_type", "value", kid=ibis.row_number())
    )
    cases = [(keys.id_type.isin(list(rules.weak_types)), WEAK)]
    cases += [(keys.id_type == name, GUARDED + i) for i, name in enumerate(guarded)]
    joined = keys.left_join(shared, ["id_type", "value"])
    return joined.select(
        seq=joined.seq,
        code=ibis.cases(*cases, else_=STRONG).cast("int8")
        if cases
        else ibis.literal(STRONG, "int8"),
        kid=joined.kid.fill_null(-1).cast("int64"),
    )


def _components(nodes: int, a: Ints, b: Ints, counted: int) -> tuple[int, Ints]:
    """Connected components of an undirected graph given as edge lists.

    Labels are renumbered 0..n-1 over the components holding one of the first `counted`
    nodes (the records); the others (lone key nodes) keep a meaningless label."""
    graph = csr_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(nodes, nodes))
    count, labels = connected_components(graph, directed=False)
    present = np.zeros(count, dtype=bool)
    present[labels[:counted]] = True
    renumber = np.cumsum(present) - 1
    return int(present.sum()), renumber[labels]


def _distinct_per_component(
    of_type: Flags, rid: Ints, kid: Ints, rec_s: Ints, key_s: Ints, n_strong: int
) -> Ints:
    """Distinct keys of one type per strong component (a shared key counts once)."""
    shared = np.zeros(len(key_s), dtype=bool)
    shared[kid[of_type & (kid >= 0)]] = True
    counts = np.bincount(key_s[np.flatnonzero(shared)], minlength=n_strong)
    return counts + np.bincount(rec_s[rid[of_type & (kid < 0)]], minlength=n_strong)


def _first_seq(labels: Ints, seqs: Ints, count: int) -> Ints:
    """The smallest seq per label."""
    first = np.full(count, np.iinfo(np.int64).max)
    np.minimum.at(first, labels, seqs)
    return first
