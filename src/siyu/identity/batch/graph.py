"""What both component paths produce, and the rule that decides which components to replay.

Records are nodes; a matching key shared by several records links them. Two graphs matter:
the *strong* graph (strong keys only) and the *full* graph (strong and weak keys). A full
component is independent of every other (the resolver only relates records through shared
keys, and a cannot-link only matters between records that could meet), so it is resolved
on its own, and most need no replay at all (decision 5):

- no guard can bite: per strong component, distinct values of each guarded type and the
  customer-record count are within the limits (every merge in it is then allowed), no
  record is under a cannot-link, and no anonymous record is a customer record;
- and either no record is anonymous (weak keys only): persons are the strong components,
  since weak keys never join identified persons;
- or no record is identified: the anonymous records are one person (they join any
  anonymous holder of their keys);
- or exactly one strong component is identified and every anonymous record has a single
  weak key that identified records carry, and either exactly one does (the anonymous
  record joins that record's person whether it arrives before it, absorbed when it comes,
  or after, the single identified holder), or one of them arrives after it (that carrier
  absorbs every anonymous holder of the key, so whatever the record joined meanwhile ends
  in the component's person), or it arrives after every identified record of the
  component (they are one person by then, the key's only holder).

Everything else is replayed with the pure `Resolver` in arrival order, so the rules exist
once. Components are labelled by their smallest `seq`, which both paths compute alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir
import pyarrow as pa

from siyu.tenants import IdentityRules

# Per matching key: 0 = strong and unguarded, 1 = weak, 2 + i = the i-th guarded type.
STRONG, WEAK, GUARDED = 0, 1, 2

METHODS = ("fast", "portable")


@dataclass(frozen=True)
class Components:
    """Per record (`table`: seq, strong, full, replay, grp) and how much must be replayed.

    `strong`/`full` are the smallest seq of the record's strong/full component; `grp` is
    the smallest seq of its person when decided without replay (null when `replay`)."""

    table: ir.Table
    records: int
    strong_components: int
    full_components: int
    replay_components: int
    replay_records: int
    # The records to replay (seq, kind, full) and their key rows (seq, pos, id_type, value), when
    # the component step already holds them; else the replay reads them from the engine.
    replay_input: tuple[pa.Table, pa.Table] | None = None
    # `table` itself, when it is an in-memory Arrow table (the fast path), and the old
    # OneID of every record in the same order (dictionary-encoded, for naming).
    decided: pa.Table | None = None
    old_oneids: pa.DictionaryArray | None = None


def guarded_types(rules: IdentityRules) -> list[tuple[str, int]]:
    """(type, limit) of the guarded strong types, in a fixed order (weak types never count)."""
    weak = set(rules.weak_types)
    return sorted((t, limit) for t, limit in rules.max_per_type.items() if t not in weak)
