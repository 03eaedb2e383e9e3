"""What journeys ask of loyalty: gifts of points and coupons (once per key), members'
standing for templates and conditions, and who has points or coupons expiring on a day.

The program is named by the caller; `default_program` is the tenant's oldest (what a
journey uses unless configured otherwise).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu import identity
from siyu.loyalty import coupons, ledger, members
from siyu.loyalty.errors import NotFoundError, NotMemberError
from siyu.loyalty.journal import LIVE
from siyu.loyalty.models import Coupon, CouponTemplate, Lot, Member
from siyu.loyalty.programs import list_programs, load_program
from siyu.loyalty.views import GrantView, MemberStanding
from siyu.store.base import utcnow
from siyu.tenants import TenantContext

_CHUNK = 1000


def default_program(*, session: Session, tenant: TenantContext) -> str:
    """The code of the tenant's oldest loyalty program (the one journeys use by default)."""
    programs = list_programs(session=session, tenant=tenant)
    if not programs:
        raise NotFoundError("the tenant has no loyalty program")
    return programs[0].code


def grant(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneid: str,
    points: int | None,
    coupon: str | None,
    reason: str,
    key: str,
    actor: str = "journey",
    now: datetime | None = None,
) -> GrantView:
    """Give a person points (they must be a member) and/or a coupon of a template, once per
    `key`: a replayed key gives nothing more and answers as the first time."""
    now = now or utcnow()
    ref = load_program(session=session, tenant=tenant, code=program)
    code = None
    if coupon is not None:
        issued = coupons.issue(
            session=session, tenant=tenant, template=coupon, oneid=oneid, key=f"{key}:coupon",
            via=actor, now=now,
        )  # fmt: skip
        code = issued.code
    account = members.lock_member(session, ref, oneid, now=now)
    if points:
        if account is None:
            raise NotMemberError(f"{oneid} is not a member of {program!r}")
        ledger.earn(
            session, account, points=points, key=f"{key}:points", cause="journey", at=now,
            now=now, pending=False, reason=reason, actor=actor,
        )  # fmt: skip
    balance = None
    if account is not None:
        balance = standings(session=session, tenant=tenant, program=program, oneids=[oneid])
    return GrantView(
        coupon_code=code,
        points_balance=balance[account.oneid].points if balance and account else None,
    )


def standings(
    *,
    session: Session,
    tenant: TenantContext,
    program: str,
    oneids: Sequence[str],
    now: datetime | None = None,
) -> dict[str, MemberStanding]:
    """Tier and available points of the members among these (live) OneIDs, without locks:
    for messages and conditions, not for spending."""
    now = now or utcnow()
    ref = load_program(session=session, tenant=tenant, code=program)
    found: dict[str, MemberStanding] = {}
    wanted = sorted(set(oneids))
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        rows = session.execute(
            select(Member.id, Member.oneid, Member.tier).where(
                Member.tenant_id == tenant.id,
                Member.program_id == ref.id,
                Member.status == "active",
                Member.oneid.in_(part),
            )
        ).all()
        points: dict[int, int] = {
            member_id: int(total or 0)
            for member_id, total in session.execute(
                select(Lot.member_id, func.sum(Lot.remaining))
                .where(
                    Lot.member_id.in_([r.id for r in rows]),
                    Lot.status.in_(LIVE),
                    Lot.activates_at <= now,
                    (Lot.expires_at.is_(None)) | (Lot.expires_at > now),
                )
                .group_by(Lot.member_id)
            )
        }
        for row in rows:
            found[row.oneid] = MemberStanding(tier=row.tier, points=points.get(row.id, 0))
    return found


def expiring_on(
    *,
    session: Session,
    tenant: TenantContext,
    kind: Literal["points", "coupon"],
    day: date,
    program: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """(live OneID, detail) of persons whose points (of `program`, required for points) or
    coupons expire on tenant-local `day`, sorted: `{"points": n}` or `{"coupons": [...]}`."""
    start = datetime.combine(day, time(), tzinfo=tenant.zone)
    # Expiry "at the end of a day" is stored as the next midnight: (start, end] is the day.
    window = (start, start + timedelta(days=1))
    if kind == "points":
        if program is None:
            raise NotFoundError("points expire per program: name the program")
        ref = load_program(session=session, tenant=tenant, code=program)
        rows = session.execute(
            select(Member.oneid, func.sum(Lot.remaining))
            .join(Member, Member.id == Lot.member_id)
            .where(
                Lot.tenant_id == tenant.id,
                Lot.program_id == ref.id,
                Lot.status.in_(LIVE),
                Lot.remaining > 0,
                Lot.expires_at > window[0],
                Lot.expires_at <= window[1],
            )
            .group_by(Member.oneid)
        ).all()
        by_person: dict[str, dict[str, Any]] = {o: {"points": int(n)} for o, n in rows}
    else:
        held: dict[str, list[str]] = defaultdict(list)
        for oneid, code in session.execute(
            select(Coupon.oneid, CouponTemplate.code)
            .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
            .where(
                Coupon.tenant_id == tenant.id,
                Coupon.status == "issued",
                Coupon.valid_until > window[0],
                Coupon.valid_until <= window[1],
            )
            .order_by(Coupon.id)
        ):
            held[oneid].append(code)
        by_person = {o: {"coupons": codes} for o, codes in held.items()}
    # Rows keep the OneID they were written under; a merged person is reported once, live.
    live = identity.current_oneids(session=session, tenant=tenant, oneids=list(by_person))
    merged: dict[str, dict[str, Any]] = {}
    for oneid, detail in by_person.items():
        target = merged.setdefault(live.get(oneid, oneid), {})
        for name, value in detail.items():
            target[name] = target.get(name, 0 if name == "points" else []) + value
    return sorted(merged.items())
