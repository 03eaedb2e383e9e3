"""Comparisons: for each field, which level of agreement a pair of records reaches.

Each comparison is a list of levels tried in order (the first whose SQL holds wins) plus a
condition under which the pair cannot be compared (a side is missing): level -1. The levels
are plain SQL over the features of the left (`l`) and right (`r`) record, so DuckDB computes
whole comparison vectors at once (the same SQL runs on other engines that have
`jaro_winkler_similarity` and `damerau_levenshtein`).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    tf: str | None = None  # feature whose term frequency adjusts this level ("common names")


@dataclass(frozen=True)
class Comparison:
    name: str
    null: str  # SQL: the pair cannot be compared on this field
    levels: tuple[Level, ...]  # strongest agreement first; the last one is "different"
    uses: frozenset[str]  # feature columns it reads (a blocking rule on them biases it)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(level.label for level in self.levels)

    def case_sql(self) -> str:
        whens = " ".join(f"WHEN {lvl.sql} THEN {i}" for i, lvl in enumerate(self.levels))
        return f"CASE WHEN {self.null} THEN -1 {whens} END"


def _both(column: str) -> str:
    return f"l.{column} IS NOT NULL AND r.{column} IS NOT NULL"


_UNMASKED = "NOT l.name_masked AND NOT r.name_masked"
_HAN_BOTH = "l.family_py IS NOT NULL AND r.family_py IS NOT NULL"  # Latin names have none
_NAME = Comparison(
    "name",
    null="l.name_py IS NULL OR r.name_py IS NULL",
    levels=(
        Level("exact", f"{_UNMASKED} AND l.name_text = r.name_text", tf="name_full_py"),
        # A Han name against its pinyin spelling, in either order (Zhang Wei / Wei Zhang /
        # 张伟): a Latin-written name does not say which part is the family name.
        Level("latin", f"{_UNMASKED} AND NOT ({_HAN_BOTH}) AND l.name_key = r.name_key"),
        # Same sound, other characters (丽/莉): a typo, or two people. Two Han names with
        # family and given swapped (李雨 / 于丽) are two people, not a swap.
        Level("homophone", f"{_UNMASKED} AND l.name_py = r.name_py", tf="name_full_py"),
        Level(
            "similar",
            f"{_UNMASKED} AND (jaro_winkler_similarity(l.name_flat, r.name_flat) >= 0.92"
            " OR (l.family_py = r.family_py AND length(l.name_text) >= 3"
            " AND damerau_levenshtein(l.name_text, r.name_text) <= 1))",
        ),
        # A masked name (`张*`) can only agree on the family name (a rare one says more).
        Level(
            "family",
            "(l.name_masked OR r.name_masked) AND (l.family_py = r.family_py"
            " OR list_contains(string_split(l.name_key, ' '), r.family_py)"
            " OR list_contains(string_split(r.name_key, ' '), l.family_py))",
            tf="family_py",
        ),
        Level("different", "TRUE"),
    ),
    uses=frozenset({"name_text", "name_py", "name_full_py", "name_key", "family_py"}),
)
_BIRTHDAY = Comparison(
    "birthday",
    null="l.bday IS NULL OR r.bday IS NULL",
    levels=(
        Level("exact", "l.bday = r.bday"),
        # Month and day swapped (03-12 / 12-03), or two digits transposed or one mistyped.
        Level(
            "transposed",
            "(l.b_year = r.b_year AND l.b_month = r.b_day AND l.b_day = r.b_month)"
            " OR damerau_levenshtein(l.bday, r.bday) <= 1",
        ),
        Level("same_year", "l.b_year = r.b_year"),
        Level("different", "TRUE"),
    ),
    uses=frozenset({"bday", "b_year"}),
)
_BOTH_FULL = "l.phone_sha IS NOT NULL AND r.phone_sha IS NOT NULL"
_PHONE = Comparison(
    "phone",
    null=f"NOT ({_BOTH_FULL}) AND (l.phone_s4 IS NULL OR r.phone_s4 IS NULL)",
    levels=(
        Level("exact", "l.phone_sha = r.phone_sha"),
        # 138****5678 against 13812345678 (or the same masked phone): 7 of 11 digits agree.
        Level(
            "masked",
            f"NOT ({_BOTH_FULL}) AND l.phone_p3 = r.phone_p3 AND l.phone_s4 = r.phone_s4",
        ),
        Level("suffix", f"NOT ({_BOTH_FULL}) AND l.phone_s4 = r.phone_s4"),
        Level("different", "TRUE"),
    ),
    # Phones are strong identifiers: records one person by them agree by construction.
    uses=frozenset({"phone_sha", "phone_p3", "phone_s4", "oneid"}),
)
_EMAIL = Comparison(
    "email",
    null="l.email_local IS NULL OR r.email_local IS NULL",
    levels=(
        Level("exact", "l.email = r.email"),
        Level("local_part", "l.email_local = r.email_local"),
        Level("similar", "jaro_winkler_similarity(l.email_local, r.email_local) >= 0.9"),
        Level("different", "TRUE"),
    ),
    uses=frozenset({"email", "email_local", "oneid"}),  # e-mails too
)
_SAME_CITY = "(l.city = r.city OR l.postal = r.postal)"
_ADDRESS = (
    f"{_both('addr')} AND {_SAME_CITY} AND (l.addr = r.addr"
    " OR (l.addr_numbers = r.addr_numbers AND jaro_winkler_similarity(l.addr, r.addr) >= 0.9))"
)
_NO_PLACE = "({0}.province IS NULL AND {0}.city IS NULL AND {0}.postal IS NULL)"
# Where a person is: their home, and their phone (its device id, IDFA/OAID). One comparison,
# because a household shares both (a family tablet at the family's address): two fields
# would add up the same evidence twice and merge a mother with her daughter.
_LOCATION = Comparison(
    "location",
    null=(
        f"({_NO_PLACE.format('l')} OR {_NO_PLACE.format('r')})"
        " AND NOT coalesce(l.device = r.device, FALSE)"
    ),
    levels=(
        Level("device_address", f"l.device = r.device AND {_ADDRESS}"),
        # The same street address, as written or with other spacing/wording around the same
        # numbers (road number, building, flat): near-unique but for a household.
        Level("address", _ADDRESS),
        # The same device, and no street address both show.
        Level("device", "l.device = r.device"),
        # A masked street address (`人民路***`) whose visible part starts the other's.
        Level(
            "street",
            f"{_SAME_CITY} AND coalesce(l.district = r.district, TRUE) AND"
            " (starts_with(coalesce(r.addr, r.addr_prefix), l.addr_prefix)"
            " OR starts_with(coalesce(l.addr, l.addr_prefix), r.addr_prefix))",
        ),
        Level("district", "l.city = r.city AND l.district = r.district"),
        Level("city", _SAME_CITY),
        Level("province", "l.province = r.province OR left(l.postal, 2) = left(r.postal, 2)"),
        Level("different", "TRUE"),
    ),
    uses=frozenset(
        {"province", "city", "district", "addr", "addr_numbers", "addr_prefix", "postal", "device"}
    ),
)
_GENDER = Comparison(
    "gender",
    null="l.gender IS NULL OR r.gender IS NULL",
    levels=(Level("same", "l.gender = r.gender"), Level("different", "TRUE")),
    # Given names are mostly gendered: two records with one name agree on gender anyway.
    uses=frozenset({"gender", *_NAME.uses}),
)
# Offline: the store and guide (导购) a customer belongs to, as POS and WeCom both know it.
_GUIDE = Comparison(
    "guide",
    null="l.store_id IS NULL OR r.store_id IS NULL",
    levels=(
        Level("same_guide", "l.staff_id = r.staff_id"),
        Level("same_store", "l.store_id = r.store_id"),
        Level("different", "TRUE"),
    ),
    # A store is in a city: records blocked on a place share stores more often anyway.
    uses=frozenset({"store_id", "staff_id", *_LOCATION.uses}),
)
COMPARISONS: tuple[Comparison, ...] = (
    _NAME,
    _BIRTHDAY,
    _PHONE,
    _EMAIL,
    _LOCATION,
    _GENDER,
    _GUIDE,
)


ONCE = "*"  # term-frequency key of a value held by one person


def tf_columns(comparisons: tuple[Comparison, ...] = COMPARISONS) -> list[str]:
    """Feature columns whose term frequencies some level uses."""
    return sorted({lvl.tf for c in comparisons for lvl in c.levels if lvl.tf})


def comparison_vectors(
    con: duckdb.DuckDBPyConnection,
    *,
    pairs: str,
    feats: str,
    tf: str | None = None,
    comparisons: tuple[Comparison, ...] = COMPARISONS,
    ordered: bool = True,
) -> pa.Table:
    """rid_l, rid_r, one int8 level per comparison (`g_<name>`, -1 = not comparable) and,
    for levels with term frequencies, the frequency of the agreed value (`tf_<name>`).

    `pairs` and `feats` name relations known to `con` (rid_l/rid_r, and FEATURE_SCHEMA);
    `tf` names a relation (column, h = md5(value), tf) of term frequencies. `ordered`
    sorts the result by (rid_l, rid_r), as candidate pairs are.
    """
    selects = ["p.rid_l", "p.rid_r"]
    joins = []
    for c in comparisons:
        selects.append(f"CAST({c.case_sql()} AS TINYINT) AS g_{c.name}")
        whens = []
        for column in sorted({lvl.tf for lvl in c.levels if lvl.tf}) if tf else ():
            alias = f"tf_{c.name}_{column}"
            # The agreed value: both sides hold it (a Latin name has no family of its own).
            joins.append(
                f"LEFT JOIN {tf} {alias} ON {alias}.col = '{column}'"
                f" AND {alias}.h = md5(coalesce(l.{column}, r.{column}))"
            )
            default = f"(SELECT tf FROM {tf} WHERE col = '{column}' AND h = '{ONCE}')"
            levels = ", ".join(str(i) for i, lvl in enumerate(c.levels) if lvl.tf == column)
            whens.append(
                f"WHEN ({c.case_sql()}) IN ({levels}) THEN coalesce({alias}.tf, {default})"
            )
        if whens:
            selects.append(f"CASE {' '.join(whens)} END AS tf_{c.name}")
    sql = (
        f"SELECT {', '.join(selects)} FROM {pairs} p"
        f" JOIN {feats} l ON l.rid = p.rid_l JOIN {feats} r ON r.rid = p.rid_r "
        + " ".join(joins)
        + (" ORDER BY p.rid_l, p.rid_r" if ordered else "")
    )
    return con.sql(sql).to_arrow_table()


def gamma_matrix(
    vectors: pa.Table, comparisons: tuple[Comparison, ...] = COMPARISONS
) -> np.ndarray:
    """The comparison levels as an (n_pairs, n_comparisons) int8 matrix."""
    if vectors.num_rows == 0:
        return np.zeros((0, len(comparisons)), dtype=np.int8)
    return np.column_stack(
        [vectors.column(f"g_{c.name}").to_numpy().astype(np.int8) for c in comparisons]
    )


def term_frequencies(
    con: duckdb.DuckDBPyConnection,
    *,
    feats: str,
    holder: str = "oneid",
    comparisons: tuple[Comparison, ...] = COMPARISONS,
) -> dict[str, dict[str, float]]:
    """column -> (md5 of value -> u), the chance that a record of another person has the
    value; under the key `ONCE` the same for a value no one else holds.

    Holders are persons (the `holder` column), not records: a person with four records
    named 孙宁舒 holds the name once. Leave one out: of a value's n holders, the other
    record of a non-matching pair is one of the n - 1 that are not this record's person
    (one person split over two OneIDs still has a rare name). Only values with more than
    two holders are listed; the rest get `ONCE`."""
    found: dict[str, dict[str, float]] = {}
    for col in tf_columns(comparisons):
        present = f"{col} IS NOT NULL"
        total = con.sql(
            f"SELECT count(*) FROM (SELECT DISTINCT {col}, {holder} FROM {feats} WHERE {present})"
        ).fetchone()
        holders = max(int(total[0]) if total else 0, 1)
        rows = con.sql(
            f"SELECT md5({col}), count(DISTINCT {holder}) FROM {feats} WHERE {present}"
            f" GROUP BY {col} HAVING count(DISTINCT {holder}) > 2"
        ).fetchall()
        found[col] = {str(h): (n - 1) / holders for h, n in rows}
        found[col][ONCE] = 1 / holders
    return found


def tf_table(tf: dict[str, dict[str, float]]) -> pa.Table:
    """Term frequencies as a relation (col, h, tf) for `comparison_vectors`."""
    rows = [(col, h, f) for col, values in tf.items() for h, f in values.items()]
    return pa.table(
        {
            "col": pa.array([r[0] for r in rows], pa.string()),
            "h": pa.array([r[1] for r in rows], pa.string()),
            "tf": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
