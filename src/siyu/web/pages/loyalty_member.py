"""A member's page: card, balance, tier and growth value, the points ledger (entries and
lots), adjustments with a reason (journaled with the signed-in user), coupons, mall orders."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import loyalty, users
from siyu.web.auth import SessionDep, Staff, Writer
from siyu.web.pages.audiences import refused
from siyu.web.pages.loyalty import yuan_or_none
from siyu.web.render import page

router = APIRouter(include_in_schema=False)


def _member_page(
    request: Request,
    session: SessionDep,
    viewer: users.SignedIn,
    *,
    program: str,
    oneid: str,
    problems: list[str] | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    tenant = viewer.tenant
    where: dict[str, Any] = {
        "session": session,
        "tenant": tenant,
        "program": program,
        "oneid": oneid,
    }
    found: list[str] = []
    context: dict[str, Any] = {}
    with refused(found):
        context = {
            "member": loyalty.get_member(**where),
            "entries": loyalty.member_history(**where, limit=100),
            "lots": loyalty.member_lots(**where, limit=100),
            "growth": loyalty.member_growth(**where, limit=100),
            "tier_changes": loyalty.tier_history(**where),
            "coupons": loyalty.person_coupons(session=session, tenant=tenant, oneid=oneid),
            "reward_orders": loyalty.member_reward_orders(**where),
            "templates": loyalty.list_coupon_templates(session=session, tenant=tenant),
            "rewards": [
                r
                for r in loyalty.list_rewards(session=session, tenant=tenant, program=program)
                if r.active
            ],
        }
    if found:
        return page(
            request,
            "loyalty/missing.html",
            {"program": program, "oneid": oneid, "problems": found},
            status=404,
        )
    return page(
        request,
        "loyalty/member.html",
        {
            **context,
            "program": program,
            "problems": problems or [],
            "notice": notice,
            "form": form or {},
        },
        status=status,
    )


@router.get("/loyalty/{program}/members/{oneid}", response_class=HTMLResponse)
def member(
    request: Request,
    session: SessionDep,
    viewer: Staff,
    program: str,
    oneid: str,
    done: str | None = None,
) -> HTMLResponse:
    return _member_page(request, session, viewer, program=program, oneid=oneid, notice=done)


@router.post("/loyalty/{program}/members/{oneid}/adjust", response_class=HTMLResponse)
def adjust(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    program: str,
    oneid: str,
    points: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """A manual adjustment (+/-): a reason is required; the signed-in user is the actor."""
    problems: list[str] = []
    with refused(problems):
        try:
            amount = int(points.strip())
        except ValueError:
            raise loyalty.LoyaltyError(f"points must be a whole number, got {points!r}") from None
        loyalty.adjust_points(
            session=session, tenant=viewer.tenant, program=program, oneid=oneid,
            points=amount, reason=reason.strip(), actor=f"user:{viewer.user.username}",
        )  # fmt: skip
        session.commit()
        return RedirectResponse(
            f"/loyalty/{quote(program)}/members/{oneid}?done=adjusted#ledger", status_code=303
        )
    return _member_page(
        request, session, viewer, program=program, oneid=oneid, problems=problems,
        form={"points": points, "reason": reason}, status=422,
    )  # fmt: skip


@router.post("/loyalty/{program}/members/{oneid}/coupons", response_class=HTMLResponse)
def issue_coupon(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    program: str,
    oneid: str,
    template: Annotated[str, Form()],
) -> Response:
    """Issue one coupon of the template to the member (stock and limits apply)."""
    problems: list[str] = []
    with refused(problems):
        loyalty.issue_coupon(
            session=session, tenant=viewer.tenant, template=template, oneid=oneid,
            key=f"console:{uuid.uuid4().hex}", via=f"console:{viewer.user.username}",
        )  # fmt: skip
        session.commit()
        return RedirectResponse(
            f"/loyalty/{quote(program)}/members/{oneid}?done=issued#coupons", status_code=303
        )
    return _member_page(
        request, session, viewer, program=program, oneid=oneid, problems=problems, status=422
    )


@router.post("/loyalty/{program}/members/{oneid}/rewards", response_class=HTMLResponse)
def exchange(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    program: str,
    oneid: str,
    reward: Annotated[str, Form()],
    quantity: Annotated[int, Form()] = 1,
) -> Response:
    """Exchange the member's points for a reward of the points mall (积分兑换)."""
    problems: list[str] = []
    with refused(problems):
        loyalty.redeem_reward(
            session=session, tenant=viewer.tenant, program=program, oneid=oneid,
            reward=reward, quantity=quantity, key=f"console:{uuid.uuid4().hex}",
        )  # fmt: skip
        session.commit()
        return RedirectResponse(
            f"/loyalty/{quote(program)}/members/{oneid}?done=exchanged#coupons", status_code=303
        )
    return _member_page(
        request, session, viewer, program=program, oneid=oneid, problems=problems, status=422
    )


@router.post("/loyalty/{program}/members/{oneid}/coupons/redeem", response_class=HTMLResponse)
def redeem_coupon(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    program: str,
    oneid: str,
    code: Annotated[str, Form()],
    order_ref: Annotated[str, Form()],
    amount: Annotated[str, Form()],
    source: Annotated[str, Form()] = "pos",
) -> Response:
    """Redeem (核销) one of the member's coupons against an order, e.g. at a store's till."""
    problems: list[str] = []
    with refused(problems):
        paid = yuan_or_none(amount)
        if paid is None:
            raise loyalty.LoyaltyError(f"amount must be a number of yuan, got {amount!r}")
        loyalty.redeem_coupon(
            session=session, tenant=viewer.tenant, code=code.strip(), oneid=oneid,
            order_ref=order_ref.strip(), amount=paid, source=source.strip(),
        )  # fmt: skip
        session.commit()
        return RedirectResponse(
            f"/loyalty/{quote(program)}/members/{oneid}?done=redeemed#coupons", status_code=303
        )
    return _member_page(
        request, session, viewer, program=program, oneid=oneid, problems=problems,
        form={"order_ref": order_ref, "amount": amount}, status=422,
    )  # fmt: skip
