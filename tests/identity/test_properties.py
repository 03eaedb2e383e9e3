"""Property tests of OneID resolution against independent references (SQLite only).

Random sequences of imports over a small universe (8 phones, 4 UnionIDs, 3 devices,
records from 3 sources) are checked against a union-find written here, not the Resolver:

(a) no guards, no weak ids, no detaches: persons are the connected components of the
    strong-identifier graph (with each record's latest identifiers);
(b) with guards and approved overrides of blocked merges: the arrival-order reference
    (union-find, guard checked before each union, none for an approved pair);
(c) every OneID ever returned still resolves to a live person;
(d) every identifier is owned by exactly one live person that has a record carrying it.

Each example runs in its own rolled-back transaction with a tenant of its own.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu import online
from siyu.identity import IdentityError, current_oneid, detach_record, list_blocked
from siyu.identity.models import IdentityLink, StrongIdentifier, WeakIdentifier
from siyu.ingest import ingest_records
from siyu.store import Store
from siyu.tenants import IdentityRules, TenantContext
from support import identity_map, label, partition, rollback_session, tenant_with

Key = tuple[str, str]

SOURCES = ("tmall", "jd", "pos")
PHONES = tuple(f"1390000000{i}" for i in range(8))
UNIONIDS = tuple(f"union-{i}" for i in range(4))
DEVICES = tuple(f"device-{i}" for i in range(3))
CUSTOMER_IDS = ("c0", "c1", "c2", "c3")
NO_GUARDS = IdentityRules(max_per_type={}, max_customer_records=10_000)
# SIYU_PROPERTY_EXAMPLES=1000 for a long hunt; the default keeps the suite fast.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("SIYU_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def sha(digits: str) -> str:
    return hashlib.sha256(digits.encode()).hexdigest()


@dataclass(frozen=True)
class Rec:
    """A generated record with the matching keys the contract says it must yield."""

    label: str
    kind: str
    data: dict[str, Any]
    strong: frozenset[Key]
    weak: frozenset[Key]

    @property
    def content(self) -> bytes:
        return orjson.dumps(self.data, option=orjson.OPT_SORT_KEYS)


# -- generating records -------------------------------------------------------------------


@st.composite
def identifiers(draw: st.DrawFn, *, devices: bool) -> tuple[dict[str, str], set[Key], set[Key]]:
    """An identifiers dict in some spelling, and the strong and weak keys it must yield."""
    ids: dict[str, str] = {}
    strong: set[Key] = set()
    weak: set[Key] = set()
    if draw(st.booleans()):
        digits = draw(st.sampled_from(PHONES))
        spelling = draw(st.sampled_from(["{}", "+86{}", "+86 {} ", "0086-{}", "86{}"]))
        ids["phone"] = spelling.format(digits)
        strong.add(("phone_sha256", sha(digits)))
    if draw(st.integers(0, 3)) == 0:  # a hashed phone from a platform, maybe another one
        digits = draw(st.sampled_from(PHONES))
        hashed = sha(digits)
        ids["phone_sha256"] = hashed.upper() if draw(st.booleans()) else hashed
        strong.add(("phone_sha256", hashed))
    if draw(st.integers(0, 2)) == 0:
        unionid = draw(st.sampled_from(UNIONIDS))
        ids["wechat_unionid"] = unionid
        strong.add(("wechat_unionid", unionid))
    if devices and draw(st.integers(0, 2)) == 0:
        device = draw(st.sampled_from(DEVICES))
        ids["device_id"] = device.upper() if draw(st.booleans()) else device
        weak.add(("device_id", device))
    return ids, strong, weak


@st.composite
def records(draw: st.DrawFn, *, devices: bool) -> Rec:
    kind = draw(st.sampled_from(["customer", "customer", "order", "event"]))
    source = draw(st.sampled_from(SOURCES))
    ids, strong, weak = draw(identifiers(devices=devices))
    if kind == "customer":
        external_id = draw(st.sampled_from(CUSTOMER_IDS))
        data: dict[str, Any] = {"kind": kind, "source": source, "external_id": external_id}
        if ids:
            data["identifiers"] = ids
        strong.add(("source_customer", f"{source}/{external_id}"))
        return Rec(label(kind, source, external_id), kind, data, frozenset(strong), frozenset(weak))
    ref: dict[str, Any] = {}
    if draw(st.booleans()) or not (strong or weak):
        external_id = draw(st.sampled_from(CUSTOMER_IDS))
        ref["external_id"] = external_id
        strong.add(("source_customer", f"{source}/{external_id}"))
    if ids:
        ref["identifiers"] = ids
    record_id = draw(st.sampled_from(["1", "2", "3", "4", "5"]))
    if kind == "order":
        data = {
            "kind": kind,
            "source": source,
            "order_id": record_id,
            "customer_ref": ref,
            "status": "paid",
            "created_at": "2024-06-18T20:00:00",
            "total_amount": "10.00",
            "paid_amount": "10.00",
        }
    else:
        data = {
            "kind": kind,
            "source": source,
            "event_id": record_id,
            "customer_ref": ref,
            "type": "page_view",
            "occurred_at": "2024-06-18T20:00:00",
        }
    return Rec(label(kind, source, record_id), kind, data, frozenset(strong), frozenset(weak))


def batches(*, devices: bool) -> st.SearchStrategy[list[list[Rec]]]:
    return st.lists(
        st.lists(records(devices=devices), min_size=1, max_size=4), min_size=1, max_size=8
    )


# -- independent references ---------------------------------------------------------------


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, item: Any) -> Any:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: Any, b: Any) -> None:
        self.parent[self.find(a)] = self.find(b)


def components(keys_of: dict[str, frozenset[Key]]) -> set[frozenset[str]]:
    """Connected components of records joined by shared strong keys."""
    links = UnionFind()
    for record, keys in keys_of.items():
        links.find(("record", record))
        for key in keys:
            links.union(("record", record), ("key", key))
    groups: dict[Any, set[str]] = defaultdict(set)
    for record in keys_of:
        groups[links.find(("record", record))].add(record)
    return {frozenset(group) for group in groups.values()}


@dataclass
class _Person:
    values: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    customers: int = 0
    overridden: bool = False  # holds the earlier record of an approved pair


class GuardedReference:
    """Records in arrival order; a union happens only if no guard forbids it, or if an
    operator approved it (`approved`: record -> earlier records it must join).

    A person is named by its first record's arrival number, so "older" is "smaller". A
    person an approval took past a limit may keep what it has, not grow further.
    """

    def __init__(self, rules: IdentityRules, approved: dict[str, set[str]] | None = None) -> None:
        self.rules = rules
        self.approved = approved or {}
        self.partners = {q for qs in self.approved.values() for q in qs}
        self.persons: UnionFind = UnionFind()
        self.state: dict[int, _Person] = {}
        self.owner: dict[Key, int] = {}
        self.person_of: dict[str, int] = {}
        self.creator: dict[int, str] = {}  # person -> the record that started it
        self.arrivals = 0

    def _blocks(self, a: _Person, b: _Person) -> bool:
        for id_type, limit in self.rules.max_per_type.items():
            allowed = max([limit] + [len(p.values[id_type]) for p in (a, b) if p.overridden])
            if len(a.values[id_type] | b.values[id_type]) > allowed:
                return True
        allowed = max(
            [self.rules.max_customer_records] + [p.customers for p in (a, b) if p.overridden]
        )
        return a.customers + b.customers > allowed

    def add(self, record: Rec) -> None:
        self.arrivals += 1
        own = _Person(customers=1 if record.kind == "customer" else 0)
        for id_type, value in record.strong:
            if (id_type, value) not in self.owner:
                own.values[id_type].add(value)
        own.overridden = record.label in self.partners
        approved = {
            self.persons.find(self.person_of[q]) for q in self.approved.get(record.label, ())
        }
        touched = sorted(
            {self.persons.find(self.owner[k]) for k in record.strong if k in self.owner} | approved
        )
        person: int | None = None
        for other in touched:
            mine = own if person is None else self.state[person]
            if other not in approved and self._blocks(mine, self.state[other]):
                continue
            if person is None:
                person = other
                self._absorb(person, own)
            else:
                person = self._union(person, other)
        if person is None:
            person = self.arrivals
            self.persons.find(person)
            self.creator[person] = record.label
            self.state[person] = _Person()
            self._absorb(person, own)
        for id_type, values in own.values.items():
            for value in values:
                self.owner[(id_type, value)] = person
        self.person_of[record.label] = person

    def _absorb(self, person: int, own: _Person) -> None:
        for id_type, values in own.values.items():
            self.state[person].values[id_type] |= values
        self.state[person].customers += own.customers
        self.state[person].overridden |= own.overridden

    def _union(self, a: int, b: int) -> int:
        kept, gone = min(a, b), max(a, b)
        for id_type, values in self.state[gone].values.items():
            self.state[kept].values[id_type] |= values
        self.state[kept].customers += self.state[gone].customers
        self.state[kept].overridden |= self.state[gone].overridden
        self.persons.parent[gone] = kept
        return kept

    def oldest_records(self) -> dict[str, set[str]]:
        """For each live person, the record that started it -> all its records."""
        groups: dict[int, set[str]] = defaultdict(set)
        for record, person in self.person_of.items():
            groups[self.persons.find(person)].add(record)
        return {self.creator[root]: group for root, group in groups.items()}

    def partition(self) -> set[frozenset[str]]:
        groups: dict[int, set[str]] = defaultdict(set)
        for record, person in self.person_of.items():
            groups[self.persons.find(person)].add(record)
        return {frozenset(group) for group in groups.values()}


# -- checks on the store ------------------------------------------------------------------


def import_batch(
    session: Session, tenant: TenantContext, batch: Iterable[Rec], seen: set[str]
) -> list[str]:
    """Import a batch; every result is accepted and names the record's live OneID."""
    items = list(batch)
    report, results = ingest_records(
        session=session, tenant=tenant, items=[r.data for r in items], origin="hypothesis"
    )
    assert [r.status for r in results] == ["accepted"] * len(items), results
    mapping = identity_map(session, tenant)
    for record, result in zip(items, results, strict=True):
        assert result.oneid == mapping[record.label], (record.label, result)
        seen.add(result.oneid)
    assert report.accepted == len(items)
    return [str(result.oneid) for result in results]


