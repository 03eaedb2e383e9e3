"""A synthetic identity link graph at any size, written straight into rebuild facts (Parquet).

Persons have 1..50 records (geometric, mean ≈ 2.5). Each person owns six identifiers
(hashed phone, source customer key, member number, UnionID, e-mail, device); its records
carry two of them each, chained (slots j, j+1), so a person is connected the way real
records are: through different identifiers on different channels. On top of that:

- 1% of persons share their phone with the previous person (a family phone): the pair's
  two UnionIDs then trip the UnionID guard and are replayed;
- 0.05% of records carry one of a few shop phones a cashier typed for walk-ins: hub
  components with many phones, cut by the phone guard;
- 0.5% of persons share their device with the previous person (a family tablet);
- 1% of records are anonymous sessions: one device, nothing else.

The old OneID of every record is its generating person, as if a previous run had found
exactly the persons generated (hubs and families then show up as merges and splits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from siyu.identity.batch.facts import HOLDERS, KEYS, LINKS, OWNERS

FAMILY_PHONE, SHOP_PHONE, FAMILY_DEVICE, ANONYMOUS = 0.01, 0.0005, 0.005, 0.01
SHOP_PHONES = 20
SLOTS = 6  # phone, source customer, member no, UnionID, e-mail, device


def write_link_graph(root: Path, *, records: int, seed: int = 1) -> dict[str, Any]:
    """Write LINKS and KEYS facts (and empty OWNERS/HOLDERS) for `records` records."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.geometric(0.4, size=records), 50)
    ends = np.cumsum(sizes)
    persons = int(np.searchsorted(ends, records)) + 1
    sizes = sizes[:persons]
    sizes[-1] -= int(ends[persons - 1]) - records
    person = np.repeat(np.arange(persons, dtype=np.int64), sizes)
    position = np.arange(records, dtype=np.int64) - np.repeat(ends[:persons] - sizes, sizes)

    phone_of = np.arange(persons, dtype=np.int64)
    family = rng.random(persons) < FAMILY_PHONE
    family[0] = False
    phone_of[family] = phone_of[family] - 1
    device_of = np.arange(persons, dtype=np.int64)
    tablet = rng.random(persons) < FAMILY_DEVICE
    tablet[0] = False
    device_of[tablet] = device_of[tablet] - 1
    shop = np.where(rng.random(records) < SHOP_PHONE, rng.integers(0, SHOP_PHONES, records), -1)
    anonymous = rng.random(records) < ANONYMOUS

    table = pa.table(
        {
            "seq": np.arange(1, records + 1, dtype=np.int64),
            "person": person,
            "position": position,
            "phone": phone_of[person],
            "device": device_of[person],
            "shop": shop,
            "anonymous": anonymous,
        }
    )
    for fact in (LINKS, KEYS, OWNERS, HOLDERS):
        (root / fact).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.register("records", table)
        con.execute(_LINKS_SQL.format(out=root / LINKS / "part-00000.parquet"))
        con.execute(_KEYS_SQL.format(slots=SLOTS, out=root / KEYS / "part-00000.parquet"))
        for fact in (OWNERS, HOLDERS):
            con.execute(_EMPTY_SQL.format(out=root / fact / "part-00000.parquet"))
        identifiers = con.execute(
            f"SELECT count(*) FROM read_parquet('{root / KEYS}/*.parquet')"
        ).fetchone()
    finally:
        con.close()
    return {
        "records": records,
        "identifiers": int(identifiers[0]) if identifiers else 0,
        "generated_persons": persons,
        "anonymous_records": int(anonymous.sum()),
        "shop_phone_records": int((shop >= 0).sum()),
    }


_LINKS_SQL = """
COPY (
    SELECT seq,
           CASE WHEN anonymous THEN 'event'
                WHEN position % 3 = 0 THEN 'customer'
                WHEN position % 3 = 1 THEN 'order' ELSE 'event' END AS kind,
           printf('P%025d', person) AS oneid
    FROM records ORDER BY seq
) TO '{out}' (FORMAT parquet)
"""

# Identified records carry slots (j, j+1) of their person; anonymous ones the device only.
_KEYS_SQL = """
COPY (
    WITH slots AS (
        SELECT seq, person, phone, device, shop, 0 AS pos, position % {slots} AS slot
        FROM records WHERE NOT anonymous
        UNION ALL
        SELECT seq, person, phone, device, shop, 1, (position + 1) % {slots}
        FROM records WHERE NOT anonymous
        UNION ALL
        SELECT seq, person, phone, device, shop, 0, 5 FROM records WHERE anonymous
    )
    SELECT seq, pos::INTEGER AS pos,
           ['phone_sha256', 'source_customer', 'member_no', 'wechat_unionid', 'email',
            'device_id'][slot + 1] AS id_type,
           CASE slot
               WHEN 0 THEN sha256(CASE WHEN shop >= 0 THEN 'shop-' || shop
                                       ELSE 'phone-' || phone END)
               WHEN 1 THEN 'tmall/c' || person
               WHEN 2 THEN printf('M%09d', person)
               WHEN 3 THEN 'o6_' || md5('union-' || person)
               WHEN 4 THEN 'u' || person || '@example.com'
               ELSE 'dev-' || device
           END AS value
    FROM slots ORDER BY seq, pos
) TO '{out}' (FORMAT parquet)
"""

_EMPTY_SQL = """
COPY (SELECT ''::VARCHAR AS id_type, ''::VARCHAR AS value, ''::VARCHAR AS oneid LIMIT 0)
TO '{out}' (FORMAT parquet)
"""
