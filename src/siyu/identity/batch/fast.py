"""Components on one machine: DuckDB numbers the shared keys, scipy finds the components.

The integer columns of the link facts are read with pyarrow (types dictionary-encoded);
the key values never come into Python: DuckDB reads them from the Parquet file itself,
groups the key rows by type and value (exactly: no hashing shortcut that could merge two
keys) and numbers the keys that several records share by row number; numpy and
`scipy.sparse.csgraph.connected_components` do the rest on integer arrays: the strong
graph (each record carrying a shared strong key linked to the key's first carrier), then
the full graph over strong components joined the same way by shared weak keys, then the
replay rule of `graph.py` as counts per component. The key rows of the records to replay
(a few percent) are read back from the file by row number.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from siyu.engine import Engine
from siyu.identity.batch.facts import KEYS, LINKS
from siyu.identity.batch.graph import GUARDED, STRONG, WEAK, Components, guarded_types
from siyu.tenants import IdentityRules

Ints = npt.NDArray[np.signedinteger[Any]]  # int64, or int32 labels
Flags = npt.NDArray[np.bool_]

# Each shared key's rows (row numbers in the file) come back as one list: no join of the
# key rows back to the keys. Straight from Parquet: turning the values into Arrow for
# DuckDB cost more than the grouping.
_SHARED_KEYS = """
SELECT list(file_row_number::{row}) AS rows
FROM read_parquet('{path}', file_row_number = true)
WHERE {where}
GROUP BY id_type, value HAVING count(*) > 1
"""
_KEY_ROWS = """
SELECT seq, pos, id_type, value FROM read_parquet('{path}', file_row_number = true)
WHERE file_row_number IN (SELECT row FROM wanted) ORDER BY file_row_number
"""


def fast_components(
    engine: Engine, *, rules: IdentityRules, constrained: Collection[int]
) -> Components:
    """Strong and full components and the replay rule, on DuckDB + scipy."""
    if engine.name != "duckdb":
        raise ValueError("the fast component path runs on DuckDB; use the portable one")
    keys_file = _file(engine, KEYS)
    # DuckDB groups the key values on one core while this thread reads the rest (the old
    # OneIDs too, for naming) on the other: two threads in DuckDB's aggregation cost more
    # CPU (merging partitions) than they save. Strong keys first: the strong graph is
    # found here while DuckDB groups the weak ones.
    weak_types = sorted(rules.weak_types)
    with ThreadPoolExecutor(1) as pool:
        strong_keys = pool.submit(_shared_keys, keys_file, weak_types, False)
        weak_keys = pool.submit(_shared_keys, keys_file, weak_types, True)
        links = read_fact(engine, LINKS, ["seq", "kind", "oneid"])
        seqs = links.column("seq").to_numpy()
        if np.any(seqs[1:] < seqs[:-1]):
            links = links.take(pa.array(np.argsort(seqs, kind="stable")))
            seqs = links.column("seq").to_numpy()
        customer = pc.equal(links.column("kind"), "customer").to_numpy(zero_copy_only=False)
        keys = read_fact(engine, KEYS, ["seq", "id_type"])
        code = _type_codes(keys.column("id_type").combine_chunks(), rules)
        key_seqs = keys.column("seq").to_numpy()
        del keys
        old = links.column("oneid").unify_dictionaries().combine_chunks()
        # What does not depend on the shared keys, while DuckDB is still at them.
        dense = len(seqs) > 0 and int(seqs[-1]) - int(seqs[0]) + 1 == len(seqs)
        rid = key_seqs - seqs[0] if dense else np.searchsorted(seqs, key_seqs)
        n_records = len(seqs)
        weak_row = code == WEAK
        strong_count = np.bincount(rid[~weak_row], minlength=n_records)
        weak_count = np.bincount(rid[weak_row], minlength=n_records)
        identified = strong_count > 0
        anonymous = ~identified & (weak_count > 0)
        kid = np.full(len(code), -1, dtype=np.int64)
        first_row = _number(kid, strong_keys.result(), 0)
        # Strong graph: each record carrying a shared strong key is linked to the key's
        # first carrier (a star per key: fewer nodes and edges than records + keys).
        edge = kid >= 0
        n_strong, rec_s = _components(n_records, rid[edge], rid[first_row][kid[edge]])
        first_row = np.concatenate([first_row, _number(kid, weak_keys.result(), len(first_row))])
    n_keys = len(first_row)
    key_s = rec_s[rid[first_row]]  # a key's first carrier's strong component
    # Full graph: strong components joined by the shared weak keys their records carry.
    edge = weak_row & (kid >= 0)
    n_full, f_of_s = _components(n_strong, rec_s[rid[edge]], key_s[kid[edge]])
    rec_f = f_of_s[rec_s]

    risky_s = np.bincount(rec_s, weights=customer, minlength=n_strong) > rules.max_customer_records
    for i, (_type, limit) in enumerate(guarded_types(rules)):
        of_type = code == GUARDED + i
        risky_s |= _distinct_per_component(of_type, rid, kid, rec_s, key_s, n_strong) > limit
    ident_s = np.bincount(rec_s, weights=identified, minlength=n_strong) > 0

    # An anonymous record is "simple" (decided without replay, see graph.py) when its one
    # weak key has identified carriers and either just one, or one arrives after it, or
    # it arrives after every identified record of its full component.
    carrier_row = weak_row & (kid >= 0) & identified[rid]
    carriers = np.bincount(kid[carrier_row], minlength=n_keys)
    last_carrier = np.zeros(n_keys, dtype=np.int64)
    np.maximum.at(last_carrier, kid[carrier_row], seqs[rid[carrier_row]])
    last_identified = np.zeros(n_full, dtype=np.int64)
    np.maximum.at(last_identified, rec_f[identified], seqs[identified])
    anon_row = weak_row & anonymous[rid] & (kid >= 0)
    anon_rid, anon_kid = rid[anon_row], kid[anon_row]
    anon_seq, held = seqs[anon_rid], carriers[anon_kid]
    settled = (held == 1) | (
        (held > 1)
        & ((anon_seq < last_carrier[anon_kid]) | (anon_seq > last_identified[rec_f[anon_rid]]))
    )
    simple = np.zeros(n_records, dtype=bool)
    simple[anon_rid[settled]] = True
    simple &= weak_count == 1

    def any_in_full(flags: Flags) -> Flags:
        return np.bincount(rec_f[flags], minlength=n_full) > 0

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
    strong_first, full_first = first_s[rec_s], first_f[rec_f]
    grp = np.where(has_anon[rec_f], full_first, strong_first)
    table = pa.table(
        {
            "seq": seqs,
            "strong": strong_first,
            "full": full_first,
            "replay": replay,
            "grp": pa.array(grp, mask=replay),
        }
    )
    # The records to replay, and their key rows read back from the file by row number.
    return Components(
        table=ibis.memtable(table),  # DuckDB scans the Arrow table in place
        decided=table,
        old_oneids=old,
        records=n_records,
        strong_components=n_strong,
        full_components=n_full,
        replay_components=int(replay_f.sum()),
        replay_records=int(replay.sum()),
        replay_input=(
            links.select(["seq", "kind"])
            .append_column("full", table.column("full"))
            .filter(pa.array(replay)),
            _key_rows(keys_file, np.flatnonzero(replay[rid])),
        ),
    )


def _file(engine: Engine, fact: str) -> Path:
    """The one Parquet file of a fact as written by `write_fact`."""
    files = sorted(Path(engine.snapshot.path(fact)).glob("*.parquet"))
    if len(files) != 1:
        raise ValueError(f"the fast path reads {fact} as one Parquet file, found {len(files)}")
    return files[0]


def read_fact(engine: Engine, fact: str, columns: list[str]) -> pa.Table:
    """Columns of one fact, its names (kind, id_type, oneid) dictionary-encoded."""
    wanted = [c for c in ("kind", "id_type", "oneid") if c in columns]
    # One file, read directly: `pq.read_table` goes through datasets (and imports pandas).
    return pq.ParquetFile(_file(engine, fact), read_dictionary=wanted).read(columns=columns)


def _shared_keys(path: Path, weak_types: list[str], weak: bool) -> pa.ListArray:
    """The rows (numbers in the file) of each weak or strong key (type, value) that several
    rows carry, one list per key."""
    rows = pq.ParquetFile(path).metadata.num_rows
    # Literal type names: with a list parameter DuckDB no longer pushed the filter into the
    # scan (three times slower).
    names = ", ".join(f"'{_quoted(name)}'" for name in weak_types)
    if names:
        where = f"id_type IN ({names})" if weak else f"id_type NOT IN ({names})"
    else:
        where = "false" if weak else "true"
    row = "INTEGER" if rows < 2**31 else "BIGINT"
    query = _SHARED_KEYS.format(row=row, path=_quoted(str(path)), where=where)
    with duckdb.connect(config={"threads": 1, "preserve_insertion_order": False}) as con:
        lists: pa.ListArray = con.sql(query).to_arrow_table().column(0).combine_chunks()
    return lists


def _number(kid: Ints, lists: pa.ListArray, offset: int) -> Ints:
    """Number the keys from `offset` (kid[row] = key) and return each key's first row."""
    sizes = pc.list_value_length(lists).to_numpy()
    flat = lists.flatten().to_numpy()
    kid[flat] = np.repeat(np.arange(offset, offset + len(lists)), sizes)
    starts = np.cumsum(sizes) - sizes
    first: Ints = np.minimum.reduceat(flat, starts) if len(flat) else starts
    return first.astype(np.int64)


