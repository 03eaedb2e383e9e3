"""Blocking finds the duplicates without comparing everything; the pure scoring core."""

from __future__ import annotations

import random
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from siyu.identity.matching.blocking import BlockingRule, block_keys, candidate_pairs
from siyu.identity.matching.features import features, records_table
from siyu.identity.matching.pipeline import score_records

FAMILIES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
CITIES = [("上海市", "上海市"), ("北京市", "北京市"), ("广东省", "广州市"), ("浙江省", "杭州市")]


def synthetic_people(n: int, seed: int) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Two records per person, as a brand's own POS and a platform would show them: the
    platform masks the phone and often the given name; no strong identifier is shared."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    person_of: dict[int, int] = {}
    phones: set[str] = set()
    for p in range(n):
        family = rng.choice(FAMILIES)
        name = family + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        while (phone := f"1{rng.choice('3589')}{rng.randrange(10**9):09d}") in phones:
            pass
        phones.add(phone)
        province, city = rng.choice(CITIES)
        birthday = f"{rng.randint(1970, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        pos = {"name": name, "phone": phone, "birthday": birthday, "province": province,
               "city": city, "source": "pos"}  # fmt: skip
        shown = family + "*" * (len(name) - 1) if rng.random() < 0.5 else name
        platform = {"name": shown, "masked_phone": f"{phone[:3]}****{phone[7:]}",
                    "province": province, "city": city, "source": "douyin"}  # fmt: skip
        if rng.random() < 0.1:  # no masked phone on this platform record
            del platform["masked_phone"]
            platform["birthday"] = birthday
        for record in (pos, platform):
            rid = len(rows) + 1
            rows.append({**record, "rid": rid, "oneid": f"P{rid:06d}"})  # nothing linked yet
            person_of[rid] = p
    return rows, person_of


def rid_pairs(pairs: pa.Table) -> list[tuple[int, int]]:
    left, right = pairs.column("rid_l").to_pylist(), pairs.column("rid_r").to_pylist()
    return list(zip(left, right, strict=True))


def test_blocking_finds_nearly_every_duplicate_and_few_others() -> None:
    rows, person_of = synthetic_people(3000, seed=1)
    con = duckdb.connect()
    con.register("feats", features(records_table(rows)))
    pairs = candidate_pairs(con, feats="feats")
    found = set(rid_pairs(pairs))
    true_pairs = {(rid, rid + 1) for rid in range(1, len(rows), 2)}
    recall = len(found & true_pairs) / len(true_pairs)
    assert recall > 0.99  # measured 1.0 here: masked phone, or name and birth year
    all_pairs = len(rows) * (len(rows) - 1) // 2
    assert len(found) < 0.01 * all_pairs  # a small fraction of all pairs is compared
    assert all(person_of[a] == person_of[b] for a, b in found & true_pairs)


def test_blocks_above_max_block_are_skipped() -> None:
    rows = [{"rid": i, "oneid": f"P{i}", "name": "王伟", "city": "上海市"} for i in range(1, 11)]
    con = duckdb.connect()
    con.register("feats", features(records_table(rows)))
    rule = BlockingRule("name_city", ("name_key", "city"))
    assert candidate_pairs(con, feats="feats", rules=[rule], max_block=10).num_rows == 45
    assert candidate_pairs(con, feats="feats", rules=[rule], max_block=9).num_rows == 0


def test_only_pairs_with_arriving_records_and_hashed_keys() -> None:
    rows = [
        {"rid": 1, "oneid": "A", "name": "王伟", "city": "上海市"},
        {"rid": 2, "oneid": "B", "name": "王伟", "city": "上海市"},
        {"rid": 3, "oneid": "C", "name": "王伟", "city": "上海市"},
    ]
    con = duckdb.connect()
    con.register("feats", features(records_table(rows)))
    con.register("arriving", pa.table({"rid": pa.array([3], pa.int64())}))
    pairs = candidate_pairs(con, feats="feats", only_rids="arriving")
    assert sorted(rid_pairs(pairs)) == [(1, 3), (2, 3)]
    keys = block_keys(con, feats="feats")
    assert {rid for rid, _k in keys} == {1, 2, 3}
    assert all(len(k) == 32 and "王" not in k for _rid, k in keys)  # no names stored
    assert len({k for rid, k in keys if rid == 1}) == len({k for rid, k in keys if rid == 2})


def test_scoring_core_ranks_true_duplicates_first() -> None:
    rows, person_of = synthetic_people(3000, seed=2)
    scored = score_records(records_table(rows))
    pairs = scored.pairs
    same = np.array([person_of[a] == person_of[b] for a, b in rid_pairs(pairs)])
    probability = pairs.column("probability").to_numpy()
    true_pairs = len(rows) // 2
    accepted = probability >= 0.9
    precision = same[accepted].mean()
    recall = (same & accepted).sum() / true_pairs
    # measured on this data: precision 0.996, recall 1.0
    assert precision > 0.99 and recall > 0.97
    assert scored.model.prior == pytest.approx(true_pairs / (len(rows) * (len(rows) - 1) / 2),
                                               rel=0.3)  # fmt: skip
