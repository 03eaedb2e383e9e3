"""`name_persons` on integer arrays, for the fast path: the same naming, no SQL over strings.

Every record's person and old OneID come in memory (seq, grp, oneid in arrival order; the
OneIDs dictionary-encoded), so a person is an index and an old person a code. A group is
unchanged when all its records carry its first record's old OneID and as many records
carry that OneID as the group has (counts by `bincount`); only the (group, old OneID)
overlaps of the other groups are counted (a sort of their few records) and named by the
same greedy rule as the engine path.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from siyu.identity.batch.naming import Naming, name_changed
from siyu.identity.oneid import PENDING

Ints = npt.NDArray[np.int64]


def name_records(records: pa.Table, *, new_oneid: Callable[[], str]) -> Naming:
    """Name the new persons given every record's group and old OneID (seq, grp, oneid; seq
    ascending, oneid dictionary-encoded)."""
    seqs = records.column("seq").to_numpy()
    oneids = records.column("oneid").unify_dictionaries().combine_chunks()
    codes = oneids.indices.to_numpy(zero_copy_only=False)
    names = oneids.dictionary
    pending = names.index(PENDING).as_py() if len(names) else -1
    # Each group's name goes through Python (a dict per overlap): the cyclic collector
    # would rescan those hundreds of thousands of objects at every collection.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _name(seqs, records.column("grp").to_numpy(), codes, names, pending, new_oneid)
    finally:
        if collecting:
            gc.enable()


def _name(
    seqs: Ints,
    grp: Ints,
    codes: Ints,
    names: pa.Array,
    pending: int,
    new_oneid: Callable[[], str],
) -> Naming:
    """The naming itself (see the module's docstring)."""
    n = len(seqs)
    # A group is named by its first record's seq, so its index is that record's index.
    dense = n > 0 and int(seqs[-1]) - int(seqs[0]) + 1 == n
    group = grp - seqs[0] if dense else np.searchsorted(seqs, grp)
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
    for first in seqs[unknown].tolist():
        naming.names[first] = oneid = new_oneid()
        naming.fresh.append(oneid)
    return naming
