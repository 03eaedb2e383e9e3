"""The OneID rules as one pure, in-memory algorithm, shared by the online path and replays.

Resolution is defined as processing records in arrival order (`seq`):

1. Strong step. The persons owning any of the record's strong identifiers are tried
   oldest first; each is merged with the record (and with what it has joined so far)
   unless a guard forbids it (too many distinct values of a type, too many customer
   records, a manual split), in which case the merge is recorded as blocked. A person
   reached through an approved override's key (`APPROVED`: an operator approved a blocked
   merge) is merged despite the count guards; a manual split still wins.
2. Weak step. Weak identifiers (`device_id`) never join two identified persons. A record
   with strong identifiers absorbs anonymous persons (no strong identifier) holding its
   weak identifiers; an anonymous record joins the anonymous holder, else the one
   identified holder if exactly one exists, else starts a person of its own.

With no guard triggered this is exactly the connected components of the strong-identifier
graph; the batch engine (issue 3) reproduces it by components plus replay of the few
components a guard cuts (and of those holding an approved override).

A person an approved override took past a limit keeps what it has: a guard only refuses
it merges that would take it further (a new record carrying one of its own phones still
joins it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from siyu.identity.identifiers import APPROVED
from siyu.tenants.schemas import IdentityRules

Key = tuple[str, str]
_NONE: frozenset[str] = frozenset()


@dataclass
class PersonState:
    """What the guards need to know about a person."""

    oneid: str
    first_seq: int
    strong: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    customer_records: int = 0
    constrained: set[int] = field(default_factory=set)  # member seqs with a manual split
    forbidden: set[int] = field(default_factory=set)  # seqs that may never join this person

    @property
    def identified(self) -> bool:
        # An approval's key is a decision, not an identifier: it never makes one identified.
        return any(values for id_type, values in self.strong.items() if id_type != APPROVED)


@dataclass(frozen=True)
class Incoming:
    """A record to resolve: its arrival position and its normalised matching keys."""

    seq: int
    kind: str
    keys: tuple[Key, ...]


@dataclass(frozen=True)
class Merge:
    kept: str
    retired: str
    key: Key
    seq: int


@dataclass(frozen=True)
class Blocked:
    seq: int
    other: str
    key: Key
    guard: str


def _allowance(person: PersonState, holds: int) -> int:
    """What an approved override let a person hold past a limit: what it holds (it may keep
    it, not grow further), for a person holding an approval's key; else nothing."""
    return holds if person.strong.get(APPROVED) else 0


