"""会员: programs, tiers and earning rules, members (search), coupons, the points mall.

A member's own page (ledger, adjustments, coupons issued to them) is in `loyalty_member`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import loyalty, users
from siyu.web.auth import SessionDep, Staff, Writer
from siyu.web.pages.audiences import refused
from siyu.web.render import page

router = APIRouter(include_in_schema=False)

# The tiers a new program can start with (edited later as settings, API or CLI).
SAMPLE_TIERS = loyalty.TierPolicy(
    tiers=[
        loyalty.TierDef(code="base", name="普卡", threshold=0),
        loyalty.TierDef(
            code="silver", name="银卡", threshold=1000, points_multiplier=Decimal("1.2")
        ),
        loyalty.TierDef(
            code="gold",
            name="金卡",
            threshold=5000,
            points_multiplier=Decimal("1.5"),
            benefits=[
                loyalty.Benefit(code="free-ship", name="包邮", kind="free_shipping"),
                loyalty.Benefit(code="d95", name="95折", kind="discount_rate", value="0.95"),
            ],
        ),
    ]
)


def _program_page(
    request: Request,
    session: SessionDep,
    viewer: users.SignedIn,
    *,
    code: str | None,
    q: str = "",
    problems: list[str] | None = None,
    saved_version: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    tenant = viewer.tenant
    programs = loyalty.program_views(session=session, tenant=tenant)
    chosen = next((p for p in programs if p.code == code), programs[0] if programs else None)
    context: dict[str, Any] = {
        "programs": programs,
        "program": chosen,
        "q": q,
        "problems": problems or [],
        "saved_version": saved_version,
    }
    if chosen is not None:
        templates = loyalty.list_coupon_templates(session=session, tenant=tenant)
        context |= {
            "members": loyalty.list_members(
                session=session, tenant=tenant, program=chosen.code, query=q
            ),
            "templates": [
                (t, loyalty.coupon_report(session=session, tenant=tenant, template=t.code))
                for t in templates
            ],
            "rewards": loyalty.list_rewards(session=session, tenant=tenant, program=chosen.code),
            "reward_orders": loyalty.reward_orders(
                session=session, tenant=tenant, program=chosen.code, limit=20
            ),
        }
    return page(request, "loyalty/index.html", context, status=status)


@router.get("/loyalty", response_class=HTMLResponse)
def loyalty_home(
    request: Request,
    session: SessionDep,
    viewer: Staff,
    program: str | None = None,
    q: str = "",
    version: int | None = None,
) -> HTMLResponse:
    return _program_page(request, session, viewer, code=program, q=q, saved_version=version)


@router.post("/loyalty/programs", response_class=HTMLResponse)
def create_program(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    code: Annotated[str, Form()],
    name: Annotated[str, Form()],
    sample_tiers: Annotated[str, Form()] = "",
) -> Response:
    """A new program with default earning rules (1 point per yuan) and, if asked, tiers."""
    problems: list[str] = []
    settings = loyalty.ProgramSettings(tiers=SAMPLE_TIERS if sample_tiers else loyalty.TierPolicy())
    with refused(problems):
        loyalty.create_program(
            session=session, tenant=viewer.tenant, code=code.strip(), name=name.strip(),
            settings=settings,
        )  # fmt: skip
        session.commit()
        return RedirectResponse(f"/loyalty?program={quote(code.strip())}", status_code=303)
    return _program_page(request, session, viewer, code=None, problems=problems, status=422)


@router.post("/loyalty/{program}/members", response_class=HTMLResponse)
def enrol(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    program: str,
    oneid: Annotated[str, Form()],
) -> Response:
    """Enrol a person (入会) by OneID; enrolling a member again opens their page."""
    problems: list[str] = []
    with refused(problems):
        member = loyalty.enrol_member(
            session=session, tenant=viewer.tenant, program=program, oneid=oneid.strip(),
            via=f"console:{viewer.user.username}",
        )  # fmt: skip
        session.commit()
        return RedirectResponse(
            f"/loyalty/{quote(program)}/members/{member.oneid}", status_code=303
        )
    return _program_page(request, session, viewer, code=program, problems=problems, status=422)


def yuan_or_none(text: str) -> Decimal | None:
    """A form's amount in yuan; None when blank or not a number (the service says why)."""
    try:
        return Decimal(text) if text.strip() else None
    except InvalidOperation:
        return None


@router.post("/loyalty/coupon-templates", response_class=HTMLResponse)
def create_coupon_template(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    code: Annotated[str, Form()],
    name: Annotated[str, Form()],
    kind: Annotated[str, Form()],
    amount: Annotated[str, Form()] = "",
    threshold: Annotated[str, Form()] = "",
    percent_off: Annotated[str, Form()] = "",
    valid_days: Annotated[str, Form()] = "30",
    stock: Annotated[str, Form()] = "",
    per_person_limit: Annotated[str, Form()] = "",
    program: Annotated[str, Form()] = "",
) -> Response:
    """A coupon template: fixed, percent or threshold (满减), valid N days after issue."""
    problems: list[str] = []
    with refused(problems):
        rules = loyalty.CouponRules.model_validate(
            {
                "kind": kind,
                "amount": yuan_or_none(amount),
                "threshold": yuan_or_none(threshold),
                "percent_off": yuan_or_none(percent_off),
                "valid_days": int(valid_days) if valid_days.strip() else None,
            }
        )
        loyalty.create_coupon_template(
            session=session, tenant=viewer.tenant, code=code.strip(), name=name.strip(),
            rules=rules, stock=int(stock) if stock.strip() else None,
            per_person_limit=int(per_person_limit) if per_person_limit.strip() else None,
        )  # fmt: skip
        session.commit()
        return RedirectResponse(f"/loyalty?program={quote(program)}#coupons", status_code=303)
    return _program_page(request, session, viewer, code=program, problems=problems, status=422)


@router.post("/loyalty/{program}/rewards", response_class=HTMLResponse)
def create_reward(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    program: str,
    code: Annotated[str, Form()],
    name: Annotated[str, Form()],
    points: Annotated[int, Form()],
    cash: Annotated[str, Form()] = "0",
    stock: Annotated[str, Form()] = "",
    coupon_template: Annotated[str, Form()] = "",
) -> Response:
    """A reward in the points mall (points, or points + cash; optional stock)."""
    problems: list[str] = []
    with refused(problems):
        loyalty.create_reward(
            session=session, tenant=viewer.tenant, program=program, code=code.strip(),
            name=name.strip(), points=points, cash=yuan_or_none(cash) or Decimal(0),
            stock=int(stock) if stock.strip() else None,
            coupon_template=coupon_template.strip() or None,
        )  # fmt: skip
        session.commit()
        return RedirectResponse(f"/loyalty?program={quote(program)}#mall", status_code=303)
    return _program_page(request, session, viewer, code=program, problems=problems, status=422)