def _key_rows(path: Path, rows: Ints) -> pa.Table:
    """The key rows (seq, pos, id_type, value) at these row numbers of the file."""
    wanted = pa.table({"row": pa.array(rows, pa.int64())})
    with duckdb.connect() as con:
        con.register("wanted", wanted)
        return con.sql(_KEY_ROWS.format(path=_quoted(str(path)))).to_arrow_table()


def _quoted(text: str) -> str:
    """`text` inside a SQL string literal."""
    return text.replace("'", "''")


def _type_codes(column: pa.DictionaryArray, rules: IdentityRules) -> npt.NDArray[np.int8]:
    """Per key row: STRONG, WEAK or GUARDED + i, from the dictionary of type names."""
    weak = set(rules.weak_types)
    guarded = {name: GUARDED + i for i, (name, _limit) in enumerate(guarded_types(rules))}
    names = column.dictionary.to_pylist()
    lookup = np.array(
        [WEAK if n in weak else guarded.get(n, STRONG) for n in names] or [STRONG], np.int8
    )
    codes: npt.NDArray[np.int8] = lookup[column.indices.to_numpy(zero_copy_only=False)]
    return codes


def _components(nodes: int, a: Ints, b: Ints) -> tuple[int, Ints]:
    """Connected components (how many, each node's label 0..n-1) of an undirected graph
    given as edge lists."""
    ones = np.ones(len(a), dtype=np.int8)
    if len(a) and bool(np.all(a[1:] >= a[:-1])):
        # Edges already in row order (key rows come by seq): the CSR arrays directly,
        # without scipy's COO conversion (a sort and a duplicate sum over every edge).
        indptr = np.zeros(nodes + 1, dtype=np.int32)
        np.cumsum(np.bincount(a, minlength=nodes), out=indptr[1:])
        graph = csr_matrix((ones, b.astype(np.int32), indptr), shape=(nodes, nodes))
    else:
        graph = csr_matrix((ones, (a.astype(np.int32), b.astype(np.int32))), shape=(nodes, nodes))
    count, labels = connected_components(graph, directed=False)
    return int(count), labels


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
