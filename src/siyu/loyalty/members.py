"""Members are persons: find and lock a person's account through their live OneID,
enrol, and merge memberships when identity merges persons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu import identity
from siyu.loyalty import events, tiers
from siyu.loyalty.errors import NotFoundError
from siyu.loyalty.journal import Account, inserted_id
from siyu.loyalty.merge import transfer
from siyu.loyalty.models import Member, RewardOrder
from siyu.loyalty.programs import ProgramRef
from siyu.store.base import table
from siyu.store.fast import Fast

_MEMBER = table(Member)


def _family(session: Session, program: ProgramRef, oneid: str) -> tuple[str, list[str]]:
    family = identity.oneid_family(session=session, tenant=program.tenant, oneid=oneid)
    if family is None:
        raise NotFoundError(f"no person with OneID {oneid}")
    return family


_ACTIVE = (
    select(_MEMBER)
    .where(
        _MEMBER.c.tenant_id == bindparam("tenant"),
        _MEMBER.c.program_id == bindparam("program"),
        _MEMBER.c.status == "active",
    )
    .order_by(_MEMBER.c.id)
    .with_for_update()  # the account lock (rendered as nothing on SQLite: BEGIN IMMEDIATE)
)
_LOCK_ONE = Fast(_ACTIVE.where(_MEMBER.c.oneid == bindparam("oneid")))
_LOCK_MANY = _ACTIVE.where(_MEMBER.c.oneid.in_(bindparam("oneids", expanding=True)))


def lock_member(
    session: Session, program: ProgramRef, oneid: str, *, now: datetime
) -> Account | None:
    """The person's membership, locked for this transaction (None: not a member).

    Memberships held under OneIDs that identity has since merged into this person are
    merged here first, so a retired OneID never holds points of its own.
    """
    live, retired = _family(session, program, oneid)
    where = {"tenant": program.tenant.id, "program": program.id}
    if retired:
        rows = session.execute(_LOCK_MANY, {**where, "oneids": [live, *retired]}).all()
    else:
        rows = _LOCK_ONE.rows(session, {**where, "oneid": live})
    if not rows:
        return None
    if len(rows) > 1 or rows[0].oneid != live:
        return merge_members(session, program, list(rows), live=live, now=now)
    return _account(program, rows[0])


def _account(program: ProgramRef, row: Row[Any]) -> Account:
    return Account(
        program=program,
        id=row.id,
        oneid=row.oneid,
        tier=row.tier,
        tier_expires_at=row.tier_expires_at,
        grace_until=row.grace_until,
    )


def enrol(
    session: Session,
    program: ProgramRef,
    oneid: str,
    *,
    via: str,
    now: datetime,
    enrolled_at: datetime | None = None,
    card_no: str | None = None,
) -> tuple[Account, bool]:
    """The person's membership, enrolling them if needed; True when newly enrolled."""
    found = lock_member(session, program, oneid, now=now)
    if found is not None:
        return found, False
    live, _retired = _family(session, program, oneid)
    base = program.settings.tiers.tiers[0].code
    values: dict[str, Any] = {
        "tenant_id": program.tenant.id,
        "program_id": program.id,
        "oneid": live,
        "card_no": card_no,
        "status": "active",
        "enrolled_at": enrolled_at or now,
        "enrolled_via": via,
        "tier": base,
        "tier_since": enrolled_at or now,
    }
    try:
        # A savepoint: two first orders of one person racing on PostgreSQL enrol once.
        with session.begin_nested():
            member_id = inserted_id(session.execute(insert(_MEMBER).values(values)))
    except IntegrityError:
        again = lock_member(session, program, oneid, now=now)
        if again is None:
            raise
        return again, False
    if card_no is None:  # one card number across channels, derived from the member id
        session.execute(
            update(_MEMBER)
            .where(_MEMBER.c.id == member_id)
            .values(card_no=f"{program.code.upper()}{member_id:010d}")
        )
    account = Account(program=program, id=member_id, oneid=live, tier=base)
    events.emit(
        session, account, "enrolled", key=f"enrolled:{member_id}", at=now, payload={"via": via}
    )
    return account, True


def merge_members(
    session: Session, program: ProgramRef, rows: list[Row[Any]], *, live: str, now: datetime
) -> Account:
    """Merge several memberships of one person into one (rule: docs/loyalty.md).

    The survivor is the membership already under the live OneID, else the earliest
    enrolled; points lots, debt and growth history move to it through transfer entries
    (the journal of each keeps its history), the tier is the higher one, and mall orders
    follow (coupons follow the person through OneID resolution).
    """
    survivor = next((r for r in rows if r.oneid == live), None) or min(
        rows, key=lambda r: (r.enrolled_at, r.id)
    )
    others = [r for r in rows if r.id != survivor.id]
    target = Account(program=program, id=survivor.id, oneid=live, tier=survivor.tier)
    for other in others:
        source = Account(program=program, id=other.id, oneid=other.oneid, tier=other.tier)
        transfer(session, source, target, now=now)
    session.execute(
        update(_MEMBER)
        .where(_MEMBER.c.id.in_([o.id for o in others]))
        .values(status="merged", merged_into=survivor.id)
    )
    session.execute(
        update(_MEMBER)
        .where(_MEMBER.c.id == survivor.id)
        .values(oneid=live, enrolled_at=min(r.enrolled_at for r in rows))
    )
    oneids = [r.oneid for r in rows if r.oneid != live]
    session.execute(
        update(table(RewardOrder))
        .where(RewardOrder.member_id.in_([o.id for o in others]))
        .values(member_id=survivor.id)
    )
    target.tier = tiers.take_highest(session, target, rows, now=now)
    events.emit(
        session,
        target,
        "members_merged",
        key=f"merged:{'+'.join(str(o.id) for o in others)}->{survivor.id}",
        at=now,
        payload={"merged_member_ids": [o.id for o in others], "merged_oneids": oneids},
    )
    return target


def lock_member_id(
    session: Session, program: ProgramRef, member_id: int, *, now: datetime
) -> Account | None:
    """The membership with this id, or the one it was merged into, locked."""
    seen: set[int] = set()
    while True:
        row = session.execute(
            select(_MEMBER.c.oneid, _MEMBER.c.status, _MEMBER.c.merged_into).where(
                _MEMBER.c.id == member_id
            )
        ).one_or_none()
        if row is None:
            return None
        if row.merged_into is None or member_id in seen:
            return lock_member(session, program, row.oneid, now=now)
        seen.add(member_id)
        member_id = row.merged_into


def member_row(session: Session, member_id: int) -> Row[Any]:
    """A membership row (for views)."""
    return session.execute(select(_MEMBER).where(_MEMBER.c.id == member_id)).one()


def merged_oneids(session: Session, member_id: int) -> list[str]:
    """OneIDs of memberships merged into this one."""
    return list(
        session.scalars(
            select(_MEMBER.c.oneid).where(_MEMBER.c.merged_into == member_id).order_by(_MEMBER.c.id)
        )
    )