class Resolver:
    """Applies the OneID rules record by record over a (partial) view of the graph."""

    def __init__(
        self,
        *,
        rules: IdentityRules,
        new_oneid: Callable[[], str],
        constraints: Iterable[tuple[int, int]] = (),
    ) -> None:
        self.rules = rules
        self.weak_types = frozenset(rules.weak_types)
        self.new_oneid = new_oneid
        self.persons: dict[str, PersonState] = {}
        self.owners: dict[Key, str] = {}
        self.weak_holders: dict[Key, set[str]] = defaultdict(set)
        self.retired: dict[str, str] = {}
        self.created: list[str] = []
        self.merges: list[Merge] = []
        self.blocked: list[Blocked] = []
        self.new_strong: dict[Key, str] = {}
        self.new_weak: set[tuple[Key, str]] = set()
        self.forbidden_by_seq: dict[int, set[int]] = defaultdict(set)
        for a, b in constraints:
            self.forbidden_by_seq[a].add(b)
            self.forbidden_by_seq[b].add(a)

    # -- loading existing state -------------------------------------------------------
    def load_person(self, state: PersonState) -> None:
        self.persons[state.oneid] = state
        for id_type, values in state.strong.items():
            for value in values:
                self.owners[(id_type, value)] = state.oneid

    def load_weak(self, key: Key, oneid: str) -> None:
        self.weak_holders[key].add(oneid)

    # -- resolution -------------------------------------------------------------------
    def current(self, oneid: str) -> str:
        """The live OneID a (possibly retired) OneID now resolves to."""
        while oneid in self.retired:
            oneid = self.retired[oneid]
        return oneid

    def add(self, record: Incoming) -> str:
        """Resolve one record; returns the OneID it belongs to (before later merges)."""
        strong: list[Key] = []
        weak: list[Key] = []
        weak_types = self.weak_types
        for key in record.keys:
            (weak if key[0] in weak_types else strong).append(key)
        own = PersonState(oneid="", first_seq=record.seq)
        own.customer_records = 1 if record.kind == "customer" else 0
        if record.seq in self.forbidden_by_seq:
            own.constrained.add(record.seq)
            own.forbidden |= self.forbidden_by_seq[record.seq]
        touched: dict[str, Key] = {}
        approved: set[str] = set()  # persons reached through an approved override
        for key in strong:
            owner = self.owners.get(key)
            if owner is None:
                own.strong[key[0]].add(key[1])
            else:
                owner = self.current(owner)
                touched.setdefault(owner, key)
                if key[0] == APPROVED:
                    approved.add(owner)

        person: PersonState | None = None
        order = (
            sorted(touched, key=lambda o: self.persons[o].first_seq)
            if len(touched) > 1
            else touched
        )
        for oneid in order:
            other = self.persons[oneid]
            guard = self._violation(
                own if person is None else person, other, approved=oneid in approved
            )
            if guard is not None:
                self.blocked.append(Blocked(record.seq, oneid, touched[oneid], guard))
                continue
            if person is None:
                person = other
                self._absorb_record(other, own)
            else:
                person = self._merge(person, other, touched[oneid], record.seq)

        identified = any(key[0] != APPROVED for key in strong)
        person = self._weak_step(record, own, person, weak, identified=identified)
        for key in weak:
            if person.oneid not in self.weak_holders[key]:
                self.weak_holders[key].add(person.oneid)
                self.new_weak.add((key, person.oneid))
        return person.oneid

    def _weak_step(
        self,
        record: Incoming,
        own: PersonState,
        person: PersonState | None,
        weak: list[Key],
        *,
        identified: bool,
    ) -> PersonState:
        if not weak:  # the common case, and the batch replay's hot path: nothing to stitch
            return self._create(own) if person is None else person
        holders: dict[str, Key] = {}
        for key in weak:
            for holder in self.weak_holders.get(key, ()):
                holders.setdefault(self.current(holder), key)
        if not holders:  # keys nobody holds yet: nothing to join
            return self._create(own) if person is None else person
        anonymous = sorted(
            (o for o in holders if not self.persons[o].identified),
            key=lambda o: self.persons[o].first_seq,
        )
        if person is None and not identified and not anonymous:
            known = [o for o in holders if self.persons[o].identified]
            if len(known) == 1 and self._violation(own, self.persons[known[0]]) is None:
                person = self.persons[known[0]]
                self._absorb_record(person, own)
        for oneid in anonymous:
            other = self.persons[oneid]
            if person is None:
                if self._violation(own, other) is None:
                    person = other
                    self._absorb_record(other, own)
                else:
                    self.blocked.append(Blocked(record.seq, oneid, holders[oneid], "cannot_link"))
                continue
            if person.oneid == oneid:
                continue
            guard = self._violation(person, other)
            if guard is None:
                person = self._merge(person, other, holders[oneid], record.seq)
            else:
                self.blocked.append(Blocked(record.seq, oneid, holders[oneid], guard))
        if person is None:
            person = self._create(own)
        return person

    def _violation(self, a: PersonState, b: PersonState, *, approved: bool = False) -> str | None:
        """The guard a merge of `a` and `b` would break, if any (`approved`: an operator
        approved it, so only a manual split can forbid it)."""
        # Called for every merge candidate: count without building unions where the sizes
        # alone settle it.
        if not approved:
            for id_type, limit in self.rules.max_per_type.items():
                mine, theirs = a.strong.get(id_type) or _NONE, b.strong.get(id_type) or _NONE
                if len(mine) + len(theirs) <= limit:
                    continue
                limit = max(limit, _allowance(a, len(mine)), _allowance(b, len(theirs)))
                if len(mine | theirs) > limit:
                    return f"max_per_type:{id_type}"
            customers = a.customer_records + b.customer_records
            limit = self.rules.max_customer_records
            if customers > limit and customers > max(
                _allowance(a, a.customer_records), _allowance(b, b.customer_records)
            ):
                return "max_customer_records"
        if (a.forbidden or b.forbidden) and (a.forbidden | b.forbidden) & (
            a.constrained | b.constrained
        ):
            return "cannot_link"
        return None

    def _absorb_record(self, person: PersonState, own: PersonState) -> None:
        """Give `person` the record's own (unowned) strong keys and counts."""
        for id_type, values in own.strong.items():
            person.strong[id_type] |= values
            for value in values:
                self.owners[(id_type, value)] = person.oneid
                self.new_strong[(id_type, value)] = person.oneid
        person.customer_records += own.customer_records
        person.constrained |= own.constrained
        person.forbidden |= own.forbidden

    def _create(self, own: PersonState) -> PersonState:
        person = PersonState(oneid=self.new_oneid(), first_seq=own.first_seq)
        self.persons[person.oneid] = person
        self.created.append(person.oneid)
        self._absorb_record(person, own)
        return person

    def _merge(self, a: PersonState, b: PersonState, key: Key, seq: int) -> PersonState:
        """Merge two persons; the older OneID is kept, the other retires into it."""
        kept, gone = (a, b) if a.first_seq <= b.first_seq else (b, a)
        for id_type, values in gone.strong.items():
            kept.strong[id_type] |= values
        kept.customer_records += gone.customer_records
        kept.constrained |= gone.constrained
        kept.forbidden |= gone.forbidden
        self.retired[gone.oneid] = kept.oneid
        self.merges.append(Merge(kept.oneid, gone.oneid, key, seq))
        return kept
