"""`name_persons` on integer arrays, for the fast path: the same naming, no SQL over strings.

Every record's person comes in memory (seq, grp in arrival order); old OneIDs are read
once, dictionary-encoded, so a person is an index and an old person a code. A group is
unchanged when all its records carry its first record's old OneID and as many records
carry that OneID as the group has (counts by `bincount`); only the (group, old OneID)
overlaps of the other groups are counted (a sort of their few records) and named by the
same greedy rule as the engine path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from siyu.engine import Engine
from siyu.identity.batch.facts import LINKS
from siyu.identity.batch.fast import read_fact
from siyu.identity.batch.naming import Naming, name_changed
from siyu.identity.oneid import PENDING


def name_records(engine: Engine, records: pa.Table, *, new_oneid: Callable[[], str]) -> Naming:
    """Name the new persons given every record's group (seq, grp; seq ascending)."""
    seqs = records.column("seq").to_numpy()
    links = read_fact(engine, LINKS, ["seq", "oneid"])
    old_seqs = links.column("seq").to_numpy()
    oneids = links.column("oneid").unify_dictionaries().combine_chunks()
    del links
    codes = oneids.indices.to_numpy(zero_copy_only=False)
    if not np.array_equal(old_seqs, seqs):
        order = np.argsort(old_seqs, kind="stable")
        if not np.array_equal(old_seqs[order], seqs):
            raise ValueError("the groups do not cover the links' records")
        codes = codes[order]
    del old_seqs
    names = oneids.dictionary
    pending = names.index(PENDING).as_py() if len(names) else -1
    n = len(seqs)
    # A group is named by its first record's seq, so its index is that record's index.
    group = np.searchsorted(seqs, records.column("grp").to_numpy())
    known = codes != pending
    new_n = np.bincount(group, minlength=n)
    old_n = np.bincount(codes[known], minlength=len(names))
    head = codes[group]  # the old OneID of each record's group's first record
    mixed = np.bincount(group[~known | (codes != head)], minlength=n) > 0
    is_group = new_n > 0
    clean = is_group & ~mixed & (codes != pending) & (new_n == old_n[codes])
    naming = Naming(persons=int(is_group.sum()), unchanged=int(clean.sum()))

    # Overlaps of the other groups: every record of an old person among them is there too
    # (a clean group holds all of its old person's records).
    rows = np.flatnonzero(known & ~clean[group])
    pair = group[rows].astype(np.int64) * len(names) + codes[rows]
    pairs, first_row, counts = np.unique(pair, return_index=True, return_counts=True)
    del first_row
    pair_group, pair_code = pairs // len(names), pairs % len(names)
    # The old person's first record: rows are in arrival order, so its first row.
    old_codes, old_first = np.unique(codes[rows], return_index=True)
    first_seq = seqs[rows[old_first]][np.searchsorted(old_codes, pair_code)]
    changed = [
        {"grp": g, "oneid": o, "n": c, "old_first": f}
        for g, o, c, f in zip(
            seqs[pair_group].tolist(),
            names.take(pa.array(pair_code)).to_pylist(),
            counts.tolist(),
            first_seq.tolist(),
            strict=True,
        )
    ]
    name_changed(naming, changed, new_oneid)
    # Groups of pending records only: new persons, in order of their first record.
    unknown = is_group & (np.bincount(group[known], minlength=n) == 0)
    for grp in seqs[unknown].tolist():
        naming.names[grp] = oneid = new_oneid()
        naming.fresh.append(oneid)
    return naming