def assert_oneids_resolve(session: Session, tenant: TenantContext, seen: set[str]) -> None:
    """(c) every OneID ever returned resolves to a live OneID, one that has records."""
    live = set(identity_map(session, tenant).values())
    for oneid in seen:
        resolved = current_oneid(session=session, tenant=tenant, oneid=oneid)
        assert resolved in live, (oneid, resolved)
        assert current_oneid(session=session, tenant=tenant, oneid=str(resolved)) == resolved


def assert_identifiers_owned_once(session: Session, tenant: TenantContext) -> None:
    """(d) each identifier a record carries has exactly one owner: a live person holding
    a record that carries it; weak identifiers are only held by such persons."""
    carried: dict[Key, set[str]] = defaultdict(set)
    for keys, oneid in session.execute(
        select(IdentityLink.keys, IdentityLink.oneid).where(IdentityLink.tenant_id == tenant.id)
    ):
        for id_type, value in keys:
            carried[(id_type, value)].add(oneid)
    owners: dict[Key, list[str]] = defaultdict(list)
    for id_type, value, oneid in session.execute(
        select(StrongIdentifier.id_type, StrongIdentifier.value, StrongIdentifier.oneid).where(
            StrongIdentifier.tenant_id == tenant.id
        )
    ):
        owners[(id_type, value)].append(oneid)
    weak_types = set(tenant.settings.identity.weak_types)
    strong_carried = {k for k in carried if k[0] not in weak_types}
    assert set(owners) == strong_carried
    for key, holders in owners.items():
        assert len(holders) == 1, (key, holders)
        assert holders[0] in carried[key], (key, holders, carried[key])
    for id_type, value, oneid in session.execute(
        select(WeakIdentifier.id_type, WeakIdentifier.value, WeakIdentifier.oneid).where(
            WeakIdentifier.tenant_id == tenant.id
        )
    ):
        assert oneid in carried[(id_type, value)], (id_type, value, oneid)


