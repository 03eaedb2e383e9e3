"""The scoring core: customer records in (RECORD_SCHEMA), scored candidate pairs out.

features → blocking (candidate pairs) → comparison vectors → Fellegi–Sunter weights.
Training estimates u from random record pairs and m by EM over each blocking rule's pairs
(leaving out the comparisons that rule forces to agree), then the prior. Pure: DuckDB in
memory and numpy, nothing read from or written to the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.identity.matching.blocking import (
    block_keys,
)
from siyu.identity.matching.blocking import candidate_pairs as block
from siyu.identity.matching.comparisons import (
    comparison_vectors,
    gamma_matrix,
    term_frequencies,
    tf_table,
)
from siyu.identity.matching.features import features, records_table
from siyu.identity.matching.model import (
    FSModel,
    partial_weights,
    prior_bits,
    probability,
)
from siyu.identity.matching.options import MatchOptions
from siyu.identity.matching.train import pairs_within_persons, train


@dataclass
class ScoredPairs:
    """Candidate pairs of records in different persons, with their scores."""

    model: FSModel
    pairs: pa.Table  # rid_l, rid_r, oneid_l, oneid_r, rule, g_<comparison>..., weight, probability
    partial: np.ndarray  # log2(m/u) per pair and comparison (0 = not comparable)
    candidates: int  # all candidate pairs, including pairs already one person


def score_records(
    records: pa.Table,
    *,
    model: FSModel | None = None,
    new_rids: Sequence[int] | None = None,
    options: MatchOptions | None = None,
) -> ScoredPairs:
    """Score the candidate pairs of `records`; trains a model from them unless one is given.

    With `new_rids`, only pairs involving one of those records are scored (online)."""
    options = options or MatchOptions()
    con = duckdb.connect()
    try:
        places = model.places if model else None
        places = _register_features(con, records, places)
        only = None
        if new_rids is not None:
            con.register("new_rids", pa.table({"rid": pa.array(list(new_rids), pa.int64())}))
            only = "new_rids"
        candidates = block(
            con, feats="feats", rules=options.rules, max_block=options.max_block, only_rids=only
        )
        cross = candidates.filter(pc.invert(candidates.column("same_oneid")))
        con.register("cross_pairs", cross)
        if model is None:
            model = _trained(con, records, options)
            model.places = places
        vectors, gamma, tf_values = _vectors(con, model.tf, options)
        partial = partial_weights(model, gamma, tf_values)
        weights = prior_bits(model.prior) + partial.sum(axis=1)
        con.register("vectors", vectors)
        con.register("scores", pa.table({"weight": weights, "probability": probability(weights)}))
        # vectors are ordered by (rid_l, rid_r), as `cross_pairs` is: positional join is safe.
        pairs = con.sql(
            "SELECT v.rid_l, v.rid_r, fl.oneid AS oneid_l, fr.oneid AS oneid_r, c.rule,"
            f" {', '.join(f'v.g_{c.name}' for c in options.comparisons)},"
            " s.weight, s.probability"
            " FROM vectors v POSITIONAL JOIN scores s"
            " JOIN cross_pairs c ON c.rid_l = v.rid_l AND c.rid_r = v.rid_r"
            " JOIN feats fl ON fl.rid = v.rid_l JOIN feats fr ON fr.rid = v.rid_r"
            " ORDER BY v.rid_l, v.rid_r"
        ).to_arrow_table()
        return ScoredPairs(model, pairs, partial, candidates.num_rows)
    finally:
        con.close()


Vectors = tuple[pa.Table, np.ndarray, dict[str, np.ndarray]]


PLACE_SHARE = 0.8  # a store's customers this often in one city make it that store's city
PLACE_MIN = 5


def _register_features(
    con: duckdb.DuckDBPyConnection,
    records: pa.Table,
    places: dict[str, list[str]] | None,
) -> dict[str, list[str]]:
    """Register `feats`: the records' features, where a record names a store but no place
    taking the store's place (province, city). Stores' places are learnt from records
    with both unless given: customers of a shop mostly live in its city. Returns them."""
    con.register("own_feats", features(records))
    if places is None:
        rows = con.sql(
            "SELECT store_id, province, city FROM (SELECT store_id, province, city,"
            " count(*) AS n, sum(count(*)) OVER (PARTITION BY store_id) AS total,"
            " row_number() OVER (PARTITION BY store_id ORDER BY count(*) DESC, city) AS rank"
            " FROM own_feats WHERE store_id IS NOT NULL AND city IS NOT NULL"
            " GROUP BY store_id, province, city)"
            f" WHERE rank = 1 AND n >= {PLACE_MIN} AND n >= {PLACE_SHARE} * total"
        ).fetchall()
        places = {str(store): [str(province or ""), str(city)] for store, province, city in rows}
    con.register(
        "store_places",
        pa.table({
            "store_id": pa.array(list(places), pa.string()),
            "store_province": pa.array([p[0] or None for p in places.values()], pa.string()),
            "store_city": pa.array([p[1] for p in places.values()], pa.string()),
        }),
    )  # fmt: skip
    con.execute(
        "CREATE OR REPLACE TEMP VIEW feats AS SELECT f.* REPLACE ("
        " CASE WHEN f.city IS NULL AND f.postal IS NULL THEN s.store_province"
        " ELSE f.province END AS province,"
        " CASE WHEN f.city IS NULL AND f.postal IS NULL THEN s.store_city"
        " ELSE f.city END AS city)"
        " FROM own_feats f LEFT JOIN store_places s USING (store_id)"
    )
    return places


def _vectors(
    con: duckdb.DuckDBPyConnection, tf: dict[str, dict[str, float]], options: MatchOptions
) -> Vectors:
    """Comparison vectors of the cross pairs: the table, its levels, term frequencies."""
    con.register("tf", tf_table(tf))
    vectors = comparison_vectors(
        con, pairs="cross_pairs", feats="feats", tf="tf", comparisons=options.comparisons
    )
    tf_values = {
        c.name: vectors.column(f"tf_{c.name}").to_numpy(zero_copy_only=False).astype(float)
        for c in options.comparisons
        if f"tf_{c.name}" in vectors.column_names
    }
    return vectors, gamma_matrix(vectors, options.comparisons), tf_values


def _trained(con: duckdb.DuckDBPyConnection, records: pa.Table, options: MatchOptions) -> FSModel:
    """A model trained on these records (see `train`)."""
    tf = term_frequencies(con, feats="feats", comparisons=options.comparisons)
    _table, gamma, tf_values = _vectors(con, tf, options)
    return train(
        con,
        feats="feats",
        options=options,
        tf=tf,
        candidates=(gamma, tf_values),
        known_matches=pairs_within_persons(records),
        total_pairs=records.num_rows * (records.num_rows - 1) // 2,
    )


def record_block_keys(
    records: pa.Table, options: MatchOptions, places: dict[str, list[str]]
) -> list[tuple[int, str]]:
    """(rid, hashed blocking key) of every record, for the store's block index (with the
    stores' places the model learnt)."""
    con = duckdb.connect()
    try:
        _register_features(con, records, places)
        return block_keys(con, feats="feats", rules=options.rules)
    finally:
        con.close()


def compare(
    a: dict[str, object], b: dict[str, object], options: MatchOptions | None = None
) -> dict[str, str | None]:
    """The level each comparison reaches for two records (dicts of RECORD_SCHEMA fields;
    None: not comparable). For explaining and testing single pairs."""
    options = options or MatchOptions()
    con = duckdb.connect()
    try:
        _register_features(con, records_table([{**a, "rid": 1}, {**b, "rid": 2}]), {})
        con.register("one_pair", pa.table({"rid_l": [1], "rid_r": [2]}))
        vectors = comparison_vectors(
            con, pairs="one_pair", feats="feats", comparisons=options.comparisons
        )
    finally:
        con.close()
    return {
        c.name: c.labels[level]
        if (level := vectors.column(f"g_{c.name}")[0].as_py()) >= 0
        else None
        for c in options.comparisons
    }
