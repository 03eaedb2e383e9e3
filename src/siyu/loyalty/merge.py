"""Moving one membership's points, debt and growth into another (when persons merge).

Nothing is rewritten: the source's journal gets a `merge_out` entry that empties its lots,
the target's a `merge_in` entry with copies of those lots (same remaining points, status,
order reference, activation and expiry), and growth entries are copied with their
original times, so tier windows and refund reversals work on the merged membership.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.loyalty.journal import LIVE, Account, Plan, apply_plan, debt_of, write_entry
from siyu.loyalty.models import Growth, Lot
from siyu.store.base import table

_LOT = table(Lot)
_GROWTH = table(Growth)


def transfer(session: Session, source: Account, target: Account, *, now: datetime) -> None:
    """Move everything `source` holds to `target`; replay-safe by its keys."""
    lots = session.execute(
        select(_LOT)
        .where(_LOT.c.member_id == source.id, _LOT.c.status.in_(LIVE), _LOT.c.remaining > 0)
        .order_by(_LOT.c.id)
    ).all()
    owed = debt_of(session, source.id)
    held = sum(lot.remaining for lot in lots)
    key = f"merge:{source.id}->{target.id}"
    detail = {"from_member": source.id, "from_oneid": source.oneid, "to_member": target.id}
    out_id = write_entry(
        session, source, key=f"{key}:out", kind="merge_out", cause="merge", points=-(held - owed),
        debt=-owed, at=now, detail=detail,
    )  # fmt: skip
    apply_plan(session, source, out_id, Plan([(lot.id, lot.remaining) for lot in lots]))
    if lots:
        session.execute(
            update(_LOT).where(_LOT.c.id.in_([lot.id for lot in lots])).values(status="merged")
        )
    in_id = write_entry(
        session, target, key=f"{key}:in", kind="merge_in", cause="merge", points=held - owed,
        debt=owed, at=now, detail=detail,
    )  # fmt: skip
    if lots:
        session.execute(
            insert(_LOT),
            [
                {
                    "tenant_id": target.tenant_id,
                    "program_id": target.program.id,
                    "member_id": target.id,
                    "entry_id": in_id,
                    "amount": lot.remaining,
                    "remaining": lot.remaining,
                    "status": lot.status,
                    "ref": lot.ref,
                    "earned_at": lot.earned_at,
                    "activates_at": lot.activates_at,
                    "expires_at": lot.expires_at,
                }
                for lot in lots
            ],
        )
    growth = session.execute(
        select(_GROWTH).where(_GROWTH.c.member_id == source.id).order_by(_GROWTH.c.id)
    ).all()
    if growth:
        session.execute(
            insert(_GROWTH),
            [
                {
                    "tenant_id": target.tenant_id,
                    "program_id": target.program.id,
                    "member_id": target.id,
                    "key": f"{key}:growth:{row.id}",
                    "cause": row.cause,
                    "ref": row.ref,
                    "points": row.points,
                    "at": row.at,
                }
                for row in growth
            ],
        )