# -- the properties -----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(batches(devices=False))
def test_without_guards_persons_are_connected_components(
    sqlite_store: Store, plan: list[list[Rec]]
) -> None:
    with rollback_session(sqlite_store) as session:
        tenant = tenant_with(session, NO_GUARDS)
        latest: dict[str, Rec] = {}
        history: dict[str, set[bytes]] = defaultdict(set)
        seen: set[str] = set()
        for batch in plan:
            import_batch(session, tenant, batch, seen)
            for record in batch:
                # A version seen before changes nothing; new content replaces the record.
                if record.content not in history[record.label]:
                    latest[record.label] = record
                history[record.label].add(record.content)
        expected = components({name: r.strong for name, r in latest.items()})
        assert partition(session, tenant) == expected
        assert_oneids_resolve(session, tenant, seen)
        assert_identifiers_owned_once(session, tenant)


@PROPERTY_SETTINGS
@given(
    batches(devices=False),
    st.lists(st.one_of(st.none(), st.integers(0, 100)), min_size=8, max_size=8),
    st.integers(1, 2),
    st.integers(1, 3),
)
def test_with_guards_persons_follow_the_arrival_order_reference(
    sqlite_store: Store,
    plan: list[list[Rec]],
    approvals: list[int | None],
    max_phones: int,
    max_customers: int,
) -> None:
    """Imports, each batch maybe followed by approving one open blocked merge: persons are
    the components under the guards plus the approved links, in arrival order."""
    rules = IdentityRules(
        max_per_type={"phone_sha256": max_phones, "wechat_unionid": 1},
        max_customer_records=max_customers,
    )
    with rollback_session(sqlite_store) as session:
        tenant = tenant_with(session, rules)
        first_oneid: dict[str, str] = {}
        arrived: list[Rec] = []
        approved: list[tuple[str, str]] = []
        seen: set[str] = set()
        for batch, choice in zip(plan, approvals, strict=False):
            fresh = []
            sent = {r.label for r in arrived}
            for record in batch:  # new records only: arrival order is then the import order
                if record.label not in sent:
                    sent.add(record.label)
                    fresh.append(record)
            if fresh:
                oneids = import_batch(session, tenant, fresh, seen)
                arrived.extend(fresh)
                first_oneid.update((r.label, o) for r, o in zip(fresh, oneids, strict=True))
            pair = approve_one(session, tenant, choice)
            if pair is not None:
                approved.append(pair)
        reference = GuardedReference(rules, approved_links(arrived, approved))
        for record in arrived:
            reference.add(record)
        event(f"approved overrides: {min(len(approved), 2)}")
        assert partition(session, tenant) == reference.partition()
        # Merges keep the older OneID: each person still has its first record's OneID (an
        # approval re-resolves later records, which may then leave under a OneID of their
        # own: its merge keeping the older OneID is checked in `approve_one`).
        mapping = identity_map(session, tenant)
        for oldest, records_of_person in reference.oldest_records().items():
            if not approved:
                assert {mapping[r] for r in records_of_person} == {first_oneid[oldest]}
        event(f"guard blocked a merge: {bool(list_blocked(session=session, tenant=tenant))}")
        assert_oneids_resolve(session, tenant, seen)
        assert_identifiers_owned_once(session, tenant)


def approve_one(
    session: Session, tenant: TenantContext, choice: int | None, *, approve: bool = True
) -> tuple[str, str] | None:
    """Approve (or dismiss) the `choice`-th open blocked merge, if any; the two records the
    decision joins (or keeps apart)."""
    items = list_blocked(session=session, tenant=tenant) if choice is not None else []
    if choice is None or not items:
        return None
    item = items[choice % len(items)]
    before = identity_map(session, tenant)  # in arrival order: a person's first record first
    first_seq: dict[str, int] = {}
    for position, oneid in enumerate(before.values()):
        first_seq.setdefault(oneid, position)
    try:
        decision = online.review_blocked(
            session=session,
            tenant=tenant,
            blocked_id=item.id,
            approve=approve,
            actor="hypothesis",
            reason="property test",
        )
    except IdentityError as error:  # the one refusal an open item can meet: a manual split
        assert approve and "split apart by hand" in str(error), error
        event("approval refused: split by hand")
        return None
    if approve:
        assert decision.oneid == decision.other_oneid
        # The older of the two persons keeps its OneID, as in an online merge.
        other = current_oneid(session=session, tenant=tenant, oneid=item.other_oneid)
        older = min((before[str(item.record)], other), key=first_seq.__getitem__)
        # The older person keeps its OneID, as in an online merge (unless the approval's
        # replay moved some of its records elsewhere: its OneID then follows the most).
        after = identity_map(session, tenant)
        if all(after[r] == decision.oneid for r, o in before.items() if o == older):
            assert decision.oneid == older
        partner = decision_view(session, tenant, item.id)
        assert {after[str(item.record)], after[partner]} == {decision.oneid}
    return str(item.record), decision_view(session, tenant, item.id)


def decision_view(session: Session, tenant: TenantContext, blocked_id: int) -> str:
    """The other record of a decided blocked merge."""
    views = list_blocked(session=session, tenant=tenant, status="reviewed", limit=10_000)
    return str(next(v.other_record for v in views if v.id == blocked_id))


def approved_links(arrived: list[Rec], pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Approved pairs as the reference takes them: the later record -> the earlier ones."""
    order = {record.label: position for position, record in enumerate(arrived)}
    links: dict[str, set[str]] = defaultdict(set)
    for a, b in pairs:
        later, earlier = (a, b) if order[a] > order[b] else (b, a)
        links[later].add(earlier)
    return links


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Imports (with devices, updates, guards) interleaved with occasional detaches and
    reviews of blocked merges (approve or dismiss)."""
    steps: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        if steps and draw(st.integers(0, 3)) == 0:
            steps.append(("detach", draw(st.integers(0, 10_000))))
        elif steps and draw(st.integers(0, 2)) == 0:
            steps.append(("review", (draw(st.integers(0, 100)), draw(st.booleans()))))
        else:
            steps.append(("import", draw(st.lists(records(devices=True), min_size=1, max_size=4))))
    return steps


@PROPERTY_SETTINGS
@given(operations())
def test_oneids_always_resolve_and_identifiers_have_one_owner(
    sqlite_store: Store, steps: list[tuple[str, Any]]
) -> None:
    rules = IdentityRules(max_per_type={"phone_sha256": 2, "wechat_unionid": 1})
    with rollback_session(sqlite_store) as session:
        tenant = tenant_with(session, rules)
        seen: set[str] = set()
        imported: list[Rec] = []
        for action, argument in steps:
            if action == "import":
                import_batch(session, tenant, argument, seen)
                imported.extend(argument)
                continue
            if action == "review":
                choice, approve = argument
                if approve_one(session, tenant, choice, approve=approve):
                    event("reviewed a blocked merge")
                assert_oneids_resolve(session, tenant, seen)
                continue
            target = imported[argument % len(imported)]
            kind, rest = target.label.split(":", 1)
            source, record_id = rest.split("/", 1)
            before = identity_map(session, tenant)
            try:
                result = detach_record(
                    session=session,
                    tenant=tenant,
                    kind=kind,
                    source=source,
                    record_id=record_id,
                    actor="hypothesis",
                    reason="property test",
                )
            except IdentityError:
                together = [r for r, o in before.items() if o == before[target.label]]
                assert together == [target.label]  # refused only when it is alone
                continue
            event("detached a record")
            seen.update((result.old_oneid, result.new_oneid))
            after = identity_map(session, tenant)
            assert after[target.label] == result.new_oneid
            partners = {
                r for r, o in before.items() if o == before[target.label] and r != target.label
            }
            # Split off from every former partner, except a customer record's own orders
            # and events (they carry its source_customer key).
            keys = _link_keys(session, tenant)
            own_key = ("source_customer", rest) if kind == "customer" else None
            strangers = {r for r in partners if own_key is None or own_key not in keys[r]}
            assert all(after[r] != after[target.label] for r in strangers)
            assert_oneids_resolve(session, tenant, seen)
        assert_oneids_resolve(session, tenant, seen)
        assert_identifiers_owned_once(session, tenant)


def _link_keys(session: Session, tenant: TenantContext) -> dict[str, set[Key]]:
    """The matching keys each record is linked with, as the store holds them."""
    return {
        label(kind, source, record_id): {(t, v) for t, v in keys}
        for kind, source, record_id, keys in session.execute(
            select(
                IdentityLink.kind, IdentityLink.source, IdentityLink.record_id, IdentityLink.keys
            ).where(IdentityLink.tenant_id == tenant.id)
        )
    }
